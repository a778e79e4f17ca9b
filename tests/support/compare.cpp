#include "tests/support/compare.h"

#include <cmath>
#include <sstream>

namespace lra::test {

::testing::AssertionResult all_close(const Tensor& got, const Tensor& want, double rtol, double atol,
                                     const std::string& what) {
  if (got.shape() != want.shape())
    return ::testing::AssertionFailure() << what << ": shape " << got.shape() << " vs expected " << want.shape();
  std::vector<double> g = got.to_vector<double>(), w = want.to_vector<double>();
  size_t bad = 0, worst = 0;
  double worst_excess = -1;
  std::ostringstream first;
  for (size_t i = 0; i < g.size(); ++i) {
    double err = std::fabs(g[i] - w[i]), allowed = atol + rtol * std::fabs(w[i]);
    bool ok = err <= allowed;  // false for NaN
    if (!ok) {
      if (bad < 5) first << "\n    [" << i << "] got " << g[i] << " expected " << w[i];
      ++bad;
    }
    double excess = std::isnan(err) ? INFINITY : err - allowed;
    if (excess > worst_excess) { worst_excess = excess; worst = i; }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": " << bad << " of " << g.size()
                                       << " elements differ beyond atol " << atol << " + rtol " << rtol
                                       << "; worst at flat index " << worst << ": got " << g[worst]
                                       << " expected " << w[worst] << "; first mismatches:" << first.str();
}

}  // namespace lra::test

namespace lra::test {
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}
}  // namespace lra::test

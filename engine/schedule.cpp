#include "engine/schedule.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <vector>

#include "engine/base.h"

namespace lra::optim {

namespace {

constexpr double kPi = 3.14159265358979323846;

// The shortest text that reads back as the same double: "0.001", "1e-06", "inf".
std::string num(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

const char* kind_name(Schedule::Kind k) {
  switch (k) {
    case Schedule::Kind::Constant: return "constant";
    case Schedule::Kind::Cosine: return "cosine";
    case Schedule::Kind::Rsqrt: return "rsqrt";
    case Schedule::Kind::LraCosine: return "lra_cosine";
    case Schedule::Kind::Last: return "last10";
  }
  return "?";
}

}  // namespace

Schedule Schedule::constant(double lr) {
  Schedule s;
  s.lr_ = lr;
  s.validate();
  return s;
}

Schedule Schedule::cosine(double lr, int64_t total_steps, double min_lr) {
  Schedule s;
  s.kind_ = Kind::Cosine;
  s.lr_ = lr;
  s.total_ = total_steps;
  s.min_lr_ = min_lr;
  s.validate();
  return s;
}

Schedule Schedule::rsqrt(double lr, int64_t warmup) {
  Schedule s;
  s.kind_ = Kind::Rsqrt;
  s.lr_ = lr;
  s.warmup_ = warmup;
  s.validate();
  return s;
}

Schedule Schedule::lra_cosine(double lr, int64_t warmup, int64_t cycle) {
  Schedule s;
  s.kind_ = Kind::LraCosine;
  s.lr_ = lr;
  s.warmup_ = warmup;
  s.cycle_ = cycle;
  s.validate();
  return s;
}

Schedule Schedule::last_fraction(double lr, int64_t total_steps, double fraction) {
  Schedule s;
  s.kind_ = Kind::Last;
  s.lr_ = lr;
  s.total_ = total_steps;
  s.fraction_ = fraction;
  s.validate();
  return s;
}

Schedule Schedule::with_warmup(int64_t steps, double start_fraction) const {
  Schedule s = *this;
  s.warmup_ = steps;
  s.start_ = start_fraction;
  s.validate();
  return s;
}

void Schedule::validate() const {
  const std::string what = str("schedule ", kind_name(kind_), ": ");
  LRA_CHECK(std::isfinite(lr_) && lr_ >= 0, what, "lr ", lr_, " must be finite and >= 0");
  LRA_CHECK(warmup_ >= 0, what, "warmup ", warmup_, " must be >= 0");
  LRA_CHECK(start_ >= 0 && start_ <= 1, what, "start ", start_, " must be in [0, 1]");
  switch (kind_) {
    case Kind::Constant: break;
    case Kind::Cosine:
      LRA_CHECK(total_ > 0, what, "needs the total number of steps (> 0), got ", total_);
      LRA_CHECK(warmup_ < total_, what, "warmup ", warmup_, " must be shorter than total ", total_);
      LRA_CHECK(min_lr_ >= 0 && min_lr_ <= lr_, what, "min ", min_lr_, " must be in [0, lr = ", lr_, "]");
      break;
    case Kind::Rsqrt: LRA_CHECK(warmup_ > 0, what, "needs warmup > 0 (the decay is lr / sqrt(max(s, warmup)))"); break;
    case Kind::LraCosine: LRA_CHECK(cycle_ > 0, what, "cycle ", cycle_, " must be > 0"); break;
    case Kind::Last:
      LRA_CHECK(total_ > 0, what, "needs the total number of steps (> 0), got ", total_);
      LRA_CHECK(fraction_ > 0 && fraction_ <= 1, what, "fraction ", fraction_, " must be in (0, 1]");
      break;
  }
}

double Schedule::operator()(int64_t step) const {
  LRA_CHECK(step >= 0, "schedule: step ", step, " is negative");
  const double s = double(step), w = double(warmup_);
  const double warm = warmup_ == 0 ? 1.0 : start_ + (1.0 - start_) * std::min(1.0, s / w);
  double body = lr_;
  switch (kind_) {
    case Kind::Constant: break;
    case Kind::Cosine: {
      double p = std::clamp((s - w) / (double(total_) - w), 0.0, 1.0);
      body = min_lr_ + (lr_ - min_lr_) * 0.5 * (1.0 + std::cos(kPi * p));
      break;
    }
    case Kind::Rsqrt: body = lr_ / std::sqrt(std::max(s, w)); break;
    case Kind::LraCosine: {
      double f = std::fmod(std::max(0.0, s - w) / double(cycle_), 1.0);
      body = lr_ * std::max(0.0, 0.5 * (1.0 + std::cos(kPi * f)));
      break;
    }
    case Kind::Last: {
      double tail = fraction_ * double(total_);
      body = lr_ * std::clamp((double(total_) - s) / tail, 0.0, 1.0);
      break;
    }
  }
  return warm * body;
}

std::string Schedule::to_string() const {
  std::string out = str(kind_name(kind_), ":lr=", num(lr_));
  if (warmup_ > 0) out += str(",warmup=", warmup_);
  if (start_ > 0) out += ",start=" + num(start_);
  switch (kind_) {
    case Kind::Constant:
    case Kind::Rsqrt: break;
    case Kind::Cosine: out += str(",total=", total_, ",min=", num(min_lr_)); break;
    case Kind::LraCosine: out += str(",cycle=", cycle_); break;
    case Kind::Last: out += str(",total=", total_, ",fraction=", num(fraction_)); break;
  }
  return out;
}

Schedule parse_schedule(const std::string& spec, double lr, int64_t total_steps) {
  const std::string where = "schedule '" + spec + "'";
  const size_t colon = spec.find(':');
  const std::string name = spec.substr(0, colon);
  static const std::map<std::string, std::pair<Schedule::Kind, std::vector<std::string>>> kinds = {
      {"constant", {Schedule::Kind::Constant, {}}},
      {"cosine", {Schedule::Kind::Cosine, {"total", "min"}}},
      {"rsqrt", {Schedule::Kind::Rsqrt, {}}},
      {"lra_cosine", {Schedule::Kind::LraCosine, {"cycle"}}},
      {"last10", {Schedule::Kind::Last, {"total", "fraction"}}},
  };
  auto kind = kinds.find(name);
  LRA_CHECK(kind != kinds.end(), where, ": unknown schedule '", name,
            "' (known: constant, cosine, rsqrt, lra_cosine, last10)");
  std::vector<std::string> allowed = {"lr", "warmup", "start"};
  allowed.insert(allowed.end(), kind->second.second.begin(), kind->second.second.end());

  std::map<std::string, std::string> values;
  if (colon != std::string::npos) {
    const std::string body = spec.substr(colon + 1);
    size_t pos = 0;
    while (pos <= body.size()) {
      size_t comma = std::min(body.find(',', pos), body.size());
      std::string item = body.substr(pos, comma - pos);
      size_t eq = item.find('=');
      LRA_CHECK(eq != std::string::npos && eq > 0, where, ": expected key=value, got '", item, "'");
      std::string key = item.substr(0, eq);
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        std::string list;
        for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        fail(str(where, ": unknown key '", key, "' (", name, " takes ", list, ")"));
      }
      LRA_CHECK(values.emplace(key, item.substr(eq + 1)).second, where, ": key '", key, "' is given twice");
      pos = comma + 1;
    }
  }

  auto real = [&](const std::string& key, double def) {
    auto it = values.find(key);
    if (it == values.end()) return def;
    const std::string& v = it->second;
    double x = 0;
    auto r = std::from_chars(v.data(), v.data() + v.size(), x);
    LRA_CHECK(r.ec == std::errc() && r.ptr == v.data() + v.size() && std::isfinite(x), where, ": value '", v,
              "' of key '", key, "' is not a number");
    return x;
  };
  auto integer = [&](const std::string& key, int64_t def) {
    auto it = values.find(key);
    if (it == values.end()) return def;
    const std::string& v = it->second;
    int64_t x = 0;
    auto r = std::from_chars(v.data(), v.data() + v.size(), x);
    LRA_CHECK(r.ec == std::errc() && r.ptr == v.data() + v.size(), where, ": value '", v, "' of key '", key,
              "' is not an integer");
    return x;
  };

  Schedule s;
  s.kind_ = kind->second.first;
  s.lr_ = real("lr", lr);
  s.start_ = real("start", 0.0);
  s.total_ = integer("total", total_steps);
  // warmup=P% is P percent of the total steps (rounded down), so one spec fits a run of any length.
  if (auto w = values.find("warmup"); w != values.end() && !w->second.empty() && w->second.back() == '%') {
    LRA_CHECK(s.total_ > 0, where, ": warmup=", w->second, " needs the total number of training steps");
    const std::string v = w->second.substr(0, w->second.size() - 1);
    double percent = -1;
    auto r = std::from_chars(v.data(), v.data() + v.size(), percent);
    LRA_CHECK(r.ec == std::errc() && r.ptr == v.data() + v.size() && percent >= 0 && percent < 100, where,
              ": warmup=", w->second, " must be a percentage in [0%, 100%)");
    s.warmup_ = int64_t(double(s.total_) * percent / 100.0);
  } else {
    s.warmup_ = integer("warmup", 0);
  }
  s.min_lr_ = real("min", 0.0);
  s.fraction_ = real("fraction", 0.1);
  s.cycle_ = integer("cycle", s.total_ - s.warmup_);
  if ((s.kind_ == Schedule::Kind::Cosine || s.kind_ == Schedule::Kind::Last) && s.total_ <= 0)
    fail(str(where, ": needs the total number of training steps (add total=N)"));
  if (s.kind_ == Schedule::Kind::LraCosine && s.cycle_ <= 0)
    fail(str(where, ": needs cycle=N (or the total number of steps, to default cycle to total - warmup)"));
  try {
    s.validate();
  } catch (const Error& e) {
    fail(str(where, ": ", e.what()));
  }
  return s;
}

// --- ReduceOnPlateau -----------------------------------------------------------------------------

ReduceOnPlateau::ReduceOnPlateau(const PlateauConfig& config) : config_(config) {
  LRA_CHECK(config.factor > 0 && config.factor < 1, "reduce_on_plateau: factor ", config.factor,
            " must be in (0, 1)");
  LRA_CHECK(config.patience >= 0 && config.cooldown >= 0, "reduce_on_plateau: patience and cooldown must be >= 0");
  LRA_CHECK(config.threshold >= 0 && config.min_lr >= 0, "reduce_on_plateau: threshold and min_lr must be >= 0");
  best_ = config.maximize ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
}

bool ReduceOnPlateau::observe(double metric) {
  // NaN compares false: it never counts as an improvement.
  const bool better = config_.maximize ? metric > best_ * (1.0 + config_.threshold)
                                       : metric < best_ * (1.0 - config_.threshold);
  if (better) {
    best_ = metric;
    bad_ = 0;
  } else {
    ++bad_;
  }
  if (cooldown_left_ > 0) {
    --cooldown_left_;
    bad_ = 0;
  }
  if (bad_ > config_.patience) {
    scale_ *= config_.factor;
    cooldown_left_ = config_.cooldown;
    bad_ = 0;
    return true;
  }
  return false;
}

double ReduceOnPlateau::apply(double lr) const { return std::max(lr * scale_, std::min(lr, config_.min_lr)); }

std::string ReduceOnPlateau::state() const {
  return str("best=", num(best_), ",bad=", bad_, ",cooldown=", cooldown_left_, ",scale=", num(scale_));
}

void ReduceOnPlateau::load_state(const std::string& s) {
  double best = 0, scale = 0;
  int64_t bad = -1, cooldown = -1;
  int seen = 0;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t comma = std::min(s.find(',', pos), s.size());
    std::string item = s.substr(pos, comma - pos);
    size_t eq = item.find('=');
    LRA_CHECK(eq != std::string::npos, "reduce_on_plateau: bad state '", s, "'");
    std::string key = item.substr(0, eq), v = item.substr(eq + 1);
    const char *b = v.data(), *e = v.data() + v.size();
    std::from_chars_result r{};
    if (key == "best") r = std::from_chars(b, e, best);
    else if (key == "scale") r = std::from_chars(b, e, scale);
    else if (key == "bad") r = std::from_chars(b, e, bad);
    else if (key == "cooldown") r = std::from_chars(b, e, cooldown);
    else fail(str("reduce_on_plateau: unknown key '", key, "' in state '", s, "'"));
    LRA_CHECK(r.ec == std::errc() && r.ptr == e, "reduce_on_plateau: bad value '", v, "' for '", key, "' in state '", s,
              "'");
    ++seen;
    pos = comma + 1;
  }
  LRA_CHECK(seen == 4 && bad >= 0 && cooldown >= 0 && scale > 0, "reduce_on_plateau: incomplete or invalid state '", s,
            "'");
  best_ = best;
  bad_ = bad;
  cooldown_left_ = cooldown;
  scale_ = scale;
}

}  // namespace lra::optim

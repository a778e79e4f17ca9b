// The token-mixing map of one mixer layer (tools/probe/pattern.h has the definition and why it is exact).
#include "tools/probe/pattern.h"

#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <memory>
#include <sstream>

#include "engine/io.h"
#include "engine/nn.h"
#include "engine/rng.h"
#include "engine/settings.h"
#include "engine/tensor.h"
#include "models/mixer.h"

namespace lra::probe {
namespace {

// Copies every parameter and buffer "blocks.<layer>.mixer.<name>" of `path` into `mixer`; all mismatches
// (missing, extra, shape) are listed in one error.
void load_mixer_weights(models::Mixer& mixer, const std::string& path, int layer) {
  const std::string prefix = str("blocks.", layer, ".mixer.");
  io::SafeTensors file = io::load_safetensors(path);
  std::vector<std::pair<std::string, Tensor>> targets;
  for (const auto& p : mixer.named_parameters()) targets.emplace_back(p.name, p.tensor);
  for (const auto& b : mixer.named_buffers()) targets.emplace_back(b.name, b.tensor);
  std::string problems;
  auto problem = [&](const std::string& p) { problems += (problems.empty() ? "" : "; ") + p; };
  for (auto& [name, t] : targets) {
    auto it = file.tensors.find(prefix + name);
    if (it == file.tensors.end()) {
      problem(str("missing ", prefix, name));
      continue;
    }
    if (it->second.shape() != t.shape() || it->second.dtype() != t.dtype())
      problem(str(prefix, name, " is ", it->second.describe(), " in the file but ", t.describe(), " in the mixer"));
  }
  for (const auto& [name, t] : file.tensors) {
    if (name.rfind(prefix, 0) != 0) continue;
    const std::string rest = name.substr(prefix.size());
    const bool known = std::any_of(targets.begin(), targets.end(), [&](const auto& nt) { return nt.first == rest; });
    if (!known) problem(str("unexpected ", name));
  }
  LRA_CHECK(problems.empty(), "checkpoint ", path, " does not match mixer layer ", layer,
            " (--model, --width, --mixer, --max-len and --layer must be the run's): ", problems);
  for (auto& [name, t] : targets) t.copy_from(file.tensors.at(prefix + name));
}

// A mixer value as text, whatever its TOML type (the mixer parses it by its declared type).
std::string toml_text(const toml::node& node, const std::string& where) {
  if (const auto* v = node.as_boolean()) return v->get() ? "true" : "false";
  if (const auto* v = node.as_integer()) return std::to_string(v->get());
  if (const auto* v = node.as_floating_point()) return settings::format_double(v->get());
  if (const auto* v = node.as_string()) return v->get();
  throw Error(str(where, " takes a single value, not an array, table or date"));
}

}  // namespace

double PatternMap::max() const {
  double m = 0;
  for (double v : map) m = std::max(m, v);
  return m;
}

PatternMap token_mixing_map(const PatternSettings& s) {
  LRA_CHECK(s.length >= 1, "pattern: --length ", s.length, " must be at least 1");
  LRA_CHECK(s.width >= 1, "pattern: --width ", s.width, " must be at least 1");
  LRA_CHECK(s.inputs >= 1, "pattern: --inputs ", s.inputs, " must be at least 1");
  LRA_CHECK(s.layer >= 0, "pattern: --layer ", s.layer, " must not be negative");
  LRA_CHECK(s.rows_per_backward >= 1, "pattern: rows_per_backward ", s.rows_per_backward, " must be at least 1");
  const int max_len = s.max_len > 0 ? s.max_len : s.length;
  LRA_CHECK(s.length <= max_len, "pattern: --length ", s.length, " exceeds --max-len ", max_len);

  models::MixerConfig mc;
  mc.width = s.width;
  mc.max_len = max_len;
  mc.dropout = 0.0;
  mc.layer = s.layer;
  mc.options = s.mixer;
  Generator init(s.seed + 1);
  std::shared_ptr<models::Mixer> mixer = models::find_mixer(s.model).make(mc, init);
  LRA_CHECK(mixer != nullptr, "pattern: mixer '", s.model, "' returned no module");
  PatternMap out;
  out.settings = s;
  out.L = s.length;
  out.weights = str("random init (seed ", s.seed + 1, ")");
  if (!s.checkpoint.empty()) {
    load_mixer_weights(*mixer, s.checkpoint, s.layer);
    out.weights = str("checkpoint ", s.checkpoint, ", blocks.", s.layer, ".mixer");
  }
  mixer->eval();
  for (auto& p : mixer->named_parameters()) p.tensor.requires_grad_(false);  // only x's gradient is wanted

  const int64_t L = s.length, D = s.width;
  out.map.assign(size_t(L * L), 0.0);
  Generator data(s.seed);
  Generator forward_gen(s.seed + 2);  // eval mode draws nothing; the forward takes one anyway
  for (int n = 0; n < s.inputs; ++n) {
    Tensor x1 = Tensor::empty({L, D});
    nn::init::normal(x1, data, 0.0, 1.0);
    const float* x1p = x1.data<float>();
    for (int64_t i0 = 0; i0 < L; i0 += s.rows_per_backward) {
      const int64_t B = std::min<int64_t>(s.rows_per_backward, L - i0);
      std::vector<float> xs(size_t(B * L * D)), gy(size_t(B * L * D), 0.0f);
      for (int64_t b = 0; b < B; ++b) {
        std::copy(x1p, x1p + L * D, xs.begin() + b * L * D);
        std::fill_n(gy.begin() + (b * L + i0 + b) * D, D, 1.0f);  // row b: output position i0 + b
      }
      Tensor x = Tensor::from_vector(xs, {B, L, D});
      x.requires_grad_(true);
      Tensor y = mixer->forward(x, Tensor(), forward_gen);
      LRA_CHECK(y.shape() == Shape({B, L, D}), "pattern: mixer ", s.model, " returned ", y.describe(), " for x ",
                x.describe());
      y.backward(Tensor::from_vector(gy, {B, L, D}));
      LRA_CHECK(x.grad().defined(), "pattern: mixer ", s.model, " gave x no gradient");
      const std::vector<float> g = x.grad().to_vector<float>();
      for (int64_t b = 0; b < B; ++b) {
        double* row = &out.map[size_t((i0 + b) * L)];
        for (int64_t j = 0; j < L; ++j) {
          const float* gj = &g[size_t((b * L + j) * D)];
          double sum = 0;
          for (int64_t c = 0; c < D; ++c) sum += std::fabs(double(gj[c]));
          row[j] += sum / double(D * s.inputs);
        }
      }
    }
  }
  return out;
}

void apply_config_toml(PatternSettings& s, const std::string& text, const std::string& source) {
  toml::table doc;
  try {
    doc = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    throw Error(str(source, ":", e.source().begin.line, ": ", e.description()));
  }
  auto at = [&](const toml::node& n) { return str(source, ":", n.source().begin.line); };
  if (const toml::node* m = doc.get("model")) {
    const auto* v = m->as_string();
    LRA_CHECK(v != nullptr, at(*m), ": model must be a string");
    s.model = v->get();
  }
  if (const toml::node* w = doc.get("width")) {
    const auto* v = w->as_integer();
    LRA_CHECK(v != nullptr, at(*w), ": width must be an integer");
    s.width = int(v->get());
  }
  if (const toml::node* t = doc.get("mixer")) {
    const toml::table* table = t->as_table();
    LRA_CHECK(table != nullptr, at(*t), ": mixer must be a table");
    for (const auto& [k, v] : *table) {
      std::string key(k.str());
      std::replace(key.begin(), key.end(), '-', '_');
      s.mixer[key] = toml_text(v, str(at(v), ": mixer.", key));
    }
  }
}

std::string checkpoint_config(const std::string& path) {
  const auto meta = io::load_safetensors_metadata(path);
  auto it = meta.find("config");
  return it == meta.end() ? std::string() : it->second;
}

std::string pattern_json(const PatternMap& m) {
  const PatternSettings& s = m.settings;
  nlohmann::json j;
  j["model"] = s.model;
  j["length"] = m.L;
  nlohmann::json settings = {{"width", s.width},   {"inputs", s.inputs},
                             {"seed", s.seed},     {"max_len", s.max_len > 0 ? s.max_len : s.length},
                             {"layer", s.layer},   {"mixer", s.mixer}};
  if (!s.checkpoint.empty()) settings["checkpoint"] = s.checkpoint;
  j["settings"] = settings;
  j["weights"] = m.weights;
  j["definition"] = "M[i][j] = mean over input channels and inputs of |d(sum_c y[i,c]) / dx[j,:]|";
  nlohmann::json rows = nlohmann::json::array();
  for (int64_t i = 0; i < m.L; ++i) {
    std::vector<double> row(m.map.begin() + i * m.L, m.map.begin() + (i + 1) * m.L);
    rows.push_back(row);
  }
  j["map"] = rows;
  return j.dump();
}

}  // namespace lra::probe

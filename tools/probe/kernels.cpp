// The kernels probe (see kernels.h): per layer, the quartiles of |K(ℓ)| over channels, the fitted decay
// rate and the total variation, as JSON and a matplotlib picture.
#include "tools/probe/kernels.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "engine/io.h"
#include "tasks/registry.h"
#include "tools/train/evaluate.h"
#include "tools/train/run_log.h"
#include "tools/train/settings.h"

namespace lra::probe {

namespace fs = std::filesystem;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The q-quantile (q in [0, 1]) of v by linear interpolation between order statistics (numpy's default).
double quantile(std::vector<double> v, double q) {
  if (v.empty()) return kNaN;
  const double pos = q * double(v.size() - 1);
  const size_t lo = size_t(std::floor(pos)), hi = std::min(lo + 1, v.size() - 1);
  std::nth_element(v.begin(), v.begin() + long(lo), v.end());
  const double a = v[lo];
  if (hi == lo) return a;
  const double b = *std::min_element(v.begin() + long(lo) + 1, v.end());
  return a + (pos - double(lo)) * (b - a);
}

nlohmann::json number(double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr); }

}  // namespace

DecayFit fit_decay(const std::vector<double>& lag, const std::vector<double>& magnitude, double floor) {
  LRA_CHECK(lag.size() == magnitude.size(), "fit_decay: ", lag.size(), " lags but ", magnitude.size(), " magnitudes");
  double peak = 0;
  for (double m : magnitude) peak = std::max(peak, m);
  // The fit range: from the first lag up to the first one below floor·peak.
  size_t n = 0;
  while (n < magnitude.size() && magnitude[n] >= floor * peak && magnitude[n] > 0) ++n;
  DecayFit f;
  f.points = int64_t(n);
  if (n < 2) {
    f.rate = f.log_amplitude = kNaN;
    return f;
  }
  double sx = 0, sy = 0;
  for (size_t i = 0; i < n; ++i) sx += lag[i], sy += std::log(magnitude[i]);
  const double mx = sx / double(n), my = sy / double(n);
  double sxx = 0, sxy = 0;
  for (size_t i = 0; i < n; ++i) {
    sxx += (lag[i] - mx) * (lag[i] - mx);
    sxy += (lag[i] - mx) * (std::log(magnitude[i]) - my);
  }
  const double slope = sxy / sxx;
  f.rate = -slope;
  f.log_amplitude = my - slope * mx;
  f.last_lag = lag[n - 1];
  return f;
}

double total_variation(const float* k, int64_t n) {
  double tv = 0, mass = 0;
  for (int64_t j = 0; j < n; ++j) {
    mass += std::abs(double(k[j]));
    if (j + 1 < n) tv += std::abs(double(k[j + 1]) - double(k[j]));
  }
  return mass > 0 ? tv / mass : kNaN;
}

KernelSummary summarise_kernel(const models::MixerKernel& k) {
  LRA_CHECK(k.taps.ndim() == 2 && k.taps.dtype() == DType::F32 && k.taps.device() == Device::CPU,
            "kernels: ", k.name, " taps must be float32 [rows, n] on the CPU, got ", k.taps.describe());
  const int64_t R = k.taps.dim(0), n = k.taps.dim(1);
  const float* t = k.taps.data<float>();
  KernelSummary s;
  s.name = k.name;
  s.anti = k.anti;
  s.rows = R;
  std::vector<double> col(size_t(R), 0.0);
  for (int64_t j = 0; j < n; ++j) {
    for (int64_t r = 0; r < R; ++r) col[size_t(r)] = std::abs(double(t[r * n + j]));
    s.lag.push_back(double(k.first_lag + j));
    s.q25.push_back(quantile(col, 0.25));
    s.median.push_back(quantile(col, 0.5));
    s.q75.push_back(quantile(col, 0.75));
  }
  s.decay = fit_decay(s.lag, s.median);
  std::vector<double> tvs;
  for (int64_t r = 0; r < R; ++r) {
    const double v = total_variation(t + r * n, n);
    if (std::isfinite(v)) tvs.push_back(v);
  }
  s.tv = quantile(tvs, 0.5);
  return s;
}

std::vector<LayerKernels> probe_kernels(const models::LraModel& model) {
  const models::ModelConfig& c = model.config();
  const int64_t L = c.max_len + (c.cls_token ? 1 : 0);
  std::vector<LayerKernels> layers;
  const std::vector<models::Mixer*> mixers = model.mixers();
  for (size_t i = 0; i < mixers.size(); ++i) {
    const std::vector<models::MixerKernel> ks = mixers[i]->materialized_kernels(L);
    LRA_CHECK(!ks.empty(), "kernels: mixer ", c.model, " (layer ", i, ") has no convolution kernel to show: ",
              "it mixes tokens by attention or a multi-channel recurrence, not a per-channel convolution. ",
              "The kernels probe covers s4d, s4, sgconv, residual_conv and mega; use the pattern probe for the rest");
    LayerKernels l;
    l.layer = int(i);
    l.mixer = c.model;
    for (const auto& k : ks) l.kernels.push_back(summarise_kernel(k));
    layers.push_back(std::move(l));
  }
  LRA_CHECK(!layers.empty(), "kernels: the model has no blocks (depth 0), so no kernels");
  return layers;
}

std::string kernels_json(const std::vector<LayerKernels>& layers, const std::string& checkpoint,
                         const std::string& model, int64_t length) {
  nlohmann::json j;
  j["checkpoint"] = checkpoint;
  j["model"] = model;
  j["length"] = length;
  j["decay_floor"] = kDecayFloor;
  j["layers"] = nlohmann::json::array();
  for (const auto& l : layers) {
    nlohmann::json lj;
    lj["layer"] = l.layer;
    lj["mixer"] = l.mixer;
    lj["kernels"] = nlohmann::json::array();
    for (const auto& k : l.kernels) {
      nlohmann::json kj;
      kj["name"] = k.name;
      kj["anti"] = k.anti;
      kj["rows"] = k.rows;
      kj["lag"] = k.lag;
      auto array = [](const std::vector<double>& v) {
        nlohmann::json a = nlohmann::json::array();
        for (double x : v) a.push_back(number(x));
        return a;
      };
      kj["q25"] = array(k.q25);
      kj["median"] = array(k.median);
      kj["q75"] = array(k.q75);
      kj["decay_rate"] = number(k.decay.rate);
      kj["half_life"] = number(k.decay.rate > 0 ? std::log(2.0) / k.decay.rate : kNaN);
      kj["fit_points"] = k.decay.points;
      kj["fit_last_lag"] = k.decay.last_lag;
      kj["tv"] = number(k.tv);
      lj["kernels"].push_back(kj);
    }
    j["layers"].push_back(lj);
  }
  return j.dump(1);
}

CheckpointRun load_checkpoint_run(const std::string& checkpoint, const std::string& data_dir) {
  LRA_CHECK(fs::is_regular_file(checkpoint), "--checkpoint: no file ", checkpoint);
  const std::map<std::string, std::string> meta = io::load_safetensors_metadata(checkpoint);
  auto config = meta.find("config");
  LRA_CHECK(config != meta.end(), "--checkpoint: ", checkpoint, " holds no run configuration (not a checkpoint of lra-<task>)");
  auto trained_on = meta.find("task");
  LRA_CHECK(trained_on != meta.end(), "--checkpoint: ", checkpoint, " does not say which task it was trained on");
  CheckpointRun r;
  r.task = &tasks::find_task(trained_on->second);
  train::apply_toml(r.run, config->second, checkpoint + " (its stored configuration)", r.task);
  // The data fixes vocabulary, classes and length (train::evaluate_checkpoint's steps, on the CPU).
  const std::string scratch = (fs::path(checkpoint).parent_path() / "data").string();
  r.data = train::load_data(*r.task, r.run, data_dir, data_dir.empty(), scratch);
  r.info = r.data.info;
  const models::ModelConfig mc = train::model_config(*r.task, r.run, &r.info);
  r.feed = train::make_feed(*r.task, r.run, r.info, Device::CPU);
  Generator init(r.run.seed);
  r.model = std::make_unique<models::LraModel>(mc, init);
  try {
    io::load_checkpoint(checkpoint, *r.model, nullptr, nullptr);
  } catch (const Error& e) {
    // The usual cause: data that gives another vocabulary or length than the run's.
    throw Error(str(e.what(), "\n(the model is rebuilt from ", data_dir.empty() ? "regenerated --generate data" : data_dir,
                    "; a run trained on --data DIR needs the same --data DIR here)"));
  }
  r.model->eval();
  return r;
}

std::unique_ptr<models::LraModel> load_checkpoint_model(const std::string& checkpoint, const std::string& data_dir) {
  return load_checkpoint_run(checkpoint, data_dir).model;
}

void run_kernels_probe(const std::string& checkpoint, const std::string& out_dir, const std::string& data_dir, bool plot) {
  std::unique_ptr<models::LraModel> model = load_checkpoint_model(checkpoint, data_dir);
  const models::ModelConfig& c = model->config();
  const int64_t L = c.max_len + (c.cls_token ? 1 : 0);
  const std::vector<LayerKernels> layers = probe_kernels(*model);
  fs::create_directories(out_dir);
  const std::string json_path = (fs::path(out_dir) / "kernels.json").string();
  {
    std::ofstream f(json_path);
    LRA_CHECK(f.good(), "--out: cannot write ", json_path);
    f << kernels_json(layers, checkpoint, c.model, L) << "\n";
  }
  std::printf("kernels of %s (%s, %zu layers, length %lld): %s\n", checkpoint.c_str(), c.model.c_str(), layers.size(),
              (long long)L, json_path.c_str());
  for (const auto& l : layers)
    for (const auto& k : l.kernels)
      std::printf("  layer %d %-16s decay rate %.4g /position (fit over %lld lags), TV %.3g\n", l.layer,
                  k.name.c_str(), k.decay.rate, (long long)k.decay.points, k.tv);
  if (!plot) return;
  const std::string png = (fs::path(out_dir) / "kernels.png").string();
  if (train::draw_plot("tools/probe/plot_kernels.py", json_path, png)) std::printf("  picture: %s\n", png.c_str());
}

}  // namespace lra::probe

// The receptive-field probe (see receptive_field.h): per input position, the mean L1 norm of the gradient
// of the predicted class's logit with respect to the embedded input, over real examples; as JSON and a
// matplotlib picture (tools/probe/plot_receptive_field.py).
#include "tools/probe/receptive_field.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "tools/probe/kernels.h"
#include "tools/train/run_log.h"

namespace lra::probe {

namespace fs = std::filesystem;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

nlohmann::json number(double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr); }

nlohmann::json numbers(const std::vector<double>& v) {
  nlohmann::json a = nlohmann::json::array();
  for (double x : v) a.push_back(number(x));
  return a;
}

// Only the embedded input's gradient is wanted: the parameters stop recording for the probe's lifetime
// and get their requires_grad back afterwards (also when the probe throws).
class FrozenParameters {
 public:
  explicit FrozenParameters(models::LraModel& model) {
    for (auto& p : model.named_parameters())
      if (p.tensor.requires_grad()) {
        frozen_.push_back(p.tensor);
        p.tensor.requires_grad_(false);
      }
  }
  ~FrozenParameters() {
    for (auto& t : frozen_) t.requires_grad_(true);
  }
  FrozenParameters(const FrozenParameters&) = delete;
  FrozenParameters& operator=(const FrozenParameters&) = delete;

 private:
  std::vector<Tensor> frozen_;
};

}  // namespace

ReceptiveField receptive_field(models::LraModel& model, const train::Feed& feed, const std::vector<tasks::Batch>& batches,
                               int64_t side) {
  LRA_CHECK(!batches.empty(), "receptive-field: no batches to probe (the split is empty)");
  LRA_CHECK(feed.device == Device::CPU, "receptive-field: the probe runs on the CPU");
  model.eval();
  FrozenParameters frozen(model);
  Generator gen(1);  // eval mode draws nothing; the forward takes a generator anyway
  const int64_t L = batches[0].ids.dim(1);
  ReceptiveField f;
  f.L = L;
  std::vector<double> sum(size_t(L), 0.0), real(size_t(L), 0.0);
  double padded_sum = 0, padded_count = 0;
  for (const tasks::Batch& b : batches) {
    LRA_CHECK(b.ids.dim(1) == L, "receptive-field: batches of length ", b.ids.dim(1), " and ", L);
    const int64_t B = b.ids.dim(0);
    const Tensor mask = model.input_mask(b.ids, b.mask);
    Tensor e = model.embed(feed.input(b.ids)).detach();
    e.requires_grad_(true);
    const Tensor encoded = model.encode_embedded(e, mask, gen);
    Tensor logits;
    if (feed.pair) {
      const Tensor mask2 = model.input_mask(b.ids2, b.mask2);
      logits = model.classify_pair(encoded, mask, model.encode(feed.input(b.ids2), mask2, gen), mask2);
    } else {
      logits = model.classify(encoded, mask);
    }
    // The upstream gradient: 1 on each example's predicted class (argmax, first on ties), 0 elsewhere.
    const int64_t C = logits.dim(1);
    const std::vector<float> lv = logits.to_vector<float>();
    std::vector<float> upstream(size_t(B * C), 0.0f);
    for (int64_t i = 0; i < B; ++i) {
      int64_t best = 0;
      for (int64_t k = 1; k < C; ++k)
        if (lv[size_t(i * C + k)] > lv[size_t(i * C + best)]) best = k;
      upstream[size_t(i * C + best)] = 1.0f;
    }
    logits.backward(Tensor::from_vector(upstream, {B, C}));
    LRA_CHECK(e.grad().defined(), "receptive-field: the model gave the embedded input no gradient");
    const std::vector<float> g = e.grad().to_vector<float>();
    const std::vector<int32_t> m = mask.defined() ? mask.to_vector<int32_t>() : std::vector<int32_t>(size_t(B * L), 1);
    const int64_t D = e.dim(2);
    for (int64_t i = 0; i < B; ++i)
      for (int64_t s = 0; s < L; ++s) {
        double l1 = 0;
        for (int64_t c = 0; c < D; ++c) l1 += std::fabs(double(g[size_t((i * L + s) * D + c)]));
        if (m[size_t(i * L + s)] != 0) {
          sum[size_t(s)] += l1;
          real[size_t(s)] += 1;
        } else {
          padded_sum += l1;
          padded_count += 1;
        }
      }
    f.examples += B;
  }
  const double N = double(f.examples);
  for (int64_t s = 0; s < L; ++s) {
    f.mean.push_back(sum[size_t(s)] / N);
    f.mean_real.push_back(real[size_t(s)] > 0 ? sum[size_t(s)] / real[size_t(s)] : kNaN);
    f.coverage.push_back(real[size_t(s)] / N);
  }
  f.padded_mean = padded_count > 0 ? padded_sum / padded_count : 0.0;
  if (side > 0) {
    LRA_CHECK(side * side == L, "receptive-field: a ", side, " x ", side, " map needs ", side * side,
              " positions, the inputs have ", L);
    f.side = side;
    f.map = f.mean;  // pixels are flattened row-major: s = row·side + column
  }
  return f;
}

ReceptiveFieldProbe probe_receptive_field(const ReceptiveFieldSettings& s) {
  LRA_CHECK(!s.task.empty(), "--task: required (the task the checkpoint was trained on)");
  LRA_CHECK(s.batches >= 1, "--batches: ", s.batches, " must be at least 1");
  tasks::find_task(s.task);  // an unknown --task is an error listing the tasks, before anything is loaded
  CheckpointRun r = load_checkpoint_run(s.checkpoint, s.data_dir);
  LRA_CHECK(r.task->name == s.task, "--task ", s.task, ": ", s.checkpoint, " is a checkpoint of lra-", r.task->name,
            " (give --task ", r.task->name, ")");
  ReceptiveFieldProbe p;
  p.settings = s;
  p.model = r.model->config().model;
  p.pair = r.info.pair;
  tasks::LoaderOptions o;
  o.batch_size = r.run.batch;
  o.shuffle = true;  // splits are often sorted by label: a seeded shuffled order, the first batches of it
  o.drop_last = false;
  o.seed = r.run.seed;
  o.epochs = 1;
  tasks::BatchLoader loader(r.data.split(s.split), r.info, o);
  std::vector<tasks::Batch> batches;
  while (int(batches.size()) < s.batches) {
    std::optional<tasks::Batch> b = loader.next();
    if (!b) break;
    batches.push_back(std::move(*b));
  }
  LRA_CHECK(!batches.empty(), "--split ", s.split, ": no examples in ", s.checkpoint, "'s data");
  int64_t side = 0;
  if (r.task->render == tasks::Render::Image) {
    side = int64_t(std::llround(std::sqrt(double(r.info.max_len))));
    LRA_CHECK(side * side == r.info.max_len, "receptive-field: lra-", r.task->name, " inputs of ", r.info.max_len,
              " pixels are not a square image");
  }
  p.field = receptive_field(*r.model, r.feed, batches, side);
  return p;
}

std::string receptive_field_json(const ReceptiveFieldProbe& p) {
  const ReceptiveField& f = p.field;
  nlohmann::json j;
  j["checkpoint"] = p.settings.checkpoint;
  j["task"] = p.settings.task;
  j["model"] = p.model;
  j["split"] = p.settings.split;
  j["examples"] = f.examples;
  j["length"] = f.L;
  j["pair_first_document"] = p.pair;
  nlohmann::json pos = nlohmann::json::array();
  for (int64_t s = 0; s < f.L; ++s) pos.push_back(s);
  j["position"] = pos;
  j["mean"] = numbers(f.mean);
  j["mean_real"] = numbers(f.mean_real);
  j["coverage"] = numbers(f.coverage);
  j["padded_mean"] = number(f.padded_mean);
  j["side"] = f.side;
  if (f.side > 0) {
    nlohmann::json rows = nlohmann::json::array();
    for (int64_t r = 0; r < f.side; ++r)
      rows.push_back(numbers(std::vector<double>(f.map.begin() + r * f.side, f.map.begin() + (r + 1) * f.side)));
    j["map"] = rows;
  }
  return j.dump(1);
}

void run_receptive_field_probe(const ReceptiveFieldSettings& s, const std::string& out_dir, bool plot) {
  const ReceptiveFieldProbe p = probe_receptive_field(s);
  fs::create_directories(out_dir);
  const std::string json_path = (fs::path(out_dir) / "receptive_field.json").string();
  {
    std::ofstream f(json_path);
    LRA_CHECK(f.good(), "--out: cannot write ", json_path);
    f << receptive_field_json(p) << "\n";
  }
  const ReceptiveField& f = p.field;
  double peak = 0;
  int64_t at = 0;
  for (int64_t i = 0; i < f.L; ++i)
    if (f.mean[size_t(i)] > peak) peak = f.mean[size_t(i)], at = i;
  std::printf("receptive field of %s (%s on lra-%s, split %s, %lld examples%s, length %lld): %s\n",
              s.checkpoint.c_str(), p.model.c_str(), s.task.c_str(), s.split.c_str(), (long long)f.examples,
              p.pair ? ", first document" : "", (long long)f.L, json_path.c_str());
  std::printf("  peak mean |dlogit/de| %.4g at position %lld; padded positions %.4g\n", peak, (long long)at,
              f.padded_mean);
  if (!plot) return;
  const std::string png = (fs::path(out_dir) / "receptive_field.png").string();
  if (train::draw_plot("tools/probe/plot_receptive_field.py", json_path, png))
    std::printf("  picture: %s\n", png.c_str());
}

}  // namespace lra::probe

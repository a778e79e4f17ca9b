// Evaluation on a split, --eval and --predict (see evaluate.h).
#include "tools/train/evaluate.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <unistd.h>

#include "engine/autograd.h"
#include "engine/device.h"
#include "engine/dist/watchdog.h"
#include "engine/io.h"
#include "ops/loss/loss.h"
#include "tasks/common/denoise.h"

namespace lra::train {
namespace fs = std::filesystem;

Tensor Feed::input(const Tensor& ids) const {
  if (scalars) return tasks::image::pixel_scalars(ids, norm, device);
  return ids.to(device);
}

// The masks come from the model's input_mask(): with mask_zero_pixels it masks pixel 0 (read from the raw
// ids, before they become scalars).
Tensor Feed::logits(models::LraModel& model, const tasks::Batch& b, Generator& gen) const {
  auto mask = [&](const Tensor& ids, const Tensor& m) { return model.input_mask(ids, m).to(device); };
  if (pair) return model.forward_pair(input(b.ids), mask(b.ids, b.mask), input(b.ids2), mask(b.ids2, b.mask2), gen);
  return model.forward(input(b.ids), mask(b.ids, b.mask), gen);
}

tasks::Dataset load_data(const tasks::TaskDescriptor& task, const TrainConfig& c, const std::string& data_dir,
                         bool generate, const std::string& scratch) {
  LRA_CHECK(generate != !data_dir.empty(), "give either --data DIR (", task.release.dir_help,
            ") or --generate (offline data)");
  if (!generate) return task.release.load(data_dir, c.data);
  LRA_CHECK(task.generate != nullptr, "lra-", task.name, " cannot generate offline data; give --data DIR");
  dist::Comm& comm = dist::current();
  if (comm.world() == 1 || !task.load_generated) return task.generate(c.data, scratch, c.seed);
  // Data-parallel, a generator that writes files: rank 0 writes them, the others read them after it
  // (a shared file system across nodes; see docs/distributed.md).
  std::optional<tasks::Dataset> data;
  if (comm.rank() == 0) data = task.generate(c.data, scratch, c.seed);
  // Generating Path-X takes longer than any dist_timeout: this one wait is not watched.
  auto* watched = dynamic_cast<dist::WatchedComm*>(&comm);
  (watched ? watched->inner() : comm).barrier();
  return comm.rank() == 0 ? std::move(*data) : task.load_generated(c.data, scratch);
}

models::ModelConfig model_config(const tasks::TaskDescriptor& task, const TrainConfig& c, tasks::TaskInfo* info) {
  const bool scalars = c.model.input == models::Input::Scalars;
  LRA_CHECK(!scalars || task.pixel_normalization, "input = scalars needs a pixel task (lra-", task.name,
            " reads tokens)");
  LRA_CHECK(c.denoise <= 0 || task.denoise, "denoise is for the byte tasks (lra-", task.name, " is not one)");
  LRA_CHECK(c.max_len >= 0, "max_len must be >= 0, got ", c.max_len);
  if (c.max_len > 0) info->max_len = std::min(info->max_len, c.max_len);
  const bool denoise = c.denoise > 0;
  models::ModelConfig mc = c.model;
  mc.vocab_size = scalars ? 0 : (denoise ? tasks::kDenoiseVocabSize : info->vocab_size);
  mc.num_classes = info->num_classes;
  mc.max_len = info->max_len;
  mc.dual = info->pair;
  mc.denoise_vocab = denoise ? tasks::kDenoiseVocabSize : 0;
  return mc;
}

Feed make_feed(const tasks::TaskDescriptor& task, const TrainConfig& c, const tasks::TaskInfo& info, Device device) {
  Feed f;
  f.device = device;
  f.scalars = c.model.input == models::Input::Scalars;
  if (f.scalars) f.norm = task.pixel_normalization(info);
  f.pair = info.pair;
  return f;
}

Evaluation evaluate(models::LraModel& model, const Feed& feed, const tasks::Dataset& data,
                    const tasks::TaskInfo& info, const std::string& split_name, const EvalOptions& o) {
  LRA_CHECK(o.predict.empty() || o.max_batches == 0, "--predict needs the whole split (no batch cap)");
  autograd::NoGrad no_grad;
  model.eval();
  tasks::LoaderOptions lo;
  lo.batch_size = o.batch;
  lo.shuffle = o.max_batches > 0;  // a capped evaluation takes a fixed random subset; a full one is in order
  lo.drop_last = false;
  lo.epochs = 1;
  lo.seed = o.seed;
  const bool shared = o.comm != nullptr && o.comm->world() > 1;
  LRA_CHECK(!shared || o.predict.empty(), "--predict writes one file in split order: run it as one process");
  if (shared) {
    lo.shard_index = o.comm->rank();
    lo.shard_count = o.comm->world();
  }
  tasks::BatchLoader loader(data.split(split_name), info, lo);
  const int C = info.num_classes;
  Evaluation e;
  e.confusion.assign(size_t(C), std::vector<int64_t>(size_t(C), 0));
  std::ofstream predictions;
  const std::string tmp = o.predict + ".tmp-" + std::to_string(getpid());
  if (!o.predict.empty()) {
    predictions.open(tmp, std::ios::trunc);
    LRA_CHECK(predictions.good(), "--predict: cannot write '", o.predict, "'");
  }
  Generator unused(0);
  double loss_sum = 0;
  int64_t correct = 0, batches = 0;
  while (auto b = loader.next()) {
    if (b->rows() == 0) {  // this rank's slice of a last batch smaller than the number of ranks
      if (o.max_batches > 0 && ++batches >= o.max_batches) break;
      continue;
    }
    Tensor lg = feed.logits(model, *b, unused);
    const int64_t n = b->labels.dim(0);
    loss_sum += ops::cross_entropy(lg, b->labels.to(feed.device)).item() * double(n);
    const std::vector<float> logits = lg.to(Device::CPU).to_vector<float>();
    const std::vector<int32_t> labels = b->labels.to_vector<int32_t>();
    for (int64_t i = 0; i < n; ++i) {
      const float* row = logits.data() + i * C;
      const int predicted = int(std::max_element(row, row + C) - row);  // the first maximum, as count_correct
      const int label = labels[size_t(i)];
      LRA_CHECK(label >= 0 && label < C, "split ", split_name, ": label ", label, " is outside 0..", C - 1);
      ++e.confusion[size_t(label)][size_t(predicted)];
      correct += predicted == label;
      if (predictions.is_open()) {
        const double top = *std::max_element(row, row + C);
        std::vector<double> p(static_cast<size_t>(C));
        double z = 0;
        for (int k = 0; k < C; ++k) z += p[size_t(k)] = std::exp(double(row[k]) - top);
        for (double& v : p) v /= z;
        predictions << nlohmann::json{{"index", e.n + i}, {"label", label}, {"predicted", predicted},
                                      {"probabilities", p}}
                           .dump()
                    << "\n";
      }
    }
    e.n += n;
    if (o.max_batches > 0 && ++batches >= o.max_batches) break;
  }
  model.train();
  if (shared) {
    o.comm->all_reduce(&loss_sum, 1, dist::ReduceOp::Sum);
    std::vector<int64_t> counts = {correct, e.n};
    for (const auto& row : e.confusion) counts.insert(counts.end(), row.begin(), row.end());
    o.comm->all_reduce(counts.data(), int64_t(counts.size()), dist::ReduceOp::Sum);
    correct = counts[0];
    e.n = counts[1];
    for (size_t r = 0; r < e.confusion.size(); ++r)
      for (size_t k = 0; k < e.confusion.size(); ++k) e.confusion[r][k] = counts[2 + r * e.confusion.size() + k];
  }
  LRA_CHECK(e.n > 0, "the ", split_name, " split is empty");
  e.loss = loss_sum / double(e.n);
  e.acc = double(correct) / double(e.n);
  if (predictions.is_open()) {
    predictions.close();
    LRA_CHECK(!predictions.fail(), "--predict: writing '", o.predict, "' failed");
    fs::rename(tmp, o.predict);
  }
  return e;
}

std::string format_evaluation(const Evaluation& e, const std::string& title) {
  std::string out = str(title, ": ", e.n, " examples, loss ", e.loss, ", accuracy ");
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f%%\n", 100 * e.acc);
  out += buf;
  const size_t C = e.confusion.size();
  out += "per-class accuracy:";
  for (size_t k = 0; k < C; ++k) {
    int64_t total = 0;
    for (int64_t v : e.confusion[k]) total += v;
    if (total == 0) std::snprintf(buf, sizeof buf, "  %zu: - (n=0)", k);
    else std::snprintf(buf, sizeof buf, "  %zu: %.1f%% (n=%lld)", k, 100.0 * double(e.confusion[k][k]) / double(total), (long long)total);
    out += buf;
  }
  out += "\nconfusion matrix (rows: label, columns: predicted):\n      ";
  for (size_t k = 0; k < C; ++k) {
    std::snprintf(buf, sizeof buf, "%7zu", k);
    out += buf;
  }
  out += "\n";
  for (size_t r = 0; r < C; ++r) {
    std::snprintf(buf, sizeof buf, "%6zu", r);
    out += buf;
    for (size_t k = 0; k < C; ++k) {
      std::snprintf(buf, sizeof buf, "%7lld", (long long)e.confusion[r][k]);
      out += buf;
    }
    out += "\n";
  }
  return out;
}

int evaluate_checkpoint(const tasks::TaskDescriptor& task, const TrainConfig& c,
                        const std::vector<std::string>& asked, const std::string& checkpoint,
                        const std::string& split, const std::string& predict, const std::string& data_dir,
                        bool generate) {
  const std::map<std::string, std::string> meta = io::load_safetensors_metadata(checkpoint);
  auto config = meta.find("config");
  LRA_CHECK(config != meta.end(), "--eval: ", checkpoint, " holds no run configuration (not a checkpoint of lra-<task>)");
  auto trained_on = meta.find("task");
  LRA_CHECK(trained_on != meta.end(), "--eval: ", checkpoint, " does not say which task it was trained on");
  LRA_CHECK(trained_on->second == task.name, "--eval: ", checkpoint, " was trained by lra-", trained_on->second,
            " on task ", trained_on->second, "; this is lra-", task.name);

  // The checkpoint's own settings, then what the user asked: model settings must agree, the rest
  // (data, batch, device) is the user's to choose.
  TrainConfig run;
  apply_toml(run, config->second, checkpoint + " (its stored configuration)", &task);
  std::string differences;
  const std::vector<Setting> all = settings_for(&task);
  std::vector<std::string> model_keys;
  for (const auto& s : models::model_settings()) model_keys.push_back(s.name);
  for (const std::string& key : asked) {
    if (key.rfind("mixer.", 0) == 0) {
      const std::string k = key.substr(6);
      auto want = c.model.mixer.find(k);
      auto have = run.model.mixer.find(k);
      const std::string w = want == c.model.mixer.end() ? "(unset)" : want->second;
      const std::string h = have == run.model.mixer.end() ? "(unset)" : have->second;
      if (w != h) differences += str("\n  ", key, ": the checkpoint has ", h, ", asked ", w);
      continue;
    }
    const Setting* s = settings::find(all, key);
    if (!s) continue;
    const bool model = std::find(model_keys.begin(), model_keys.end(), s->name) != model_keys.end();
    if (model && s->get(c) != s->get(run))
      differences += str("\n  ", s->name, ": the checkpoint has ", s->get(run), ", asked ", s->get(c));
    if (!model) s->set(run, s->get(c));
  }
  LRA_CHECK(differences.empty(), "--eval: ", checkpoint, " is a different model from the one asked for:", differences,
            "\n(leave the model settings out: --eval rebuilds the model from the checkpoint)");

  const std::string scratch = (fs::path(checkpoint).parent_path() / "data").string();
  tasks::Dataset data = load_data(task, run, data_dir, generate, scratch);
  tasks::TaskInfo info = data.info;
  const models::ModelConfig mc = model_config(task, run, &info);
  Generator init(run.seed);
  models::LraModel model(mc, init);
  const Device device = parse_device(run.device);
  set_allow_tf32(run.tf32);
  model.to(device);
  const io::CheckpointInfo ci = io::load_checkpoint(checkpoint, model, nullptr, nullptr);
  std::printf("lra-%s --eval %s: %s (step %lld, %lld parameters) on %s, split %s, device %s\n", task.name.c_str(),
              checkpoint.c_str(), mc.model.c_str(), (long long)ci.step, (long long)model.num_parameters(),
              info.name.c_str(), split.c_str(), device_name(device));
  EvalOptions o;
  o.batch = run.batch;
  o.predict = predict;
  o.comm = &dist::current();
  const Evaluation e = evaluate(model, make_feed(task, run, info, device), data, info, split, o);
  std::printf("%s", format_evaluation(e, split).c_str());
  if (!predict.empty()) std::printf("predictions: %s (%lld lines)\n", predict.c_str(), (long long)e.n);
  return 0;
}

}  // namespace lra::train

// The settings of a run and its TOML form (see settings.h).
#include "tools/train/settings.h"

#include <toml++/toml.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "models/mixer.h"

namespace lra::train {

namespace {

using settings::Kind;

const settings::Names<DenoiseMode> kDenoiseModeNames = {{DenoiseMode::Separate, "separate"},
                                                        {DenoiseMode::SinglePass, "single_pass"}};
const settings::Names<tasks::DenoiseTargets> kDenoiseTargetNames = {{tasks::DenoiseTargets::Corrupted, "corrupted"},
                                                                   {tasks::DenoiseTargets::All, "all"}};

std::vector<Setting> loop_settings() {
  using C = TrainConfig;
  using namespace settings;
  return {
      integer("steps", &C::steps, "training steps (0: use epochs)"),
      number("epochs", &C::epochs, "training epochs, when steps is 0"),
      integer("batch", &C::batch, "sequences per step"),
      integer("max_len", &C::max_len, "sequence length (0: the task's; smaller truncates)"),
      number("lr", &C::lr, "peak learning rate (AdamW)"),
      number("weight_decay", &C::weight_decay,
             "decoupled weight decay (never on the ssm group; see decay_all, decay_embeddings)"),
      flag("decay_all", &C::decay_all, "weight decay on biases and norms too (the LRA code decays every parameter)"),
      flag("decay_embeddings", &C::decay_embeddings,
           "weight decay on embedding tables: ids, cls, learned positions (false: none)"),
      number("beta1", &C::beta1, "AdamW beta1"),
      number("beta2", &C::beta2, "AdamW beta2"),
      number("eps", &C::eps, "AdamW epsilon"),
      number("clip", &C::clip, "clip the global gradient norm to this (0: off)"),
      text("schedule", &C::schedule, "schedule spec, e.g. cosine:warmup=500 | rsqrt:warmup=1000 | constant | last10"),
      {"plateau",
       "ReduceLROnPlateau on the validation accuracy, times the schedule (patience counts evaluations): "
       "none | on | factor=0.2,patience=20[,threshold=1e-4,cooldown=0,min_lr=0,metric=acc|loss]",
       Kind::Text,
       {},
       [](C& c, const std::string& v) {
         parse_plateau(v);  // a bad spec fails here, naming the key, not at the first evaluation
         c.plateau = v.empty() ? "none" : v;
       },
       [](const C& c) { return c.plateau; }},
      number("ssm_lr", &C::ssm_lr,
             "learning rate of the ssm parameter group (0: the base lr); that group never gets weight decay"),
      flag("augment", &C::augment, "the task's training augmentation"),
      number("denoise", &C::denoise, "weight of the masked-token denoising loss (0: off; byte tasks)"),
      number("denoise_rate", &C::denoise_rate, "fraction of tokens corrupted for denoising"),
      choice("denoise_mode", &C::denoise_mode, kDenoiseModeNames,
             "separate: classify the clean batch, reconstruct from a second, corrupted pass; single_pass: one "
             "pass on the corrupted batch gives both (the locality-bias predecessor)"),
      choice("denoise_targets", &C::denoise_targets, kDenoiseTargetNames,
             "positions the reconstruction scores: corrupted, or all non-pad positions (the predecessor)"),
      integer("eval_every", &C::eval_every, "steps between validation evaluations"),
      integer("eval_batches", &C::eval_batches, "validation batches per evaluation (0: the whole split)"),
      integer("test_batches", &C::test_batches,
              "test batches at the end (0: the whole split; a cap is a quick check, not a result)"),
      integer("log_every", &C::log_every, "steps between progress lines (one GPU sync each)"),
      integer("save_every", &C::save_every, "steps between last-checkpoint saves besides evaluations (0: none)"),
      flag("plot", &C::plot, "draw curves.png from metrics.jsonl with matplotlib (tools/plot/curves.py)"),
      integer("seed", &C::seed, "seed for initialisation, data order, dropout and denoising"),
      text("device", &C::device, "auto (GPU if present), cpu or cuda"),
      flag("tf32", &C::tf32, "allow TF32 tensor-core matmuls on the GPU"),
      text("out", &C::out, "run directory (default runs/<task>-<model>)"),
      flag("sync_bn", &C::sync_bn,
           "data-parallel runs: BatchNorm statistics over the global batch (false: each rank's own slice)"),
      {"dist_backend", "data-parallel runs: collectives over auto (nccl on GPUs when built with it, else mpi), mpi "
                       "or nccl",
       Kind::Text,
       {},
       [](C& c, const std::string& v) {
         LRA_CHECK(v == "auto" || v == "mpi" || v == "nccl", "dist_backend must be auto, mpi or nccl, got '", v, "'");
         c.dist_backend = v;
       },
       [](const C& c) { return c.dist_backend; }},
      {"dist_timeout", "data-parallel runs: seconds a rank waits for the others before it ends the job, naming them",
       Kind::Float,
       {},
       [](C& c, const std::string& v) {
         const double t = settings::parse_double("dist_timeout", v);
         LRA_CHECK(t > 0, "dist_timeout must be positive (seconds), got ", v);
         c.dist_timeout = t;
       },
       [](const C& c) { return settings::format_double(c.dist_timeout); }},
      {"dist_bucket_mb", "data-parallel GPU runs: MiB of gradients per all-reduce bucket (overlapping the backward)",
       Kind::Float,
       {},
       [](C& c, const std::string& v) {
         const double mb = settings::parse_double("dist_bucket_mb", v);
         LRA_CHECK(mb > 0, "dist_bucket_mb must be positive, got ", v);
         c.dist_bucket_mb = mb;
       },
       [](const C& c) { return settings::format_double(c.dist_bucket_mb); }},
  };
}

// Top-level settings: the model's and the loop's.
std::vector<Setting> top_settings() {
  std::vector<Setting> s = settings::lift(models::model_settings(), &TrainConfig::model);
  for (Setting& l : loop_settings()) s.push_back(std::move(l));
  return s;
}

std::vector<Setting> data_settings_for(const tasks::TaskDescriptor* task) {
  return settings::lift(task ? tasks::task_settings(*task) : tasks::data_settings(), &TrainConfig::data);
}

const char* expected(Kind kind) {
  switch (kind) {
    case Kind::Int: return "an integer";
    case Kind::Float: return "a number";
    case Kind::Bool: return "true or false";
    case Kind::Text: return "a string (in quotes)";
  }
  return "a value";
}

// The text a setting's set() reads from a TOML value, checking the value's TOML type against the setting's.
std::string scalar_text(const toml::node& node, Kind kind, const std::string& where) {
  auto check = [&](bool ok, const char* got) { LRA_CHECK(ok, where, " takes ", expected(kind), ", got ", got); };
  if (const auto* v = node.as_boolean()) {
    check(kind == Kind::Bool, "a boolean");
    return v->get() ? "true" : "false";
  }
  if (const auto* v = node.as_integer()) {
    check(kind == Kind::Int || kind == Kind::Float, "an integer");
    return std::to_string(v->get());
  }
  if (const auto* v = node.as_floating_point()) {
    check(kind == Kind::Float, "a float");
    return settings::format_double(v->get());
  }
  if (const auto* v = node.as_string()) {
    check(kind == Kind::Text, "a string");
    return v->get();
  }
  fail(str(where, " takes a single value, not an array, table or date"));
}

// A mixer value as text, whatever its TOML type (the mixer parses it by its declared type).
std::string mixer_text(const toml::node& node, const std::string& where) {
  if (const auto* v = node.as_boolean()) return v->get() ? "true" : "false";
  if (const auto* v = node.as_integer()) return std::to_string(v->get());
  if (const auto* v = node.as_floating_point()) return settings::format_double(v->get());
  if (const auto* v = node.as_string()) return v->get();
  fail(str(where, " takes a single value, not an array, table or date"));
}

// A mixer setting as TOML, typed as mixer `model` declares `key` (quoted text when it declares none).
std::string mixer_toml(const std::string& model, const std::string& key, const std::string& value) {
  const models::MixerEntry* entry = nullptr;
  for (const models::MixerEntry& e : models::mixers())
    if (e.name == model) entry = &e;
  const std::string what = str("mixer ", model, ": ", key);
  if (entry)
    for (const models::OptionInfo& o : entry->options) {
      if (o.key != key) continue;
      if (o.type == "INT") return std::to_string(settings::parse_int(what, value));
      if (o.type == "FLOAT") return settings::toml_value(Kind::Float, settings::format_double(settings::parse_double(what, value)));
      if (o.type == "BOOL") return settings::parse_bool(what, value) ? "true" : "false";
    }
  return settings::toml_string(value);
}

std::string bare_key(const std::string& key) {
  for (char ch : key)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-')) return settings::toml_string(key);
  return key;
}

}  // namespace

std::vector<Setting> settings_for(const tasks::TaskDescriptor* task) {
  std::vector<Setting> s = top_settings();
  for (Setting& d : data_settings_for(task)) s.push_back(std::move(d));
  return s;
}

const std::vector<Setting>& settings() {
  static const std::vector<Setting> s = settings_for(nullptr);
  return s;
}

void apply_setting(TrainConfig& c, const std::string& assignment, const tasks::TaskDescriptor* task) {
  const size_t eq = assignment.find('=');
  LRA_CHECK(eq != std::string::npos && eq > 0, "--set takes key=value, got '", assignment, "'");
  const std::string key = settings::canonical_key(assignment.substr(0, eq)), value = assignment.substr(eq + 1);
  if (key.rfind("mixer.", 0) == 0) {
    LRA_CHECK(key.size() > 6, "--set: mixer.<key>=value needs a key, got '", assignment, "'");
    c.model.mixer[assignment.substr(6, eq - 6)] = value;
    return;
  }
  const std::vector<Setting> all = settings_for(task);
  const Setting* s = settings::find(all, key);
  if (!s)
    fail(str("--set: unknown key '", key, "' (mixer settings are mixer.<key>=value; known keys: ",
             settings::known_names(all), ")"));
  s->set(c, value);
}

std::string config_toml(const TrainConfig& c, const tasks::TaskDescriptor* task) {
  std::string t = "# The resolved settings of this run";
  t += task ? " (lra-" + task->name + ")" : std::string();
  t += "; train again with --config <this file>.\n";
  for (const Setting& s : top_settings()) t += s.name + " = " + s.toml(c) + "\n";
  const std::vector<Setting> data = data_settings_for(task);
  if (!data.empty()) {
    t += "\n[data]\n";
    for (const Setting& s : data) t += s.name + " = " + s.toml(c) + "\n";
  }
  if (!c.model.mixer.empty()) {
    t += "\n[mixer]\n";
    for (const auto& [k, v] : c.model.mixer) t += bare_key(k) + " = " + mixer_toml(c.model.model, k, v) + "\n";
  }
  return t;
}

void apply_toml(TrainConfig& c, const std::string& text, const std::string& source,
                const tasks::TaskDescriptor* task, std::vector<std::string>* applied) {
  toml::table doc;
  try {
    doc = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    fail(str(source, ":", e.source().begin.line, ": ", e.description()));
  }
  const std::vector<Setting> top = top_settings(), data = data_settings_for(task);
  auto at = [&](const toml::node& n) { return str(source, ":", n.source().begin.line); };
  // One key = value against a list of settings; errors name the file, the line and the key.
  auto apply = [&](const std::vector<Setting>& list, const std::string& key, const toml::node& node,
                   const std::string& table) {
    const Setting* s = settings::find(list, key);
    if (!s)
      fail(str(at(node), ": unknown ", table.empty() ? "setting" : "[" + table + "] setting", " '", key, "' (known: ",
               settings::known_names(list), table.empty() ? "; tables [data] and [mixer]" : "", ")"));
    try {
      s->set(c, scalar_text(node, s->kind, "setting " + s->name));
    } catch (const Error& e) {
      fail(str(at(node), ": ", e.what()));
    }
    if (applied) applied->push_back(s->name);
  };
  for (const auto& [k, node] : doc) {
    const std::string key(k.str());
    if (key == "mixer" || key == "data") {
      const toml::table* table = node.as_table();
      LRA_CHECK(table != nullptr, at(node), ": ", key, " must be a table ([", key, "] followed by key = value lines)");
      for (const auto& [ik, inode] : *table) {
        const std::string inner(ik.str());
        if (key == "data") {
          apply(data, inner, inode, "data");
        } else {
          c.model.mixer[inner] = mixer_text(inode, str(at(inode), ": mixer setting ", inner));
          if (applied) applied->push_back("mixer." + inner);
        }
      }
      continue;
    }
    apply(top, key, node, "");
  }
}

void apply_toml_file(TrainConfig& c, const std::string& path, const tasks::TaskDescriptor* task,
                     std::vector<std::string>* applied) {
  std::ifstream in(path);
  LRA_CHECK(in.good(), "--config: cannot read '", path, "'");
  std::ostringstream text;
  text << in.rdbuf();
  apply_toml(c, text.str(), path, task, applied);
}

double parse_duration(const std::string& text) {
  std::string t = text;
  double unit = 1;
  if (!t.empty()) {
    char u = t.back();
    if (u == 's' || u == 'm' || u == 'h') {
      unit = u == 's' ? 1 : u == 'm' ? 60 : 3600;
      t.pop_back();
    }
  }
  try {
    size_t used = 0;
    double x = std::stod(t, &used);
    if (used == t.size() && x >= 0) return x * unit;
  } catch (const std::exception&) {
  }
  fail(str("--time-limit: expected a duration like 90s, 5m or 1.5h, got '", text, "'"));
}

std::optional<optim::PlateauConfig> parse_plateau(const std::string& spec) {
  if (spec.empty() || spec == "none") return std::nullopt;
  optim::PlateauConfig p;
  p.maximize = true;  // validation accuracy unless metric=loss
  if (spec != "on") {
    const std::string keys = "factor, patience, threshold, cooldown, min_lr, metric";
    std::vector<std::string> seen;
    size_t pos = 0;
    while (pos <= spec.size()) {
      const size_t comma = std::min(spec.find(',', pos), spec.size());
      const std::string item = spec.substr(pos, comma - pos);
      pos = comma + 1;
      const size_t eq = item.find('=');
      LRA_CHECK(eq != std::string::npos && eq > 0, "setting plateau: expected none, on or key=value pairs, got '",
                item, "' in '", spec, "' (keys: ", keys, ")");
      const std::string key = item.substr(0, eq), v = item.substr(eq + 1), what = "setting plateau." + key;
      LRA_CHECK(std::find(seen.begin(), seen.end(), key) == seen.end(), "setting plateau: key '", key,
                "' is given twice in '", spec, "'");
      seen.push_back(key);
      if (key == "factor") p.factor = settings::parse_double(what, v);
      else if (key == "threshold") p.threshold = settings::parse_double(what, v);
      else if (key == "min_lr") p.min_lr = settings::parse_double(what, v);
      else if (key == "patience") p.patience = settings::parse_int(what, v);
      else if (key == "cooldown") p.cooldown = settings::parse_int(what, v);
      else if (key == "metric") p.maximize = settings::check_choice(what, v, {"acc", "loss"}) == "acc";
      else fail(str("setting plateau: unknown key '", key, "' in '", spec, "' (keys: ", keys, ")"));
    }
  }
  try {
    optim::ReduceOnPlateau check(p);  // the engine's own range checks (factor in (0, 1), ...)
  } catch (const Error& e) {
    fail(str("setting plateau '", spec, "': ", e.what()));
  }
  return p;
}

std::unique_ptr<optim::AdamW> make_optimizer(const TrainConfig& c, std::vector<nn::NamedParameter> params) {
  optim::AdamWConfig oc;
  oc.lr = c.lr;
  oc.beta1 = c.beta1;
  oc.beta2 = c.beta2;
  oc.eps = c.eps;
  oc.weight_decay = c.weight_decay;
  oc.decay_norms_and_biases = c.decay_all;
  // SSM parameters (S4D's A, Δ, ...) never get weight decay; ssm_lr > 0 gives them their own rate.
  oc.groups.push_back({"ssm", c.ssm_lr > 0 ? c.ssm_lr / c.lr : 1.0, 0.0});
  // "ssm_decay": the ssm lr with the usual weight-decay rule (SGConv's kernels: gconv.py's _optim sets lr only).
  oc.groups.push_back({"ssm_decay", c.ssm_lr > 0 ? c.ssm_lr / c.lr : 1.0, std::nullopt});
  if (!c.decay_embeddings) {
    // The optimizer knows groups, not kinds: embedding tables move to a group of their own with no decay.
    // Only those in the default group, so that a mixer's own group keeps its settings.
    for (nn::NamedParameter& p : params)
      if (p.kind == nn::ParamKind::Embedding && p.group == "default") p.group = "embedding";
    oc.groups.push_back({"embedding", 1.0, 0.0});
  }
  return std::make_unique<optim::AdamW>(params, oc);
}

}  // namespace lra::train

// The command line of the lra-<task> binaries (see trainer.h).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>

#include "engine/device.h"
#include "engine/dist.h"
#include "engine/dist/init.h"
#include "engine/dist/watchdog.h"
#include "models/backbone/backbone.h"
#include "tools/train/trainer.h"

namespace lra::train {

namespace {

std::string flag_name(std::string name) {
  std::replace(name.begin(), name.end(), '_', '-');
  return "--" + name;
}

bool has(const std::vector<settings::Setting<models::ModelConfig>>& list, const std::string& name) {
  return std::any_of(list.begin(), list.end(), [&](const auto& s) { return s.name == name; });
}

}  // namespace

int run_main(const tasks::TaskDescriptor& task, int argc, char** argv) {
  const std::string binary = "lra-" + task.name;
  TrainConfig c;
  const TrainConfig defaults;
  CLI::App app{binary + ": train an LRA model on " + task.title +
               ".\n\nEvery setting is a flag (--width 128), a key of a TOML --config file (width = 128; the mixer's"
               "\nsettings in its [mixer] table) and a --set key (--set width=128, applied last). Examples:\n  " +
               binary + " --generate --steps 200 --device cpu --out runs/try\n  " + binary +
               " --data DIR --config configs/" + task.name + "/transformer.toml --set lr=5e-4\n  " + binary +
               " --eval runs/try/best.safetensors --generate --split test --predict preds.jsonl\n"};
  std::string config_file, data_dir, time_limit, eval, split = "test", predict;
  bool generate = false, list = false;
  std::vector<std::string> sets, mixer;
  app.add_option("--config", config_file, "TOML file of settings (configs/<task>/*.toml, or a run's config.toml)")
      ->group("Run");
  app.add_option("--data", data_dir, task.release.dir_help)->group("Data");
  app.add_flag("--generate", generate, task.generate_help)->group("Data");
  app.add_option("--set", sets, "key=value overrides (mixer.<key>=value for the mixer), applied after flags and --config")
      ->group("Run");
  app.add_option("--mixer", mixer,
                 "mixer settings key=value (--list-models shows each mixer's keys; any other key is an error)")
      ->group("Model");
  app.add_flag("--resume", c.resume, "continue from RUN_DIR/last.safetensors")->group("Run");
  app.add_option("--time-limit", time_limit, "stop after this wall-clock time (90s, 5m, 1.5h) and test")->group("Run");
  app.add_option("--stop-after", c.stop_after, "stop as if interrupted after this step (for testing --resume)")
      ->group("Run");
  app.add_flag("--list-models", list, "print the registered models with their mixer settings and exit");
  app.add_option("--eval", eval,
                 "evaluate this checkpoint (the model is rebuilt from its stored settings) instead of training")
      ->group("Evaluate");
  app.add_option("--split", split, "--eval: the split to evaluate")
      ->check(CLI::IsMember({"test", "val", "train"}))
      ->capture_default_str()
      ->group("Evaluate");
  app.add_option("--predict", predict, "--eval: write one JSON line per example (index, label, predicted, probabilities)")
      ->group("Evaluate");

  // Settings: each flag records its value; they are applied after --config, in command-line order.
  const std::vector<Setting> all = settings_for(&task);
  std::vector<std::pair<const Setting*, std::string>> given;
  std::vector<std::string> data_names = task.settings;
  for (const Setting& s : all) {
    const Setting* sp = &s;
    const std::string group = has(models::model_settings(), s.name) ? "Model"
                              : std::find(data_names.begin(), data_names.end(), s.name) != data_names.end()
                                  ? "Data"
                                  : "Training";
    app.add_option_function<std::string>(flag_name(s.name), [&given, sp](const std::string& v) { given.push_back({sp, v}); },
                                         s.help)
        ->type_name(s.type_name())
        ->default_str(s.get(defaults))
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast)
        ->group(group);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  // Bad settings (a value, a key, a config file) are bad invocations: exit status 2, like a bad flag.
  std::vector<std::string> asked;
  try {
    if (!config_file.empty()) apply_toml_file(c, config_file, &task, &asked);
    for (const auto& [s, v] : given) {
      s->set(c, v);
      asked.push_back(s->name);
    }
    for (const std::string& m : mixer) {
      apply_setting(c, "mixer." + m, &task);
      asked.push_back("mixer." + m.substr(0, m.find('=')));
    }
    for (const std::string& s : sets) {
      apply_setting(c, s, &task);
      const std::string key = settings::canonical_key(s.substr(0, s.find('=')));
      asked.push_back(key.rfind("mixer.", 0) == 0 ? "mixer." + s.substr(6, s.find('=') - 6) : key);
    }
    if (!time_limit.empty()) c.time_limit_s = parse_duration(time_limit);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", binary.c_str(), e.what());
    return 2;
  }

  if (list) {
    std::printf("%s", models::list_models().c_str());
    return 0;
  }
  // Data-parallel: the launcher's environment says which rank this is (one process: rank 0 of 1).
  dist::Launch launch;
  try {
    launch = dist::detect_launch();
    // One GPU per rank: chosen before anything touches CUDA.
    if (launch.world > 1 && cuda_device_count() > 0) cuda::set_device_index(launch.local_rank % cuda_device_count());
    dist::InitOptions io;
    io.backend = c.dist_backend;
    io.cuda = parse_device(c.device) == Device::CUDA;
    dist::set_current(std::make_unique<dist::WatchedComm>(dist::init(launch, io), c.dist_timeout));
    dist::set_sync_batch_norm(c.sync_bn);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", binary.c_str(), e.what());
    return 1;
  }
  dist::Comm& comm = dist::current();
  const std::string who = comm.world() > 1 ? str(binary, ": rank ", comm.rank()) : binary;
  // Rank 0 speaks for the job; the others print only their errors.
  if (comm.rank() != 0) std::freopen("/dev/null", "w", stdout);
  else if (comm.world() > 1)
    std::printf("%s: data-parallel, %d ranks (launched by %s, collectives over %s); --batch %lld is the global "
                "batch\n",
                binary.c_str(), comm.world(), launch.by.c_str(), comm.backend(), (long long)c.batch);
  int status = 1;
  try {
    if (!eval.empty()) {
      status = evaluate_checkpoint(task, c, asked, eval, split, predict, data_dir, generate);
    } else {
      LRA_CHECK(predict.empty(), "--predict goes with --eval CHECKPOINT");
      if (c.out.empty()) c.out = "runs/" + task.name + "-" + c.model.model;
      const tasks::Dataset data = load_data(task, c, data_dir, generate, c.out + "/data");
      const TrainResult r = train(task, c, data);
      status = r.interrupted ? 130 : 0;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", who.c_str(), e.what());
    std::fflush(stderr);
    // The other ranks may be waiting in a collective this rank will never join: end them all.
    if (comm.world() > 1) comm.abort(1);
    status = 1;
  }
  std::fflush(stdout);
  dist::set_current(nullptr);  // MPI_Finalize on every rank, in step
  return status;
}

}  // namespace lra::train

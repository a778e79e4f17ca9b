// lra-data: the LRA data tool. Three commands over the task loaders of tasks/:
//   generate listops|pathfinder   writes a fresh data set in the LRA release layout (our ports of LRA's
//                                 generators), so the loaders, trainers and tests run offline;
//   inspect KIND [DIR]            loads a data directory and prints its splits, sizes, label balance,
//                                 lengths and a few decoded examples;
//   bench KIND [DIR]              runs the BatchLoader as a trainer would and prints sequences per second
//                                 (the input pipeline's throughput), with a per-stage breakdown.
// The kinds are the data sources of the task registry (tasks/registry.h). Errors are one line on stderr and exit status 1.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <thread>
#include <unistd.h>

#include "tasks/common/dataset.h"
#include "tasks/listops/listops.h"
#include "tasks/pathfinder/pathfinder.h"
#include "tasks/text/text.h"
#include "tasks/registry.h"

using namespace lra;
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  double a = 0, b = 0, c = 0;
  if (!(in >> a >> b >> c)) return "unknown";
  return str(a, " ", b, " ", c);
}

// --- generate ------------------------------------------------------------------------------------

struct ListopsArgs {
  std::string out;
  uint64_t seed = 0;
  int64_t train = 96000, val = 2000, test = 2000;
  int threads = 0;
};

int generate_listops(const ListopsArgs& a, bool hint = true) {
  tasks::listops::GenerateOptions o;
  o.num_train = a.train;
  o.num_val = a.val;
  o.num_test = a.test;
  o.seed = a.seed;
  o.threads = a.threads;
  const std::string dir = (fs::path(a.out) / "listops-1000").string();
  auto t0 = Clock::now();
  tasks::listops::Generated g = tasks::listops::generate_files(dir, o);
  double secs = seconds_since(t0);
  std::printf("listops: wrote %s/basic_{train,val,test}.tsv: %zu / %zu / %zu examples (seed %llu, %lld trees "
              "drawn, %.1f s)\n",
              dir.c_str(), g.train.size(), g.val.size(), g.test.size(), (unsigned long long)a.seed,
              (long long)g.attempts, secs);
  if (hint) std::printf("inspect it with: lra-data inspect listops %s\n", dir.c_str());
  return 0;
}

struct PathfinderArgs {
  std::string out;
  int size = 32;
  std::string difficulty = "hard";
  int64_t count = 0;
  int64_t per_batch = 1000;
  uint64_t seed = 0;
  int threads = 0;
};

// Writes a.count images of each difficulty of a.difficulty (one, or a comma list) into
// <out>/pathfinder<size>/<difficulty folder>; returns those folders. The k-th difficulty, easiest first,
// draws from seed + k (the task's --generate does the same).
std::vector<std::string> write_pathfinder_set(const PathfinderArgs& a, double* secs) {
  LRA_CHECK(a.size == 32 || a.size == 64 || a.size == 128 || a.size == 256,
            "--size must be 32, 64, 128 or 256, got ", a.size);
  LRA_CHECK(a.count >= 1, "--count must be at least 1, got ", a.count);
  const std::vector<std::string> folders = tasks::pathfinder_difficulties(a.difficulty);
  std::vector<std::string> dirs;
  auto t0 = Clock::now();
  for (size_t k = 0; k < folders.size(); ++k) {
    int contour_length = 14;
    tasks::pathfinder_difficulty_folder(folders[k], &contour_length);
    const std::string dir = (fs::path(a.out) / str("pathfinder", a.size) / folders[k]).string();
    tasks::PathfinderWriteOptions w;
    w.count = a.count;
    w.images_per_batch = a.per_batch;
    w.seed = a.seed + k;
    w.threads = a.threads;
    tasks::write_pathfinder(dir, tasks::lra_pathfinder_params(a.size, contour_length), w);
    dirs.push_back(dir);
  }
  *secs = seconds_since(t0);
  return dirs;
}

int generate_pathfinder(const PathfinderArgs& a) {
  double secs = 0;
  const std::vector<std::string> dirs = write_pathfinder_set(a, &secs);
  const double images = double(a.count) * double(dirs.size());
  for (const std::string& dir : dirs)
    std::printf("pathfinder%d: wrote %lld images to %s\n", a.size, (long long)a.count, dir.c_str());
  std::printf("pathfinder%d: seed %llu, %.1f s, %.0f images/s\n", a.size, (unsigned long long)a.seed, secs,
              images / secs);
  std::printf("inspect it with: lra-data inspect pathfinder %s --size %d --difficulty %s\n", a.out.c_str(), a.size,
              a.difficulty.c_str());
  return 0;
}

// --- inspect -------------------------------------------------------------------------------------

struct InspectArgs {
  std::string kind, dir;
  tasks::DataOptions settings;
  int examples = 2;   // decoded examples per split
  int64_t scan = -1;  // examples read per split for labels and lengths (-1: all)
};

// Bytes as C-style escapes: printable ASCII verbatim, \n \t \\ and \xNN for the rest.
std::string escape(const std::string& bytes, size_t limit) {
  std::string out;
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (out.size() >= limit) return out + str("... (", bytes.size(), " bytes)");
    unsigned char c = static_cast<unsigned char>(bytes[i]);
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\\') out += "\\\\";
    else if (c >= 32 && c < 127) out += char(c);
    else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    }
  }
  return out;
}

std::string listops_text(const std::vector<int32_t>& tokens, size_t limit) {
  std::string out;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (out.size() >= limit) return out + str("... (", tokens.size(), " tokens)");
    out += (i ? " " : "") + tasks::listops::token_word(tokens[i]);
  }
  return out;
}

// An ASCII thumbnail of a square image of pixel tokens: at most 32 columns, each character the mean of
// a cell twice as tall as wide (terminal characters are about twice as tall as wide).
void print_thumbnail(const std::vector<int32_t>& px) {
  int side = 1;
  while (side * side < int(px.size())) ++side;
  if (side * side != int(px.size())) {
    std::printf("      (not a square image: %zu pixels)\n", px.size());
    return;
  }
  const char* ramp = " .:-=+*#%@";
  const int step = std::max(1, side / 32);
  for (int y = 0; y + 2 * step <= side; y += 2 * step) {
    std::string row = "      |";
    for (int x = 0; x + step <= side; x += step) {
      int64_t sum = 0;
      for (int dy = 0; dy < 2 * step; ++dy)
        for (int dx = 0; dx < step; ++dx) sum += px[size_t((y + dy) * side + x + dx)];
      const int mean = int(sum / (2 * step * step));
      row += ramp[std::clamp(mean * 10 / 256, 0, 9)];
    }
    std::printf("%s|\n", (row).c_str());
  }
}

void print_example(tasks::Render render, int64_t index, const tasks::Example& e) {
  std::printf("    example %lld: label %d, %zu tokens", (long long)index, e.label, e.tokens.size());
  if (!e.tokens2.empty()) std::printf(" + %zu tokens", e.tokens2.size());
  std::printf("\n");
  switch (render) {
    case tasks::Render::Listops:
      std::printf("      %s\n", listops_text(e.tokens, 160).c_str());
      break;
    case tasks::Render::Bytes:
      std::printf("      \"%s\"\n", escape(tasks::text::decode_bytes(e.tokens), 160).c_str());
      if (!e.tokens2.empty())
        std::printf("      \"%s\"\n", escape(tasks::text::decode_bytes(e.tokens2), 160).c_str());
      break;
    case tasks::Render::Image:
      print_thumbnail(e.tokens);
      break;
  }
}

struct LengthStats {
  int64_t min = 0, max = 0, sum = 0, n = 0;
  void add(int64_t len) {
    min = n ? std::min(min, len) : len;
    max = n ? std::max(max, len) : len;
    sum += len;
    ++n;
  }
  std::string text() const {
    if (!n) return "none";
    return str(min, " / ", double(sum) / double(n), " / ", max);
  }
};

int inspect(const InspectArgs& a) {
  const tasks::SourceRef ref = tasks::find_source(a.kind);
  const tasks::DataSource& kind = *ref.source;
  const std::string dir = a.dir.empty() ? kind.default_dir : a.dir;
  LRA_CHECK(!dir.empty(), "inspect ", kind.kind, ": give the data directory (", kind.dir_help, ")");
  LRA_CHECK(fs::is_directory(dir), "inspect ", kind.kind, ": directory '", dir, "' not found (expected ",
            kind.dir_help, ")");
  auto t0 = Clock::now();
  tasks::Dataset d = kind.load(dir, a.settings);
  std::printf("%s: %s (loaded in %.2f s)\n", kind.kind.c_str(), dir.c_str(), seconds_since(t0));
  std::printf("  %s\n", kind.real ? "LRA task data (release layout; not a stand-in)"
                                  : "OFFLINE STAND-IN: not the LRA data; results on it say nothing about LRA");
  std::printf("  task %s | vocab %d | max_len %d | classes %d | pair %s\n", d.info.name.c_str(), d.info.vocab_size,
              d.info.max_len, d.info.num_classes, d.info.pair ? "yes" : "no");

  // train, val, test first, then any other split.
  std::vector<std::string> order;
  for (const char* s : {"train", "val", "test"})
    if (d.splits.count(s)) order.push_back(s);
  for (const auto& [name, split] : d.splits)
    if (std::find(order.begin(), order.end(), name) == order.end()) order.push_back(name);

  for (const std::string& name : order) {
    const auto& split = d.splits.at(name);
    const int64_t n = split->size();
    std::printf("split %s: %lld examples, %lld skipped", name.c_str(), (long long)n, (long long)split->skipped());
    if (name == "val" && d.splits.count("test") && d.splits.at("test") == split)
      std::printf(" (the same examples as test, as in LRA)");
    std::printf("\n");
    const int64_t scan = a.scan < 0 ? n : std::min(n, a.scan);
    std::map<int32_t, int64_t> labels;
    LengthStats len, len2;
    for (int64_t i = 0; i < scan; ++i) {
      tasks::Example e = split->get(i);
      ++labels[e.label];
      len.add(int64_t(e.tokens.size()));
      if (d.info.pair) len2.add(int64_t(e.tokens2.size()));
    }
    std::string counts;
    for (const auto& [label, count] : labels)
      counts += str(counts.empty() ? "" : "  ", label, ": ", count, " (", int(100.0 * double(count) / double(scan) + 0.5), "%)");
    std::string scanned = scan < n ? str(" (first ", scan, " of ", n, ")") : "";
    std::printf("  labels%s: %s\n", scanned.c_str(), counts.empty() ? "none" : counts.c_str());
    std::printf("  length min / mean / max: %s", len.text().c_str());
    if (d.info.pair) std::printf(" | second document: %s", len2.text().c_str());
    std::printf(" (max_len %d)\n", d.info.max_len);
    // Examples spread over the split, so a split sorted by label shows more than one label.
    const int k = int(std::min<int64_t>(a.examples, n));
    for (int j = 0; j < k; ++j) {
      const int64_t index = int64_t(j) * n / k;
      print_example(ref.task->render, index, split->get(index));
    }
  }
  return 0;
}

// --- bench ---------------------------------------------------------------------------------------

struct BenchArgs {
  std::string kind, dir, split = "train";
  tasks::DataOptions settings;
  int64_t batch = 32, batches = 200;
  int threads = 1;
  bool no_augment = false;
  bool generate = false;
  int64_t count = 4000;
  uint64_t seed = 0;
};

// Removes a temporary directory when the bench ends, however it ends.
struct TempDir {
  std::string path;
  ~TempDir() {
    if (path.empty()) return;
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

int bench(const BenchArgs& a) {
  const tasks::SourceRef ref = tasks::find_source(a.kind);
  const tasks::DataSource& kind = *ref.source;
  LRA_CHECK(a.batch >= 1 && a.batches >= 1 && a.threads >= 1, "--batch, --batches and --threads must be >= 1");
  std::printf("load average before: %s (%u hardware threads)\n", load_average().c_str(),
              std::thread::hardware_concurrency());

  TempDir temp;
  std::string dir = a.dir.empty() ? kind.default_dir : a.dir;
  if (a.generate) {
    LRA_CHECK(kind.kind == "listops" || kind.kind == "pathfinder", "--generate works for listops and pathfinder, not ",
              kind.kind);
    LRA_CHECK(a.dir.empty(), "give either DIR or --generate, not both");
    temp.path = (fs::temp_directory_path() / str("lra-data-bench-", getpid())).string();
    fs::remove_all(temp.path);
    if (kind.kind == "listops") {
      ListopsArgs g;
      g.out = temp.path;
      g.seed = a.seed;
      g.train = a.count;
      g.val = g.test = std::max<int64_t>(1, a.count / 20);
      generate_listops(g, false);
      dir = (fs::path(temp.path) / "listops-1000").string();
    } else {
      PathfinderArgs g;
      g.out = dir = temp.path;
      g.size = a.settings.size;
      g.difficulty = settings::find(tasks::data_settings(), "difficulty")->get(a.settings);
      g.count = a.count;
      g.seed = a.seed;
      double secs = 0;
      const double images = double(g.count) * double(write_pathfinder_set(g, &secs).size());
      std::printf("pathfinder%d: generated %.0f images in %.1f s (%.0f images/s, all threads)\n", g.size, images,
                  secs, images / secs);
    }
  }
  LRA_CHECK(!dir.empty(), "bench ", kind.kind, ": give the data directory (", kind.dir_help, ") or --generate");
  LRA_CHECK(fs::is_directory(dir), "bench ", kind.kind, ": directory '", dir, "' not found (expected ", kind.dir_help,
            ")");

  auto t_load = Clock::now();
  tasks::Dataset d = kind.load(dir, a.settings);
  const double load_secs = seconds_since(t_load);
  const auto& split = d.split(a.split);
  LRA_CHECK(split->size() >= a.batch, "bench: split ", a.split, " has ", split->size(),
            " examples, fewer than one batch of ", a.batch);
  tasks::Augment augment = (!a.no_augment && ref.task->augment) ? ref.task->augment(d.info) : tasks::Augment();
  const std::string augment_name = augment ? ref.task->augment_name : "none";
  std::printf("%s (%s): split %s, %lld examples (loaded in %.2f s) | batch %lld x L %d%s | augment: %s\n",
              kind.kind.c_str(), kind.real ? "LRA layout" : "offline stand-in", a.split.c_str(),
              (long long)split->size(), load_secs, (long long)a.batch, d.info.max_len, d.info.pair ? " x 2 documents" : "",
              augment_name.c_str());

  // The pipeline as a trainer runs it: `threads` loaders (one producer thread each), consumed in turn.
  std::vector<std::unique_ptr<tasks::BatchLoader>> loaders;
  for (int t = 0; t < a.threads; ++t) {
    tasks::LoaderOptions o;
    o.batch_size = a.batch;
    o.seed = a.seed + uint64_t(t);
    o.augment = augment;
    loaders.push_back(std::make_unique<tasks::BatchLoader>(split, d.info, o));
  }
  for (auto& l : loaders) LRA_CHECK(l->next().has_value(), "bench: the loader ended early");  // warm-up
  auto t0 = Clock::now();
  int64_t checksum = 0;  // touch every batch so nothing is optimised away
  for (int64_t b = 0; b < a.batches; ++b) {
    std::optional<tasks::Batch> batch = loaders[size_t(b % a.threads)]->next();
    LRA_CHECK(batch.has_value(), "bench: the loader ended early");
    checksum += batch->labels.numel();
  }
  const double secs = seconds_since(t0);
  loaders.clear();
  const double rate = double(checksum) / secs;
  std::printf("pipeline: %lld batches (%lld sequences) in %.3f s with %d loader thread%s: %.0f sequences/s\n",
              (long long)a.batches, (long long)checksum, secs, a.threads, a.threads > 1 ? "s" : "", rate);

  // Where the time goes: each stage timed alone on this thread, batch by batch as the loader works.
  const int64_t rounds = std::max<int64_t>(1, std::min<int64_t>(a.batches, 2048 / a.batch));
  double get_s = 0, augment_s = 0, collate_s = 0;
  int64_t seen = 0;
  for (int64_t r = 0; r < rounds; ++r) {
    std::vector<tasks::Example> examples(static_cast<size_t>(a.batch));
    auto t1 = Clock::now();
    for (int64_t i = 0; i < a.batch; ++i) examples[size_t(i)] = split->get((r * a.batch + i) % split->size());
    get_s += seconds_since(t1);
    if (augment) {
      auto t2 = Clock::now();
      for (int64_t i = 0; i < a.batch; ++i) {
        Generator gen(a.seed, uint64_t(r * a.batch + i) << 24);
        augment(examples[size_t(i)], gen);
      }
      augment_s += seconds_since(t2);
    }
    auto t3 = Clock::now();
    seen += tasks::collate(d.info, examples).labels.numel();
    collate_s += seconds_since(t3);
  }
  const double get_us = 1e6 * get_s / double(seen), augment_us = 1e6 * augment_s / double(seen),
               collate_us = 1e6 * collate_s / double(seen);
  const double total_us = get_us + augment_us + collate_us;
  std::printf("stages on one thread (us per sequence): get %.1f | augment %.1f | collate %.1f | total %.1f -> "
              "%.0f sequences/s per thread\n",
              get_us, augment_us, collate_us, total_us, 1e6 / total_us);
  std::printf("load average after: %s\n", load_average().c_str());
  return 0;
}

// The data settings the loaders read (--text-len, --size, --difficulty), declared in tasks/registry.h.
void add_data_settings(CLI::App* app, tasks::DataOptions& options) {
  const tasks::DataOptions defaults;
  for (const char* name : {"text_len", "size", "difficulty"}) {
    const auto* sp = settings::find(tasks::data_settings(), name);
    LRA_CHECK(sp != nullptr, "lra-data: no data setting ", name);
    const auto& s = *sp;
    std::string flag = "--" + s.name;
    std::replace(flag.begin(), flag.end(), '_', '-');
    app->add_option_function<std::string>(flag, [sp, &options](const std::string& v) { sp->set(options, v); }, s.help)
        ->type_name(s.type_name())
        ->default_str(s.get(defaults))
        ->group("Data settings");
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "lra-data: generate, inspect and measure the Long Range Arena data sets.\n"
      "Real LRA data: listops, text (IMDB aclImdb), retrieval (AAN tsv_data), cifar10, pathfinder (the\n"
      "lra_release folders, or sets made by `generate`, which ports LRA's own generators).\n"
      "Offline stand-ins, NOT the LRA data: text-fortunes (NOT IMDB), retrieval-fortunes (NOT AAN), both\n"
      "built from the Debian fortune files, and fashion-mnist (NOT CIFAR-10). See docs/tasks.md."};
  app.require_subcommand(1);
  std::vector<std::string> kinds;
  std::string kind_help = "dataset kind:";
  for (const tasks::SourceRef& k : tasks::data_sources()) {
    kinds.push_back(k.source->kind);
    kind_help += str("\n  ", k.source->kind, k.source->real ? "" : " (stand-in)", ": DIR is ", k.source->dir_help);
  }

  // generate
  CLI::App* gen = app.add_subcommand("generate", "write a new data set in the LRA release layout");
  gen->require_subcommand(1);
  ListopsArgs la;
  CLI::App* gl = gen->add_subcommand(
      "listops", "ListOps as LRA's data/listops.py makes it: OUT/listops-1000/basic_{train,val,test}.tsv");
  gl->add_option("--out", la.out, "output root (listops-1000/ is created in it)")->required();
  gl->add_option("--seed", la.seed, "generator seed (the output depends on it alone)")->capture_default_str();
  gl->add_option("--train", la.train, "training examples")->capture_default_str()->check(CLI::NonNegativeNumber);
  gl->add_option("--val", la.val, "validation examples")->capture_default_str()->check(CLI::NonNegativeNumber);
  gl->add_option("--test", la.test, "test examples")->capture_default_str()->check(CLI::NonNegativeNumber);
  gl->add_option("--threads", la.threads, "worker threads (0: all cores)")->capture_default_str();

  PathfinderArgs pa;
  CLI::App* gp = gen->add_subcommand(
      "pathfinder",
      "Pathfinder / Path-X stimuli (port of the original snakes generator, LRA settings): "
      "OUT/pathfinder<size>/<curv_baseline|curv_contour_length_9|curv_contour_length_14>/{imgs,metadata}");
  gp->add_option("--out", pa.out, "output root (pathfinder<size>/ is created in it)")->required();
  gp->add_option("--size", pa.size, "image side: 32, 64, 128 or 256 (Path-X is 128)")
      ->capture_default_str()->check(CLI::IsMember({32, 64, 128, 256}));
  gp->add_option("--difficulty", pa.difficulty,
                 "easy (contour length 6), intermediate (9) or hard (14, LRA's), or several: easy,intermediate,hard "
                 "writes --count images of each")
      ->capture_default_str()
      ->check([](const std::string& v) {
        try {
          tasks::pathfinder_difficulties(v);
          return std::string();
        } catch (const Error& e) {
          return std::string(e.what());
        }
      });
  gp->add_option("--count", pa.count, "images to write (labels balanced exactly)")->required()->check(CLI::PositiveNumber);
  gp->add_option("--per-batch", pa.per_batch, "images per imgs/<batch> folder and metadata file")
      ->capture_default_str()->check(CLI::PositiveNumber);
  gp->add_option("--seed", pa.seed, "generator seed (the output depends on it alone)")->capture_default_str();
  gp->add_option("--threads", pa.threads, "worker threads (0: all cores)")->capture_default_str();

  // inspect
  InspectArgs ia;
  CLI::App* ins = app.add_subcommand(
      "inspect", "load a data directory and print its splits, sizes, label balance, lengths and examples");
  ins->add_option("kind", ia.kind, kind_help)->required()->check(CLI::IsMember(kinds));
  ins->add_option("dir", ia.dir, "data directory (see the kinds above)");
  add_data_settings(ins, ia.settings);
  ins->add_option("--examples", ia.examples, "decoded examples shown per split")->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  ins->add_option("--scan", ia.scan, "examples read per split for labels and lengths (-1: all)")
      ->capture_default_str();

  // bench
  BenchArgs ba;
  CLI::App* ben = app.add_subcommand(
      "bench", "measure the input pipeline: the BatchLoader (with the task's training augmentation) in sequences/s");
  ben->add_option("kind", ba.kind, kind_help)->required()->check(CLI::IsMember(kinds));
  ben->add_option("dir", ba.dir, "data directory (see the kinds above)");
  ben->add_flag("--generate", ba.generate, "listops, pathfinder: generate --count examples into a temporary folder");
  ben->add_option("--count", ba.count, "with --generate: training examples generated")->capture_default_str()
      ->check(CLI::PositiveNumber);
  ben->add_option("--split", ba.split, "split to read")->capture_default_str();
  ben->add_option("--batch", ba.batch, "sequences per batch")->capture_default_str()->check(CLI::PositiveNumber);
  ben->add_option("--batches", ba.batches, "batches timed")->capture_default_str()->check(CLI::PositiveNumber);
  ben->add_option("--threads", ba.threads, "loaders run side by side (each has one producer thread)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  ben->add_flag("--no-augment", ba.no_augment, "switch the training augmentation off");
  ben->add_option("--seed", ba.seed, "loader (and generator) seed")->capture_default_str();
  add_data_settings(ben, ba.settings);

  // CLI11 reports an unknown command as "A subcommand is required"; name it instead.
  if (argc > 1 && argv[1][0] != '-' && std::string(argv[1]) != "generate" && std::string(argv[1]) != "inspect" &&
      std::string(argv[1]) != "bench") {
    std::fprintf(stderr, "lra-data: error: unknown command '%s' (use generate, inspect or bench; see --help)\n",
                 argv[1]);
    return 2;
  }
  CLI11_PARSE(app, argc, argv);
  try {
    if (gl->parsed()) return generate_listops(la);
    if (gp->parsed()) return generate_pathfinder(pa);
    if (ins->parsed()) return inspect(ia);
    if (ben->parsed()) return bench(ba);
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lra-data: error: %s\n", e.what());
    return 1;
  }
}

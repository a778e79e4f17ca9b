// ListOps: vocabulary, evaluator, release loader, LRA-faithful generator and operand permutation.
#include "tasks/listops/listops.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>
#include <unordered_set>

namespace lra::tasks::listops {

namespace fs = std::filesystem;

namespace {

const char* const kOperatorWords[4] = {"[MIN", "[MAX", "[MED", "[SM"};

int reduce(int32_t op, const int* args, size_t n) {
  switch (op) {
    case kMin: return *std::min_element(args, args + n);
    case kMax: return *std::max_element(args, args + n);
    case kSum: {
      int sum = 0;
      for (size_t i = 0; i < n; ++i) sum += args[i];
      return sum % 10;
    }
    case kMed: {
      // int(numpy.median(args)): the middle value, or the truncated mean of the two middle values.
      std::vector<int> v(args, args + n);
      std::sort(v.begin(), v.end());
      return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    }
  }
  fail(str("listops: id ", op, " is not an operator"));
}

// For each position that starts a subtree, the position just past it (digits: i + 1; operators: one
// past their ']'). Checks the structure as evaluate() does.
std::vector<size_t> subtree_ends(const std::vector<int32_t>& tokens) {
  std::vector<size_t> ends(tokens.size(), 0), open;
  size_t roots = 0;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const int32_t t = tokens[i];
    if (open.empty() && roots == 1)
      fail(str("listops: tokens continue after the expression ended, at position ", i));
    if (is_digit(t)) {
      ends[i] = i + 1;
      if (open.empty()) ++roots;
    } else if (is_operator(t)) {
      open.push_back(i);
    } else if (t == kClose) {
      LRA_CHECK(!open.empty(), "listops: ']' at position ", i, " closes no operator");
      LRA_CHECK(open.back() + 1 < i, "listops: the operator at position ", open.back(), " has no arguments");
      ends[open.back()] = i + 1;
      open.pop_back();
      if (open.empty()) ++roots;
    } else {
      fail(str("listops: id ", t, " at position ", i, " is not a ListOps token"));
    }
  }
  LRA_CHECK(open.empty(), "listops: the operator at position ", open.empty() ? 0 : open.back(), " is never closed");
  LRA_CHECK(roots == 1, "listops: empty expression");
  return ends;
}

// A Philox stream that uses all four words of each block (4x fewer block computations than
// Generator::uniform/below, with the same conversions).
struct Stream {
  uint64_t seed, counter;
  uint32_t words[4] = {0, 0, 0, 0};
  int lane = 4;

  uint32_t next() {
    if (lane == 4) {
      Philox4 r = philox4x32(seed, counter++);
      std::copy(r.v, r.v + 4, words);
      lane = 0;
    }
    return words[lane++];
  }
  float uniform() { return float(next() >> 8) * (1.0f / 16777216.0f); }
  uint32_t below(uint32_t n) { return uint32_t((uint64_t(next()) * n) >> 32); }
};

constexpr float kValueP = 0.25f;  // LRA's VALUE_P: a node below max_depth is an operator with this probability

// LRA's generate_tree in prefix form. Returns false as soon as the tree reaches max_length tokens:
// it would be rejected anyway, and since each attempt owns its stream, cutting it short changes
// nothing about the trees that are kept.
bool grow(Stream& s, int depth, const GenerateOptions& o, std::vector<int32_t>& out) {
  if (int64_t(out.size()) >= o.max_length) return false;
  const float r = depth < o.max_depth ? s.uniform() : 1.0f;
  if (r > kValueP) {
    out.push_back(kDigit0 + int32_t(s.below(10)));
    return true;
  }
  const int n = 2 + int(s.below(uint32_t(o.max_args - 1)));  // randint(2, max_args)
  const size_t op_at = out.size();
  out.push_back(kPad);  // LRA draws the operator after the children; so do we
  for (int i = 0; i < n; ++i)
    if (!grow(s, depth + 1, o, out)) return false;
  out[op_at] = kMin + int32_t(s.below(4));
  out.push_back(kClose);
  return true;
}

// Attempt k: a tree from stream (seed, k << 16), kept when its length is in range. A tree of at most
// 50,000 tokens draws at most 2 words per token, far fewer than the 2^16 blocks (2^18 words) it owns.
bool attempt(uint64_t k, const GenerateOptions& o, std::vector<int32_t>& out) {
  Stream s{o.seed, k << 16};
  out.clear();
  return grow(s, 1, o, out) && int64_t(out.size()) > o.min_length && int64_t(out.size()) < o.max_length;
}

uint64_t hash_tokens(const std::vector<int32_t>& t) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (int32_t x : t) h = (h ^ uint64_t(uint32_t(x))) * 1099511628211ull;
  return h;
}

std::string shorten(std::string_view s) {
  return s.size() <= 40 ? std::string(s) : std::string(s.substr(0, 37)) + "...";
}

}  // namespace

TaskInfo info() { return TaskInfo{"listops", kVocabSize, kMaxLen, kNumClasses, false}; }

int32_t token_id(std::string_view w) {
  if (w.size() == 1) {
    if (w[0] >= '0' && w[0] <= '9') return kDigit0 + (w[0] - '0');
    if (w[0] == ']') return kClose;
    return -1;
  }
  for (int i = 0; i < 4; ++i)
    if (w == kOperatorWords[i]) return kMin + i;
  return -1;
}

std::string token_word(int32_t id) {
  if (is_digit(id)) return std::string(1, char('0' + id - kDigit0));
  if (is_operator(id)) return kOperatorWords[id - kMin];
  if (id == kClose) return "]";
  if (id == kEos) return "<eos>";
  fail(str("listops: id ", id, " is not a ListOps token"));
}

int evaluate(const std::vector<int32_t>& tokens) {
  subtree_ends(tokens);  // structure check, with its error messages
  std::vector<int> values;
  std::vector<std::pair<int32_t, size_t>> open;  // (operator, index of its first argument in values)
  for (int32_t t : tokens) {
    if (is_digit(t)) {
      values.push_back(t - kDigit0);
    } else if (is_operator(t)) {
      open.emplace_back(t, values.size());
    } else {  // ']'
      auto [op, first] = open.back();
      open.pop_back();
      const int v = reduce(op, values.data() + first, values.size() - first);
      values.resize(first);
      values.push_back(v);
    }
  }
  return values[0];
}

// LRA's to_string on the left-nested tuple ((((OP, c0), c1), ..., c_{n-1}), END): n + 1 opening
// parentheses, the operator, each child followed by ')', then '] )'.
std::string to_source(const std::vector<int32_t>& tokens) {
  const std::vector<size_t> ends = subtree_ends(tokens);
  std::string out;
  out.reserve(tokens.size() * 4);
  auto emit = [&](auto& self, size_t pos) -> size_t {
    if (is_digit(tokens[pos])) {
      out += char('0' + tokens[pos] - kDigit0);
      return pos + 1;
    }
    size_t n = 0;
    for (size_t p = pos + 1; tokens[p] != kClose; p = ends[p]) ++n;
    for (size_t i = 0; i <= n; ++i) out += "( ";
    out += kOperatorWords[tokens[pos] - kMin];
    size_t p = pos + 1;
    for (size_t i = 0; i < n; ++i) {
      out += ' ';
      p = self(self, p);
      out += " )";
    }
    out += " ] )";
    return p + 1;
  };
  emit(emit, 0);
  return out;
}

std::vector<int32_t> tokenize(std::string_view source) {
  std::vector<int32_t> ids;
  std::string word;
  auto flush = [&] {
    if (word.empty()) return;
    const int32_t id = token_id(word);
    LRA_CHECK(id >= 0, "unknown token '", shorten(word), "' (word ", ids.size() + 1,
              "); ListOps has 0-9, [MIN, [MAX, [MED, [SM and ]");
    ids.push_back(id);
    word.clear();
  };
  for (char c : source) {
    if (c == '(' || c == ')') continue;
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v')
      flush();
    else
      word += c;
  }
  flush();
  return ids;
}

// --- loading --------------------------------------------------------------------------------------

std::vector<Example> load_file(const std::string& path, const LoadOptions& options) {
  LRA_CHECK(fs::is_regular_file(path), "listops: ", path, ": no such file (the release's listops-1000 holds ",
            "basic_train.tsv, basic_val.tsv and basic_test.tsv)");
  std::ifstream in(path, std::ios::binary);
  LRA_CHECK(in, "listops: ", path, ": cannot open");
  int64_t line_no = 0;
  auto where = [&] { return str("listops: ", path, ":", line_no, ": "); };
  std::string line;
  auto read_line = [&] {
    if (!std::getline(in, line)) return false;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();  // csv.writer ends lines with CRLF
    return true;
  };
  line_no = 1;
  LRA_CHECK(read_line(), where(), "empty file, expected the header 'Source<TAB>Target'");
  line_no = 1;
  LRA_CHECK(line == "Source\tTarget", where(), "expected the header 'Source<TAB>Target', found '", shorten(line),
            "'");

  std::vector<Example> examples;
  while (read_line()) {
    const size_t tab = line.find('\t');
    const size_t columns = size_t(std::count(line.begin(), line.end(), '\t')) + 1;
    LRA_CHECK(columns == 2, where(), "expected 2 tab-separated columns (Source, Target), found ", columns,
              line.empty() ? " (an empty line)" : "");
    const std::string_view source(line.data(), tab), target(line.data() + tab + 1, line.size() - tab - 1);

    Example e;
    try {
      e.tokens = tokenize(source);
    } catch (const Error& err) {
      fail(where() + err.what());
    }
    LRA_CHECK(!e.tokens.empty(), where(), "empty Source");
    LRA_CHECK(int64_t(e.tokens.size()) <= options.max_len, where(), "the expression has ", e.tokens.size(),
              " tokens, more than max_len ", options.max_len);

    int label = -1;
    auto [end, ec] = std::from_chars(target.data(), target.data() + target.size(), label);
    LRA_CHECK(ec == std::errc() && end == target.data() + target.size() && label >= 0 && label < kNumClasses,
              where(), "Target '", shorten(target), "' is not an integer in 0..9");
    e.label = label;

    int value = -1;
    try {
      value = evaluate(e.tokens);
    } catch (const Error& err) {
      fail(where() + "malformed expression: " + err.what());
    }
    LRA_CHECK(!options.check_labels || value == label, where(), "Target is ", label,
              " but the expression evaluates to ", value, " (LoadOptions::check_labels)");
    examples.push_back(std::move(e));
  }
  LRA_CHECK(!in.bad(), "listops: ", path, ": read error after line ", line_no);
  return examples;
}

Dataset load(const std::string& dir, const LoadOptions& options) {
  LRA_CHECK(fs::is_directory(dir), "listops: data directory '", dir, "' not found (expected the release's ",
            "listops-1000 directory, holding basic_train.tsv, basic_val.tsv and basic_test.tsv)");
  Dataset d;
  d.info = info();
  d.info.max_len = std::max(d.info.max_len, options.max_len);
  for (const char* split : {"train", "val", "test"})
    d.splits[split] =
        std::make_shared<MemorySplit>(load_file((fs::path(dir) / str("basic_", split, ".tsv")).string(), options));
  return d;
}

namespace {

// A split whose examples end in kEos.
class EosSplit : public Split {
 public:
  explicit EosSplit(std::shared_ptr<const Split> inner) : inner_(std::move(inner)) { set_skipped(inner_->skipped()); }
  int64_t size() const override { return inner_->size(); }
  Example get(int64_t index) const override {
    Example e = inner_->get(index);
    e.tokens.push_back(kEos);
    return e;
  }

 private:
  std::shared_ptr<const Split> inner_;
};

}  // namespace

void append_eos(Dataset& data) {
  LRA_CHECK(data.info.vocab_size == kVocabSize, "listops: append_eos on a set of vocabulary ", data.info.vocab_size,
            " (expected ListOps' ", kVocabSize, "; applied twice?)");
  for (auto& [name, split] : data.splits) split = std::make_shared<EosSplit>(split);
  data.info.vocab_size = kEos + 1;
  data.info.max_len += 1;
}

// --- generating -----------------------------------------------------------------------------------

Generated generate(const GenerateOptions& o) {
  LRA_CHECK(o.num_train >= 0 && o.num_val >= 0 && o.num_test >= 0, "listops generate: negative split size (",
            o.num_train, "/", o.num_val, "/", o.num_test, ")");
  LRA_CHECK(o.max_depth >= 1, "listops generate: max_depth must be at least 1, got ", o.max_depth);
  LRA_CHECK(o.max_args >= 2, "listops generate: max_args must be at least 2, got ", o.max_args);
  LRA_CHECK(o.min_length >= 0 && o.min_length + 1 < o.max_length && o.max_length <= 50000,
            "listops generate: need 0 <= min_length < max_length - 1 and max_length <= 50000, got min_length ",
            o.min_length, " and max_length ", o.max_length);
  const int64_t total = o.num_train + o.num_val + o.num_test;
  const int threads = std::max(1, o.threads > 0 ? o.threads : int(std::thread::hardware_concurrency()));

  // Dedup on the token sequence (a prefix form determines the tree, as LRA's tuple does).
  std::vector<Example> kept;
  kept.reserve(size_t(total));
  auto hash = [&](size_t i) { return size_t(hash_tokens(kept[i].tokens)); };
  auto equal = [&](size_t a, size_t b) { return kept[a].tokens == kept[b].tokens; };
  std::unordered_set<size_t, decltype(hash), decltype(equal)> seen(size_t(total) * 2 + 16, hash, equal);

  // Rounds of `threads` chunks of attempts; chunks run in parallel and are merged in attempt order.
  constexpr int64_t kChunk = 2048;
  const int64_t max_attempts = 1000 * total + 1000000;  // LRA would loop forever on an impossible request
  uint64_t next_attempt = 0;
  std::vector<std::vector<Example>> found(static_cast<size_t>(threads));
  while (int64_t(kept.size()) < total) {
    LRA_CHECK(int64_t(next_attempt) < max_attempts, "listops generate: only ", kept.size(), " unique trees of ",
              o.min_length + 1, "..", o.max_length - 1, " tokens in ", next_attempt, " attempts, ", total,
              " requested; widen the length range or ask for fewer");
    auto work = [&](int c) {
      std::vector<int32_t> tokens;
      found[size_t(c)].clear();
      const uint64_t first = next_attempt + uint64_t(c) * kChunk;
      for (uint64_t k = first; k < first + kChunk; ++k)
        if (attempt(k, o, tokens)) found[size_t(c)].push_back(Example{tokens, {}, int32_t(evaluate(tokens))});
    };
    std::vector<std::thread> pool;
    for (int c = 1; c < threads; ++c) pool.emplace_back(work, c);
    work(0);
    for (std::thread& t : pool) t.join();
    next_attempt += uint64_t(threads) * kChunk;
    for (auto& chunk : found)
      for (Example& e : chunk) {
        if (int64_t(kept.size()) == total) break;
        kept.push_back(std::move(e));
        if (!seen.insert(kept.size() - 1).second) kept.pop_back();
      }
  }

  Generated g;
  g.attempts = int64_t(next_attempt);
  auto take = [&](int64_t begin, int64_t n) {
    return std::vector<Example>(std::make_move_iterator(kept.begin() + begin),
                                std::make_move_iterator(kept.begin() + begin + n));
  };
  g.train = take(0, o.num_train);
  g.val = take(o.num_train, o.num_val);
  g.test = take(o.num_train + o.num_val, o.num_test);
  return g;
}

void write_file(const std::string& path, const std::vector<Example>& examples) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    LRA_CHECK(out, "listops: cannot write ", tmp);
    out << "Source\tTarget\r\n";
    for (const Example& e : examples) out << to_source(e.tokens) << '\t' << e.label << "\r\n";
    out.close();
    if (!out) {
      std::error_code ignored;
      fs::remove(tmp, ignored);
      fail(str("listops: writing ", tmp, " failed (disk full?)"));
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  LRA_CHECK(!ec, "listops: cannot rename ", tmp, " to ", path, ": ", ec.message());
}

Generated generate_files(const std::string& dir, const GenerateOptions& options) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  LRA_CHECK(!ec && fs::is_directory(dir), "listops: cannot create directory ", dir, ": ", ec.message());
  Generated g = generate(options);
  write_file((fs::path(dir) / "basic_train.tsv").string(), g.train);
  write_file((fs::path(dir) / "basic_val.tsv").string(), g.val);
  write_file((fs::path(dir) / "basic_test.tsv").string(), g.test);
  return g;
}

// --- augmentation ---------------------------------------------------------------------------------

void permute_operands(std::vector<int32_t>& tokens, Generator& gen) {
  const std::vector<size_t> ends = subtree_ends(tokens);
  std::vector<int32_t> out;
  out.reserve(tokens.size());
  auto emit = [&](auto& self, size_t pos) -> void {
    out.push_back(tokens[pos]);
    if (is_digit(tokens[pos])) return;
    std::vector<size_t> children;
    for (size_t p = pos + 1; tokens[p] != kClose; p = ends[p]) children.push_back(p);
    for (size_t i = children.size() - 1; i > 0; --i)  // Fisher-Yates
      std::swap(children[i], children[gen.below(uint32_t(i + 1))]);
    for (size_t c : children) self(self, c);
    out.push_back(kClose);
  };
  emit(emit, 0);
  tokens = std::move(out);
}

Augment operand_permutation() {
  return [](Example& e, Generator& gen) {
    const bool eos = !e.tokens.empty() && e.tokens.back() == kEos;
    if (eos) e.tokens.pop_back();
    permute_operands(e.tokens, gen);
    if (eos) e.tokens.push_back(kEos);
  };
}

}  // namespace lra::tasks::listops

// Pathfinder: the release-layout loader on fixtures (tests/data/pathfinder), the stimulus generator
// (determinism, balance, connectivity of the marked contour, round trip through the loader) and the
// square-symmetry augmentation.
#include <gtest/gtest.h>

#include "tests/support/process.h"
#include "tests/support/compare.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <queue>
#include <set>
#include <sstream>

#include "engine/base.h"
#include "tasks/pathfinder/pathfinder.h"
#include "tasks/registry.h"

namespace lra::tasks {
namespace {

namespace fs = std::filesystem;
const std::string kData = std::string(LRA_TEST_DATA) + "/pathfinder";

// The fixtures hold 12 images (batches 2 and 10, six each; batch 10 sample_1 is the empty PNG). Image g
// in file order has pixel (y, x) = (32y + 3x + 17g) mod 256 and label kLabels[g].
const int kLabels[12] = {1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 1, 0};
int fixture_pixel(int g, int y, int x) { return (y * 32 + x * 3 + 17 * g) % 256; }

using test::error_of;

fs::path temp_dir(const std::string& name) {
  fs::path p = lra::test::scratch_dir() / ("lra_test_pathfinder_" + name);
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

TEST(PathfinderLoader, ReadsFixturesInNumericBatchOrderAndSkipsTheEmptyPng) {
  Dataset d = load_pathfinder(kData);
  EXPECT_EQ(d.info.name, "pathfinder32");
  EXPECT_EQ(d.info.vocab_size, 256);
  EXPECT_EQ(d.info.max_len, 1024);
  EXPECT_EQ(d.info.num_classes, 2);
  // 11 usable images → 80/10/10 by position: 9 / 1 / 1.
  ASSERT_EQ(d.split("train")->size(), 9);
  ASSERT_EQ(d.split("val")->size(), 1);
  ASSERT_EQ(d.split("test")->size(), 1);
  for (const char* s : {"train", "val", "test"}) EXPECT_EQ(d.split(s)->skipped(), 1) << s;

  // Batch 2 comes before batch 10 (numeric, not lexicographic), and g = 7 (the empty file) is missing.
  std::vector<int> order = {0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11};
  int pos = 0;
  for (const char* s : {"train", "val", "test"}) {
    const Split& split = *d.split(s);
    for (int64_t i = 0; i < split.size(); ++i, ++pos) {
      int g = order[size_t(pos)];
      Example e = split.get(i);
      EXPECT_EQ(e.label, kLabels[g]) << s << " " << i;
      ASSERT_EQ(e.tokens.size(), 1024u);
      for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x)
          ASSERT_EQ(e.tokens[size_t(y * 32 + x)], fixture_pixel(g, y, x)) << s << " " << i << " at " << y << "," << x;
    }
  }
}

TEST(PathfinderLoader, SeveralDifficultiesNeedEveryFolder) {
  PathfinderOptions o;
  o.difficulties = pathfinder_difficulties("easy,intermediate,hard");
  std::string msg = error_of([&] { load_pathfinder(kData, o); });
  EXPECT_NE(msg.find("curv_baseline"), std::string::npos) << msg;
}

// The locality-bias paper's Pathfinder: train on the easy, intermediate and hard sets together, validate and
// test on the hard one. A small release of each difficulty (10, 20 and 30 images, so each split's origin is
// visible in its size): train holds the first 80% of every difficulty, easiest first; val and test are the
// hard set's 80-90% and 90-100%.
TEST(PathfinderLoader, SeveralDifficultiesTrainOnAllAndEvaluateOnTheHardest) {
  fs::path root = temp_dir("difficulties");
  const int contour[3] = {6, 9, 14};
  const int64_t count[3] = {10, 20, 30};
  for (int k = 0; k < 3; ++k) {
    PathfinderWriteOptions w;
    w.count = count[k];
    w.images_per_batch = 8;
    w.seed = 100 + uint64_t(k);
    write_pathfinder((root / "pathfinder32" / pathfinder_difficulty_dir(contour[k])).string(),
                     lra_pathfinder_params(32, contour[k]), w);
  }
  PathfinderOptions o;
  o.difficulties = pathfinder_difficulties("hard, easy,intermediate");  // any order: easiest first
  ASSERT_EQ(o.difficulties, (std::vector<std::string>{"curv_baseline", "curv_contour_length_9",
                                                       "curv_contour_length_14"}));
  Dataset d = load_pathfinder(root.string(), o);
  ASSERT_EQ(d.split("train")->size(), 8 + 16 + 24);
  ASSERT_EQ(d.split("val")->size(), 3);
  ASSERT_EQ(d.split("test")->size(), 3);
  auto expect_image = [&](const char* split, int64_t i, int k, int64_t index) {
    PathfinderStimulus g = generate_pathfinder(lra_pathfinder_params(32, contour[k]), 100 + uint64_t(k), index);
    Example e = d.split(split)->get(i);
    EXPECT_EQ(e.label, g.label) << split << " " << i;
    EXPECT_TRUE(std::equal(e.tokens.begin(), e.tokens.end(), g.image.begin(), g.image.end())) << split << " " << i;
  };
  int64_t i = 0;
  for (int k = 0; k < 3; ++k)
    for (int64_t j = 0; j < count[k] * 8 / 10; ++j) expect_image("train", i++, k, j);
  for (int64_t j = 0; j < 3; ++j) expect_image("val", j, 2, 24 + j);
  for (int64_t j = 0; j < 3; ++j) expect_image("test", j, 2, 27 + j);

  // Easy and intermediate alone: intermediate (the harder listed) is the one evaluated.
  o.difficulties = pathfinder_difficulties("easy,intermediate");
  d = load_pathfinder(root.string(), o);
  EXPECT_EQ(d.split("train")->size(), 8 + 16);
  EXPECT_EQ(d.split("val")->size(), 2);
  EXPECT_EQ(d.split("test")->size(), 2);
  fs::remove_all(root);
}

TEST(PathfinderLoader, DifficultyListErrorsNameTheEntry) {
  EXPECT_EQ(pathfinder_difficulties("hard"), (std::vector<std::string>{"curv_contour_length_14"}));
  EXPECT_EQ(pathfinder_difficulties("curv_contour_length_9, easy"),
            (std::vector<std::string>{"curv_baseline", "curv_contour_length_9"}));
  std::string msg = error_of([] { pathfinder_difficulties("easy,hrad"); });
  EXPECT_NE(msg.find("unknown pathfinder difficulty 'hrad' in 'easy,hrad'"), std::string::npos) << msg;
  msg = error_of([] { pathfinder_difficulties("easy,,hard"); });
  EXPECT_NE(msg.find("empty pathfinder difficulty in 'easy,,hard'"), std::string::npos) << msg;
  msg = error_of([] { pathfinder_difficulties("hard,curv_contour_length_14"); });
  EXPECT_NE(msg.find("'curv_contour_length_14' is listed twice"), std::string::npos) << msg;
}

// The data setting reads the list once (short names, easiest first) and prints it back; a bad entry stops
// the parse naming the setting and the entry. --generate writes gen_count images of each listed
// difficulty, the k-th from seed + k, and loads them with the split above.
TEST(PathfinderTask, DifficultySettingAndGenerateSeveral) {
  const auto* setting = settings::find(data_settings(), "difficulty");
  ASSERT_NE(setting, nullptr);
  DataOptions d;
  EXPECT_EQ(setting->get(d), "hard");
  setting->set(d, "hard,easy");
  EXPECT_EQ(d.difficulty, (std::vector<std::string>{"easy", "hard"}));
  EXPECT_EQ(setting->get(d), "easy,hard");
  std::string msg = error_of([&] { setting->set(d, "easy,hrad"); });
  EXPECT_NE(msg.find("setting difficulty: unknown pathfinder difficulty 'hrad' in 'easy,hrad'"), std::string::npos)
      << msg;

  fs::path scratch = temp_dir("generate_several");
  d.gen_count = 10;
  Dataset ds = find_task("pathfinder").generate(d, scratch.string(), 5);
  EXPECT_TRUE(fs::is_directory(scratch / "pathfinder32" / "curv_baseline" / "metadata"));
  EXPECT_TRUE(fs::is_directory(scratch / "pathfinder32" / "curv_contour_length_14" / "metadata"));
  EXPECT_FALSE(fs::exists(scratch / "pathfinder32" / "curv_contour_length_9"));
  ASSERT_EQ(ds.split("train")->size(), 16);
  ASSERT_EQ(ds.split("val")->size(), 1);
  ASSERT_EQ(ds.split("test")->size(), 1);
  PathfinderStimulus easy0 = generate_pathfinder(lra_pathfinder_params(32, 6), 5, 0);
  PathfinderStimulus hard9 = generate_pathfinder(lra_pathfinder_params(32, 14), 6, 9);
  Example first = ds.split("train")->get(0), last = ds.split("test")->get(0);
  EXPECT_TRUE(std::equal(first.tokens.begin(), first.tokens.end(), easy0.image.begin(), easy0.image.end()));
  EXPECT_TRUE(std::equal(last.tokens.begin(), last.tokens.end(), hard9.image.begin(), hard9.image.end()));
  fs::remove_all(scratch);
}

TEST(PathfinderLoader, MissingFoldersAreNamed) {
  std::string msg = error_of([&] { load_pathfinder(kData + "/nowhere"); });
  EXPECT_NE(msg.find("nowhere/pathfinder32"), std::string::npos) << msg;
  PathfinderOptions o;
  o.difficulties = {"curv_contour_length_9"};
  msg = error_of([&] { load_pathfinder(kData, o); });
  EXPECT_NE(msg.find("curv_contour_length_9"), std::string::npos) << msg;
  o.resolution = 48;
  msg = error_of([&] { load_pathfinder(kData, o); });
  EXPECT_NE(msg.find("48"), std::string::npos) << msg;
}

TEST(PathfinderLoader, MalformedMetadataNamesFileAndLine) {
  struct Case {
    const char* variant;
    const char* expect;
  };
  for (Case c : {Case{"few_fields", "at least 4"}, Case{"bad_label", "must be 0 or 1, got '2'"},
                 Case{"missing_image", "sample_9.png is missing"}}) {
    std::string msg = error_of([&] { load_pathfinder(kData + "/malformed/" + c.variant); });
    EXPECT_NE(msg.find(std::string(c.variant) + "/pathfinder32/curv_contour_length_14/metadata/0.npy:2:"),
              std::string::npos)
        << c.variant << ": " << msg;
    EXPECT_NE(msg.find(c.expect), std::string::npos) << c.variant << ": " << msg;
  }
}

TEST(PathfinderLoader, WrongSizeImageFailsLazilyNamingTheFile) {
  Dataset d = load_pathfinder(kData + "/malformed/wrong_size");  // metadata is fine
  ASSERT_EQ(d.split("train")->size() + d.split("val")->size() + d.split("test")->size(), 1);
  std::string msg = error_of([&] { d.split("train")->get(0); });
  EXPECT_NE(msg.find("wrong_size/pathfinder32/curv_contour_length_14/imgs/0/sample_0.png is 16×16, expected 32×32"),
            std::string::npos)
      << msg;
}

TEST(PathfinderLoader, UndecodablePngIsNamed) {
  fs::path dir = temp_dir("undecodable");
  { std::ofstream(dir / "x.png") << "not a png"; }
  int h = 0, w = 0;
  std::string msg = error_of([&] { read_png_gray((dir / "x.png").string(), h, w); });
  EXPECT_NE(msg.find("x.png"), std::string::npos) << msg;
  fs::remove_all(dir);
}

// --- generator -----------------------------------------------------------------------------------

TEST(PathfinderGenerator, SameSeedSameBytesOtherSeedOtherBytes) {
  PathfinderParams p = lra_pathfinder_params(32, 14);
  for (int64_t i : {0, 1, 7, 123}) {
    PathfinderStimulus a = generate_pathfinder(p, 42, i), b = generate_pathfinder(p, 42, i);
    EXPECT_EQ(a.image, b.image) << i;
    EXPECT_EQ(a.label, b.label) << i;
    EXPECT_NE(a.image, generate_pathfinder(p, 43, i).image) << i;
    EXPECT_NE(a.image, generate_pathfinder(p, 42, i + 1000).image) << i;
  }
}

TEST(PathfinderGenerator, LabelsAreBalancedPerPairAndNotAlternating) {
  PathfinderParams p = lra_pathfinder_params(32, 6);
  std::vector<int> labels;
  for (int64_t i = 0; i < 200; ++i) labels.push_back(generate_pathfinder(p, 9, i).label);
  EXPECT_EQ(std::count(labels.begin(), labels.end(), 1), 100);
  int first_is_one = 0;
  for (size_t k = 0; k < 100; ++k) {
    EXPECT_NE(labels[2 * k], labels[2 * k + 1]) << k;
    first_is_one += labels[2 * k];
  }
  EXPECT_GT(first_is_one, 25);  // the order inside a pair is a coin flip, not a fixed pattern
  EXPECT_LT(first_is_one, 75);
}

TEST(PathfinderGenerator, ImagesLookLikeTheRelease) {
  for (int cl : {6, 9, 14}) {
    PathfinderParams p = lra_pathfinder_params(32, cl);
    EXPECT_EQ(p.distractor_length, cl / 3);
    EXPECT_EQ(p.num_distractors, 20 / (cl / 3));
    for (int64_t i = 0; i < 20; ++i) {
      PathfinderStimulus s = generate_pathfinder(p, 1, i);
      ASSERT_EQ(s.image.size(), 1024u);
      EXPECT_EQ(*std::max_element(s.image.begin(), s.image.end()), 255);
      int lit = int(std::count_if(s.image.begin(), s.image.end(), [](uint8_t v) { return v > 0; }));
      EXPECT_GT(lit, 60) << "cl " << cl << " image " << i;
      EXPECT_LT(lit, 900) << "cl " << cl << " image " << i;
      for (int c = 0; c < 2; ++c) {
        EXPECT_EQ(s.paddle_far[size_t(c)].size(), size_t(cl));
        // Every paddle is visible, and the final image is at least as bright as the targets-only one.
        for (auto q : s.paddle_far[size_t(c)]) EXPECT_GT(s.contours[size_t(c)][size_t(q[0] * 32 + q[1])], 0);
      }
      for (size_t k = 0; k < s.image.size(); ++k) ASSERT_GE(s.image[k], s.targets_only[k]);
      for (auto m : s.markers) EXPECT_GT(s.image[size_t(m[0] * 32 + m[1])], 100) << "marker not lit";
    }
  }
}

// Flood fill from a over the pixels of img brighter than threshold, stepping to any lit pixel within
// Chebyshev distance `jump`; true when b is reached.
bool reaches(const std::vector<uint8_t>& img, int side, std::array<int, 2> a, std::array<int, 2> b, int threshold,
             int jump) {
  auto lit = [&](int y, int x) { return y >= 0 && y < side && x >= 0 && x < side && img[size_t(y * side + x)] > threshold; };
  if (!lit(a[0], a[1])) return false;
  std::vector<char> seen(img.size(), 0);
  std::queue<std::array<int, 2>> q;
  q.push(a);
  seen[size_t(a[0] * side + a[1])] = 1;
  while (!q.empty()) {
    auto p = q.front();
    q.pop();
    if (p == b) return true;
    for (int dy = -jump; dy <= jump; ++dy)
      for (int dx = -jump; dx <= jump; ++dx) {
        int y = p[0] + dy, x = p[1] + dx;
        if (lit(y, x) && !seen[size_t(y * side + x)]) {
          seen[size_t(y * side + x)] = 1;
          q.push({y, x});
        }
      }
  }
  return false;
}

// The label is what the pixels say. Contours are dashed (a gap of about 2·margin between paddles), so
// the fill may jump 2·margin + 1 pixels, and it runs over the debug rendering of the contour that carries
// the first marker, alone: over the whole image it would be meaningless, since at 32×32 the two targets
// (seeded 7 px apart) and the distractors pass within a jump of each other in most images, which is
// exactly what makes the task hard. Positives: the fill reaches the second marker. Negatives: it reaches
// the far end of its own contour but not the second marker, except when the other contour crosses it —
// the original lets a contour's newest paddle be crossed, since a paddle enters the occupancy mask only
// once the next one is placed; that happens in ~1–2% of negatives. Control: without jumps (8-neighbours)
// most positives do not connect, so the dashes are real and the gap allowance matters.
TEST(PathfinderGenerator, PositivesConnectTheMarkersAlongTheirContourNegativesDoNot) {
  for (int cl : {6, 14}) {
    PathfinderParams p = lra_pathfinder_params(32, cl);
    int positives = 0, negatives = 0, crossed = 0, solid = 0;
    for (int64_t i = 0; i < 400; ++i) {
      PathfinderStimulus s = generate_pathfinder(p, 2024, i);
      int jump = 2 * s.margin + 1, threshold = 30;
      int a = s.marked_contours[0];
      const std::vector<uint8_t>& contour = s.contours[size_t(a)];
      ASSERT_EQ(s.markers[0], s.paddle_near[size_t(a)].front()) << "the first marker sits on a contour's origin";
      bool connected = reaches(contour, 32, s.markers[0], s.markers[1], threshold, jump);
      if (s.label == 1) {
        ++positives;
        EXPECT_EQ(s.marked_contours[1], a);
        EXPECT_TRUE(connected) << "positive image " << i << " (cl " << cl << ") does not connect its markers";
        solid += reaches(contour, 32, s.markers[0], s.markers[1], threshold, 1);
      } else {
        ++negatives;
        EXPECT_NE(s.marked_contours[1], a);
        EXPECT_TRUE(reaches(contour, 32, s.markers[0], s.paddle_far[size_t(a)].back(), threshold, jump))
            << "negative image " << i << ": the fill does not even reach the end of its own contour";
        crossed += connected;
      }
    }
    EXPECT_EQ(positives, 200);
    EXPECT_LE(crossed, negatives / 20) << "cl " << cl << ": " << crossed << " of " << negatives
                                       << " negatives connect their markers";
    EXPECT_LT(solid, positives / 2) << "cl " << cl << ": contours are not dashed?";
  }
}

TEST(PathfinderGenerator, OtherResolutionsProduceImages) {
  for (int res : {64, 128}) {
    PathfinderParams p = lra_pathfinder_params(res, 14);
    PathfinderStimulus s = generate_pathfinder(p, 5, 0);
    ASSERT_EQ(s.image.size(), size_t(res * res));
    EXPECT_EQ(*std::max_element(s.image.begin(), s.image.end()), 255);
    EXPECT_TRUE(reaches(s.contours[size_t(s.marked_contours[0])], res, s.markers[0],
                        s.paddle_far[size_t(s.marked_contours[0])].back(), 30, 2 * s.margin + 1));
  }
  EXPECT_NE(error_of([] { lra_pathfinder_params(48); }).find("48"), std::string::npos);
  PathfinderParams bad = lra_pathfinder_params(32);
  bad.paddle_thickness = 0.3;
  EXPECT_NE(error_of([&] { generate_pathfinder(bad, 0, 0); }).find("thickness"), std::string::npos);
}

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

TEST(PathfinderGenerator, WritesTheReleaseLayoutTheLoaderReads) {
  fs::path root = temp_dir("roundtrip");
  PathfinderParams p = lra_pathfinder_params(32, 9);
  PathfinderWriteOptions o;
  o.count = 40;
  o.images_per_batch = 16;
  o.seed = 77;
  o.threads = 3;
  fs::path dir = root / "pathfinder32" / pathfinder_difficulty_dir(9);
  write_pathfinder(dir.string(), p, o);

  // Metadata: 11 fields in the release order.
  std::ifstream meta(dir / "metadata" / "1.npy");
  std::string line;
  std::getline(meta, line);
  PathfinderStimulus first = generate_pathfinder(p, 77, 16);
  EXPECT_EQ(line, str("imgs/1 sample_0.png 0 ", first.label, " 1.0 9 3 2 0.5 1 1"));

  PathfinderOptions lo;
  lo.difficulties = {"curv_contour_length_9"};
  Dataset d = load_pathfinder(root.string(), lo);
  ASSERT_EQ(d.split("train")->size(), 32);
  ASSERT_EQ(d.split("val")->size(), 4);
  ASSERT_EQ(d.split("test")->size(), 4);
  EXPECT_EQ(d.split("train")->skipped(), 0);
  int64_t i = 0;
  for (const char* s : {"train", "val", "test"})
    for (int64_t k = 0; k < d.split(s)->size(); ++k, ++i) {
      PathfinderStimulus g = generate_pathfinder(p, 77, i);
      Example e = d.split(s)->get(k);
      EXPECT_EQ(e.label, g.label) << i;
      EXPECT_TRUE(std::equal(e.tokens.begin(), e.tokens.end(), g.image.begin(), g.image.end())) << i;
    }

  // The files do not depend on the thread count.
  o.threads = 1;
  fs::path dir1 = root / "one_thread";
  write_pathfinder(dir1.string(), p, o);
  for (int b = 0; b < 3; ++b) {
    EXPECT_EQ(read_file(dir / "metadata" / str(b, ".npy")), read_file(dir1 / "metadata" / str(b, ".npy")));
    EXPECT_EQ(read_file(dir / "imgs" / std::to_string(b) / "sample_3.png"),
              read_file(dir1 / "imgs" / std::to_string(b) / "sample_3.png"));
  }
  fs::remove_all(root);
}

// A grid of generated 32×32 examples, upscaled: positives in the top two rows, negatives below.
void write_example_grid(const std::string& path) {
  const int S = 32, up = 4, cols = 8, gap = 4, cell = S * up + gap;
  const int W = cols * cell + gap, H = 4 * cell + gap;
  std::vector<uint8_t> grid(size_t(W) * H, 96);
  PathfinderParams p = lra_pathfinder_params(32, 14);
  int placed[2] = {0, 0};
  for (int64_t i = 0; placed[0] < 16 || placed[1] < 16; ++i) {
    PathfinderStimulus s = generate_pathfinder(p, 2021, i);
    int n = placed[s.label];
    if (n >= 16) continue;
    ++placed[s.label];
    int row = (s.label == 1 ? 0 : 2) + n / cols, col = n % cols;
    for (int y = 0; y < S * up; ++y)
      for (int x = 0; x < S * up; ++x)
        grid[size_t(gap + row * cell + y) * W + size_t(gap + col * cell + x)] = s.image[size_t((y / up) * S + x / up)];
  }
  write_png_gray(path, grid.data(), H, W);
}

TEST(PathfinderGenerator, ExampleGrid) {
  fs::path dir = temp_dir("grid");
  write_example_grid((dir / "grid.png").string());
  int h = 0, w = 0;
  std::vector<uint8_t> px = read_png_gray((dir / "grid.png").string(), h, w);
  EXPECT_EQ(h, 4 * 132 + 4);
  EXPECT_EQ(w, 8 * 132 + 4);
  EXPECT_EQ(*std::max_element(px.begin(), px.end()), 255);
  fs::remove_all(dir);
}

// Regenerates docs/pathfinder_examples.png: run with --gtest_also_run_disabled_tests.
TEST(PathfinderGenerator, DISABLED_WriteDocsExamples) {
  write_example_grid(std::string(LRA_TEST_DATA) + "/../../docs/pathfinder_examples.png");
}

// --- augmentation --------------------------------------------------------------------------------

TEST(PathfinderAugment, EightDistinctBijectionsOfTheSquare) {
  const int side = 5;
  std::vector<int32_t> img(side * side);
  for (int i = 0; i < side * side; ++i) img[size_t(i)] = i;  // no symmetry at all
  std::set<std::vector<int32_t>> results;
  for (int k = 0; k < 8; ++k) {
    std::vector<int32_t> out = square_symmetry(img, side, k);
    std::vector<int32_t> sorted = out;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, img) << "k=" << k << " is not a permutation of the pixels";
    results.insert(out);
  }
  EXPECT_EQ(results.size(), 8u);
  EXPECT_EQ(square_symmetry(img, side, 0), img);
  // k = 1: 90° clockwise, so the top-left pixel goes to the top-right corner.
  EXPECT_EQ(square_symmetry(img, side, 1)[side - 1], 0);
  // k = 4: left-right mirror.
  EXPECT_EQ(square_symmetry(img, side, 4)[0], side - 1);
  // Four quarter turns are the identity.
  std::vector<int32_t> r = img;
  for (int t = 0; t < 4; ++t) r = square_symmetry(r, side, 1);
  EXPECT_EQ(r, img);
  EXPECT_NE(error_of([&] { square_symmetry(img, 4, 0); }).find("4×4"), std::string::npos);
}

TEST(PathfinderAugment, AugmentDrawsAllEightAndKeepsTheLabel) {
  const int side = 4;
  Augment aug = square_symmetries_augment(side);
  Generator gen(3);
  std::set<std::vector<int32_t>> seen;
  for (int t = 0; t < 200; ++t) {
    Example e;
    for (int i = 0; i < side * side; ++i) e.tokens.push_back(i);
    e.label = 1;
    aug(e, gen);
    EXPECT_EQ(e.label, 1);
    seen.insert(e.tokens);
  }
  EXPECT_EQ(seen.size(), 8u);
}

}  // namespace
}  // namespace lra::tasks

namespace lra::tasks {
namespace {

// Regressions for the fuzzer's findings (fuzz/README.md): a PNG whose chunk length or declared size
// would make the decoder allocate gigabytes is refused before decoding, and metadata cannot point the
// loader outside the release folder.
TEST(PathfinderSecurity, HostilePngsAreRefusedBeforeDecoding) {
  const std::string dir = std::string(LRA_TEST_DATA) + "/pathfinder/bad_png/";
  int h = 0, w = 0;
  std::string msg = test::error_of([&] { read_png_gray(dir + "oom-idat-length-1.2GB.png", h, w); });
  EXPECT_NE(msg.find("claims"), std::string::npos) << msg;
  msg = test::error_of([&] { read_png_gray(dir + "oom-ihdr-20000x20000.png", h, w); });
  EXPECT_NE(msg.find("declared size 20000x20000"), std::string::npos) << msg;
}

TEST(PathfinderSecurity, MetadataPathsStayInsideTheRelease) {
  namespace fs = std::filesystem;
  fs::path root = lra::test::scratch_dir() / "lra_pf_escape";
  fs::remove_all(root);
  fs::path diff = root / "pathfinder32" / "curv_contour_length_14";
  fs::create_directories(diff / "metadata");
  fs::create_directories(diff / "imgs" / "0");
  for (const char* line : {"/ etc/passwd 0 1", "imgs/0 ../../../../x.png 0 1"}) {
    std::ofstream(diff / "metadata" / "0.npy") << line << "\n";
    std::string msg = test::error_of([&] { load_pathfinder(root.string()); });
    EXPECT_NE(msg.find("leaves the release folder"), std::string::npos) << line << ": " << msg;
  }
  fs::remove_all(root);
}

}  // namespace
}  // namespace lra::tasks

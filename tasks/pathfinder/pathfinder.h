// Pathfinder and Path-X: is there a path between the two circles? (LRA tasks "pathfinder32" and
// "pathfinder128", binary.) Three parts:
//
// - Loader for the LRA release layout
//     <root>/pathfinder{32,64,128,256}/<difficulty>/imgs/<batch>/sample_<i>.png   8-bit grayscale, S×S
//     <root>/pathfinder{32,64,128,256}/<difficulty>/metadata/<batch>.npy         plain text despite .npy
//   with difficulties curv_baseline (6 paddles), curv_contour_length_9, curv_contour_length_14 (the one LRA
//   uses). A metadata line is "imgs/<batch> sample_<i>.png <i> <label> <continuity> <contour_length>
//   <distractor_length> <paddle_length> <paddle_thickness> <paddle_margin> <#paddle contrasts>"; only
//   fields 0, 1 and 3 are read. Metadata is validated up front; PNGs decode lazily in Split::get.
//   Tokens are the pixel values 0..255 row-major (vocab 256, L = S·S, 2 classes, no normalisation; the
//   black background is therefore "padding" to a >0 mask, as in LRA).
// - Generator: a port of the original stimulus generator (drewlinsley/pathfinder snakes2.py / snakes.py)
//   with LRA's per-resolution settings, writing the same layout so the loader reads its output.
// - Augmentation: the 8 symmetries of the square.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "tasks/common/dataset.h"
#include "tasks/common/png.h"

namespace lra::tasks {

// --- loader --------------------------------------------------------------------------------------

inline constexpr const char* kPathfinderDifficulties[3] = {"curv_baseline", "curv_contour_length_9",
                                                           "curv_contour_length_14"};

struct PathfinderOptions {
  int resolution = 32;  // 32, 64, 128 or 256 (the pathfinderXX folder)
  // The difficulty folders to read, easiest first (pathfinder_difficulties() gives them from the
  // setting's text); LRA uses the hard set alone.
  std::vector<std::string> difficulties = {"curv_contour_length_14"};
};

// Reads <root>/pathfinder<resolution>/<difficulty> for each listed difficulty. Metadata files are taken in
// numeric batch order and their lines in file order; each difficulty is cut by position into its first 80%
// ("train"), the next 10% ("val") and the rest ("test"), LRA's TFDS slices [:80%], [80%:90%], [90%:].
// "train" concatenates the training slices of every listed difficulty, in the listed order; "val" and
// "test" are the slices of the last (hardest) one only, as the locality-bias paper trains on the three
// sets and validates and tests on the hard one. With one difficulty that is LRA's split of it. Zero-byte
// PNGs (the release has one) are dropped and counted in Split::skipped() of every split. Throws
// lra::Error naming the file and line for a missing folder, a malformed metadata line (fewer than 4
// fields, label not 0/1) or a listed image that does not exist; Split::get throws naming the PNG when it
// cannot be decoded or is not S×S.
Dataset load_pathfinder(const std::string& root, const PathfinderOptions& options = {});

// TaskInfo for a resolution: name "pathfinder<S>", vocab 256, max_len S·S, 2 classes.
TaskInfo pathfinder_info(int resolution);

// PNG helpers: tasks/common/png.h.

// --- generator -----------------------------------------------------------------------------------

// The stimulus parameters ([PF] snakes2_wrapper Args, the names used there). Lengths in pixels of the
// final image; angles in radians.
struct PathfinderParams {
  int size = 32;                  // window: size × size
  int padding = 1;                // border band where no target paddle may start
  int antialias = 2;              // supersampling factor of the paddle and marker rasteriser
  std::vector<int> margins = {1}; // paddle margin, one drawn per image
  int paddle_length = 2;
  double paddle_thickness = 0.5;  // paddle_thickness × antialias must be an integer
  double marker_radius = 1.5;
  int seed_distance = 7;          // distance between the two target contours' first paddles
  double continuity = 1.0;        // larger: straighter contours (turns beyond 90°/continuity get weight 0)
  int contour_length = 14;        // paddles per target contour
  int distractor_length = 4;      // paddles per distractor contour
  int num_distractors = 5;
  std::vector<double> snake_contrasts = {2.0};   // one drawn per contour
  std::vector<double> paddle_contrasts = {0.75}; // one drawn per paddle step (target contours only, as in [PF])
  bool single_paddles = false;    // the optional single-paddle clutter of [PF] (off: see generator.cpp)
  int distractor_retries = 4;     // max_distractor_contour_retrial
  int paddle_retries = 2;         // max_paddle_retrial
};

// LRA's settings ([LRA] data/pathfinder.py docstrings) for resolution 32/64/128/256 and contour length
// 6 (curv_baseline), 9 or 14: distractor length cl/3 and the number of distractors per resolution.
PathfinderParams lra_pathfinder_params(int resolution, int contour_length = 14);
// The folder name of a contour length: 6 → curv_baseline, 9 → curv_contour_length_9, ...
std::string pathfinder_difficulty_dir(int contour_length);
// easy | intermediate | hard (or a folder name) -> curv_baseline | curv_contour_length_9 | _14 (LRA's three
// sets are the contour lengths 6, 9 and 14); the contour length in *contour_length when given. An error
// names the accepted values.
std::string pathfinder_difficulty_folder(const std::string& difficulty, int* contour_length = nullptr);
// The difficulty setting: one or several comma-separated difficulties ("easy,intermediate,hard", names or
// folder names, spaces allowed around the commas) as their folders, easiest first. An error names the
// entry at fault ("unknown pathfinder difficulty 'hrad' in 'easy,hrad' ..."), and refuses an empty entry
// or a difficulty listed twice.
std::vector<std::string> pathfinder_difficulties(const std::string& text);
// The setting's short name of a folder: curv_contour_length_9 -> intermediate.
std::string pathfinder_difficulty_name(const std::string& folder);

// One generated image, with what the tests and the debug renderings need.
struct PathfinderStimulus {
  int size = 0;
  int label = 0;                       // 1: both markers on one contour
  int margin = 0;                      // the paddle margin drawn for this image
  std::vector<uint8_t> image;          // size·size, row-major, scaled so the maximum is 255
  std::vector<uint8_t> targets_only;   // debug: the two target contours and the markers, no distractors
  std::array<std::vector<uint8_t>, 2> contours;  // debug: each target contour alone, no markers
  // (the debug layers use the image's scaling, so each is <= image pixel by pixel)
  std::array<std::array<int, 2>, 2> markers{};  // (y, x) centres of the two markers
  std::array<int, 2> marked_contours{};          // which target contour each marker sits on
  // Debug: per target contour, in growth order, the (y, x) end points of each paddle: `near` is the end
  // towards the contour's origin, `far` the end away from it (the last far end is the terminal tip).
  std::array<std::vector<std::array<int, 2>>, 2> paddle_near, paddle_far;
};

// Image `index` of the set with this seed: it draws from Generator(seed, index << 32) only, so it is the
// same whatever the thread count. Labels are balanced exactly: images 2k and 2k+1 take labels {0, 1} in
// an order drawn from the seed (the original drew each label independently). Throws if the contours
// cannot be placed after many attempts (impossible parameters).
PathfinderStimulus generate_pathfinder(const PathfinderParams& params, uint64_t seed, int64_t index);

struct PathfinderWriteOptions {
  int64_t count = 0;
  int64_t images_per_batch = 1000;  // imgs/<batch>/ and metadata/<batch>.npy hold this many
  uint64_t seed = 0;
  int threads = 0;                  // 0: std::thread::hardware_concurrency()
};

// Writes `count` images into dir (e.g. <root>/pathfinder32/curv_contour_length_14) in the release
// layout: imgs/<batch>/sample_<j>.png and metadata/<batch>.npy with the 11 text fields. The files are
// the same for any thread count.
void write_pathfinder(const std::string& dir, const PathfinderParams& params,
                      const PathfinderWriteOptions& options);

// --- augmentation --------------------------------------------------------------------------------

// The 8 symmetries of a side×side image: k in 0..7 reflects left-right when k >= 4, then rotates by
// (k % 4)·90° clockwise. Pixel values are moved, never changed.
std::vector<int32_t> square_symmetry(const std::vector<int32_t>& pixels, int side, int k);
// An Augment that applies one of the 8 symmetries, drawn uniformly, to example.tokens.
Augment square_symmetries_augment(int side);

}  // namespace lra::tasks

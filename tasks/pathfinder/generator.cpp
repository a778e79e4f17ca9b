// Pathfinder stimulus generator: a port of [PF] drewlinsley/pathfinder snakes2.py (two_snakes,
// initialize_two_seeds, from_wrapper) and snakes.py (make_many_snakes, seed_snake, extend_snake,
// get_coords_cmf, draw_line_n_mask), with LRA's per-resolution settings. Per image:
//
//   1. label (balanced, see generate_pathfinder) and paddle margin m (from the list).
//   2. two target contours, restarted from scratch until both reach contour_length paddles:
//      seed 1: tail uniform among pixels that are free once the occupancy (a `padding` border plus a
//      2·seed_distance band) is dilated by the paddle's own footprint; seed 2: tail seed_distance away
//      in a uniform integer-degree direction. Then both grow alternately: the next pivot lies L + 2m
//      beyond the last along the last orientation; candidate heads are the pixels on the circle of
//      radius L + m around it, weighted by (1 − occupancy dilated by m) · max(cos(min(continuity·Δθ,
//      π/2)), 0)²; a sampled paddle is drawn from the head back towards the pivot and kept if its footprint
//      does not overlap the occupancy (max(occ + footprint) < 1.8), else resampled (paddle_retries).
//   3. num_distractors contours of distractor_length paddles (seeded with a 1-px border, up to
//      distractor_retries attempts each, incomplete ones dropped, stop once < 1% of the image is free).
//   4. optional single-paddle clutter (off by default).
//   5. markers: discs at the origin tip of one target contour and at the terminal tip of the same
//      contour (positive) or of the other one (negative).
//   6. composite: pixel-wise max of contours and markers, min–max scaled to 0..255 (scipy's bytescale).
//
// Deliberate differences from [PF], each for a reason:
//   - random numbers come from Philox (engine/rng.h), one stream per image, so a data set is a pure
//     function of (seed, index) and the thread count does not matter; the distributions are the same.
//   - labels are balanced exactly per pair of images instead of drawn independently (the brief asks for
//     balanced sets; the difference in a 200K set is noise).
//   - two_snakes is retried at most kMaxTargetAttempts times instead of forever, then an error is thrown.
//   - a distractor whose seed finds < 1% of the image free is not retried (the original retries and
//     fails the same way; only the random stream differs).
//   - wide paddle lines (thickness·antialias > 1, i.e. not Pathfinder-32) approximate Pillow's wide-line
//     polygon (render.cpp).
//   - use_single_paddles defaults to off: the [PF] wrapper that produced the curv_* sets sets it to False,
//     and LRA's docstrings do not mention it.
// Kept as written in [PF] (they shape the released images): distractor paddles take the snake contrast
// only (no paddle contrast), so in Pathfinder-32 distractors (2.0) are brighter than targets (2·0.75);
// the last paddle of the first target contour is never committed to the occupancy mask; seed 2 is not
// checked against the occupancy.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <tuple>

#include "engine/base.h"
#include "engine/rng.h"
#include "tasks/pathfinder/pathfinder.h"
#include "tasks/pathfinder/render.h"

namespace lra::tasks {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr int kMaxTargetAttempts = 100000;

using Point = std::array<int, 2>;  // (y, x)

// [PF] translate_coord: move by dist along orientation (y += sin, x += cos), then ceil.
Point translate(Point p, double theta, double dist) {
  return {pf::ceil_i(p[0] + dist * std::sin(theta)), pf::ceil_i(p[1] + dist * std::cos(theta))};
}
double flip_by_pi(double t) { return t < 0 ? t + kPi : t - kPi; }
double degrees(int d) { return double(d) * kPi / 180.0; }

struct Rng {
  Generator gen;
  int randint(int lo, int hi) { return lo + int(gen.below(uint32_t(hi - lo))); }  // [lo, hi)
  double rand() { return gen.uniform(); }
  template <class T>
  T choice(const std::vector<T>& v) { return v[gen.below(uint32_t(v.size()))]; }
};

// A paddle placed in the image: its patch window's top-left corner (may lie outside the image).
struct Paddle {
  int y0 = 0, x0 = 0;
  const pf::PaddlePatch* patch = nullptr;
};

// A growing contour: where the next paddle attaches, and the footprint not yet committed.
struct Snake {
  Point pivot{};
  double theta = 0;
  Paddle last;
  Point origin{}, terminal{};
  std::vector<Point> near, far;
};

using Canvas = std::vector<float>;  // size × size, row-major

class Stimulus {
 public:
  Stimulus(const PathfinderParams& p, int margin, Rng& rng)
      : p_(p), S_(p.size), m_(margin), rng_(rng), paddles_(renderer(p, margin)) {}

  // [PF] from_wrapper for one image, after label and margin are drawn.
  PathfinderStimulus run(int label) {
    std::optional<std::array<Snake, 2>> targets;
    for (int attempt = 0; !targets; ++attempt) {
      LRA_CHECK(attempt < kMaxTargetAttempts, "pathfinder: could not place two target contours of ",
                p_.contour_length, " paddles in a ", S_, "×", S_, " image after ", kMaxTargetAttempts,
                " attempts; the parameters leave too little room");
      targets = two_snakes();
    }
    Canvas image(size_t(S_) * S_, 0.f);
    for (size_t i = 0; i < image.size(); ++i) image[i] = std::max(target_images_[0][i], target_images_[1][i]);
    Canvas targets_image = image;

    for (int i = 0; i < p_.num_distractors; ++i) many_snake_attempt(image, p_.distractor_length, p_.distractor_retries);
    if (p_.single_paddles) {
      int budget = int(150.0 / ((7.5 + 13 * m_ + 4 * m_ * m_) / 123.5));
      int n = budget - 2 * p_.contour_length - p_.num_distractors * p_.distractor_length;
      for (int i = 0; i < n; ++i) many_snake_attempt(image, 1, p_.paddle_retries);
    }

    int origin = rng_.randint(0, 2);
    int terminal = label == 1 ? origin : 1 - origin;
    PathfinderStimulus out;
    out.size = S_;
    out.label = label;
    out.margin = m_;
    out.markers = {(*targets)[size_t(origin)].origin, (*targets)[size_t(terminal)].terminal};
    out.marked_contours = {origin, terminal};
    for (int s = 0; s < 2; ++s) {
      out.paddle_near[size_t(s)] = (*targets)[size_t(s)].near;
      out.paddle_far[size_t(s)] = (*targets)[size_t(s)].far;
    }
    std::vector<uint8_t> m0 = pf::draw_marker(S_, out.markers[0][0], out.markers[0][1], p_.marker_radius, p_.antialias);
    std::vector<uint8_t> m1 = pf::draw_marker(S_, out.markers[1][0], out.markers[1][1], p_.marker_radius, p_.antialias);
    for (size_t i = 0; i < image.size(); ++i) {
      float marker = float(std::max(m0[i], m1[i])) / 255.f;
      image[i] = std::max(image[i], marker);
      targets_image[i] = std::max(targets_image[i], marker);
    }
    // scipy.misc.imsave → bytescale: (v − min)·255/(max − min), rounded half up.
    auto [lo, hi] = std::minmax_element(image.begin(), image.end());
    double cmin = *lo, scale = *hi > *lo ? 255.0 / (double(*hi) - cmin) : 1.0;
    auto bytescale = [&](const Canvas& c) {
      std::vector<uint8_t> b(c.size());
      for (size_t i = 0; i < c.size(); ++i)
        b[i] = uint8_t(std::clamp((double(c[i]) - cmin) * scale, 0.0, 255.0) + 0.5);
      return b;
    };
    out.image = bytescale(image);
    out.targets_only = bytescale(targets_image);  // debug layers share the image's scale
    for (int c = 0; c < 2; ++c) out.contours[size_t(c)] = bytescale(target_images_[size_t(c)]);
    return out;
  }

 private:
  static pf::PaddleRenderer& renderer(const PathfinderParams& p, int margin) {
    thread_local std::map<std::tuple<int, double, int, int>, std::unique_ptr<pf::PaddleRenderer>> cache;
    auto key = std::make_tuple(p.paddle_length, p.paddle_thickness, margin, p.antialias);
    auto& r = cache[key];
    if (!r) r = std::make_unique<pf::PaddleRenderer>(p.paddle_length, p.paddle_thickness, margin, p.antialias);
    return *r;
  }

  bool inside(Point q) const { return q[0] >= 0 && q[0] < S_ && q[1] >= 0 && q[1] < S_; }

  Paddle place(Point start, double theta) {
    const pf::PaddlePatch& patch = paddles_.get(theta);
    return {start[0] - patch.radius, start[1] - patch.radius, &patch};
  }

  // Calls f(image index, patch index) over the part of the paddle's window inside the image.
  template <class F>
  void for_window(const Paddle& q, F&& f) const {
    int n = 2 * q.patch->radius + 1;
    for (int a = std::max(0, -q.y0); a < n && q.y0 + a < S_; ++a)
      for (int b = std::max(0, -q.x0); b < n && q.x0 + b < S_; ++b)
        f(size_t(q.y0 + a) * S_ + size_t(q.x0 + b), size_t(a) * n + size_t(b));
  }
  void draw(Canvas& image, const Paddle& q, double contrast) const {
    float c = float(contrast);
    for_window(q, [&](size_t i, size_t k) { image[i] = std::max(image[i], float(q.patch->line[k]) / 255.f * c); });
  }
  void commit(Canvas& mask, const Paddle& q) const {
    for_window(q, [&](size_t i, size_t k) { mask[i] = std::max(mask[i], float(q.patch->mask[k]) / 255.f); });
  }
  bool fits(const Canvas& mask, const Paddle& q) const {
    bool ok = true;
    for_window(q, [&](size_t i, size_t k) {
      if (double(mask[i]) + double(float(q.patch->mask[k]) / 255.f) >= 1.8) ok = false;
    });
    return ok;
  }

  // A pixel counts as free when its occupancy is <= 0.3 ([PF]: np.ceil(mask − 0.3) == 0).
  static bool free_value(float v) { return double(v) - 0.3 <= 0.0; }

  // [PF] seed_snake and the first seed of initialize_two_seeds: tail uniform among the pixels that stay
  // free when the occupancy, with a band of `band` pixels at each border, is dilated by the footprint of a
  // paddle at orientation theta (so the whole paddle lands on free ground), then the head/pivot check.
  std::optional<std::pair<Point, double>> sample_seed(const Canvas& mask, int band) {
    const int L = p_.paddle_length, anchor = L + m_, ks = 2 * anchor + 1;
    for (int trial = 0; trial <= p_.paddle_retries; ++trial) {
      double theta = degrees(rng_.randint(-180, 180));
      // The structuring element: the paddle's footprint drawn from (anchor + 1, anchor + 1) in a ks×ks
      // window, pixels at full occupancy only ([PF] struct.astype(uint8)).
      const pf::PaddlePatch& patch = paddles_.get(theta);
      int R = patch.radius, n = 2 * R + 1;
      std::vector<std::pair<int, int>> offsets;
      for (int a = 0; a < ks; ++a)
        for (int b = 0; b < ks; ++b) {
          int pa = a - (anchor + 1) + R, pb = b - (anchor + 1) + R;
          if (pa >= 0 && pa < n && pb >= 0 && pb < n && patch.mask[size_t(pa * n + pb)] == 255)
            offsets.emplace_back(a - anchor, b - anchor);
        }
      if (offsets.empty()) offsets.emplace_back(0, 0);
      auto blocked = [&](int y, int x) {
        if (y < 0 || y >= S_ || x < 0 || x >= S_) return false;  // cv2.dilate ignores the outside
        if (y < band || y >= S_ - band || x < band || x >= S_ - band) return true;
        return !free_value(mask[size_t(y) * S_ + size_t(x)]);
      };
      std::vector<Point> available;
      for (int y = 0; y < S_; ++y)
        for (int x = 0; x < S_; ++x) {
          bool ok = true;
          for (auto [dy, dx] : offsets)
            if (blocked(y + dy, x + dx)) {
              ok = false;
              break;
            }
          if (ok) available.push_back({y, x});
        }
      if (available.empty()) return std::nullopt;  // [PF]: fails at once, no retry
      Point tail = available[size_t(rng_.randint(0, int(available.size())))];
      Point head = translate(tail, theta, L);
      Point pivot = translate(head, theta + kPi < kPi ? theta + kPi : theta - kPi, L + m_);
      if (inside(head) && inside(pivot)) return std::make_pair(tail, theta);
    }
    return std::nullopt;
  }

  Snake start_snake(Point tail, double theta) {
    Snake s;
    Point head = translate(tail, theta, p_.paddle_length);
    s.pivot = translate(head, theta + kPi < kPi ? theta + kPi : theta - kPi, p_.paddle_length + m_);
    s.theta = theta;
    s.last = place(tail, theta);
    s.origin = tail;
    s.terminal = {0, 0};
    s.near.push_back(tail);
    s.far.push_back(head);
    return s;
  }

  // [PF] extend_snake + get_coords_cmf.
  bool extend(Snake& s, Canvas& image, Canvas& mask, double contrast) {
    const int L = p_.paddle_length, step = L + m_;
    Point pivot = translate(s.pivot, s.theta, L + 2 * m_);
    // Candidate heads: the circle of radius L + m around the pivot, about one pixel of arc apart.
    double deg_per_pixel = 360.0 / (2.0 * step * kPi);
    int count = int(std::ceil(360.0 / deg_per_pixel));
    std::vector<Point> cand;
    for (int k = 0; k < count; ++k) {
      double a = (k * deg_per_pixel) * kPi / 180.0;
      double y = pivot[0] + step * std::sin(a), x = pivot[1] + step * std::cos(a);
      if (y >= S_ || y < 0 || x >= S_ || x < 0) continue;
      cand.push_back({int(y), int(x)});
    }
    std::sort(cand.begin(), cand.end());
    cand.erase(std::unique(cand.begin(), cand.end()), cand.end());
    if (cand.empty()) return false;
    std::vector<double> cmf(cand.size()), orient(cand.size());
    double total = 0;
    for (size_t i = 0; i < cand.size(); ++i) {
      orient[i] = std::atan2(double(cand[i][0] - pivot[0]), double(cand[i][1] - pivot[1]));
      double d = std::abs(orient[i] - s.theta);
      d = std::min(std::min(d, 2 * kPi - d) * p_.continuity, 0.5 * kPi);
      double w = std::max(std::cos(d), 0.0);
      // The occupancy dilated by a radius-m disc, at this pixel.
      float occ = 0.f;
      for (int dy = -m_; dy <= m_; ++dy)
        for (int dx = -m_; dx <= m_; ++dx) {
          int y = cand[i][0] + dy, x = cand[i][1] + dx;
          if (dx * dx + dy * dy <= m_ * m_ && y >= 0 && y < S_ && x >= 0 && x < S_)
            occ = std::max(occ, mask[size_t(y) * S_ + size_t(x)]);
        }
      total += (1.0 - double(occ)) * w * w;
      cmf[i] = total;
    }
    if (total < 1e-4) return false;  // dead end
    for (double& c : cmf) c /= total;
    for (int trial = 0; trial <= p_.paddle_retries; ++trial) {
      double r = rng_.rand();
      size_t idx = 0;
      while (idx < cmf.size() && !(cmf[idx] - r > 0)) ++idx;
      if (idx == cmf.size()) idx = 0;  // np.argmax of all-false
      Point head = cand[idx];
      Paddle q = place(head, flip_by_pi(orient[idx]));
      if (!fits(mask, q)) continue;
      draw(image, q, contrast);
      commit(mask, s.last);  // the previous paddle's footprint, so consecutive paddles may touch
      s.pivot = pivot;
      s.theta = orient[idx];
      s.last = q;
      s.terminal = head;
      s.near.push_back(translate(head, flip_by_pi(orient[idx]), L));
      s.far.push_back(head);
      return true;
    }
    return false;
  }

  // [PF] two_snakes / initialize_two_seeds: both target contours, or nothing.
  std::optional<std::array<Snake, 2>> two_snakes() {
    const int L = p_.paddle_length;
    Canvas mask(size_t(S_) * S_, 0.f);
    int pad = p_.padding;
    for (int y = 0; y < S_; ++y)
      for (int x = 0; x < S_; ++x)
        if (y < pad || y >= S_ - pad || x < pad || x >= S_ - pad) mask[size_t(y) * S_ + size_t(x)] = 1.f;
    std::array<double, 2> mu = {rng_.choice(p_.snake_contrasts), rng_.choice(p_.snake_contrasts)};
    for (auto& im : target_images_) im.assign(size_t(S_) * S_, 0.f);

    auto seed1 = sample_seed(mask, 2 * p_.seed_distance);
    if (!seed1) return std::nullopt;
    std::array<Snake, 2> snakes;
    snakes[0] = start_snake(seed1->first, seed1->second);
    draw(target_images_[0], snakes[0].last, rng_.choice(p_.paddle_contrasts) * mu[0]);

    bool placed = false;
    for (int trial = 0; trial <= p_.paddle_retries && !placed; ++trial) {
      double theta = degrees(rng_.randint(-180, 180));
      double dir = degrees(rng_.randint(0, 360));
      Point tail = {int(std::nearbyint(seed1->first[0] + p_.seed_distance * std::sin(dir))),
                    int(std::nearbyint(seed1->first[1] + p_.seed_distance * std::cos(dir)))};
      Point head = translate(tail, theta, L);
      Point pivot = translate(head, theta + kPi < kPi ? theta + kPi : theta - kPi, L + m_);
      if (!inside(head) || !inside(pivot)) continue;
      snakes[1] = start_snake(tail, theta);
      placed = true;
    }
    if (!placed) return std::nullopt;
    draw(target_images_[1], snakes[1].last, rng_.choice(p_.paddle_contrasts) * mu[1]);

    for (int seg = 1; seg < p_.contour_length; ++seg) {
      double contrast = rng_.choice(p_.paddle_contrasts);  // one per step, shared by both contours
      for (int s = 0; s < 2; ++s)
        if (!extend(snakes[size_t(s)], target_images_[size_t(s)], mask, contrast * mu[size_t(s)])) return std::nullopt;
    }
    commit(mask, snakes[1].last);  // as written: only the second contour's last paddle
    mask_ = std::move(mask);
    return snakes;
  }

  // One distractor contour of [PF] make_many_snakes: up to retries + 1 attempts of make_snake; a failed
  // attempt leaves image and occupancy unchanged, and a contour that never completes is dropped.
  void many_snake_attempt(Canvas& image, int segments, int retries) {
    for (int attempt = 0; attempt <= retries; ++attempt) {
      // Stop once less than 1% of the image is free (stop_with_availability = 0.01).
      int64_t free_pixels = std::count_if(mask_.begin(), mask_.end(), free_value);
      if (double(free_pixels) / (double(S_) * S_) < 0.01) return;
      Canvas im = image, mask = mask_;
      auto seed = sample_seed(mask, 1);
      if (!seed) continue;
      Snake s = start_snake(seed->first, seed->second);
      draw(im, s.last, rng_.choice(p_.snake_contrasts));
      bool ok = true;
      for (int seg = 1; seg < segments && ok; ++seg) ok = extend(s, im, mask, rng_.choice(p_.snake_contrasts));
      if (!ok) continue;
      commit(mask, s.last);
      image = std::move(im);
      mask_ = std::move(mask);
      return;
    }
  }

  const PathfinderParams& p_;
  int S_, m_;
  Rng& rng_;
  pf::PaddleRenderer& paddles_;
  std::array<Canvas, 2> target_images_;
  Canvas mask_;  // the occupancy after the targets
};

void check_params(const PathfinderParams& p) {
  LRA_CHECK(p.size >= 8, "pathfinder: image size must be at least 8, got ", p.size);
  LRA_CHECK(!p.margins.empty() && !p.snake_contrasts.empty() && !p.paddle_contrasts.empty(),
            "pathfinder: margins, snake_contrasts and paddle_contrasts must not be empty");
  LRA_CHECK(p.contour_length >= 2, "pathfinder: contour_length must be at least 2, got ", p.contour_length);
  LRA_CHECK(p.distractor_length >= 1 && p.num_distractors >= 0, "pathfinder: bad distractors: ", p.num_distractors,
            " of length ", p.distractor_length);
  LRA_CHECK(p.padding >= 0 && 2 * p.seed_distance < p.size, "pathfinder: seed_distance ", p.seed_distance,
            " leaves no room in a ", p.size, "×", p.size, " image");
}

// Python's str(float) for the metadata fields: "1.0", "0.5", "1.8".
std::string py_float(double v) {
  std::ostringstream s;
  s.precision(12);
  s << v;
  std::string t = s.str();
  if (t.find_first_of(".e") == std::string::npos) t += ".0";
  return t;
}

}  // namespace

PathfinderParams lra_pathfinder_params(int resolution, int contour_length) {
  LRA_CHECK(contour_length >= 3, "pathfinder: contour_length must be at least 3, got ", contour_length);
  PathfinderParams p;
  p.size = resolution;
  p.antialias = 2;
  p.contour_length = contour_length;
  p.distractor_length = contour_length / 3;
  p.paddle_contrasts = {1.0};
  switch (resolution) {
    case 32:
      p.padding = 1, p.margins = {1}, p.paddle_length = 2, p.paddle_thickness = 0.5, p.marker_radius = 1.5;
      p.seed_distance = 7, p.continuity = 1.0, p.num_distractors = 20 / p.distractor_length;
      p.snake_contrasts = {2.0}, p.paddle_contrasts = {0.75};
      break;
    case 64:
      p.padding = 1, p.margins = {1}, p.paddle_length = 5, p.paddle_thickness = 1, p.marker_radius = 2.5;
      p.seed_distance = 12, p.continuity = 1.8, p.num_distractors = 22 / p.distractor_length;
      p.snake_contrasts = {0.8};
      break;
    case 128:
      p.padding = 1, p.margins = {2, 3}, p.paddle_length = 5, p.paddle_thickness = 1.5, p.marker_radius = 3;
      p.seed_distance = 20, p.continuity = 1.8, p.num_distractors = 35 / p.distractor_length;
      p.snake_contrasts = {0.9};
      break;
    case 256:
      p.padding = 22, p.margins = {3}, p.paddle_length = 5, p.paddle_thickness = 2, p.marker_radius = 5;
      p.seed_distance = 27, p.continuity = 1.8, p.num_distractors = 30 / p.distractor_length;
      p.snake_contrasts = {1.0};
      break;
    default:
      fail(str("pathfinder: no LRA settings for resolution ", resolution, " (use 32, 64, 128 or 256)"));
  }
  return p;
}

std::string pathfinder_difficulty_dir(int contour_length) {
  return contour_length == 6 ? std::string("curv_baseline") : str("curv_contour_length_", contour_length);
}

PathfinderStimulus generate_pathfinder(const PathfinderParams& params, uint64_t seed, int64_t index) {
  check_params(params);
  LRA_CHECK(index >= 0 && index < (int64_t(1) << 31), "pathfinder: image index ", index, " out of range");
  // Labels: images 2k and 2k+1 get {0, 1} in an order drawn from a counter range no image uses.
  uint32_t coin = philox4x32(seed, (uint64_t(1) << 63) + uint64_t(index / 2)).v[0] & 1u;
  int label = int((uint32_t(index) & 1u) ^ coin);
  Rng rng{Generator(seed, uint64_t(index) << 32)};
  int margin = rng.choice(params.margins);
  Stimulus s(params, margin, rng);
  return s.run(label);
}

void write_pathfinder(const std::string& dir, const PathfinderParams& params, const PathfinderWriteOptions& options) {
  namespace fs = std::filesystem;
  check_params(params);
  LRA_CHECK(options.count >= 0 && options.images_per_batch >= 1, "pathfinder: bad count ", options.count,
            " or images_per_batch ", options.images_per_batch);
  int64_t batches = (options.count + options.images_per_batch - 1) / options.images_per_batch;
  std::error_code ec;
  fs::create_directories(fs::path(dir) / "metadata", ec);
  LRA_CHECK(!ec, "pathfinder: cannot create ", (fs::path(dir) / "metadata").string(), ": ", ec.message());
  for (int64_t b = 0; b < batches; ++b) {
    fs::create_directories(fs::path(dir) / "imgs" / std::to_string(b), ec);
    LRA_CHECK(!ec, "pathfinder: cannot create ", (fs::path(dir) / "imgs" / std::to_string(b)).string(), ": ",
              ec.message());
  }

  std::vector<std::string> lines(size_t(options.count));
  std::atomic<int64_t> next{0};
  std::atomic<bool> stop{false};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&] {
    try {
      for (int64_t i = next++; i < options.count && !stop; i = next++) {
        PathfinderStimulus s = generate_pathfinder(params, options.seed, i);
        int64_t b = i / options.images_per_batch, j = i % options.images_per_batch;
        std::string sub = "imgs/" + std::to_string(b), name = "sample_" + std::to_string(j) + ".png";
        write_png_gray((fs::path(dir) / sub / name).string(), s.image.data(), s.size, s.size);
        // accumulate_meta: subpath, file name, index, label, continuity, contour length, distractor
        // length, paddle length, paddle thickness, margin, number of paddle contrasts.
        lines[size_t(i)] = str(sub, ' ', name, ' ', j, ' ', s.label, ' ', py_float(params.continuity), ' ',
                               params.contour_length, ' ', params.distractor_length, ' ', params.paddle_length, ' ',
                               py_float(params.paddle_thickness), ' ', s.margin, ' ', params.paddle_contrasts.size());
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
      stop = true;
    }
  };
  int threads = options.threads > 0 ? options.threads : int(std::max(1u, std::thread::hardware_concurrency()));
  threads = int(std::min<int64_t>(threads, std::max<int64_t>(options.count, 1)));
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);

  for (int64_t b = 0; b < batches; ++b) {
    std::string path = (fs::path(dir) / "metadata" / (std::to_string(b) + ".npy")).string();
    std::ofstream f(path);
    LRA_CHECK(f.good(), "pathfinder: cannot write ", path);
    int64_t end = std::min(options.count, (b + 1) * options.images_per_batch);
    for (int64_t i = b * options.images_per_batch; i < end; ++i) f << lines[size_t(i)] << '\n';
    LRA_CHECK(f.good(), "pathfinder: error writing ", path);
  }
}

}  // namespace lra::tasks

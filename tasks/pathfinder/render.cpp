#include "tasks/pathfinder/render.h"

#include <algorithm>

#include "engine/base.h"

namespace lra::tasks::pf {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's fixed-point coefficients for 8-bit images

double sinc(double x) {
  if (x == 0.0) return 1.0;
  x *= kPi;
  return std::sin(x) / x;
}

double lanczos3(double x) { return (-3.0 <= x && x < 3.0) ? sinc(x) * sinc(x / 3.0) : 0.0; }

// Pillow precompute_coeffs + normalize_coeffs_8bpc: for output pixel o, taps start at first[o], count
// n[o], integer weights k[o·ksize + t].
struct Taps {
  int ksize = 0;
  std::vector<int> first, count, k;
};

Taps lanczos_taps(int in_size, int out_size) {
  double scale = double(in_size) / out_size;
  double filterscale = std::max(scale, 1.0);
  double support = 3.0 * filterscale;
  Taps t;
  t.ksize = int(std::ceil(support)) * 2 + 1;
  t.first.resize(size_t(out_size));
  t.count.resize(size_t(out_size));
  t.k.assign(size_t(out_size) * size_t(t.ksize), 0);
  std::vector<double> w(size_t(t.ksize));
  for (int o = 0; o < out_size; ++o) {
    double center = (o + 0.5) * scale;
    int lo = std::max(int(center - support + 0.5), 0);
    int hi = std::min(int(center + support + 0.5), in_size) - lo;
    double sum = 0.0;
    for (int x = 0; x < hi; ++x) {
      w[size_t(x)] = lanczos3((x + lo - center + 0.5) / filterscale);
      sum += w[size_t(x)];
    }
    for (int x = 0; x < hi; ++x) {
      double v = sum != 0.0 ? w[size_t(x)] / sum : w[size_t(x)];
      t.k[size_t(o * t.ksize + x)] = v < 0 ? int(-0.5 + v * (1 << kPrecisionBits)) : int(0.5 + v * (1 << kPrecisionBits));
    }
    t.first[size_t(o)] = lo;
    t.count[size_t(o)] = hi;
  }
  return t;
}

const Taps& cached_taps(int in_size, int out_size) {
  thread_local std::map<std::pair<int, int>, Taps> cache;
  auto it = cache.find({in_size, out_size});
  if (it == cache.end()) it = cache.emplace(std::make_pair(in_size, out_size), lanczos_taps(in_size, out_size)).first;
  return it->second;
}

uint8_t clip8(int64_t acc) {
  if (acc >= (int64_t(1) << kPrecisionBits << 8)) return 255;
  if (acc <= 0) return 0;
  return uint8_t(acc >> kPrecisionBits);
}

}  // namespace

std::vector<uint8_t> lanczos_resize(const std::vector<uint8_t>& in, int in_h, int in_w, int out_h, int out_w) {
  // Horizontal pass: in_h × out_w.
  const Taps& th = cached_taps(in_w, out_w);
  std::vector<uint8_t> mid(size_t(in_h) * size_t(out_w));
  for (int y = 0; y < in_h; ++y) {
    const uint8_t* row = in.data() + size_t(y) * size_t(in_w);
    for (int o = 0; o < out_w; ++o) {
      int64_t acc = int64_t(1) << (kPrecisionBits - 1);
      const int* k = th.k.data() + size_t(o) * size_t(th.ksize);
      for (int t = 0; t < th.count[size_t(o)]; ++t) acc += int64_t(row[th.first[size_t(o)] + t]) * k[t];
      mid[size_t(y) * size_t(out_w) + size_t(o)] = clip8(acc);
    }
  }
  // Vertical pass: out_h × out_w.
  const Taps& tv = cached_taps(in_h, out_h);
  std::vector<uint8_t> out(size_t(out_h) * size_t(out_w));
  for (int o = 0; o < out_h; ++o) {
    const int* k = tv.k.data() + size_t(o) * size_t(tv.ksize);
    for (int x = 0; x < out_w; ++x) {
      int64_t acc = int64_t(1) << (kPrecisionBits - 1);
      for (int t = 0; t < tv.count[size_t(o)]; ++t)
        acc += int64_t(mid[size_t(tv.first[size_t(o)] + t) * size_t(out_w) + size_t(x)]) * k[t];
      out[size_t(o) * size_t(out_w) + size_t(x)] = clip8(acc);
    }
  }
  return out;
}

std::vector<uint8_t> disc(int radius) {
  int n = 2 * radius + 1;
  std::vector<uint8_t> d(size_t(n) * size_t(n), 0);
  for (int y = -radius; y <= radius; ++y)
    for (int x = -radius; x <= radius; ++x)
      if (x * x + y * y <= radius * radius) d[size_t((y + radius) * n + (x + radius))] = 1;
  return d;
}

std::vector<uint8_t> dilate_disc(const std::vector<uint8_t>& in, int h, int w, int radius) {
  std::vector<uint8_t> d = disc(radius), out(in.size(), 0);
  int n = 2 * radius + 1;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t m = 0;
      for (int dy = -radius; dy <= radius; ++dy)
        for (int dx = -radius; dx <= radius; ++dx) {
          int yy = y + dy, xx = x + dx;
          if (!d[size_t((dy + radius) * n + dx + radius)] || yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
          m = std::max(m, in[size_t(yy) * size_t(w) + size_t(xx)]);
        }
      out[size_t(y) * size_t(w) + size_t(x)] = m;
    }
  return out;
}

namespace {

// Pillow ImagingDrawLine (Bresenham over n steps, end point excluded) followed by the end point that
// draw_lines adds for width-1 lines: every pixel from (x0, y0) to (x1, y1) inclusive.
void bresenham(std::vector<uint8_t>& img, int side, int x0, int y0, int x1, int y1) {
  auto put = [&](int x, int y) {
    if (x >= 0 && x < side && y >= 0 && y < side) img[size_t(y) * size_t(side) + size_t(x)] = 255;
  };
  int dx = std::abs(x1 - x0), dy = std::abs(y1 - y0);
  int xs = x1 >= x0 ? 1 : -1, ys = y1 >= y0 ? 1 : -1;
  int x = x0, y = y0;
  if (dx == 0) {
    for (int i = 0; i < dy; ++i, y += ys) put(x, y);
  } else if (dy == 0) {
    for (int i = 0; i < dx; ++i, x += xs) put(x, y);
  } else if (dx > dy) {
    int e = 2 * dy - dx;
    for (int i = 0; i < dx; ++i) {
      put(x, y);
      if (e >= 0) {
        y += ys;
        e -= 2 * dx;
      }
      e += 2 * dy;
      x += xs;
    }
  } else {
    int e = 2 * dx - dy;
    for (int i = 0; i < dy; ++i) {
      put(x, y);
      if (e >= 0) {
        x += xs;
        e -= 2 * dy;
      }
      e += 2 * dx;
      y += ys;
    }
  }
  put(x1, y1);
}

// The supersampled paddle: a white line of `width` pixels from (c, c) to (hx, hy). Width 1 is Pillow's
// Bresenham exactly (the Pathfinder-32 case: thickness 0.5 × antialias 2). Wider lines approximate
// Pillow's wide-line polygon by its rectangle: pixels whose centre projects onto the segment and lies
// within [-width/2, width/2) of it across, which gives exactly `width` pixels across an axis-aligned line.
void draw_blown_line(std::vector<uint8_t>& img, int side, int c, int hx, int hy, int width) {
  if (width <= 1) {
    bresenham(img, side, c, c, hx, hy);
    return;
  }
  double dx = hx - c, dy = hy - c, len = std::hypot(dx, dy);
  double ux = dx / len, uy = dy / len;
  for (int y = 0; y < side; ++y)
    for (int x = 0; x < side; ++x) {
      double px = x - c, py = y - c;
      double along = px * ux + py * uy, across = -px * uy + py * ux;
      if (along >= -1e-9 && along <= len + 1e-9 && across >= -width / 2.0 - 1e-9 && across < width / 2.0 - 1e-9)
        img[size_t(y) * size_t(side) + size_t(x)] = 255;
    }
}

}  // namespace

PaddleRenderer::PaddleRenderer(int length, double thickness, int margin, int antialias)
    : length_(length), margin_(margin), aa_(antialias) {
  double blown = thickness * antialias;
  LRA_CHECK(std::round(blown) == blown, "pathfinder: paddle thickness ", thickness, " × antialias ", antialias,
            " must be an integer (the original generator's 'thickness does not break even')");
  LRA_CHECK(length >= 1 && margin >= 0 && antialias >= 1, "pathfinder: bad paddle geometry: length ", length,
            ", margin ", margin, ", antialias ", antialias);
  blown_width_ = int(std::nearbyint(blown));
  radius_ = length + int(std::ceil(thickness)) + margin;
  dilation_ = disc(margin * antialias);
}

const PaddlePatch& PaddleRenderer::get(double orientation) {
  int c = radius_ * aa_;
  int hy = ceil_i(c + double(length_ * aa_) * std::sin(orientation));
  int hx = ceil_i(c + double(length_ * aa_) * std::cos(orientation));
  auto key = std::make_pair(hy - c, hx - c);
  auto it = cache_.find(key);
  if (it != cache_.end()) return *it->second;

  int blown = 2 * c + 1, small = 2 * radius_ + 1;
  std::vector<uint8_t> canvas(size_t(blown) * size_t(blown), 0);
  draw_blown_line(canvas, blown, c, hx, hy, blown_width_);
  auto patch = std::make_unique<PaddlePatch>();
  patch->radius = radius_;
  patch->line = lanczos_resize(canvas, blown, blown, small, small);
  patch->mask = lanczos_resize(dilate_disc(canvas, blown, blown, margin_ * aa_), blown, blown, small, small);
  return *cache_.emplace(key, std::move(patch)).first->second;
}

std::vector<uint8_t> draw_marker(int size, int cy, int cx, double radius, int antialias) {
  int big = size * antialias;
  double r2 = (radius * antialias) * (radius * antialias);
  std::vector<uint8_t> canvas(size_t(big) * size_t(big), 0);
  for (int i = 0; i < big; ++i)
    for (int j = 0; j < big; ++j) {
      double y = i - cy * antialias, x = j - cx * antialias;
      if (x * x + y * y <= r2) canvas[size_t(i) * size_t(big) + size_t(j)] = 255;
    }
  return lanczos_resize(canvas, big, big, size, size);
}

}  // namespace lra::tasks::pf

// Image task: training-time augmentation of a side×side grayscale token image (see image.h).
//
// The AutoAugment ops follow PIL on one 8-bit band, which is what torchvision's AutoAugment runs on a
// PIL image: lookup tables for the point ops (ImageOps.autocontrast/equalize/posterize/solarize/invert),
// ImageEnhance's blend `degenerate + factor·(image - degenerate)` truncated and clipped to 0..255, and
// affine warps for the geometric ops. Magnitude bins and the CIFAR-10 sub-policies are torchvision's
// (transforms/autoaugment.py, num_bins = 10).
#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>

#include "tasks/image/image.h"

namespace lra::tasks::image {

namespace {

uint8_t clip8(double v) { return uint8_t(std::clamp(v, 0.0, 255.0)); }

// Float -> uint8 as PIL's ImagingBlend does it: truncate toward zero, then clip.
int32_t blend(double degenerate, double value, double factor) {
  return clip8(double(int64_t(degenerate + factor * (value - degenerate))));
}

void check_image(const std::vector<int32_t>& px, int side, const char* what) {
  LRA_CHECK(side > 0 && int64_t(px.size()) == int64_t(side) * side, what, ": expected a ", side, "x", side,
            " image (", int64_t(side) * side, " pixels), got ", px.size(), " pixels");
}

std::array<int64_t, 256> histogram(const std::vector<int32_t>& px) {
  std::array<int64_t, 256> h{};
  for (int32_t v : px) ++h[size_t(std::clamp(v, 0, 255))];
  return h;
}

void apply_lut(std::vector<int32_t>& px, const std::array<int32_t, 256>& lut) {
  for (int32_t& v : px) v = lut[size_t(std::clamp(v, 0, 255))];
}

// ImageOps.autocontrast(cutoff=0): stretch [lo, hi] to [0, 255].
void autocontrast(std::vector<int32_t>& px) {
  const auto h = histogram(px);
  int lo = 0, hi = 255;
  while (lo < 256 && h[size_t(lo)] == 0) ++lo;
  while (hi >= 0 && h[size_t(hi)] == 0) --hi;
  if (hi <= lo) return;
  const double scale = 255.0 / (hi - lo), offset = -lo * scale;
  std::array<int32_t, 256> lut;
  for (int i = 0; i < 256; ++i) lut[size_t(i)] = clip8(double(int64_t(i * scale + offset)));
  apply_lut(px, lut);
}

// ImageOps.equalize: lut[i] = (step/2 + pixels below i) / step, step = (pixels - last bin's) / 256.
void equalize(std::vector<int32_t>& px) {
  const auto h = histogram(px);
  int64_t total = 0, last = 0, nonzero = 0;
  for (int64_t c : h) {
    if (c == 0) continue;
    total += c;
    last = c;
    ++nonzero;
  }
  if (nonzero <= 1) return;
  const int64_t step = (total - last) / 256;
  if (step == 0) return;
  std::array<int32_t, 256> lut;
  int64_t n = step / 2;
  for (int i = 0; i < 256; ++i) {
    lut[size_t(i)] = int32_t(std::min<int64_t>(n / step, 255));
    n += h[size_t(i)];
  }
  apply_lut(px, lut);
}

// ImageEnhance.Sharpness: blend with ImageFilter.SMOOTH (3×3 kernel 1 1 1 / 1 5 1 / 1 1 1, divided by 13,
// rounded), whose border pixels are copied from the image.
void sharpness(std::vector<int32_t>& px, int side, double factor) {
  std::vector<int32_t> smooth = px;
  for (int y = 1; y + 1 < side; ++y)
    for (int x = 1; x + 1 < side; ++x) {
      int32_t sum = 4 * px[size_t(y * side + x)];
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) sum += px[size_t((y + dy) * side + x + dx)];
      smooth[size_t(y * side + x)] = int32_t(std::lround(sum / 13.0));
    }
  for (size_t i = 0; i < px.size(); ++i) px[i] = blend(smooth[i], px[i], factor);
}

InverseAffine rotation(int side, float degrees) {
  const double a = double(degrees) * 3.14159265358979323846 / 180.0;
  const float c = float(std::cos(a)), s = float(std::sin(a));
  InverseAffine m;
  // y points down, so a counter-clockwise turn maps (dx, dy) to (c·dx + s·dy, -s·dx + c·dy); this is the inverse.
  m.m00 = c;
  m.m01 = -s;
  m.m10 = s;
  m.m11 = c;
  m.origin_x = m.origin_y = 0.5f * float(side);
  return m;
}

}  // namespace

// --- geometry -------------------------------------------------------------------------------------

void warp(std::vector<int32_t>& px, int side, const InverseAffine& map, Interp interp, int fill) {
  check_image(px, side, "warp");
  LRA_CHECK(fill >= 0 && fill <= 255, "warp: fill ", fill, " is not a pixel value 0..255");
  auto at = [&](int64_t x, int64_t y) -> double {
    return (x < 0 || y < 0 || x >= side || y >= side) ? double(fill) : double(px[size_t(y * side + x)]);
  };
  std::vector<int32_t> out(px.size());
  for (int y = 0; y < side; ++y)
    for (int x = 0; x < side; ++x) {
      const double px_c = x + 0.5 - map.origin_x, py_c = y + 0.5 - map.origin_y;
      const double u = map.m00 * px_c + map.m01 * py_c + map.origin_x + map.shift_x;
      const double v = map.m10 * px_c + map.m11 * py_c + map.origin_y + map.shift_y;
      double value;
      if (interp == Interp::kNearest) {
        value = at(int64_t(std::floor(u)), int64_t(std::floor(v)));
      } else {
        const double fx = u - 0.5, fy = v - 0.5;
        const double x0 = std::floor(fx), y0 = std::floor(fy), ax = fx - x0, ay = fy - y0;
        const int64_t ix = int64_t(x0), iy = int64_t(y0);
        value = (1 - ay) * ((1 - ax) * at(ix, iy) + ax * at(ix + 1, iy)) +
                ay * ((1 - ax) * at(ix, iy + 1) + ax * at(ix + 1, iy + 1));
        value = std::round(value);
      }
      out[size_t(y * side + x)] = int32_t(value);
    }
  px = std::move(out);
}

void hflip(std::vector<int32_t>& px, int side) {
  check_image(px, side, "hflip");
  for (int y = 0; y < side; ++y) std::reverse(px.begin() + y * side, px.begin() + (y + 1) * side);
}

void random_crop(std::vector<int32_t>& px, int side, Generator& gen, int pad) {
  check_image(px, side, "random_crop");
  LRA_CHECK(pad >= 0 && pad <= side, "random_crop: pad ", pad, " outside 0..", side);
  const int dx = int(gen.below(uint32_t(2 * pad + 1))) - pad, dy = int(gen.below(uint32_t(2 * pad + 1))) - pad;
  std::vector<int32_t> out(px.size(), 0);
  for (int y = 0; y < side; ++y)
    for (int x = 0; x < side; ++x) {
      const int sx = x + dx, sy = y + dy;
      if (sx >= 0 && sy >= 0 && sx < side && sy < side) out[size_t(y * side + x)] = px[size_t(sy * side + sx)];
    }
  px = std::move(out);
}

void random_affine(std::vector<int32_t>& px, int side, Generator& gen, float translate, float scale_min,
                   float scale_max, Interp interp, int fill) {
  LRA_CHECK(translate >= 0 && translate <= 1, "random_affine: translate ", translate, " outside [0, 1]");
  LRA_CHECK(scale_min > 0 && scale_min <= scale_max, "random_affine: scale range [", scale_min, ", ", scale_max,
            "] must be positive and ordered");
  const double max_shift = double(translate) * side;
  // Python's round() is round-half-even, as nearbyint in the default rounding mode.
  const double tx = std::nearbyint((2.0 * gen.uniform() - 1.0) * max_shift);
  const double ty = std::nearbyint((2.0 * gen.uniform() - 1.0) * max_shift);
  const double scale = scale_min + (double(scale_max) - scale_min) * gen.uniform();
  // Forward: out = c + scale·(in - c) + t, so in = c + (out - c)/scale - t/scale.
  InverseAffine m;
  m.m00 = m.m11 = float(1.0 / scale);
  m.origin_x = m.origin_y = 0.5f * float(side);
  m.shift_x = float(-tx / scale);
  m.shift_y = float(-ty / scale);
  warp(px, side, m, interp, fill);
}

// --- AutoAugment ------------------------------------------------------------------------------------

const char* op_name(Op op) {
  switch (op) {
    case Op::kIdentity: return "Identity";
    case Op::kShearX: return "ShearX";
    case Op::kShearY: return "ShearY";
    case Op::kTranslateX: return "TranslateX";
    case Op::kTranslateY: return "TranslateY";
    case Op::kRotate: return "Rotate";
    case Op::kBrightness: return "Brightness";
    case Op::kColor: return "Color";
    case Op::kContrast: return "Contrast";
    case Op::kSharpness: return "Sharpness";
    case Op::kPosterize: return "Posterize";
    case Op::kSolarize: return "Solarize";
    case Op::kAutoContrast: return "AutoContrast";
    case Op::kEqualize: return "Equalize";
    case Op::kInvert: return "Invert";
  }
  return "?";
}

void apply_op(std::vector<int32_t>& px, int side, Op op, float magnitude, Interp interp, int fill) {
  check_image(px, side, op_name(op));
  InverseAffine m;
  switch (op) {
    case Op::kIdentity:
    case Op::kColor:  // saturation: a gray image is its own grayscale
      return;
    case Op::kShearX:
      m.m01 = magnitude;
      return warp(px, side, m, interp, fill);
    case Op::kShearY:
      m.m10 = magnitude;
      return warp(px, side, m, interp, fill);
    case Op::kTranslateX:
      m.shift_x = -float(int(magnitude));
      return warp(px, side, m, interp, fill);
    case Op::kTranslateY:
      m.shift_y = -float(int(magnitude));
      return warp(px, side, m, interp, fill);
    case Op::kRotate:
      return warp(px, side, rotation(side, magnitude), interp, fill);
    case Op::kBrightness:
      for (int32_t& v : px) v = blend(0.0, v, 1.0 + magnitude);
      return;
    case Op::kContrast: {
      // PIL: a flat image at the mean gray, int(mean + 0.5).
      const double mean = std::accumulate(px.begin(), px.end(), 0.0) / double(px.size());
      const double gray = double(int64_t(mean + 0.5));
      for (int32_t& v : px) v = blend(gray, v, 1.0 + magnitude);
      return;
    }
    case Op::kSharpness:
      return sharpness(px, side, 1.0 + magnitude);
    case Op::kPosterize: {
      const int bits = std::clamp(int(magnitude), 0, 8);
      const int32_t mask = ~((1 << (8 - bits)) - 1) & 0xFF;
      for (int32_t& v : px) v &= mask;
      return;
    }
    case Op::kSolarize:
      for (int32_t& v : px)
        if (v >= magnitude) v = 255 - v;
      return;
    case Op::kAutoContrast:
      return autocontrast(px);
    case Op::kEqualize:
      return equalize(px);
    case Op::kInvert:
      for (int32_t& v : px) v = 255 - v;
      return;
  }
}

float op_magnitude(Op op, int bin, int side) {
  LRA_CHECK(bin >= 0 && bin <= 9, "op_magnitude: bin ", bin, " outside 0..9");
  const double t = bin / 9.0;
  switch (op) {
    case Op::kShearX:
    case Op::kShearY: return float(0.3 * t);
    case Op::kTranslateX:
    case Op::kTranslateY: return float(150.0 / 331.0 * side * t);
    case Op::kRotate: return float(30.0 * t);
    case Op::kBrightness:
    case Op::kColor:
    case Op::kContrast:
    case Op::kSharpness: return float(0.9 * t);
    case Op::kPosterize: return float(8 - int(std::nearbyint(bin / 2.25)));
    case Op::kSolarize: return float(255.0 * (1.0 - t));
    default: return 0.0f;
  }
}

bool op_signed(Op op) {
  switch (op) {
    case Op::kShearX:
    case Op::kShearY:
    case Op::kTranslateX:
    case Op::kTranslateY:
    case Op::kRotate:
    case Op::kBrightness:
    case Op::kColor:
    case Op::kContrast:
    case Op::kSharpness: return true;
    default: return false;
  }
}

const std::vector<SubPolicy>& cifar10_policy() {
  using O = Op;
  static const std::vector<SubPolicy> policy = {
      {{O::kInvert, 0.1f, 0}, {O::kContrast, 0.2f, 6}},
      {{O::kRotate, 0.7f, 2}, {O::kTranslateX, 0.3f, 9}},
      {{O::kSharpness, 0.8f, 1}, {O::kSharpness, 0.9f, 3}},
      {{O::kShearY, 0.5f, 8}, {O::kTranslateY, 0.7f, 9}},
      {{O::kAutoContrast, 0.5f, 0}, {O::kEqualize, 0.9f, 0}},
      {{O::kShearY, 0.2f, 7}, {O::kPosterize, 0.3f, 7}},
      {{O::kColor, 0.4f, 3}, {O::kBrightness, 0.6f, 7}},
      {{O::kSharpness, 0.3f, 9}, {O::kBrightness, 0.7f, 9}},
      {{O::kEqualize, 0.6f, 0}, {O::kEqualize, 0.5f, 0}},
      {{O::kContrast, 0.6f, 7}, {O::kSharpness, 0.6f, 5}},
      {{O::kColor, 0.7f, 7}, {O::kTranslateX, 0.5f, 8}},
      {{O::kEqualize, 0.3f, 0}, {O::kAutoContrast, 0.4f, 0}},
      {{O::kTranslateY, 0.4f, 3}, {O::kSharpness, 0.2f, 6}},
      {{O::kBrightness, 0.9f, 6}, {O::kColor, 0.2f, 8}},
      {{O::kSolarize, 0.5f, 2}, {O::kInvert, 0.0f, 0}},
      {{O::kEqualize, 0.2f, 0}, {O::kAutoContrast, 0.6f, 0}},
      {{O::kEqualize, 0.2f, 0}, {O::kEqualize, 0.6f, 0}},
      {{O::kColor, 0.9f, 9}, {O::kEqualize, 0.6f, 0}},
      {{O::kAutoContrast, 0.8f, 0}, {O::kSolarize, 0.2f, 8}},
      {{O::kBrightness, 0.1f, 3}, {O::kColor, 0.7f, 0}},
      {{O::kSolarize, 0.4f, 5}, {O::kAutoContrast, 0.9f, 0}},
      {{O::kTranslateY, 0.9f, 9}, {O::kTranslateY, 0.7f, 9}},
      {{O::kAutoContrast, 0.9f, 0}, {O::kSolarize, 0.8f, 3}},
      {{O::kEqualize, 0.8f, 0}, {O::kInvert, 0.1f, 0}},
      {{O::kTranslateY, 0.7f, 9}, {O::kAutoContrast, 0.9f, 0}},
  };
  return policy;
}

void autoaugment(std::vector<int32_t>& px, int side, Generator& gen, const std::vector<SubPolicy>& policy,
                 Interp interp, int fill) {
  LRA_CHECK(!policy.empty(), "autoaugment: empty policy");
  const SubPolicy& sub = policy[gen.below(uint32_t(policy.size()))];
  for (const PolicyOp& op : {sub.first, sub.second}) {
    // Both draws are made whether or not the op applies, so the stream use is fixed per image.
    const float p = gen.uniform();
    const bool negate = gen.below(2) == 1;
    if (p >= op.probability) continue;
    const float magnitude = op_magnitude(op.op, op.bin, side);
    apply_op(px, side, op.op, op_signed(op.op) && negate ? -magnitude : magnitude, interp, fill);
  }
}

Augment train_augment(const AugmentOptions& o) {
  LRA_CHECK(o.side > 0, "image augment: side must be positive, got ", o.side);
  LRA_CHECK(o.translate >= 0 && o.translate <= 1, "image augment: translate ", o.translate, " outside [0, 1]");
  LRA_CHECK(o.scale_min > 0 && o.scale_min <= o.scale_max, "image augment: scale range [", o.scale_min, ", ",
            o.scale_max, "] must be positive and ordered");
  LRA_CHECK(o.crop_pad >= 0 && o.crop_pad <= o.side, "image augment: crop_pad ", o.crop_pad, " outside 0..", o.side);
  LRA_CHECK(o.fill >= 0 && o.fill <= 255, "image augment: fill ", o.fill, " is not a pixel value 0..255");
  return [o](Example& e, Generator& gen) {
    check_image(e.tokens, o.side, "image augment");
    for (int32_t v : e.tokens)
      LRA_CHECK(v >= 0 && v <= 255, "image augment: token ", v, " is not a pixel value 0..255");
    if (o.autoaugment) autoaugment(e.tokens, o.side, gen, cifar10_policy(), o.interp, o.fill);
    if (o.flip && gen.below(2) == 1) hflip(e.tokens, o.side);
    if (o.translate > 0 || o.scale_min != 1 || o.scale_max != 1)
      random_affine(e.tokens, o.side, gen, o.translate, o.scale_min, o.scale_max, o.interp, o.fill);
    if (o.crop_pad > 0) random_crop(e.tokens, o.side, gen, o.crop_pad);
  };
}

}  // namespace lra::tasks::image

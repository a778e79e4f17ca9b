// The rasteriser under the Pathfinder generator: the handful of PIL / OpenCV / scipy operations that the
// original [PF] code (snakes.py draw_line_n_mask, snakes2.py draw_circle) leans on, written out so that a
// paddle looks the way it did in the released data sets.
//
// - lanczos_resize: Pillow's 8-bit Image.resize(LANCZOS): separable, horizontal pass then vertical,
//   Lanczos-3 taps widened by the scale factor, coefficients in 22-bit fixed point, each pass rounded and
//   clipped to 0..255 (scipy.misc.imresize hands Pillow a uint8 'L' image, which is what LRA used).
// - a 1-pixel line is Pillow's Bresenham (ImagingDrawLine, plus the last point that draw_lines adds);
//   wider lines approximate Pillow's wide-line polygon (see draw_blown_line).
// - dilation is cv2.dilate with a disc: out(p) = max over the disc of in(p + k), out-of-image ignored.
// Internal to tasks/pathfinder.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

namespace lra::tasks::pf {

// numpy-style helpers the generator uses for coordinates: ceil after a float move (translate_coord).
inline int ceil_i(double v) { return static_cast<int>(std::ceil(v)); }

// Pillow Image.resize(LANCZOS) of a uint8 single-channel image (row-major), in_h×in_w → out_h×out_w.
std::vector<uint8_t> lanczos_resize(const std::vector<uint8_t>& in, int in_h, int in_w, int out_h, int out_w);

// cv2.dilate(in, disc(radius)) on a uint8 image.
std::vector<uint8_t> dilate_disc(const std::vector<uint8_t>& in, int h, int w, int radius);

// The disc structuring element of [PF] generate_dilation_struct: (2r+1)², x² + y² <= r².
std::vector<uint8_t> disc(int radius);

// One rendered paddle (draw_line_n_mask before placement): a (2R+1)² window, R = length + ceil(thickness)
// + margin, whose centre is the paddle's start point. `line` is the anti-aliased line, `mask` its
// occupancy footprint (the line dilated by the margin), both uint8 as Pillow returns them (divide by 255).
struct PaddlePatch {
  int radius = 0;  // R
  std::vector<uint8_t> line, mask;
};

// Renders paddles of one geometry. The supersampled line only depends on its integer end point, so
// patches are cached by that end point (a few hundred at most); a renderer is used by one thread.
class PaddleRenderer {
 public:
  PaddleRenderer(int length, double thickness, int margin, int antialias);
  // The paddle starting at the window centre and pointing along orientation (radians; y = sin, x = cos).
  const PaddlePatch& get(double orientation);
  int radius() const { return radius_; }

 private:
  int length_, margin_, aa_, blown_width_, radius_;
  std::vector<uint8_t> dilation_;  // disc(margin·aa)
  std::map<std::pair<int, int>, std::unique_ptr<PaddlePatch>> cache_;
};

// [PF] draw_circle: a disc of `radius` around (cy, cx) drawn at antialias× resolution over the whole
// size×size window and Lanczos-downsampled; uint8 (divide by 255).
std::vector<uint8_t> draw_marker(int size, int cy, int cx, double radius, int antialias);

}  // namespace lra::tasks::pf

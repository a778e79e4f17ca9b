// PNG helpers (stb_image / stb_image_write), used by the Pathfinder loader and generator and by the
// trainer's curve plots.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lra::tasks {

// Reads any PNG as one 8-bit channel. Throws naming the file when it cannot be decoded, when a chunk
// length overruns the file, or when the declared size exceeds max_side (checked before any pixel buffer
// is allocated: fuzz/README.md, finding 1).
std::vector<uint8_t> read_png_gray(const std::string& path, int& height, int& width, int max_side = 4096);
void write_png_gray(const std::string& path, const uint8_t* pixels, int height, int width);
// pixels: height x width x 3, row-major RGB.
void write_png_rgb(const std::string& path, const uint8_t* pixels, int height, int width);

}  // namespace lra::tasks

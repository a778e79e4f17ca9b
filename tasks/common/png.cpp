// PNG reading and writing for the whole project (stb_image / stb_image_write from Debian's libstb-dev).
#include "tasks/common/png.h"

#include <algorithm>
#include <fstream>
#include <iterator>

#include "engine/base.h"

// stb is compiled here, once, with static linkage, so no other target can clash with its symbols.
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_ONLY_PNG
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#include <stb_image.h>
#include <stb_image_write.h>
#pragma GCC diagnostic pop

namespace lra::tasks {

namespace {
uint32_t big_endian32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }

// Checks the chunk structure and the declared size before stb allocates anything: a corrupt chunk
// length or an absurd IHDR would otherwise make it allocate gigabytes for a file of a few bytes (both
// found by fuzz/fuzz_png.cpp).
void check_png_structure(const std::vector<uint8_t>& bytes, const std::string& path, int max_side) {
  static const uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  LRA_CHECK(bytes.size() >= 8 + 25 && std::equal(kSignature, kSignature + 8, bytes.begin()), "cannot decode PNG ",
            path, ": not a PNG file (", bytes.size(), " bytes, no PNG signature)");
  size_t at = 8;
  bool first = true;
  while (at + 12 <= bytes.size()) {
    const uint32_t length = big_endian32(&bytes[at]);
    const std::string type(reinterpret_cast<const char*>(&bytes[at + 4]), 4);
    LRA_CHECK(length <= bytes.size() - at - 12, "cannot decode PNG ", path, ": chunk '", type, "' at byte ", at,
              " claims ", length, " bytes but only ", bytes.size() - at - 12, " remain");
    if (first) {
      LRA_CHECK(type == "IHDR" && length == 13, "cannot decode PNG ", path, ": the first chunk is not IHDR");
      const uint32_t width = big_endian32(&bytes[at + 8]), height = big_endian32(&bytes[at + 12]);
      LRA_CHECK(width >= 1 && height >= 1 && width <= uint32_t(max_side) && height <= uint32_t(max_side),
                "cannot decode PNG ", path, ": declared size ", width, "x", height, " is outside 1..", max_side);
      first = false;
    }
    if (type == "IEND") return;
    at += 12 + size_t(length);
  }
  fail(str("cannot decode PNG ", path, ": truncated (no IEND chunk)"));
}
}  // namespace

std::vector<uint8_t> read_png_gray(const std::string& path, int& height, int& width, int max_side) {
  std::ifstream in(path, std::ios::binary);
  LRA_CHECK(in.good(), "cannot open PNG ", path);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  check_png_structure(bytes, path, max_side);
  int channels = 0;
  unsigned char* data = stbi_load_from_memory(bytes.data(), int(bytes.size()), &width, &height, &channels, 1);
  LRA_CHECK(data != nullptr, "cannot decode PNG ", path, ": ", stbi_failure_reason());
  std::vector<uint8_t> pixels(data, data + size_t(width) * size_t(height));
  stbi_image_free(data);
  return pixels;
}

void write_png_gray(const std::string& path, const uint8_t* pixels, int height, int width) {
  LRA_CHECK(stbi_write_png(path.c_str(), width, height, 1, pixels, width) != 0, "cannot write PNG ", path);
}

void write_png_rgb(const std::string& path, const uint8_t* pixels, int height, int width) {
  LRA_CHECK(stbi_write_png(path.c_str(), width, height, 3, pixels, width * 3) != 0, "cannot write PNG ", path);
}

}  // namespace lra::tasks

// Image task: IDX (MNIST-format) files, gzip or plain, and the Fashion-MNIST loader (see image.h).
//
// IDX layout: a 4-byte magic 00 00 <type> <ndims> (type 0x08 = unsigned byte), ndims big-endian uint32
// dimensions, then the data in row-major order. Images are 0x00000803 (count, rows, cols), labels
// 0x00000801 (count).
#include "tasks/image/image.h"

#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iterator>
#include <memory>
#include <sstream>

namespace lra::tasks::image {

namespace fs = std::filesystem;

namespace {

uint32_t big_endian_u32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

constexpr size_t kMaxInflatedBytes = size_t(1) << 30;  // the largest IDX sets (EMNIST) are ~0.7 GiB

std::vector<uint8_t> gunzip(const std::string& path) {
  std::unique_ptr<gzFile_s, int (*)(gzFile)> gz(gzopen(path.c_str(), "rb"), gzclose);
  LRA_CHECK(gz != nullptr, "idx: ", path, ": cannot open");
  std::vector<uint8_t> out;
  std::vector<uint8_t> chunk(size_t(1) << 20);
  for (;;) {
    const int n = gzread(gz.get(), chunk.data(), unsigned(chunk.size()));
    if (n < 0) {
      int code = 0;
      const char* msg = gzerror(gz.get(), &code);
      fail(str("idx: ", path, ": corrupt gzip data (", msg ? msg : "unknown zlib error", ")"));
    }
    if (n == 0) break;
    // A few bytes of gzip can inflate a thousandfold: cap what a dataset file may expand to.
    LRA_CHECK(out.size() + size_t(n) <= kMaxInflatedBytes, "idx: ", path, ": decompresses to more than ",
              kMaxInflatedBytes >> 20, " MiB; not an IDX dataset file");
    out.insert(out.end(), chunk.begin(), chunk.begin() + n);
  }
  // A stream cut short reads as a short file plus a Z_BUF_ERROR ("unexpected end of file").
  int code = Z_OK;
  const char* msg = gzerror(gz.get(), &code);
  LRA_CHECK(code == Z_OK || code == Z_STREAM_END, "idx: ", path, ": corrupt gzip data (",
            msg ? msg : "unknown zlib error", ")");
  return out;
}

// Reads the header (magic and dims) common to both kinds; returns the data offset.
size_t read_header(const std::vector<uint8_t>& bytes, const std::string& path, uint32_t magic, int ndims,
                   std::vector<int64_t>* dims) {
  const size_t header = 4 + 4 * size_t(ndims);
  LRA_CHECK(bytes.size() >= 4, "idx: ", path, ": ", bytes.size(), " bytes is too short for an IDX header");
  const uint32_t found = big_endian_u32(bytes.data());
  if (found != magic) {
    std::ostringstream hex;
    hex << std::hex << std::setfill('0') << "0x" << std::setw(8) << found << ", expected 0x" << std::setw(8) << magic;
    fail(str("idx: ", path, ": bad magic ", hex.str(),
             magic == 0x803 ? " (unsigned-byte images, 3 dims)" : " (unsigned-byte labels, 1 dim)"));
  }
  LRA_CHECK(bytes.size() >= header, "idx: ", path, ": ", bytes.size(), " bytes is too short for a header of ",
            ndims, " dimensions");
  dims->clear();
  for (int d = 0; d < ndims; ++d) dims->push_back(int64_t(big_endian_u32(bytes.data() + 4 + 4 * d)));
  return header;
}

// NAME.gz when it exists, else NAME; an error naming both when neither does.
std::string find_file(const fs::path& dir, const std::string& name) {
  if (fs::is_regular_file(dir / (name + ".gz"))) return (dir / (name + ".gz")).string();
  if (fs::is_regular_file(dir / name)) return (dir / name).string();
  fail(str("fashion-mnist: ", (dir / name).string(), "(.gz): no such file (expected ",
           "{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]; Debian ships them in dataset-fashion-mnist)"));
}

// Images and labels of one IDX pair, padded to 32×32.
LabeledImages read_pair(const std::string& images_path, const std::string& labels_path) {
  const IdxImages im = read_idx_images(images_path);
  std::vector<int32_t> labels = read_idx_labels(labels_path);
  LRA_CHECK(int64_t(labels.size()) == im.count, "fashion-mnist: ", images_path, " holds ", im.count,
            " images but ", labels_path, " holds ", labels.size(), " labels");
  LRA_CHECK(im.rows <= kSide && im.cols <= kSide, "fashion-mnist: ", images_path, ": images are ", im.rows, "x",
            im.cols, ", larger than ", kSide, "x", kSide);
  LabeledImages out;
  out.labels = std::move(labels);
  out.pixels.reserve(size_t(im.count * kLen));
  const int64_t per = im.rows * im.cols;
  for (int64_t i = 0; i < im.count; ++i) {
    const std::vector<uint8_t> padded = pad_to_32(im.pixels.data() + i * per, int(im.rows), int(im.cols));
    out.pixels.insert(out.pixels.end(), padded.begin(), padded.end());
  }
  return out;
}

}  // namespace

std::vector<uint8_t> read_maybe_gzip(const std::string& path) {
  LRA_CHECK(fs::is_regular_file(path), "idx: ", path, ": no such file");
  std::ifstream in(path, std::ios::binary);
  LRA_CHECK(in, "idx: ", path, ": cannot open");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  LRA_CHECK(!in.bad(), "idx: ", path, ": read error");
  if (bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b) return gunzip(path);
  return bytes;
}

IdxImages read_idx_images(const std::string& path) {
  const std::vector<uint8_t> bytes = read_maybe_gzip(path);
  std::vector<int64_t> dims;
  const size_t header = read_header(bytes, path, 0x00000803u, 3, &dims);
  IdxImages out;
  out.count = dims[0];
  out.rows = dims[1];
  out.cols = dims[2];
  LRA_CHECK(out.rows > 0 && out.cols > 0, "idx: ", path, ": image size ", out.rows, "x", out.cols,
            " has a zero dimension");
  LRA_CHECK(out.rows <= 65536 && out.cols <= 65536, "idx: ", path, ": implausible image size ", out.rows, "x",
            out.cols);
  // Compared by division: count·rows·cols could overflow for a corrupt header.
  const int64_t data = int64_t(bytes.size() - header), per = out.rows * out.cols;
  LRA_CHECK(data % per == 0 && data / per == out.count, "idx: ", path, ": the header promises ", out.count,
            " images of ", out.rows, "x", out.cols, " (", out.count, " x ", per, " bytes after the ", header,
            "-byte header) but the file has ", data, " bytes of pixels",
            data / per < out.count ? " (truncated)" : "");
  out.pixels.assign(bytes.begin() + std::ptrdiff_t(header), bytes.end());
  return out;
}

std::vector<int32_t> read_idx_labels(const std::string& path, int num_classes) {
  const std::vector<uint8_t> bytes = read_maybe_gzip(path);
  std::vector<int64_t> dims;
  const size_t header = read_header(bytes, path, 0x00000801u, 1, &dims);
  const int64_t count = dims[0], expected = int64_t(header) + count;
  LRA_CHECK(int64_t(bytes.size()) == expected, "idx: ", path, ": the header promises ", count, " labels (",
            expected, " bytes) but the file has ", bytes.size(), " bytes",
            int64_t(bytes.size()) < expected ? " (truncated)" : "");
  std::vector<int32_t> labels(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    const int v = bytes[header + size_t(i)];
    LRA_CHECK(v < num_classes, "idx: ", path, ": label ", i, " is ", v, ", outside 0..", num_classes - 1);
    labels[size_t(i)] = v;
  }
  return labels;
}

std::vector<uint8_t> pad_to_32(const uint8_t* image, int rows, int cols) {
  LRA_CHECK(rows > 0 && cols > 0 && rows <= kSide && cols <= kSide, "pad_to_32: image of ", rows, "x", cols,
            " does not fit in ", kSide, "x", kSide);
  std::vector<uint8_t> out(size_t(kLen), 0);
  const int top = (kSide - rows) / 2, left = (kSide - cols) / 2;
  for (int y = 0; y < rows; ++y)
    for (int x = 0; x < cols; ++x) out[size_t((top + y) * kSide + left + x)] = image[y * cols + x];
  return out;
}

Dataset load_fashion_mnist(const std::string& dir) {
  LRA_CHECK(fs::is_directory(dir), "fashion-mnist: data directory '", dir, "' not found (Debian's ",
            "dataset-fashion-mnist installs it in ", kFashionMnistDir, ")");
  // Looked up one by one, so a missing file is reported in a fixed order.
  const std::string train_images = find_file(dir, "train-images-idx3-ubyte");
  const std::string train_labels = find_file(dir, "train-labels-idx1-ubyte");
  const std::string test_images = find_file(dir, "t10k-images-idx3-ubyte");
  const std::string test_labels = find_file(dir, "t10k-labels-idx1-ubyte");
  LabeledImages all = read_pair(train_images, train_labels);
  LabeledImages test = read_pair(test_images, test_labels);
  const int64_t n_val = val_count(all.size(), 5000, 60000);
  LabeledImages train, val;
  split_tail(std::move(all), n_val, &train, &val);

  Dataset ds;
  ds.info = fashion_mnist_info();
  ds.splits["train"] = std::make_shared<ImageSplit>(std::move(train));
  ds.splits["val"] = std::make_shared<ImageSplit>(std::move(val));
  ds.splits["test"] = std::make_shared<ImageSplit>(std::move(test));
  return ds;
}

}  // namespace lra::tasks::image

// Image task: the split type, CIFAR-10 binary release loader with LRA's grayscale, and the scalar pixel
// input (see image.h).
#include "tasks/image/image.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace lra::tasks::image {

namespace fs = std::filesystem;

TaskInfo cifar10_info() { return TaskInfo{"image-cifar10", kVocabSize, kLen, kNumClasses, false}; }
TaskInfo fashion_mnist_info() { return TaskInfo{"image-fashion-mnist", kVocabSize, kLen, kNumClasses, false}; }

// --- ImageSplit ----------------------------------------------------------------------------------

ImageSplit::ImageSplit(LabeledImages images) : images_(std::move(images)) {
  LRA_CHECK(images_.pixels.size() == images_.labels.size() * size_t(kLen), "image: a split of ",
            images_.labels.size(), " labels needs ", images_.labels.size() * size_t(kLen), " pixels, got ",
            images_.pixels.size());
}

const uint8_t* ImageSplit::pixels(int64_t index) const {
  LRA_CHECK(index >= 0 && index < size(), "image: index ", index, " outside a split of ", size());
  return images_.pixels.data() + index * kLen;
}

int32_t ImageSplit::label(int64_t index) const {
  LRA_CHECK(index >= 0 && index < size(), "image: index ", index, " outside a split of ", size());
  return images_.labels[size_t(index)];
}

Example ImageSplit::get(int64_t index) const {
  const uint8_t* p = pixels(index);
  Example e;
  e.tokens.assign(p, p + kLen);
  e.label = images_.labels[size_t(index)];
  return e;
}

int64_t val_count(int64_t n, int64_t release_val, int64_t release_total) {
  LRA_CHECK(n >= 0 && release_val >= 0 && release_total > 0 && release_val <= release_total,
            "image: val_count(", n, ", ", release_val, ", ", release_total, "): bad arguments");
  return (n * release_val + release_total / 2) / release_total;
}

void split_tail(LabeledImages all, int64_t n_val, LabeledImages* train, LabeledImages* val) {
  LRA_CHECK(n_val >= 0 && n_val <= all.size(), "image: cannot take ", n_val, " validation images from ",
            all.size());
  const int64_t n_train = all.size() - n_val;
  val->pixels.assign(all.pixels.begin() + n_train * kLen, all.pixels.end());
  val->labels.assign(all.labels.begin() + n_train, all.labels.end());
  all.pixels.resize(size_t(n_train * kLen));
  all.labels.resize(size_t(n_train));
  *train = std::move(all);
}

// --- CIFAR-10 -------------------------------------------------------------------------------------

// tf.image.rgb_to_grayscale: convert_image_dtype(uint8 -> float32) multiplies by float32(1/255); the
// weighted sum runs in float32; convert_image_dtype(float32 -> uint8) multiplies by 255.5 and casts,
// which truncates (the sum is never negative and at most 0.9999·255.5, so no clamp is needed).
uint8_t lra_grayscale(uint8_t r, uint8_t g, uint8_t b) {
  const float inv = float(1.0 / 255.0);
  const float y = (float(r) * inv) * 0.2989f + (float(g) * inv) * 0.5870f + (float(b) * inv) * 0.1140f;
  return uint8_t(y * 255.5f);
}

LabeledImages read_cifar_batch(const std::string& path) {
  LRA_CHECK(fs::is_regular_file(path), "cifar10: ", path, ": no such file");
  std::ifstream in(path, std::ios::binary);
  LRA_CHECK(in, "cifar10: ", path, ": cannot open");
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  LRA_CHECK(!in.bad(), "cifar10: ", path, ": read error");
  const int64_t size = int64_t(bytes.size()), n = size / kCifarRecordBytes;
  LRA_CHECK(size > 0, "cifar10: ", path, ": empty file");
  LRA_CHECK(size % kCifarRecordBytes == 0, "cifar10: ", path, ": record ", n, " is truncated (", size,
            " bytes is not a whole number of ", kCifarRecordBytes, "-byte records: 1 label byte + 3072 pixels)");
  LabeledImages out;
  out.pixels.resize(size_t(n * kLen));
  out.labels.resize(size_t(n));
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* rec = bytes.data() + i * kCifarRecordBytes;
    LRA_CHECK(rec[0] < kNumClasses, "cifar10: ", path, ": record ", i, " has label ", int(rec[0]),
              ", outside 0..9");
    out.labels[size_t(i)] = rec[0];
    const uint8_t *r = rec + 1, *g = r + kLen, *b = g + kLen;
    uint8_t* dst = out.pixels.data() + i * kLen;
    for (int p = 0; p < kLen; ++p) dst[p] = lra_grayscale(r[p], g[p], b[p]);
  }
  return out;
}

Dataset load_cifar10(const std::string& dir) {
  const fs::path base = fs::is_directory(fs::path(dir) / "cifar-10-batches-bin")
                            ? fs::path(dir) / "cifar-10-batches-bin"
                            : fs::path(dir);
  LRA_CHECK(fs::is_directory(base), "cifar10: data directory '", dir,
            "' not found (expected the binary release's cifar-10-batches-bin folder)");
  auto file = [&](const std::string& name) {
    const fs::path p = base / name;
    LRA_CHECK(fs::is_regular_file(p), "cifar10: ", p.string(), ": no such file (the binary release holds ",
              "data_batch_1.bin .. data_batch_5.bin and test_batch.bin)");
    return p.string();
  };
  LabeledImages all;
  for (int k = 1; k <= 5; ++k) {
    LabeledImages part = read_cifar_batch(file("data_batch_" + std::to_string(k) + ".bin"));
    all.pixels.insert(all.pixels.end(), part.pixels.begin(), part.pixels.end());
    all.labels.insert(all.labels.end(), part.labels.begin(), part.labels.end());
  }
  LabeledImages test = read_cifar_batch(file("test_batch.bin"));
  const int64_t n_val = val_count(all.size(), 5000, 50000);
  LabeledImages train, val;
  split_tail(std::move(all), n_val, &train, &val);

  Dataset ds;
  ds.info = cifar10_info();
  ds.splits["train"] = std::make_shared<ImageSplit>(std::move(train));
  ds.splits["val"] = std::make_shared<ImageSplit>(std::move(val));
  ds.splits["test"] = std::make_shared<ImageSplit>(std::move(test));
  return ds;
}

// --- scalar pixel input ------------------------------------------------------------------------------

Normalization cifar10_normalization() { return {122.6f / 255.0f, 61.0f / 255.0f}; }
Normalization fashion_mnist_normalization() { return {0.2188f, 0.3317f}; }

Normalization normalization_for(const TaskInfo& info) {
  if (info.name == cifar10_info().name) return cifar10_normalization();
  if (info.name == fashion_mnist_info().name) return fashion_mnist_normalization();
  fail(str("image: no default pixel normalization for task '", info.name, "' (known: image-cifar10, ",
           "image-fashion-mnist); use compute_normalization"));
}

Normalization compute_normalization(const Split& split) {
  LRA_CHECK(split.size() > 0, "image: compute_normalization of an empty split");
  double sum = 0, sum_sq = 0;
  int64_t count = 0;
  for (int64_t i = 0; i < split.size(); ++i) {
    for (int32_t v : split.get(i).tokens) {
      const double x = v / 255.0;
      sum += x;
      sum_sq += x * x;
      ++count;
    }
  }
  const double mean = sum / double(count);
  return {float(mean), float(std::sqrt(std::max(0.0, sum_sq / double(count) - mean * mean)))};
}

Tensor pixel_scalars(const Tensor& ids, const Normalization& norm, Device device) {
  LRA_CHECK(ids.defined() && ids.dtype() == DType::I32 && ids.ndim() == 2,
            "pixel_scalars: ids must be an int32 [B, L] tensor, got ", ids.defined() ? ids.describe() : "none");
  LRA_CHECK(norm.std > 0 && std::isfinite(norm.std) && std::isfinite(norm.mean),
            "pixel_scalars: std must be positive and finite, got mean ", norm.mean, " std ", norm.std);
  const std::vector<int32_t> v = ids.to_vector<int32_t>();
  std::vector<float> out(v.size());
  const float inv_std = 1.0f / norm.std;
  for (size_t i = 0; i < v.size(); ++i) {
    LRA_CHECK(v[i] >= 0 && v[i] < kVocabSize, "pixel_scalars: id ", v[i], " at flat position ", i,
              " is not a pixel value 0..255");
    out[i] = (float(v[i]) / 255.0f - norm.mean) * inv_std;
  }
  return Tensor::from_vector(out, {ids.dim(0), ids.dim(1), 1}).to(device);
}

}  // namespace lra::tasks::image

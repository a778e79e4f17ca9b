// Image task: CIFAR-10 binary and IDX decoding on fixtures (valid and malformed), LRA's grayscale checked
// by hand, split sizes, 32×32 padding, scalar pixel input, and the augmentations (determinism, geometry
// identities, PIL point-op semantics). The Fashion-MNIST test reads Debian's dataset-fashion-mnist when
// it is installed and is skipped otherwise.
//
// The fixtures in tests/data/image were written by make_fixtures.py there (Python struct/gzip, not the
// engine), so the loaders are checked against independently written files.
#include <gtest/gtest.h>

#include "tests/support/process.h"
#include "tests/support/compare.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include <unistd.h>

#include "tasks/image/image.h"

namespace im = lra::tasks::image;
using lra::Generator;
using lra::Tensor;
using lra::tasks::Example;
namespace fs = std::filesystem;

namespace {

const std::string kData = std::string(LRA_TEST_DATA) + "/image";

using lra::test::error_of;

#define EXPECT_ERROR_HAS(stmt, text)                                         \
  do {                                                                       \
    const std::string msg_ = error_of([&] { stmt; });                        \
    EXPECT_NE(msg_.find(text), std::string::npos) << "message: '" << msg_ << "'"; \
  } while (0)

// The fixture generator's patterns (make_fixtures.py).
int cifar_r(int k, int x, int y) { return (x * 8 + y + k * 11) % 256; }
int cifar_g(int k, int x, int y) { return (x * 3 + y * 5 + k * 7) % 256; }
int cifar_b(int k, int x, int y) { return ((255 - x * 4 - y * 2 + k) % 256 + 256) % 256; }
int mnist_pixel(int i, int x, int y) { return (i * 37 + y * 7 + x * 3) % 256; }

// A side×side image with distinct-ish values.
std::vector<int32_t> pattern(int side, int seed = 0) {
  std::vector<int32_t> px(size_t(side * side));
  for (int i = 0; i < side * side; ++i) px[size_t(i)] = (i * 37 + seed * 101 + (i / side) * 13) % 256;
  return px;
}

int32_t at(const std::vector<int32_t>& px, int side, int x, int y) { return px[size_t(y * side + x)]; }

}  // namespace

// --- CIFAR-10 ---------------------------------------------------------------------------------------

TEST(ImageCifar, GrayscaleByHand) {
  // floor((0.2989 R + 0.587 G + 0.114 B) · 255.5 / 255): TF's float->uint8 multiplies by 255.5 and truncates.
  EXPECT_EQ(im::lra_grayscale(255, 0, 0), 76);     // 76.2195 · 1.00196 = 76.37
  EXPECT_EQ(im::lra_grayscale(0, 255, 0), 149);    // 149.98: truncated, not rounded
  EXPECT_EQ(im::lra_grayscale(0, 0, 255), 29);     // 29.13
  EXPECT_EQ(im::lra_grayscale(255, 255, 255), 255);  // 254.97 · 1.00196 = 255.47 (×255 would give 254)
  EXPECT_EQ(im::lra_grayscale(0, 0, 0), 0);
  EXPECT_EQ(im::lra_grayscale(100, 150, 200), 141);  // 140.74 -> 141.02 (×255 would give 140)
  EXPECT_EQ(im::lra_grayscale(255, 46, 7), 104);     // 104.02 -> 104.22
}

TEST(ImageCifar, DecodesFixtureRecords) {
  const im::LabeledImages b1 = im::read_cifar_batch(kData + "/cifar/cifar-10-batches-bin/data_batch_1.bin");
  ASSERT_EQ(b1.size(), 3);
  EXPECT_EQ(b1.labels, (std::vector<int32_t>{3, 0, 9}));
  ASSERT_EQ(b1.pixels.size(), 3u * 1024u);
  // Record 0 starts with the hand-checked pixels, in row-major order.
  const std::vector<int> first = {76, 149, 29, 255, 0, 141, 104};
  for (size_t i = 0; i < first.size(); ++i) EXPECT_EQ(b1.pixels[i], first[i]) << "pixel " << i;
  // Every other pixel against the formula in double (skipping values within 1e-4 of an integer, where
  // float rounding decides): checks the plane order R, G, B and the row-major layout.
  int checked = 0;
  for (int k = 0; k < 3; ++k)
    for (int y = 0; y < 32; ++y)
      for (int x = 0; x < 32; ++x) {
        if (k == 0 && y == 0 && x < int(first.size())) continue;
        const double v = (0.2989 * cifar_r(k, x, y) + 0.587 * cifar_g(k, x, y) + 0.114 * cifar_b(k, x, y)) * 255.5 / 255.0;
        if (std::abs(v - std::round(v)) < 1e-4) continue;
        ASSERT_EQ(int(b1.pixels[size_t(k * 1024 + y * 32 + x)]), int(std::floor(v))) << "record " << k << " x " << x
                                                                                     << " y " << y;
        ++checked;
      }
  EXPECT_GT(checked, 3000);
}

TEST(ImageCifar, SplitsInFileOrder) {
  for (const std::string dir : {kData + "/cifar", kData + "/cifar/cifar-10-batches-bin"}) {
    const lra::tasks::Dataset ds = im::load_cifar10(dir);
    EXPECT_EQ(ds.info.name, "image-cifar10");
    EXPECT_EQ(ds.info.vocab_size, 256);
    EXPECT_EQ(ds.info.max_len, 1024);
    EXPECT_EQ(ds.info.num_classes, 10);
    EXPECT_FALSE(ds.info.pair);
    // 7 training records: val = round(7 · 5000 / 50000) = 1 (the last, data_batch_5's), train = 6.
    const auto& train = *ds.split("train");
    const auto& val = *ds.split("val");
    const auto& test = *ds.split("test");
    ASSERT_EQ(train.size(), 6);
    ASSERT_EQ(val.size(), 1);
    ASSERT_EQ(test.size(), 2);
    std::vector<int32_t> labels;
    for (int64_t i = 0; i < train.size(); ++i) labels.push_back(train.get(i).label);
    EXPECT_EQ(labels, (std::vector<int32_t>{3, 0, 9, 1, 2, 4}));
    EXPECT_EQ(val.get(0).label, 5);
    EXPECT_EQ(test.get(0).label, 6);
    EXPECT_EQ(test.get(1).label, 7);
    // Val is data_batch_5's record (pattern k = 6).
    const Example e = val.get(0);
    ASSERT_EQ(e.tokens.size(), 1024u);
    EXPECT_TRUE(e.tokens2.empty());
    const im::LabeledImages b5 = im::read_cifar_batch(kData + "/cifar/cifar-10-batches-bin/data_batch_5.bin");
    EXPECT_TRUE(std::equal(e.tokens.begin(), e.tokens.end(), b5.pixels.begin()));
    EXPECT_EQ(train.get(0).tokens[0], 76);
  }
}

TEST(ImageCifar, ValCountKeepsReleaseSizes) {
  EXPECT_EQ(im::val_count(50000, 5000, 50000), 5000);  // CIFAR: 45,000 / 5,000
  EXPECT_EQ(im::val_count(60000, 5000, 60000), 5000);  // Fashion-MNIST: 55,000 / 5,000
  EXPECT_EQ(im::val_count(7, 5000, 50000), 1);
  EXPECT_EQ(im::val_count(4, 5000, 50000), 0);
  EXPECT_EQ(im::val_count(12, 5000, 60000), 1);
  EXPECT_EQ(im::val_count(0, 5000, 60000), 0);
}

TEST(ImageCifar, MalformedFilesRejected) {
  EXPECT_ERROR_HAS(im::read_cifar_batch(kData + "/bad/truncated.bin"), "truncated.bin: record 1 is truncated");
  EXPECT_ERROR_HAS(im::read_cifar_batch(kData + "/bad/truncated.bin"), "3173 bytes");
  EXPECT_ERROR_HAS(im::read_cifar_batch(kData + "/bad/label.bin"), "label.bin: record 1 has label 10, outside 0..9");
  EXPECT_ERROR_HAS(im::read_cifar_batch(kData + "/bad/nothing.bin"), "nothing.bin: no such file");
  EXPECT_ERROR_HAS(im::load_cifar10(kData + "/bad"), "data_batch_1.bin: no such file");
  EXPECT_ERROR_HAS(im::load_cifar10(kData + "/no_such_dir"), "data directory");
  // A data_batch file with a bad record fails the whole load, naming it.
  const fs::path dir = lra::test::scratch_dir() / ("lra_test_image_cifar_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::copy(kData + "/cifar/cifar-10-batches-bin", dir);
  fs::copy_file(kData + "/bad/label.bin", dir / "data_batch_3.bin", fs::copy_options::overwrite_existing);
  EXPECT_ERROR_HAS(im::load_cifar10(dir.string()), "data_batch_3.bin: record 1 has label 10");
  fs::remove_all(dir);
}

// --- IDX / Fashion-MNIST ------------------------------------------------------------------------

TEST(ImageIdx, GzipAndPlainParseIdentical) {
  const im::IdxImages plain = im::read_idx_images(kData + "/idx/small-images-idx3-ubyte");
  const im::IdxImages gz = im::read_idx_images(kData + "/idx/small-images-idx3-ubyte.gz");
  EXPECT_EQ(plain.count, 3);
  EXPECT_EQ(plain.rows, 28);
  EXPECT_EQ(plain.cols, 28);
  ASSERT_EQ(plain.pixels.size(), 3u * 784u);
  EXPECT_EQ(gz.count, plain.count);
  EXPECT_EQ(gz.rows, plain.rows);
  EXPECT_EQ(gz.cols, plain.cols);
  EXPECT_EQ(gz.pixels, plain.pixels);
  for (int i = 0; i < 3; ++i)
    for (int y = 0; y < 28; y += 9)
      for (int x = 0; x < 28; x += 5) EXPECT_EQ(plain.pixels[size_t(i * 784 + y * 28 + x)], mnist_pixel(i, x, y));
  EXPECT_EQ(im::read_idx_labels(kData + "/idx/small-labels-idx1-ubyte"), (std::vector<int32_t>{4, 0, 9}));
  EXPECT_EQ(im::read_idx_labels(kData + "/idx/small-labels-idx1-ubyte.gz"), (std::vector<int32_t>{4, 0, 9}));
  // The gzip path really decompresses (the .gz bytes differ from the plain bytes).
  EXPECT_NE(fs::file_size(kData + "/idx/small-images-idx3-ubyte.gz"), fs::file_size(kData + "/idx/small-images-idx3-ubyte"));
}

TEST(ImageIdx, MalformedFilesRejected) {
  EXPECT_ERROR_HAS(im::read_idx_images(kData + "/idx/bad-magic-idx3-ubyte"),
                   "bad-magic-idx3-ubyte: bad magic 0x00000804, expected 0x00000803");
  // A labels file where images are expected, and the other way round.
  EXPECT_ERROR_HAS(im::read_idx_images(kData + "/idx/small-labels-idx1-ubyte"), "bad magic 0x00000801");
  EXPECT_ERROR_HAS(im::read_idx_labels(kData + "/idx/small-images-idx3-ubyte"), "bad magic 0x00000803");
  EXPECT_ERROR_HAS(im::read_idx_images(kData + "/idx/truncated-images-idx3-ubyte"),
                   "truncated-images-idx3-ubyte: the header promises 3 images of 28x28");
  EXPECT_ERROR_HAS(im::read_idx_images(kData + "/idx/truncated-images-idx3-ubyte"), "(truncated)");
  EXPECT_ERROR_HAS(im::read_idx_images(kData + "/idx/truncated-images-idx3-ubyte.gz"),
                   "truncated-images-idx3-ubyte.gz: corrupt gzip data");
  EXPECT_ERROR_HAS(im::read_idx_labels(kData + "/idx/bad-label-idx1-ubyte"),
                   "bad-label-idx1-ubyte: label 1 is 10, outside 0..9");
  EXPECT_ERROR_HAS(im::read_idx_images(kData + "/idx/missing"), "missing: no such file");
  EXPECT_ERROR_HAS(im::load_fashion_mnist(kData + "/mismatch"), "holds 3 images but");
  EXPECT_ERROR_HAS(im::load_fashion_mnist(kData + "/mismatch"), "train-labels-idx1-ubyte holds 2 labels");
  EXPECT_ERROR_HAS(im::load_fashion_mnist(kData + "/idx"), "train-images-idx3-ubyte(.gz): no such file");
}

TEST(ImageIdx, PadTo32CentresTheContent) {
  std::vector<uint8_t> img(28 * 28);
  for (int i = 0; i < 28 * 28; ++i) img[size_t(i)] = uint8_t(1 + i % 255);  // never 0
  const std::vector<uint8_t> out = im::pad_to_32(img.data(), 28, 28);
  ASSERT_EQ(out.size(), 1024u);
  for (int y = 0; y < 32; ++y)
    for (int x = 0; x < 32; ++x) {
      const bool inside = y >= 2 && y < 30 && x >= 2 && x < 30;
      const int expected = inside ? img[size_t((y - 2) * 28 + x - 2)] : 0;
      ASSERT_EQ(out[size_t(y * 32 + x)], expected) << "x " << x << " y " << y;
    }
  // Odd margins: 27 rows leave 2 above and 3 below; 30 columns leave 1 each side.
  std::vector<uint8_t> odd(27 * 30, 7);
  const std::vector<uint8_t> o = im::pad_to_32(odd.data(), 27, 30);
  EXPECT_EQ(o[size_t(1 * 32 + 5)], 0);
  EXPECT_EQ(o[size_t(2 * 32 + 1)], 7);
  EXPECT_EQ(o[size_t(2 * 32 + 0)], 0);
  EXPECT_EQ(o[size_t(28 * 32 + 30)], 7);
  EXPECT_EQ(o[size_t(29 * 32 + 30)], 0);
  EXPECT_EQ(o[size_t(28 * 32 + 31)], 0);
  EXPECT_ERROR_HAS(im::pad_to_32(odd.data(), 33, 3), "does not fit in 32x32");
}

TEST(ImageIdx, FashionFixtureLoads) {
  const lra::tasks::Dataset ds = im::load_fashion_mnist(kData + "/fashion");
  EXPECT_EQ(ds.info.name, "image-fashion-mnist");
  EXPECT_EQ(ds.info.vocab_size, 256);
  EXPECT_EQ(ds.info.max_len, 1024);
  EXPECT_EQ(ds.info.num_classes, 10);
  // 12 training images: val = round(12 · 5000 / 60000) = 1, the last one.
  ASSERT_EQ(ds.split("train")->size(), 11);
  ASSERT_EQ(ds.split("val")->size(), 1);
  ASSERT_EQ(ds.split("test")->size(), 3);
  EXPECT_EQ(ds.split("val")->get(0).label, 11 % 10);
  EXPECT_EQ(ds.split("test")->get(2).label, 7);
  for (int64_t i = 0; i < 11; ++i) {
    const Example e = ds.split("train")->get(i);
    EXPECT_EQ(e.label, i % 10);
    ASSERT_EQ(e.tokens.size(), 1024u);
    EXPECT_EQ(e.tokens[0], 0);
    EXPECT_EQ(e.tokens[1023], 0);
    EXPECT_EQ(e.tokens[size_t(2 * 32 + 2)], mnist_pixel(int(i), 0, 0));
    EXPECT_EQ(e.tokens[size_t(29 * 32 + 29)], mnist_pixel(int(i), 27, 27));
  }
  // Same content through the batch loader: ids are the pixel values, the mask is 1 everywhere.
  lra::tasks::Batch b = lra::tasks::collate(ds.info, {ds.split("test")->get(0)});
  EXPECT_EQ(b.ids.dim(1), 1024);
  EXPECT_EQ(b.lengths.to_vector<int32_t>()[0], 1024);
  EXPECT_EQ(b.ids.to_vector<int32_t>()[size_t(2 * 32 + 3)], mnist_pixel(100, 1, 0));
}

TEST(ImageIdx, FashionMnistPackage) {
  const std::string dir = im::kFashionMnistDir;
  if (!fs::exists(dir + "/train-images-idx3-ubyte.gz") && !fs::exists(dir + "/train-images-idx3-ubyte"))
    FAIL() << dir << " not present: install the Debian package dataset-fashion-mnist (scripts/setup.sh installs "
           << "every package the tests use)";
  const lra::tasks::Dataset ds = im::load_fashion_mnist(dir);
  EXPECT_EQ(ds.split("train")->size(), 55000);
  EXPECT_EQ(ds.split("val")->size(), 5000);
  EXPECT_EQ(ds.split("test")->size(), 10000);
  std::vector<int64_t> counts(10, 0);
  for (int64_t i = 0; i < ds.split("test")->size(); ++i) ++counts[size_t(ds.split("test")->get(i).label)];
  for (int c = 0; c < 10; ++c) EXPECT_EQ(counts[size_t(c)], 1000) << "class " << c;  // t10k is balanced
  const im::Normalization n = im::compute_normalization(*ds.split("train"));
  EXPECT_NEAR(n.mean, im::fashion_mnist_normalization().mean, 1e-4);
  EXPECT_NEAR(n.std, im::fashion_mnist_normalization().std, 1e-4);
}

// --- scalar pixel input ----------------------------------------------------------------------------

TEST(ImageScalars, NormalizesPixels) {
  const Tensor ids = Tensor::from_vector(std::vector<int32_t>{0, 255, 128, 17, 200, 64}, {2, 3});
  const im::Normalization norm{0.25f, 0.5f};
  const Tensor x = im::pixel_scalars(ids, norm);
  ASSERT_EQ(x.ndim(), 3);
  EXPECT_EQ(x.dim(0), 2);
  EXPECT_EQ(x.dim(1), 3);
  EXPECT_EQ(x.dim(2), 1);
  EXPECT_EQ(x.dtype(), lra::DType::F32);
  const std::vector<float> v = x.to_vector<float>();
  const std::vector<int> raw = {0, 255, 128, 17, 200, 64};
  for (size_t i = 0; i < raw.size(); ++i) EXPECT_NEAR(v[i], (raw[i] / 255.0 - 0.25) / 0.5, 1e-6) << i;
  EXPECT_NEAR(v[0], -0.5, 1e-7);
  EXPECT_NEAR(v[1], 1.5, 1e-6);

  EXPECT_NEAR(im::cifar10_normalization().mean, 122.6 / 255, 1e-7);
  EXPECT_NEAR(im::cifar10_normalization().std, 61.0 / 255, 1e-7);
  EXPECT_EQ(im::normalization_for(im::cifar10_info()).mean, im::cifar10_normalization().mean);
  EXPECT_EQ(im::normalization_for(im::fashion_mnist_info()).std, im::fashion_mnist_normalization().std);
  EXPECT_ERROR_HAS(im::normalization_for(lra::tasks::TaskInfo{"listops", 16, 2000, 10, false}), "'listops'");
  EXPECT_ERROR_HAS(im::pixel_scalars(Tensor::from_vector(std::vector<int32_t>{1, 256}, {1, 2}), norm),
                   "id 256 at flat position 1");
  EXPECT_ERROR_HAS(im::pixel_scalars(Tensor::zeros({1, 2}), norm), "int32 [B, L]");
  EXPECT_ERROR_HAS(im::pixel_scalars(ids, im::Normalization{0.5f, 0.0f}), "std must be positive");
}

TEST(ImageScalars, ComputeNormalization) {
  lra::tasks::MemorySplit split({Example{{0, 255, 0, 255}, {}, 0}, Example{{0, 255, 0, 255}, {}, 1}});
  const im::Normalization n = im::compute_normalization(split);
  EXPECT_NEAR(n.mean, 0.5, 1e-7);
  EXPECT_NEAR(n.std, 0.5, 1e-7);
}

// --- augmentation ----------------------------------------------------------------------------------

TEST(ImageAugment, FlipTwiceIsIdentity) {
  for (int side : {1, 5, 32}) {
    const std::vector<int32_t> original = pattern(side, side);
    std::vector<int32_t> px = original;
    im::hflip(px, side);
    for (int y = 0; y < side; ++y)
      for (int x = 0; x < side; ++x) ASSERT_EQ(at(px, side, x, y), at(original, side, side - 1 - x, y));
    im::hflip(px, side);
    EXPECT_EQ(px, original) << "side " << side;
  }
  std::vector<int32_t> wrong(10);
  EXPECT_ERROR_HAS(im::hflip(wrong, 32), "expected a 32x32 image (1024 pixels), got 10 pixels");
}

TEST(ImageAugment, CropKeepsShapeAndShifts) {
  const int side = 32;
  const std::vector<int32_t> original = pattern(side);
  std::set<std::pair<int, int>> shifts;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    std::vector<int32_t> px = original;
    Generator gen(seed);
    im::random_crop(px, side, gen, 4);
    ASSERT_EQ(px.size(), original.size());
    // The output is the input shifted by some (dx, dy) in [-4, 4]², zeros where it leaves the image.
    bool found = false;
    for (int dy = -4; dy <= 4 && !found; ++dy)
      for (int dx = -4; dx <= 4 && !found; ++dx) {
        bool match = true;
        for (int y = 0; y < side && match; ++y)
          for (int x = 0; x < side && match; ++x) {
            const int sx = x + dx, sy = y + dy;
            const int expected = (sx >= 0 && sy >= 0 && sx < side && sy < side) ? at(original, side, sx, sy) : 0;
            match = at(px, side, x, y) == expected;
          }
        if (match) {
          found = true;
          shifts.insert({dx, dy});
        }
      }
    EXPECT_TRUE(found) << "seed " << seed;
  }
  EXPECT_GT(shifts.size(), 10u);  // the offsets vary
  std::vector<int32_t> px = original;
  Generator gen(1);
  im::random_crop(px, side, gen, 0);
  EXPECT_EQ(px, original);
}

TEST(ImageAugment, WarpGeometry) {
  const int side = 6;
  const std::vector<int32_t> original = pattern(side);
  for (im::Interp interp : {im::Interp::kNearest, im::Interp::kBilinear}) {
    std::vector<int32_t> px = original;
    im::warp(px, side, im::InverseAffine{}, interp);
    EXPECT_EQ(px, original);  // the identity map samples exact pixel centres
  }
  // Rotate 90° counter-clockwise: the top row becomes the left column, read bottom to top.
  std::vector<int32_t> px = original;
  im::apply_op(px, side, im::Op::kRotate, 90.0f);
  for (int y = 0; y < side; ++y)
    for (int x = 0; x < side; ++x) ASSERT_EQ(at(px, side, x, y), at(original, side, side - 1 - y, x));
  for (int k = 0; k < 3; ++k) im::apply_op(px, side, im::Op::kRotate, 90.0f);
  EXPECT_EQ(px, original);
  // Translate x by +2 (content moves right), zero fill; 2.9 truncates to 2 as torchvision's int().
  px = original;
  im::apply_op(px, side, im::Op::kTranslateX, 2.9f);
  for (int y = 0; y < side; ++y)
    for (int x = 0; x < side; ++x) ASSERT_EQ(at(px, side, x, y), x < 2 ? 0 : at(original, side, x - 2, y));
  px = original;
  im::apply_op(px, side, im::Op::kTranslateY, -1.0f, im::Interp::kNearest, 128);
  for (int x = 0; x < side; ++x) EXPECT_EQ(at(px, side, x, side - 1), 128);
  EXPECT_EQ(at(px, side, 3, 0), at(original, side, 3, 1));
  // Shear x about the top-left corner: the pixel centred at (x + 0.5, y + 0.5) reads the input pixel
  // containing (x + 0.5 + m·(y + 0.5), y + 0.5), as PIL's AFFINE transform with NEAREST does.
  px = original;
  im::apply_op(px, side, im::Op::kShearX, 1.0f);
  EXPECT_EQ(at(px, side, 0, 0), at(original, side, 1, 0));  // reads x = 1.0
  EXPECT_EQ(at(px, side, 1, 2), at(original, side, 4, 2));  // centre (1.5, 2.5) reads x = 1.5 + 2.5 = 4.0
  EXPECT_EQ(at(px, side, 4, 2), 0);                          // reads x = 7: outside, fill
}

TEST(ImageAugment, BilinearHalfPixelShift) {
  const int side = 4;
  std::vector<int32_t> px(16, 0);
  for (int y = 0; y < side; ++y)
    for (int x = 0; x < side; ++x) px[size_t(y * side + x)] = 10 * x;
  im::InverseAffine m;
  m.shift_x = 0.5f;  // reads halfway between this pixel and the next
  im::warp(px, side, m, im::Interp::kBilinear);
  EXPECT_EQ(at(px, side, 0, 0), 5);
  EXPECT_EQ(at(px, side, 1, 3), 15);
  EXPECT_EQ(at(px, side, 3, 0), 15);  // blends 30 with the zero fill
}

TEST(ImageAugment, PointOps) {
  const int side = 32;
  const std::vector<int32_t> original = pattern(side);
  auto op = [&](im::Op o, float m, std::vector<int32_t> px) {
    im::apply_op(px, side, o, m);
    return px;
  };
  EXPECT_EQ(op(im::Op::kIdentity, 0, original), original);
  EXPECT_EQ(op(im::Op::kColor, 0.9f, original), original);      // saturation of a gray image
  EXPECT_EQ(op(im::Op::kSharpness, 0.0f, original), original);   // factor 1
  EXPECT_EQ(op(im::Op::kBrightness, 0.0f, original), original);
  EXPECT_EQ(op(im::Op::kContrast, 0.0f, original), original);
  EXPECT_EQ(op(im::Op::kInvert, 0, op(im::Op::kInvert, 0, original)), original);
  const std::vector<int32_t> inv = op(im::Op::kInvert, 0, original);
  const std::vector<int32_t> sol = op(im::Op::kSolarize, 128, original);
  const std::vector<int32_t> post = op(im::Op::kPosterize, 3, original);
  const std::vector<int32_t> dark = op(im::Op::kBrightness, -0.5f, original);
  const std::vector<int32_t> flat = op(im::Op::kContrast, -1.0f, original);
  double mean = 0;
  for (int32_t v : original) mean += v;
  mean /= 1024;
  for (size_t i = 0; i < original.size(); ++i) {
    const int v = original[i];
    ASSERT_EQ(inv[i], 255 - v);
    ASSERT_EQ(sol[i], v >= 128 ? 255 - v : v);
    ASSERT_EQ(post[i], v & 0xE0);
    ASSERT_EQ(dark[i], v / 2);  // factor 0.5, truncated
    ASSERT_EQ(flat[i], int(mean + 0.5));  // factor 0: the mean gray
  }
  // AutoContrast stretches [50, 100] to [0, 255].
  std::vector<int32_t> narrow(1024);
  for (int i = 0; i < 1024; ++i) narrow[size_t(i)] = 50 + i % 51;
  const std::vector<int32_t> ac = op(im::Op::kAutoContrast, 0, narrow);
  EXPECT_EQ(*std::min_element(ac.begin(), ac.end()), 0);
  // PIL's int(100 · 5.1 - 255) is int(254.99999999999997) = 254: its double rounding is kept on purpose.
  EXPECT_EQ(*std::max_element(ac.begin(), ac.end()), 254);
  EXPECT_EQ(ac[1], 5);   // 51 · 5.1 - 255 = 5.1
  EXPECT_EQ(ac[0], 0);     // 50 -> 0
  EXPECT_EQ(ac[25], 127);  // 75 · 5.1 - 255 = 127.5
  EXPECT_EQ(ac[50], 254);  // 100
  // Equalize, PIL's table: two equal halves at 10 and 200 go to 0 and 255; a single value is left alone.
  std::vector<int32_t> two(1024);
  for (int i = 0; i < 1024; ++i) two[size_t(i)] = i < 512 ? 10 : 200;
  const std::vector<int32_t> eq = op(im::Op::kEqualize, 0, two);
  EXPECT_EQ(eq[0], 0);
  EXPECT_EQ(eq[600], 255);
  std::vector<int32_t> constant(1024, 77);
  EXPECT_EQ(op(im::Op::kEqualize, 0, constant), constant);
  EXPECT_EQ(op(im::Op::kAutoContrast, 0, constant), constant);
  // Sharpness with factor 0 is the SMOOTH filter; borders are copied.
  std::vector<int32_t> dot(1024, 0);
  dot[size_t(5 * 32 + 5)] = 130;
  const std::vector<int32_t> smooth = op(im::Op::kSharpness, -1.0f, dot);
  EXPECT_EQ(smooth[size_t(5 * 32 + 5)], 50);  // 130 · 5 / 13
  EXPECT_EQ(smooth[size_t(4 * 32 + 4)], 10);  // 130 / 13
  EXPECT_EQ(smooth[size_t(7 * 32 + 7)], 0);
}

TEST(ImageAugment, MagnitudesAndPolicy) {
  std::vector<int> bits;
  for (int b = 0; b < 10; ++b) bits.push_back(int(im::op_magnitude(im::Op::kPosterize, b, 32)));
  EXPECT_EQ(bits, (std::vector<int>{8, 8, 7, 7, 6, 6, 5, 5, 4, 4}));
  EXPECT_FLOAT_EQ(im::op_magnitude(im::Op::kSolarize, 0, 32), 255.0f);
  EXPECT_FLOAT_EQ(im::op_magnitude(im::Op::kSolarize, 9, 32), 0.0f);
  EXPECT_NEAR(im::op_magnitude(im::Op::kTranslateX, 9, 32), 150.0 / 331.0 * 32, 1e-5);
  EXPECT_FLOAT_EQ(im::op_magnitude(im::Op::kRotate, 9, 32), 30.0f);
  EXPECT_FLOAT_EQ(im::op_magnitude(im::Op::kShearY, 9, 32), 0.3f);
  EXPECT_FLOAT_EQ(im::op_magnitude(im::Op::kSharpness, 9, 32), 0.9f);
  EXPECT_TRUE(im::op_signed(im::Op::kRotate));
  EXPECT_FALSE(im::op_signed(im::Op::kSolarize));
  EXPECT_ERROR_HAS(im::op_magnitude(im::Op::kRotate, 10, 32), "bin 10");
  EXPECT_EQ(im::cifar10_policy().size(), 25u);
  for (const im::SubPolicy& s : im::cifar10_policy())
    for (const im::PolicyOp& o : {s.first, s.second}) {
      EXPECT_GE(o.probability, 0.0f);
      EXPECT_LE(o.probability, 1.0f);
    }
  // A policy whose ops always apply.
  const std::vector<im::SubPolicy> always = {{{im::Op::kInvert, 1.0f, 0}, {im::Op::kIdentity, 1.0f, 0}}};
  std::vector<int32_t> px = pattern(32), expected = pattern(32);
  Generator gen(3);
  im::autoaugment(px, 32, gen, always);
  im::apply_op(expected, 32, im::Op::kInvert, 0);
  EXPECT_EQ(px, expected);
  // ... and one that never does.
  const std::vector<im::SubPolicy> never = {{{im::Op::kInvert, 0.0f, 0}, {im::Op::kRotate, 0.0f, 9}}};
  px = pattern(32);
  im::autoaugment(px, 32, gen, never);
  EXPECT_EQ(px, pattern(32));
}

TEST(ImageAugment, DeterministicGivenTheGenerator) {
  const lra::tasks::Augment aug = im::train_augment({});
  int changed = 0, differ = 0;
  for (uint64_t seed = 0; seed < 30; ++seed) {
    Example a{pattern(32, int(seed)), {}, 1}, b = a, c = a;
    Generator ga(seed, 7), gb(seed, 7), gc(seed + 1000, 7);
    aug(a, ga);
    aug(b, gb);
    aug(c, gc);
    ASSERT_EQ(a.tokens, b.tokens) << "seed " << seed;
    EXPECT_EQ(ga.offset(), gb.offset());
    EXPECT_EQ(a.label, 1);
    ASSERT_EQ(a.tokens.size(), 1024u);
    for (int32_t v : a.tokens) ASSERT_TRUE(v >= 0 && v <= 255);
    changed += a.tokens != pattern(32, int(seed));
    differ += a.tokens != c.tokens;
  }
  EXPECT_GT(changed, 20);  // affine + flip + policy leave few images untouched
  EXPECT_GT(differ, 20);
  // Every stage off: the identity.
  im::AugmentOptions off;
  off.autoaugment = false;
  off.flip = false;
  off.translate = 0;
  off.scale_min = off.scale_max = 1;
  Example e{pattern(32), {}, 0};
  Generator gen(5);
  im::train_augment(off)(e, gen);
  EXPECT_EQ(e.tokens, pattern(32));
  // Crop only, bilinear affine only: still a valid image, still deterministic.
  im::AugmentOptions crop = off;
  crop.crop_pad = 4;
  im::AugmentOptions affine = off;
  affine.translate = 0.2f;
  affine.interp = im::Interp::kBilinear;
  for (const im::AugmentOptions& o : {crop, affine}) {
    Example x{pattern(32), {}, 0}, y = x;
    Generator g1(9), g2(9);
    im::train_augment(o)(x, g1);
    im::train_augment(o)(y, g2);
    EXPECT_EQ(x.tokens, y.tokens);
    EXPECT_EQ(x.tokens.size(), 1024u);
  }
}

TEST(ImageAugment, RejectsBadInputAndOptions) {
  const lra::tasks::Augment aug = im::train_augment({});
  Generator gen(0);
  Example small{std::vector<int32_t>(100, 1), {}, 0};
  EXPECT_ERROR_HAS(aug(small, gen), "image augment: expected a 32x32 image (1024 pixels), got 100 pixels");
  Example big{std::vector<int32_t>(1024, 300), {}, 0};
  EXPECT_ERROR_HAS(aug(big, gen), "token 300");
  im::AugmentOptions o;
  o.scale_min = 1.2f;
  o.scale_max = 1.1f;
  EXPECT_ERROR_HAS(im::train_augment(o), "scale range [1.2, 1.1]");
  o = {};
  o.fill = 256;
  EXPECT_ERROR_HAS(im::train_augment(o), "fill 256");
  o = {};
  o.crop_pad = -1;
  EXPECT_ERROR_HAS(im::train_augment(o), "crop_pad -1");
}

TEST(ImageAugment, LoaderBatchesRepeatWithTheSeed) {
  const lra::tasks::Dataset ds = im::load_fashion_mnist(kData + "/fashion");
  auto first_batches = [&](uint64_t seed) {
    lra::tasks::LoaderOptions o;
    o.batch_size = 4;
    o.seed = seed;
    o.epochs = 2;
    o.augment = im::train_augment({});
    lra::tasks::BatchLoader loader(ds.split("train"), ds.info, o);
    std::vector<int32_t> all;
    while (auto b = loader.next()) {
      const std::vector<int32_t> ids = b->ids.to_vector<int32_t>();
      all.insert(all.end(), ids.begin(), ids.end());
    }
    return all;
  };
  const std::vector<int32_t> a = first_batches(11), b = first_batches(11), c = first_batches(12);
  EXPECT_EQ(a.size(), size_t(2 * 2 * 4 * 1024));  // 11 images, batches of 4 with drop_last: 2 per epoch
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

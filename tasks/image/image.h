// Image (LRA task 4): a 32×32 grayscale image read as a sequence of 1024 pixel tokens, 10-way
// classification. Two sources go through the same pipeline: CIFAR-10 (LRA's task) and Fashion-MNIST
// (a Debian-packaged stand-in that machines without the CIFAR release can train on).
//
// Data.
// - CIFAR-10 binary release: <dir>/cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin, each a run of
//   3073-byte records: one label byte (0..9), then the R, G and B planes (32×32 each, row-major).
//   Splits as LRA's TFDS slices: train = train[:90%] = the first 45,000 records of data_batch_1..5 in
//   file order, val = train[90%:] = the last 5,000, test = test_batch (10,000).
// - Grayscale exactly as LRA (tf.image.rgb_to_grayscale on uint8), in float32: each channel v·(1/255),
//   Y = 0.2989 R + 0.5870 G + 0.1140 B (summed left to right), then TF's float->uint8 conversion
//   (convert_image_dtype), which multiplies by 255.5, not 255, and truncates. So pure white gives
//   0.9999·255.5 = 255.47 -> 255, and a pixel with 0.2989R + 0.587G + 0.114B = 127.8 gives 128, where
//   ×255 would give 127. (Eigen may sum the three products in another order; a result within one
//   float ulp of an integer could then differ by 1 from TF. That needs Y·255.5 within ~1e-5 of an integer.)
// - Fashion-MNIST IDX files (gzip or plain): 28×28 images centred on a zero 32×32 canvas (2 pixels each
//   side). train = the first 55,000 images of the train file, val = its last 5,000 (file order), test =
//   t10k (10,000). No colour conversion: the images are already 8-bit gray.
//   Both loaders keep the release proportions for smaller files (see val_count), so tiny fixtures load.
//
// Tokens: pixel values 0..255, row-major (vocab 256, L = 1024, 10 classes); TaskInfo names
// "image-cifar10" and "image-fashion-mnist". As in LRA, token models see raw pixels (LRA's quirk: pixel
// 0 equals the pad id; our batch mask is 1 on every pixel anyway). pixel_scalars() instead gives the
// normalised scalar input [B, L, 1] of the S4 lineage, for a model with a linear encoder: the caller
// chooses per run by calling it or not.
//
// Augmentation (training only; the locality-bias paper trains CIFAR with an AutoAugment policy,
// horizontal flips and affine translate/scale): see "augmentation" below. It acts on the grayscale
// token image, after the colour conversion; the paper augments RGB before converting. On gray images
// AutoAugment's Color op (a saturation change) is the identity, and every other op is applied as PIL
// applies it to one band.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/rng.h"
#include "engine/tensor.h"
#include "tasks/common/dataset.h"

namespace lra::tasks::image {

constexpr int kSide = 32;
constexpr int kLen = kSide * kSide;  // 1024 tokens
constexpr int kVocabSize = 256;
constexpr int kNumClasses = 10;

TaskInfo cifar10_info();        // {"image-cifar10", 256, 1024, 10, pair = false}
TaskInfo fashion_mnist_info();  // {"image-fashion-mnist", 256, 1024, 10, pair = false}

// Labelled 32×32 images as bytes: image i is pixels[i·1024, (i+1)·1024).
struct LabeledImages {
  std::vector<uint8_t> pixels;
  std::vector<int32_t> labels;
  int64_t size() const { return int64_t(labels.size()); }
};

// A split held as bytes (a quarter of the memory of int32 Examples); get() widens to tokens.
class ImageSplit : public Split {
 public:
  explicit ImageSplit(LabeledImages images);
  int64_t size() const override { return images_.size(); }
  Example get(int64_t index) const override;  // tokens = the 1024 pixel values, label
  const uint8_t* pixels(int64_t index) const;
  int32_t label(int64_t index) const;

 private:
  LabeledImages images_;
};

// Validation images taken from the end of n training images: round(n · release_val / release_total),
// so the full release gives exactly LRA's count (50,000 · 5,000 / 50,000; 60,000 · 5,000 / 60,000) and a
// small file keeps the proportion.
int64_t val_count(int64_t n, int64_t release_val, int64_t release_total);
// Splits `all` in file order: the first size - n_val images, then the last n_val.
void split_tail(LabeledImages all, int64_t n_val, LabeledImages* train, LabeledImages* val);

// --- CIFAR-10 -----------------------------------------------------------------------------------------

constexpr int kCifarRecordBytes = 1 + 3 * kLen;  // 3073

// LRA's grayscale of one RGB pixel (see the header comment).
uint8_t lra_grayscale(uint8_t r, uint8_t g, uint8_t b);
// One binary batch file, grayscaled. lra::Error naming the file for a missing or empty file, a size
// that is not a whole number of records (naming the truncated record), or a label above 9 (naming the
// record, counted from 0).
LabeledImages read_cifar_batch(const std::string& path);
// `dir` holds cifar-10-batches-bin (or is that folder). Splits "train", "val", "test" as above.
Dataset load_cifar10(const std::string& dir);

// --- IDX (MNIST format) ---------------------------------------------------------------------------

// The whole file; gunzipped when it starts with the gzip magic 1f 8b. Errors name the file.
std::vector<uint8_t> read_maybe_gzip(const std::string& path);

struct IdxImages {
  int64_t count = 0, rows = 0, cols = 0;
  std::vector<uint8_t> pixels;  // count·rows·cols, row-major
};
// Magic 0x00000803 (unsigned byte, 3 dims), big-endian dims (count, rows, cols), then exactly
// count·rows·cols bytes. Every problem is an lra::Error naming the file.
IdxImages read_idx_images(const std::string& path);
// Magic 0x00000801, big-endian count, then count labels, each below num_classes.
std::vector<int32_t> read_idx_labels(const std::string& path, int num_classes = kNumClasses);

// Centres a rows×cols image (each at most 32) on a zero 32×32 canvas: (32 - rows)/2 zero rows above and
// (32 - cols)/2 zero columns on the left; 28×28 gets 2 on every side.
std::vector<uint8_t> pad_to_32(const uint8_t* image, int rows, int cols);

inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";  // Debian dataset-fashion-mnist
// Reads <dir>/{train,t10k}-{images-idx3,labels-idx1}-ubyte, each as NAME.gz or NAME (.gz first).
// Image and label counts must match. Splits "train", "val", "test" as above.
Dataset load_fashion_mnist(const std::string& dir = kFashionMnistDir);

// --- scalar pixel input --------------------------------------------------------------------------

// On the pixel/255 scale.
struct Normalization {
  float mean = 0.0f;
  float std = 1.0f;
};
// CIFAR-10 grayscale: 122.6/255 and 61.0/255, the S4/S5 loaders' constants.
Normalization cifar10_normalization();
// Fashion-MNIST padded to 32×32: 0.2188 and 0.3317, measured on the 55,000 training images.
Normalization fashion_mnist_normalization();
// The default for a TaskInfo name above; an error for any other task.
Normalization normalization_for(const TaskInfo& info);
// Mean and (population) standard deviation of every pixel/255 of a split.
Normalization compute_normalization(const Split& split);
// ids [B, L] int32 (pixel values, any device) -> float32 [B, L, 1] on `device`, (id/255 - mean)/std.
// Not differentiable (inputs). Errors for a wrong dtype/rank, an id outside 0..255 or std <= 0.
Tensor pixel_scalars(const Tensor& ids, const Normalization& norm, Device device = Device::CPU);

// --- augmentation ---------------------------------------------------------------------------------
// Every function works on a side×side image held as tokens (values 0..255, row-major) and draws only
// from the Generator it is given, so the result is a function of (image, generator state).
//
// Geometry. Pixel (x, y) covers [x, x+1) × [y, y+1); an output pixel reads the input at the inverse
// image of its centre. Nearest takes the input pixel containing that point; bilinear blends the four
// nearest pixel centres and rounds to the nearest integer. Input outside the image reads `fill`.

enum class Interp { kNearest, kBilinear };

// Inverse map: the output pixel with centre p reads the input at m·(p - origin) + origin + shift.
struct InverseAffine {
  float m00 = 1, m01 = 0, m10 = 0, m11 = 1;
  float origin_x = 0, origin_y = 0;
  float shift_x = 0, shift_y = 0;
};
void warp(std::vector<int32_t>& px, int side, const InverseAffine& map, Interp interp = Interp::kNearest,
          int fill = 0);

void hflip(std::vector<int32_t>& px, int side);
// Zero-pads by `pad` on every side and crops a side×side window at a uniform offset in [0, 2·pad]².
void random_crop(std::vector<int32_t>& px, int side, Generator& gen, int pad = 4);
// torchvision RandomAffine without rotation: shifts by round(uniform(-t, t)) pixels on each axis with
// t = translate·side, and scales about the centre by uniform(scale_min, scale_max).
void random_affine(std::vector<int32_t>& px, int side, Generator& gen, float translate = 0.1f,
                   float scale_min = 0.9f, float scale_max = 1.1f, Interp interp = Interp::kNearest,
                   int fill = 0);

// AutoAugment ops (Cubuk et al. 2019, as torchvision implements them on one band). Magnitudes in the
// op's own unit:
//   kShearX/Y       m: the input x is read at x + m·y (y at y + m·x), about the top-left corner
//   kTranslateX/Y   m pixels (truncated to an integer); content moves by +m
//   kRotate         m degrees, counter-clockwise, about the centre
//   kBrightness, kContrast, kSharpness, kColor   factor 1 + m, PIL ImageEnhance (blend with black, with
//                   the mean gray, with the 3×3 SMOOTH-filtered image; Color is the identity on gray)
//   kPosterize      keep the top int(m) bits
//   kSolarize       invert pixels >= m
//   kIdentity, kAutoContrast, kEqualize, kInvert   m unused (PIL ImageOps semantics)
enum class Op {
  kIdentity, kShearX, kShearY, kTranslateX, kTranslateY, kRotate, kBrightness, kColor, kContrast,
  kSharpness, kPosterize, kSolarize, kAutoContrast, kEqualize, kInvert
};
const char* op_name(Op op);
void apply_op(std::vector<int32_t>& px, int side, Op op, float magnitude, Interp interp = Interp::kNearest,
              int fill = 0);
// torchvision's magnitude for bin 0..9 (num_bins = 10) of an image side: shear 0.3·b/9, translate
// (150/331)·side·b/9, rotate 30·b/9, enhance factors 0.9·b/9, posterize 8 - round(b/2.25), solarize
// 255·(1 - b/9); 0 for the ops without magnitude.
float op_magnitude(Op op, int bin, int side);
// Whether torchvision flips the magnitude's sign with probability 1/2.
bool op_signed(Op op);

struct PolicyOp {
  Op op;
  float probability;
  int bin;  // magnitude bin 0..9
};
struct SubPolicy {
  PolicyOp first, second;
};
// The 25 sub-policies AutoAugment found for CIFAR-10 (torchvision AutoAugmentPolicy.CIFAR10).
const std::vector<SubPolicy>& cifar10_policy();
// Picks a sub-policy uniformly; applies each of its two ops with its probability, the signed ones with a
// random sign.
void autoaugment(std::vector<int32_t>& px, int side, Generator& gen,
                 const std::vector<SubPolicy>& policy = cifar10_policy(), Interp interp = Interp::kNearest,
                 int fill = 0);

// The training augmentation, in this order: AutoAugment, horizontal flip, random affine, random crop.
// The defaults are the locality-bias paper's recipe; crop_pad = 4 adds the classic pad-and-crop.
struct AugmentOptions {
  int side = kSide;
  bool autoaugment = true;                     // the CIFAR-10 policy
  bool flip = true;                            // horizontal flip with probability 1/2
  float translate = 0.1f;                      // random_affine shift, as a fraction of the side (0: none)
  float scale_min = 0.9f, scale_max = 1.1f;    // random_affine scale range (1, 1: none)
  int crop_pad = 0;                            // random_crop padding (0: off)
  Interp interp = Interp::kNearest;
  int fill = 0;
};
// As a BatchLoader augmentation (LoaderOptions::augment); checks each example is side×side pixels.
Augment train_augment(const AugmentOptions& options = {});

}  // namespace lra::tasks::image

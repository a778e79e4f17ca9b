// Classification losses and accuracy.
//
//   cross_entropy(logits [N, C], labels [N]) = mean over counted rows i of  lse_i - logits[i, labels[i]]
//     lse_i = m_i + log(sum_c exp(logits[i, c] - m_i)),  m_i = max_c logits[i, c]   (numerically stable)
//   A row is counted when labels[i] != ignore_index; with no counted row the loss is 0 (not NaN).
//   Result: a scalar tensor (shape []) on the logits' device. Logits of rank > 2 are flattened over
//   their leading dims: logits [B, L, V] with labels [B, L] gives the per-token loss of masked-token
//   tasks, with ignore_index marking the positions that are not predicted.
//
//   Labels outside [0, C) other than ignore_index: on the CPU an error naming the row and the value; on
//   CUDA they are treated as ignored (not counted), since checking would need a host sync.
//   C = 1 is allowed (every counted row has loss 0 and gradient 0). C = 0 is an error (no class to
//   predict). N = 0 (logits [0, C] or [B, 0, C]) is "no counted row": loss 0, count 0, an empty
//   gradient, on both devices. PyTorch's mean reduction gives NaN there; 0 keeps an empty or fully
//   ignored batch from poisoning a running loss, and no gradient flows from it either way.
//
//   Backward: d logits[i, c] = (softmax(logits[i])[c] - [c == labels[i]]) * g / count for counted rows,
//   0 for ignored rows. Saved for backward: logits, labels, the per-row lse [N] and the count.
//   Bytes moved (float32): forward reads logits once from DRAM (4NC bytes; a row's second and third
//   reads hit cache) plus 4N for labels; backward reads logits and writes the gradient (8NC bytes).
//   FLOPs ~4NC each way.
//
//   count_correct(logits, labels) = number of counted rows whose argmax (first index on ties) equals the
//   label (0 when N = 0); labels outside [0, C) are never correct (no error: it is an evaluation helper). Not differentiable; it returns a host integer, so on CUDA it waits for the GPU (one small
//   device-to-host copy): call it at evaluation time, not inside a training step you want sync-free.
#pragma once

#include <cstdint>

#include "engine/tensor.h"

namespace lra::ops {

Tensor cross_entropy(const Tensor& logits, const Tensor& labels, int ignore_index = -100);
int64_t count_correct(const Tensor& logits, const Tensor& labels, int ignore_index = -100);

// Raw entry points; logits are [N, C] row-major, labels [N].
//   forward: writes lse [N] (0 for uncounted rows), loss [1] (the mean) and count [1] (the number of
//            counted rows, as a T: exact up to 2^24 rows in float32).
//   backward: reads gy [1] (upstream gradient of the loss) and count [1]; writes dlogits [N, C].
//   count_correct: writes correct [1], the number of counted rows whose argmax equals the label.
namespace cpu {
template <class T>
void cross_entropy_forward(const T* logits, const int32_t* labels, T* lse, T* loss, T* count, int64_t N, int64_t C,
                           int ignore_index);
template <class T>
void cross_entropy_backward(const T* logits, const int32_t* labels, const T* lse, const T* gy, const T* count,
                            T* dlogits, int64_t N, int64_t C, int ignore_index);
template <class T>
void count_correct(const T* logits, const int32_t* labels, int32_t* correct, int64_t N, int64_t C, int ignore_index);
}  // namespace cpu

namespace cuda {
// row_loss [N] is scratch for the deterministic two-stage mean.
void cross_entropy_forward(const float* logits, const int32_t* labels, float* lse, float* row_loss, float* loss,
                           float* count, int64_t N, int64_t C, int ignore_index);
void cross_entropy_backward(const float* logits, const int32_t* labels, const float* lse, const float* gy,
                            const float* count, float* dlogits, int64_t N, int64_t C, int ignore_index);
// `correct` must be zeroed by the caller (rows add into it with integer atomics: exact and order-free).
void count_correct(const float* logits, const int32_t* labels, int32_t* correct, int64_t N, int64_t C,
                   int ignore_index);
}  // namespace cuda

}  // namespace lra::ops

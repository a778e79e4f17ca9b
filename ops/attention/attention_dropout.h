// How the float32 attention kernels draw the dropout mask: one Philox block for every 4 weights, with
// the selection of a weight's word done in registers. Host and device code, so the CPU tests check the
// arithmetic the kernels run (tests/ops/attention_test_dropout.cpp).
//
// The mask itself is attention_dropped() in attention.h, which this must reproduce bit for bit: weight
// e = first + ((b·H + h)·L + i)·L + j (first: a batch window's offset, attention.h) is dropped when the
// top 24 bits of word e % 4 of the Philox block (seed, offset + e / 4) fall below the threshold. So one
// block serves 4 consecutive weights. Drawing a block per weight wastes 3 of its 4 words, and picking
// word e % 4 with a runtime index (.v[e % 4]) puts the block in local memory. Here a block becomes 4
// flag bits, bit w from word w (compile-time indices), and a weight's flag is picked with a shift.
//
// The kernels have two layouts (a warp owns 8 rows; attention.cu):
//   * forward and dq: lane l is key j0 + l of the tile, so row r's 32 weights are consecutive,
//     e = e_r + l with e_r = row0 + r·L. They lie in blocks e_r/4 + k, k = 0 ... 7, and a 9th block
//     when e_r % 4 != 0. Slot 8r + k is block k of row r (k < 8), and slot 64 + r is its 9th block.
//     Lane l draws slots l, l + 32 and l + 64 (the last only when some row needs a 9th block and only
//     for l < 8) and packs their flags into one word, 4 bits per pass (attention_drop_share). Lane l of
//     row r then takes its flag from one shuffle of that word (attention_drop_locate). When L and the
//     tile's first key are multiples of 4 (always, unless chunked attention has a chunk that is not),
//     and so is the batch window's first offset, the warp draws 64 blocks for its 256 weights in 2
//     passes, against 256 blocks in 8 passes before; otherwise 72 blocks in 3 passes.
//   * dk/dv: lane l is query t0 + l and the warp's 8 rows are 8 consecutive keys, so the lane's 8
//     weights are consecutive, e0 ... e0 + 7. The lane draws their 2 blocks (3 when e0 % 4 != 0,
//     which happens only when L % 4 != 0 or a batch window's first offset is not a multiple of 4)
//     itself (attention_drop_run8), against 8 before.
#pragma once

#include <cstdint>

#include "engine/rng.h"  // LRA_HD, Philox

namespace lra::ops {

constexpr int kAttentionDropRows = 8;  // rows per warp that attention_drop_share draws for

// Bit w is set when the weight drawn from word w of the Philox block (seed, counter) is dropped.
LRA_HD uint32_t attention_drop_flags4(uint64_t seed, uint64_t counter, uint32_t threshold) {
  const Philox4 r = philox4x32(seed, counter);
  return uint32_t((r.v[0] >> 8) < threshold) | uint32_t((r.v[1] >> 8) < threshold) << 1 |
         uint32_t((r.v[2] >> 8) < threshold) << 2 | uint32_t((r.v[3] >> 8) < threshold) << 3;
}

// Row layout: what lane `lane` (0 ... 31) draws for the 8 rows of 32 consecutive weights, where row r
// starts at weight row0 + r·row_stride. The flags of slot 32·pass + lane are bits 4·pass ... 4·pass + 3.
LRA_HD uint32_t attention_drop_share(uint64_t seed, uint64_t offset, uint32_t threshold, uint64_t row0,
                                     uint64_t row_stride, int lane) {
  uint32_t share = 0;
  for (int pass = 0; pass < 2; ++pass) {  // slots 0 ... 63: blocks 0 ... 7 of every row
    const int s = 32 * pass + lane, r = s / 8, k = s % 8;
    share |= attention_drop_flags4(seed, offset + (row0 + uint64_t(r) * row_stride) / 4 + uint64_t(k), threshold)
             << (4 * pass);
  }
  // Slots 64 ... 71: a row's 9th block, needed unless every row starts on a block boundary.
  const bool aligned = row0 % 4 == 0 && row_stride % 4 == 0;
  if (!aligned && lane < kAttentionDropRows)
    share |= attention_drop_flags4(seed, offset + (row0 + uint64_t(lane) * row_stride) / 4 + 8, threshold) << 8;
  return share;
}

// Row layout: lane `lane` of row r finds its weight's flag at bit *bit of lane *src's share. Takes
// row0 % 4 and row_stride % 4: small ints keep the kernels' per-row arithmetic in 32 bits.
LRA_HD void attention_drop_locate(int row0_mod4, int stride_mod4, int r, int lane, int* src, int* bit) {
  const int first = (row0_mod4 + r * stride_mod4) % 4;  // e_r % 4
  const int k = (first + lane) / 4;                      // block of the row, 0 ... 8
  const int s = k < 8 ? 8 * r + k : 64 + r;
  *src = s % 32;
  *bit = 4 * (s / 32) + (first + lane) % 4;
}

// Run layout: bit r (r < 8) is set when weight e0 + r is dropped.
LRA_HD uint32_t attention_drop_run8(uint64_t seed, uint64_t offset, uint64_t e0, uint32_t threshold) {
  const uint64_t c = offset + e0 / 4;
  uint32_t flags = attention_drop_flags4(seed, c, threshold) | attention_drop_flags4(seed, c + 1, threshold) << 4;
  if (e0 % 4 != 0) flags |= attention_drop_flags4(seed, c + 2, threshold) << 8;
  return flags >> (e0 % 4);
}

}  // namespace lra::ops

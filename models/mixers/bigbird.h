// BigBird's fixed random block graph (models/mixers/bigbird.cpp), exposed for its tests.
#pragma once

#include <cstdint>
#include <vector>

namespace lra::models::bigbird {

// The random key blocks of one layer, as LRA's get_block_rand_mask draws them
// (lra_benchmarks/models/bigbird/bigbird_attention.py): numpy's legacy generator seeded with `seed` (the
// layer index), then for each head in turn, for each query block i = 1 .. nb−2 in turn, one
// np.random.permutation of that row's candidate blocks, of which the row keeps the first r.
// Result [heads][nb − 2][<= r] (row i − 1 holds query block i's blocks; empty when nb < 3).
//
// Candidates (a = 1 .. nb−2, i.e. never the global blocks 0 and nb−1; last = span/block − 1 when
// span > 2·block, else nb − 1, with span = min(Lp, random_span) tokens; Python slices, so a bound past
// the end is clipped):
//   i = 1: 3 .. last;   i = 2: 4 .. last;   i = nb−3: 1 .. last−4;   i = nb−2: 1 .. last−3  (first match)
//   otherwise, start = i−2: i−2 > last: 1 .. last;  i+1 = last: 1 .. i−2;  else 1 .. i−2 and i+2 .. last.
// Rows with fewer than r candidates (padded lengths under 8 blocks at r = 3): numpy's assignment of
// perm[:r] into the row broadcasts a single candidate r times, which we keep (the block then counts r
// times in the softmax, as in LRA), and raises for 0 or 2 .. r−1 candidates, where we keep the
// candidates there are (LRA cannot run these lengths at all). The draws themselves never change, so
// every later row and head matches LRA's stream whatever a short row does.
std::vector<std::vector<std::vector<int>>> random_blocks(int64_t nb, int64_t block, int r, int64_t span, int heads,
                                                         uint32_t seed);

}  // namespace lra::models::bigbird

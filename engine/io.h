// Checkpoints in the safetensors format (https://github.com/huggingface/safetensors).
//
// File layout: an 8-byte little-endian header length N, then N bytes of JSON
//   {"__metadata__": {"key": "value", ...},
//    "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
// padded with spaces to a multiple of 8, then the raw little-endian data; offsets are relative to the
// start of the data and the tensors tile it exactly (no holes, no overlaps, nothing after the last).
// dtypes: F32, F64, BF16, I32 (engine/dtype.h spells them as the format does).
//
// Writes are atomic: the file is written to "<path>.tmp-<pid>", flushed to disk, then renamed over
// `path`, so `path` is always either the previous file or the complete new one. Reads trust nothing:
// every length, offset, shape and dtype is checked before a byte of data is read, and every error
// names the file and the problem.
//
// A checkpoint is a safetensors file holding a module's parameters under their plain names (what
// PyTorch's load_state_dict expects), the optimizer state under "optim.<param>.<buffer>", and in
// __metadata__ the step, the RNG state, the run's configuration (TOML) and the optimizer's type and step count.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/nn.h"
#include "engine/optim.h"
#include "engine/rng.h"
#include "engine/tensor.h"

namespace lra::io {

struct SafeTensors {
  std::map<std::string, std::string> metadata;
  std::map<std::string, Tensor> tensors;  // on the CPU
};

// Tensors on the GPU are copied to the host (one named sync point per tensor).
void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});
SafeTensors load_safetensors(const std::string& path);
// Only the __metadata__ of a file (reads the header, not the data).
std::map<std::string, std::string> load_safetensors_metadata(const std::string& path);

struct CheckpointInfo {
  int64_t step = 0;
  std::string config;                           // the run's configuration given to save_checkpoint
  std::map<std::string, std::string> metadata;  // all of __metadata__ (extra keys included)
};

// `extra_metadata` carries anything else a run wants back (e.g. ReduceOnPlateau::state()); its keys
// may not collide with the ones the checkpoint itself uses.
void save_checkpoint(const std::string& path, const nn::Module& module, const optim::Optimizer* optimizer,
                     int64_t step, const Generator& rng, const std::string& config,
                     const std::map<std::string, std::string>& extra_metadata = {});

// Loads parameters and buffers into `module` (any device), and the optimizer state and RNG state when given
// (null skips them). Everything is checked before anything is copied: a file that does not match the
// model is refused with every problem listed ("checkpoint x.safetensors does not match the model:
// missing blocks.1.w; shape of head.w is [10, 64] in the file but [2, 64] in the model").
CheckpointInfo load_checkpoint(const std::string& path, nn::Module& module, optim::Optimizer* optimizer,
                               Generator* rng);

}  // namespace lra::io

// Architectures: each file (arch_llama.cpp, arch_qwen2.cpp) defines one ArchDef: how its
// hyper-parameters and tensors are named, and the transformer block the forward pass runs.
#pragma once

#include <string_view>

#include "model/model.h"

namespace ol {

class BlockOps;  // runtime/forward.h

struct ArchDef {
  std::string_view name;          // GGUF general.architecture / config.json model_type
  bool qkv_bias;                  // q/k/v projections carry a bias
  RopeStyle gguf_rope;            // rope pairing for GGUF files (HF files are always Neox)
  void (*block)(BlockOps& ops, int layer);  // one transformer block, in place on the hidden state (Buf::X)
};

// The llama block; other architectures reuse it where their differences are data (biases, rope).
void llama_block(BlockOps& ops, int layer);

const ArchDef& arch_llama();
const ArchDef& arch_qwen2();
// nullptr when unknown.
const ArchDef* find_arch(std::string_view name);

}  // namespace ol

// The CPU backend's pieces of the forward pass, each in its own file so it can be tuned alone:
// forward_cpu.cpp (the pass and the elementwise ops), attention_cpu.cpp, lora_cpu.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "cpu/kernels.h"
#include "runtime/forward.h"

namespace ol {

// Stores the batch's k/v rows in the cache, then causal attention of q over each row's sequence.
// q/out: [rows, q_dim]; k/v: [rows, kv_dim].
void attention_cpu(const HParams& hp, KvCache& kv, int layer, const BatchPlan& plan, const std::vector<BatchSequence>& seqs,
                   const float* q, const float* k, const float* v, float* out, ThreadPool& pool);

struct LoraKernels;  // lora_cpu.cpp: shrink/expand for one matrix type on this CPU

// Segmented gather matmul for LoRA on the CPU; keeps its scratch across layers and steps.
class LoraCpu {
 public:
  // isa: the kernel set to use ("avx512" or "amx" for the AVX-512 loops, anything else for the portable ones); tests pick both.
  explicit LoraCpu(std::string_view isa = kernels().isa);
  // out[rows, n_out] += the LoRA terms of every group of `plan` for this layer's linear.
  void apply(const BatchPlan& plan, int layer, LinearKind kind, const float* in, int64_t n_in, float* out, int64_t n_out,
             ThreadPool& pool);

 private:
  struct Segment {  // one group's matrices for the linear being applied
    const LoraMatrices* m;
    const LoraGroup* group;
    size_t t_offset;             // into t_
    size_t tq_offset;            // into tq_ (q8 groups)
    size_t q8_row;               // into tq_scale_ (q8 groups)
    const LoraKernels* kernels;  // null for q8 components (lora_q8_cpu.h)
  };
  bool avx512_;
  std::vector<float> t_;  // shrunk activations of every group
  // For q8 groups: their shrunk values as int16, with a scale per row.
  std::vector<int16_t> tq_;
  std::vector<float> tq_scale_;
  std::vector<Segment> segments_;
  std::vector<std::pair<size_t, size_t>> shrink_items_;  // (segment, first row of a block in the group)
  std::vector<uint8_t> row_seen_;                        // per batch row: in a group already (expand's partition)
};

}  // namespace ol

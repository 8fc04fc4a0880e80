// The batched forward pass: any mix of sequences (prefill chunks and single decode tokens), each
// with its own position, paged KV block table and LoRA adapter combination, in one pass.
//
// Backends sit behind two interfaces: `ForwardPass` (what the scheduler runs) and `BlockOps` (what an
// architecture's block is built from, see model/arch.h). The CPU backend is runtime/forward_cpu.cpp;
// the CUDA backend is native/cuda/. Both share `BatchPlan`, the host-side layout of one batch.
// LoRA is applied segment-wise (SGMV): rows are grouped by adapter, shrunk with A, expanded with B.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "lora/adapter.h"
#include "model/model.h"
#include "runtime/kv_cache.h"
#include "runtime/thread_pool.h"

namespace ol {

struct AdapterTerm {
  std::shared_ptr<const LoraWeights> weights;
  float weight = 1.0f;
};

struct BatchSequence {
  const int32_t* tokens = nullptr;  // n_tokens new tokens at positions pos0, pos0 + 1, ...
  int32_t n_tokens = 0;
  int32_t pos0 = 0;
  std::vector<int32_t>* block_table = nullptr;  // reserved for pos0 + n_tokens positions
  const std::vector<AdapterTerm>* adapters = nullptr;
  bool all_logits = false;  // logits of every new token, else of the last one only
};

// Rows of one batch that share an adapter; a row appears in one group per adapter it names.
struct LoraGroup {
  std::shared_ptr<const LoraWeights> weights;  // held for the step (backends may cache per adapter)
  std::vector<int32_t> rows;
  std::vector<float> row_scale;  // request weight x adapter scale
};

// Host-side layout of one batch, the same for every backend: a row per new token.
struct BatchPlan {
  int64_t rows = 0;
  std::vector<int32_t> tokens, positions, row_seq;  // per row (row_seq: index into the sequences)
  std::vector<int64_t> logit_rows;                  // rows whose logits are returned, in order
  std::vector<LoraGroup> lora_groups;
  std::vector<float> rope_cos, rope_sin;  // per row, head_dim / 2 angles (shared by all layers)
  std::vector<LoraGroup> spare_groups;    // emptied groups of earlier batches, reused by build()

  // Storage is reused from the previous batch.
  void build(const Model& model, const std::vector<BatchSequence>& seqs);
};

// Activation buffers of a block, [rows, width]: the names architectures build with.
enum class Buf { X, H, Q, K, V, Attn, Proj, Gate, Up };

// The operations of a transformer block. Each backend implements them on its own buffers, so an
// architecture file is the same for every backend.
class BlockOps {
 public:
  virtual const Model& model() const = 0;
  // out = in / rms(in) * weight (weight: one of the model's norm vectors)
  virtual void rms_norm(Buf in, const std::vector<float>& weight, Buf out) = 0;
  // out = in * W^T (+ bias) (+ the LoRA terms of every adapter group)
  virtual void linear(int layer, LinearKind kind, Buf in, Buf out) = 0;
  // Rotary embedding in place on Q (n_head heads) or K (n_head_kv heads).
  virtual void rope(Buf t, int n_heads) = 0;
  // Stores this batch's K/V in the paged cache, then causal attention of Q over each sequence -> Attn.
  virtual void attention(int layer) = 0;
  virtual void add(Buf y, Buf x) = 0;           // y += x
  virtual void silu_mul(Buf gate, Buf up) = 0;  // gate = silu(gate) * up

 protected:
  ~BlockOps() = default;
};

class ForwardPass {
 public:
  virtual ~ForwardPass() = default;
  // Runs the batch; logits (n_vocab floats per requested row, in sequence order) go to `logits`.
  virtual void run(const std::vector<BatchSequence>& seqs, std::vector<float>& logits) = 0;
};

std::unique_ptr<ForwardPass> make_cpu_forward(const Model& model, KvCache& kv, ThreadPool& pool);

}  // namespace ol

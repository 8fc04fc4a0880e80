// The batched forward pass: any mix of sequences (prefill chunks and single decode tokens), each
// with its own position, paged KV block table and LoRA adapter combination, in one pass.
// LoRA is applied segment-wise (SGMV): rows are grouped by adapter, shrunk with A, expanded with B.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
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

// State shared by the ops of one block (what an architecture's block function works on).
struct BlockContext {
  const Model& model;
  ThreadPool& pool;
  KvCache& kv;
  int64_t rows = 0;                // tokens in the batch
  std::vector<float> x{}, h{}, q{}, k{}, v{}, attn{}, proj{}, gate{}, up{};  // [rows, width]
  std::vector<int32_t> positions{};  // per row
  std::vector<float> rope_cos{}, rope_sin{};  // per row, head_dim / 2 angles (shared by all layers)
  std::vector<int32_t> row_seq{};    // per row: index into seqs
  const std::vector<BatchSequence>* seqs = nullptr;

  struct LoraGroup {
    const LoraWeights* weights;
    std::vector<int32_t> rows;
    std::vector<float> row_scale;  // request weight x adapter scale
  };
  std::vector<LoraGroup> lora_groups{};
  std::vector<float> lora_t{};  // shrunk activations of every group
  struct LoraSegment {  // one group's matrices for the linear being applied
    const LoraMatrices* m;
    const LoraGroup* group;
    size_t t_offset;  // into lora_t
  };
  std::vector<LoraSegment> lora_segments{};
  std::vector<std::pair<size_t, size_t>> lora_shrink_items{};  // (segment, row in group)

  // out[rows, W.rows] = in * W^T (+ bias) (+ LoRA of every group).
  void linear(int layer, LinearKind kind, const float* in, float* out);
  // Adds the LoRA terms of every group to out[rows, n_out].
  void apply_lora(int layer, LinearKind kind, const float* in, int64_t n_in, float* out, int64_t n_out);
  // Rotary embedding on q (n_head heads) or k (n_head_kv heads).
  void rope(float* t, int n_heads);
  // Stores this batch's k/v in the cache, then causal attention of q over each sequence -> attn.
  void attention(int layer);
};

class ForwardPass {
 public:
  ForwardPass(const Model& model, KvCache& kv, ThreadPool& pool);
  // Runs the batch; logits (n_vocab floats per requested row, in sequence order) go to `logits`.
  void run(const std::vector<BatchSequence>& seqs, std::vector<float>& logits);

 private:
  BlockContext ctx_;
  std::vector<int64_t> logit_rows_;  // rows whose logits are returned (reused across steps)
  std::vector<float> last_norm_;     // those rows after the output norm
};

}  // namespace ol

#include "runtime/forward.h"

#include <algorithm>
#include <iterator>

#include "tensor/ops.h"

namespace ol {

void BatchPlan::build(const Model& model, const std::vector<BatchSequence>& seqs) {
  const HParams& hp = model.hp;
  tokens.clear();
  positions.clear();
  row_seq.clear();
  logit_rows.clear();
  // Groups go back to a spare list with their vectors' storage, so a warm step allocates nothing.
  for (LoraGroup& g : lora_groups) {
    g.weights.reset();
    g.rows.clear();
    g.row_scale.clear();
    spare_groups.push_back(std::move(g));
  }
  lora_groups.clear();
  for (size_t si = 0; si < seqs.size(); ++si) {
    const BatchSequence& s = seqs[si];
    const int64_t first = static_cast<int64_t>(positions.size());
    for (int32_t i = 0; i < s.n_tokens; ++i) {
      tokens.push_back(s.tokens[i]);
      positions.push_back(s.pos0 + i);
      row_seq.push_back(static_cast<int32_t>(si));
      if (s.all_logits || i == s.n_tokens - 1) logit_rows.push_back(first + i);
    }
    if (s.adapters == nullptr) continue;
    for (const AdapterTerm& term : *s.adapters) {
      // A batch holds few distinct adapters: a linear search finds the group.
      auto it = std::find_if(lora_groups.begin(), lora_groups.end(), [&](const LoraGroup& g) { return g.weights == term.weights; });
      if (it == lora_groups.end()) {
        if (spare_groups.empty()) {
          lora_groups.emplace_back();
        } else {
          lora_groups.push_back(std::move(spare_groups.back()));
          spare_groups.pop_back();
        }
        it = std::prev(lora_groups.end());
        it->weights = term.weights;
      }
      for (int32_t i = 0; i < s.n_tokens; ++i) {
        it->rows.push_back(static_cast<int32_t>(first + i));
        it->row_scale.push_back(term.weight * term.weights->scale);
      }
    }
  }
  rows = static_cast<int64_t>(positions.size());
  rope_cos.resize(static_cast<size_t>(rows * hp.head_dim / 2));
  rope_sin.resize(static_cast<size_t>(rows * hp.head_dim / 2));
  rope_tables(positions.data(), rows, hp.head_dim, hp.rope_theta, rope_cos.data(), rope_sin.data());
}

}  // namespace ol

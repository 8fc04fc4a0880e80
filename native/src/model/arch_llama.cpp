// llama (LLaMA 2/3, Mistral, SmolLM): pre-norm blocks, grouped-query attention with rotary
// embeddings, SwiGLU feed-forward. No biases.
#include "model/arch.h"
#include "runtime/forward.h"
#include "tensor/ops.h"

namespace ol {

void llama_block(BlockContext& c, int il) {
  const HParams& hp = c.model.hp;
  const LayerWeights& L = c.model.layers[static_cast<size_t>(il)];
  const int64_t T = c.rows, E = hp.n_embd;
  rms_norm(c.x.data(), L.attn_norm.data(), c.h.data(), T, E, hp.rms_eps);
  c.linear(il, LinearKind::Q, c.h.data(), c.q.data());
  c.linear(il, LinearKind::K, c.h.data(), c.k.data());
  c.linear(il, LinearKind::V, c.h.data(), c.v.data());
  c.rope(c.q.data(), hp.n_head);
  c.rope(c.k.data(), hp.n_head_kv);
  c.attention(il);
  c.linear(il, LinearKind::O, c.attn.data(), c.proj.data());
  add_inplace(c.x.data(), c.proj.data(), static_cast<size_t>(T * E));
  rms_norm(c.x.data(), L.ffn_norm.data(), c.h.data(), T, E, hp.rms_eps);
  c.linear(il, LinearKind::Gate, c.h.data(), c.gate.data());
  c.linear(il, LinearKind::Up, c.h.data(), c.up.data());
  silu_mul(c.gate.data(), c.up.data(), static_cast<size_t>(T * hp.n_ff));
  c.linear(il, LinearKind::Down, c.gate.data(), c.proj.data());
  add_inplace(c.x.data(), c.proj.data(), static_cast<size_t>(T * E));
}

const ArchDef& arch_llama() {
  static const ArchDef def{"llama", false, RopeStyle::Interleaved, llama_block};
  return def;
}

}  // namespace ol

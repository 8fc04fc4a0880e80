// llama (LLaMA 2/3, Mistral, SmolLM): pre-norm blocks, grouped-query attention with rotary
// embeddings, SwiGLU feed-forward. No biases.
#include "model/arch.h"
#include "runtime/forward.h"

namespace ol {

void llama_block(BlockOps& c, int il) {
  const HParams& hp = c.model().hp;
  const LayerWeights& L = c.model().layers[static_cast<size_t>(il)];
  c.rms_norm(Buf::X, L.attn_norm, Buf::H);
  c.linear(il, LinearKind::Q, Buf::H, Buf::Q);
  c.linear(il, LinearKind::K, Buf::H, Buf::K);
  c.linear(il, LinearKind::V, Buf::H, Buf::V);
  c.rope(Buf::Q, hp.n_head);
  c.rope(Buf::K, hp.n_head_kv);
  c.attention(il);
  c.linear(il, LinearKind::O, Buf::Attn, Buf::Proj);
  c.add(Buf::X, Buf::Proj);
  c.rms_norm(Buf::X, L.ffn_norm, Buf::H);
  c.linear(il, LinearKind::Gate, Buf::H, Buf::Gate);
  c.linear(il, LinearKind::Up, Buf::H, Buf::Up);
  c.silu_mul(Buf::Gate, Buf::Up);
  c.linear(il, LinearKind::Down, Buf::Gate, Buf::Proj);
  c.add(Buf::X, Buf::Proj);
}

const ArchDef& arch_llama() {
  static const ArchDef def{"llama", false, RopeStyle::Interleaved, llama_block};
  return def;
}

}  // namespace ol

// qwen2: the llama block with biases on the q/k/v projections (BlockOps::linear adds them)
// and rotary embeddings over the two halves of each head (NEOX pairing) in GGUF files too.
#include "model/arch.h"
#include "runtime/forward.h"

namespace ol {

const ArchDef& arch_qwen2() {
  static const ArchDef def{"qwen2", true, RopeStyle::Neox, llama_block};
  return def;
}

}  // namespace ol

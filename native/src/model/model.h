// A loaded model: hyper-parameters, weight views (memory-mapped, in their stored type) and the
// tokenizer. Immutable after load; shared by engines.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/mapped_file.h"
#include "common/stream_buffer.h"
#include "tensor/dtype.h"
#include "tokenizer/tokenizer.h"

namespace ol {

// How rotary embeddings pair dimensions: GGUF llama stores q/k rows permuted so pairs are adjacent
// (Interleaved); Hugging Face checkpoints and qwen2 rotate the two halves of each head (Neox).
enum class RopeStyle { Interleaved, Neox };

// A 2-D weight [rows = outputs, cols = inputs] in its stored type, rows contiguous.
struct Matrix {
  DType dtype = DType::F32;
  int64_t rows = 0, cols = 0;
  const uint8_t* data = nullptr;
  size_t row_stride = 0;  // bytes
  // The same weights repacked for the selected kernel set (cpu/packed.h), or null; `data` stays the
  // mapped original for everything else that reads the weights.
  const uint8_t* packed = nullptr;
  const uint8_t* row(int64_t r) const { return data + static_cast<size_t>(r) * row_stride; }
};

struct HParams {
  int32_t n_vocab = 0, n_ctx_train = 0, n_embd = 0, n_layer = 0, n_head = 0, n_head_kv = 0, head_dim = 0, n_ff = 0;
  float rope_theta = 10000.0f, rms_eps = 1e-5f;
  RopeStyle rope = RopeStyle::Neox;
  int32_t q_dim() const { return n_head * head_dim; }
  int32_t kv_dim() const { return n_head_kv * head_dim; }
};

// The linear layers a LoRA adapter may target, in PEFT's names.
enum class LinearKind { Q, K, V, O, Gate, Up, Down };
constexpr int kLinearKinds = 7;
const char* linear_peft_name(LinearKind k);

struct LayerWeights {
  std::vector<float> attn_norm, ffn_norm;
  std::vector<float> bq, bk, bv;  // empty when the architecture has no q/k/v bias
  Matrix linear[kLinearKinds];    // indexed by LinearKind
};

struct Model {
  std::string architecture;
  HParams hp;
  Matrix tok_embd, output;  // output == tok_embd when tied
  std::vector<float> output_norm;
  std::vector<LayerWeights> layers;
  bool qk_rows_permuted = false;  // GGUF llama: LoRA B rows for q/k must be permuted the same way
  int32_t bos_id = -1, eos_id = -1, eot_id = -1;
  std::unique_ptr<Tokenizer> tokenizer;  // null when the file has no tokenizer
  std::string tokenizer_error;           // why there is none
  TokenizerSpec tokenizer_spec;
  int64_t n_params = 0, weights_bytes = 0;
  std::vector<std::unique_ptr<MappedFile>> files;
  StreamBuffer packed_weights;  // storage of the Matrix::packed copies

  const Tokenizer& require_tokenizer() const;
};

// GGUF file or Hugging Face directory (config.json + *.safetensors [+ tokenizer.json]).
// Throws ol::Error (BAD_FILE with the reason, IO when unreadable).
std::unique_ptr<Model> load_model(const std::string& path);
// For the CPU backend: copies the weights its selected kernels read into their packed layout
// (Matrix::packed; cpu/packed.h). Other backends read the mapped originals and skip this.
void pack_weights(Model& m);

}  // namespace ol

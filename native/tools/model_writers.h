// Writers for the file formats the engine reads (GGUF, safetensors, PEFT adapters) and a generator
// of tiny random llama/qwen2 models and random adapters. Used by ol_make_tiny and the C++ tests;
// the jest tests reach them through the ol_make_tiny executable.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "model/gguf.h"
#include "tensor/dtype.h"

namespace ol::tools {

struct NamedTensor {
  std::string name;
  std::vector<int64_t> shape;  // row-major, outermost first (PyTorch order)
  DType dtype = DType::F32;
  std::vector<uint8_t> bytes;
};

// Encodes fp32 values (row-major, `shape`) as `dtype` row by row.
NamedTensor make_tensor(std::string name, std::vector<int64_t> shape, DType dtype, const std::vector<float>& values);

std::vector<uint8_t> safetensors_bytes(const std::vector<NamedTensor>& tensors);
std::vector<uint8_t> gguf_bytes(const std::vector<std::pair<std::string, GgufValue>>& metadata,
                                const std::vector<NamedTensor>& tensors);
void write_file(const std::string& path, const std::vector<uint8_t>& bytes);
void write_text(const std::string& path, const std::string& text);

GgufValue gguf_string(std::string s);
GgufValue gguf_u32(uint32_t v);
GgufValue gguf_f32(float v);
GgufValue gguf_bool(bool v);
GgufValue gguf_strings(std::vector<std::string> v);
GgufValue gguf_numbers(GgufType elem, std::vector<double> v);

struct TinyModelSpec {
  std::string arch = "llama";  // llama | qwen2
  int n_vocab = 320, n_embd = 64, n_layer = 2, n_head = 4, n_head_kv = 2, n_ff = 128, n_ctx = 512;
  float rope_theta = 10000.0f, rms_eps = 1e-5f;
  bool tied_embeddings = false;
  DType dtype = DType::F32;  // linear weights; norms and embeddings stay F32
  uint64_t seed = 1;
};

// Writes a GGUF file (path) or a Hugging Face directory (config.json, model.safetensors,
// tokenizer.json, tokenizer_config.json) with the same random weights for the same spec.
void write_tiny_gguf(const TinyModelSpec& spec, const std::string& path);
void write_tiny_hf(const TinyModelSpec& spec, const std::string& dir);

struct TinyAdapterSpec {
  int rank = 8;
  float alpha = 16.0f;
  bool use_rslora = false;
  std::vector<std::string> targets{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
  float b_scale = 0.05f;  // B is random (not zero as at PEFT init) so the adapter changes the output
  uint64_t seed = 1;
  DType dtype = DType::F32;  // of A and B in the file: F32, F16 or BF16
};
// Dimensions come from the model spec (n_embd, n_ff, heads).
void write_tiny_adapter(const TinyModelSpec& model, const TinyAdapterSpec& spec, const std::string& dir);

// Reads a Hugging Face directory written by write_tiny_hf and writes a copy whose linear weights
// are W + sum_i weight_i * scale_i * B_i A_i (adapters given as directory + weight).
void write_merged_hf(const std::string& model_dir, const std::vector<std::pair<std::string, float>>& adapters,
                     const std::string& out_dir);

}  // namespace ol::tools

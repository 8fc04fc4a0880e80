#include "model/model.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <filesystem>

#include <sys/mman.h>
#include <unistd.h>

#include "common/error.h"
#include "common/json.h"
#include "cpu/kernels.h"
#include "cpu/packed.h"
#include "cpu/quant.h"
#include "model/arch.h"
#include "model/gguf.h"
#include "model/safetensors.h"
#include "model/tokenizer_spec.h"

namespace ol {

namespace fs = std::filesystem;

const char* linear_peft_name(LinearKind k) {
  static const char* names[kLinearKinds] = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
  return names[static_cast<int>(k)];
}

const ArchDef* find_arch(std::string_view name) {
  for (const ArchDef* a : {&arch_llama(), &arch_qwen2()})
    if (a->name == name) return a;
  return nullptr;
}

const Tokenizer& Model::require_tokenizer() const {
  if (!tokenizer) throw Error(OL_ERR_BAD_FILE, "model has no usable tokenizer: " + tokenizer_error);
  return *tokenizer;
}

namespace {

// One stored tensor, whatever the container.
struct StoredTensor {
  DType dtype;
  std::vector<int64_t> shape;  // outermost first
  const uint8_t* data;
};

void check_hparams(const HParams& hp) {
  auto in_range = [](int64_t v, int64_t lo, int64_t hi) { return v >= lo && v <= hi; };
  if (!in_range(hp.n_embd, 1, 1 << 16) || !in_range(hp.n_layer, 1, 1024) || !in_range(hp.n_head, 1, 1024) ||
      !in_range(hp.n_head_kv, 1, hp.n_head) || !in_range(hp.n_ff, 1, 1 << 20) || !in_range(hp.n_vocab, 1, 1 << 22) ||
      !in_range(hp.n_ctx_train, 1, 1 << 24))
    fail_bad_file("model hyper-parameters out of range");
  if (hp.n_embd % hp.n_head != 0 || hp.head_dim % 2 != 0 || hp.n_head % hp.n_head_kv != 0)
    fail_bad_file("model head counts do not divide the embedding size");
  if (!(hp.rope_theta > 0) || !(hp.rms_eps > 0) || !std::isfinite(hp.rope_theta)) fail_bad_file("model rope/norm constants invalid");
}

Matrix to_matrix(const StoredTensor& t, const std::string& name, int64_t rows, int64_t cols) {
  if (t.shape.size() != 2 || t.shape[0] != rows || t.shape[1] != cols)
    fail_bad_file("tensor " + name + " has shape that does not match the model (expected " + std::to_string(rows) + "x" +
                  std::to_string(cols) + ")");
  if (dtype_is_quantized(t.dtype) && cols % 32 != 0) fail_bad_file("tensor " + name + ": quantized rows must be a multiple of 32");
  return Matrix{t.dtype, rows, cols, t.data, row_bytes(t.dtype, static_cast<size_t>(cols))};
}

std::vector<float> to_vector(const StoredTensor& t, const std::string& name, int64_t n) {
  if (element_count(t.shape) != n) fail_bad_file("tensor " + name + " should have " + std::to_string(n) + " elements");
  std::vector<float> v(static_cast<size_t>(n));
  dequantize_row(t.dtype, t.data, v.data(), v.size());
  for (float x : v)
    if (!std::isfinite(x)) fail_bad_file("tensor " + name + " contains NaN or Inf");
  return v;
}

// Binds the weights given a lookup by the container's own names.
template <typename Find>
void bind_weights(Model& m, const ArchDef& arch, Find&& find, bool gguf_names) {
  const HParams& hp = m.hp;
  auto name_of = [&](const char* gguf, const char* hf) { return std::string(gguf_names ? gguf : hf); };
  auto need = [&](const std::string& name) {
    auto t = find(name);
    if (!t) fail_bad_file("model is missing tensor " + name);
    return *t;
  };
  const std::string embd = name_of("token_embd.weight", "model.embed_tokens.weight");
  m.tok_embd = to_matrix(need(embd), embd, hp.n_vocab, hp.n_embd);
  const std::string onorm = name_of("output_norm.weight", "model.norm.weight");
  m.output_norm = to_vector(need(onorm), onorm, hp.n_embd);
  const std::string out = name_of("output.weight", "lm_head.weight");
  if (auto t = find(out)) m.output = to_matrix(*t, out, hp.n_vocab, hp.n_embd);
  else m.output = m.tok_embd;  // tied embeddings
  static const char* gguf_linear[kLinearKinds] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};
  static const char* hf_linear[kLinearKinds] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                                                "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"};
  m.layers.resize(static_cast<size_t>(hp.n_layer));
  for (int l = 0; l < hp.n_layer; ++l) {
    LayerWeights& L = m.layers[static_cast<size_t>(l)];
    const std::string p = gguf_names ? "blk." + std::to_string(l) + "." : "model.layers." + std::to_string(l) + ".";
    const std::string an = p + name_of("attn_norm.weight", "input_layernorm.weight");
    const std::string fn = p + name_of("ffn_norm.weight", "post_attention_layernorm.weight");
    L.attn_norm = to_vector(need(an), an, hp.n_embd);
    L.ffn_norm = to_vector(need(fn), fn, hp.n_embd);
    for (int k = 0; k < kLinearKinds; ++k) {
      const std::string name = p + (gguf_names ? gguf_linear[k] : hf_linear[k]) + ".weight";
      int64_t rows = 0, cols = 0;
      switch (static_cast<LinearKind>(k)) {
        case LinearKind::Q: rows = hp.q_dim(); cols = hp.n_embd; break;
        case LinearKind::K: case LinearKind::V: rows = hp.kv_dim(); cols = hp.n_embd; break;
        case LinearKind::O: rows = hp.n_embd; cols = hp.q_dim(); break;
        case LinearKind::Gate: case LinearKind::Up: rows = hp.n_ff; cols = hp.n_embd; break;
        case LinearKind::Down: rows = hp.n_embd; cols = hp.n_ff; break;
      }
      L.linear[k] = to_matrix(need(name), name, rows, cols);
    }
    if (arch.qkv_bias) {
      auto bias = [&](int k, int64_t n) {
        const std::string name = p + (gguf_names ? gguf_linear[k] : hf_linear[k]) + ".bias";
        return to_vector(need(name), name, n);
      };
      L.bq = bias(0, hp.q_dim());
      L.bk = bias(1, hp.kv_dim());
      L.bv = bias(2, hp.kv_dim());
    }
  }
}

// Packing read every page of the originals; the kernels will not read them again, so they leave this
// process's resident set (a read-only shared mapping: they stay in the page cache and fault back in
// if something reads them, e.g. embedding rows).
void release_mapped_pages(const Model& m, const uint8_t* p, size_t bytes) {
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  for (const auto& f : m.files) {
    const uint8_t* base = f->data();
    if (p < base || p + bytes > base + f->size()) continue;
    const uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + page - 1) / page * page, end = (reinterpret_cast<uintptr_t>(p) + bytes) / page * page;
    if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
  }
}

// Copies the weights the selected kernels read in a packed layout (one pass over the weights then
// feeds 16 outputs); the mapped originals stay for embedding lookups, LoRA and other backends. One
// stream buffer (common/stream_buffer.h): decode reads all of it once per token.
}  // namespace

void pack_weights(Model& m) {
  const KernelSet& k = kernels();
  std::vector<Matrix*> targets;
  for (LayerWeights& L : m.layers)
    for (Matrix& w : L.linear) targets.push_back(&w);
  targets.push_back(&m.output);
  std::erase_if(targets, [&](const Matrix* w) { return k.packed_dot[static_cast<int>(w->dtype)] == nullptr || !packable(w->dtype, w->rows, w->cols); });
  auto bytes_of = [](const Matrix& w) { return (packed_group_bytes(w.dtype, w.cols) * static_cast<size_t>(w.rows / kPackRows) + 63) / 64 * 64; };
  size_t total = 0;
  for (const Matrix* w : targets) total += bytes_of(*w);
  if (total == 0) return;
  m.packed_weights = allocate_stream_buffer(total, "repacking weights");
  uint8_t* buffer = m.packed_weights.get();
  for (Matrix* w : targets) {
    pack_rows(w->dtype, w->data, w->row_stride, w->rows, w->cols, buffer);
    w->packed = buffer;
    buffer += bytes_of(*w);
    release_mapped_pages(m, w->data, w->row_stride * static_cast<size_t>(w->rows));
  }
}

namespace {

void finish(Model& m, int64_t n_params, int64_t bytes, TokenizerSpec spec, std::string spec_error) {
  m.n_params = n_params;
  m.weights_bytes = bytes;
  if (spec_error.empty()) {
    m.bos_id = spec.bos_id;
    m.eos_id = spec.eos_id;
    m.eot_id = spec.eot_id;
    try {
      m.tokenizer_spec = spec;
      m.tokenizer = make_tokenizer(std::move(spec));
    } catch (const std::exception& e) {
      m.tokenizer_error = e.what();
    }
  } else {
    m.tokenizer_error = spec_error;
  }
  if (m.eos_id >= m.hp.n_vocab) m.eos_id = -1;
  if (m.eot_id >= m.hp.n_vocab) m.eot_id = -1;
}

std::unique_ptr<Model> load_gguf(const std::string& path) {
  auto m = std::make_unique<Model>();
  m->files.push_back(std::make_unique<MappedFile>(path));
  const MappedFile& file = *m->files.back();
  const GgufFile g = parse_gguf(file.data(), file.size());
  const std::string arch_name = g.string("general.architecture").value_or("");
  const ArchDef* arch = find_arch(arch_name);
  if (arch == nullptr) fail_bad_file("unsupported architecture '" + arch_name + "' (supported: llama, qwen2)");
  m->architecture = arch_name;
  HParams& hp = m->hp;
  auto num = [&](const std::string& key) {
    auto v = g.number(arch_name + "." + key);
    if (!v) fail_bad_file("GGUF is missing " + arch_name + "." + key);
    return *v;
  };
  hp.n_ctx_train = static_cast<int32_t>(num("context_length"));
  hp.n_embd = static_cast<int32_t>(num("embedding_length"));
  hp.n_layer = static_cast<int32_t>(num("block_count"));
  hp.n_ff = static_cast<int32_t>(num("feed_forward_length"));
  hp.n_head = static_cast<int32_t>(num("attention.head_count"));
  hp.n_head_kv = static_cast<int32_t>(g.number(arch_name + ".attention.head_count_kv").value_or(hp.n_head));
  hp.rope_theta = static_cast<float>(g.number(arch_name + ".rope.freq_base").value_or(10000.0));
  hp.rms_eps = static_cast<float>(g.number(arch_name + ".attention.layer_norm_rms_epsilon").value_or(1e-5));
  hp.head_dim = hp.n_head > 0 ? hp.n_embd / hp.n_head : 0;
  hp.rope = arch->gguf_rope;
  const GgufTensorInfo* embd = g.find_tensor("token_embd.weight");
  if (embd == nullptr || embd->dims.size() != 2) fail_bad_file("GGUF is missing token_embd.weight");
  hp.n_vocab = static_cast<int32_t>(embd->dims[1]);
  check_hparams(hp);
  if (auto rd = g.number(arch_name + ".rope.dimension_count"); rd && static_cast<int32_t>(*rd) != hp.head_dim)
    fail_bad_file("partial rotary embeddings are not supported");
  m->qk_rows_permuted = hp.rope == RopeStyle::Interleaved;

  int64_t n_params = 0, bytes = 0;
  for (const auto& t : g.tensors) {
    n_params += t.n_elements();
    bytes += static_cast<int64_t>(t.n_bytes);
  }
  bind_weights(*m, *arch, [&](const std::string& name) -> std::optional<StoredTensor> {
    const GgufTensorInfo* t = g.find_tensor(name);
    if (t == nullptr) return std::nullopt;
    return StoredTensor{t->dtype, std::vector<int64_t>(t->dims.rbegin(), t->dims.rend()), t->data};
  }, true);
  std::string spec_error;
  TokenizerSpec spec;
  try {
    spec = tokenizer_spec_from_gguf(g);
  } catch (const Error& e) {
    spec_error = e.what();
  }
  finish(*m, n_params, bytes, std::move(spec), std::move(spec_error));
  return m;
}

std::unique_ptr<Model> load_hf(const std::string& dir) {
  auto m = std::make_unique<Model>();
  const JsonValue cfg = JsonValue::parse(read_text_file(dir + "/config.json", 4 << 20));
  const JsonValue* mt = cfg.find("model_type");
  const std::string arch_name = mt != nullptr ? mt->as_string("config.json model_type") : "";
  const ArchDef* arch = find_arch(arch_name);
  if (arch == nullptr) fail_bad_file("unsupported model_type '" + arch_name + "' (supported: llama, qwen2)");
  m->architecture = arch_name;
  auto get = [&](const char* key) -> const JsonValue& {
    const JsonValue* v = cfg.find(key);
    if (v == nullptr) fail_bad_file(std::string("config.json is missing ") + key);
    return *v;
  };
  auto as_i32 = [](const JsonValue& v, const char* key) {
    const int64_t x = v.as_int(key);
    if (x < 0 || x > (int64_t{1} << 30)) fail_bad_file(std::string("config.json ") + key + " out of range");
    return static_cast<int32_t>(x);
  };
  HParams& hp = m->hp;
  hp.n_embd = as_i32(get("hidden_size"), "hidden_size");
  hp.n_ff = as_i32(get("intermediate_size"), "intermediate_size");
  hp.n_layer = as_i32(get("num_hidden_layers"), "num_hidden_layers");
  hp.n_head = as_i32(get("num_attention_heads"), "num_attention_heads");
  const JsonValue* kvh = cfg.find("num_key_value_heads");
  hp.n_head_kv = kvh != nullptr && !kvh->is_null() ? as_i32(*kvh, "num_key_value_heads") : hp.n_head;
  hp.n_vocab = as_i32(get("vocab_size"), "vocab_size");
  const JsonValue* ctx = cfg.find("max_position_embeddings");
  hp.n_ctx_train = ctx != nullptr ? as_i32(*ctx, "max_position_embeddings") : 2048;
  if (const JsonValue* e = cfg.find("rms_norm_eps")) hp.rms_eps = static_cast<float>(e->as_number("rms_norm_eps"));
  if (const JsonValue* t = cfg.find("rope_theta")) hp.rope_theta = static_cast<float>(t->as_number("rope_theta"));
  if (const JsonValue* rs = cfg.find("rope_scaling"); rs != nullptr && !rs->is_null()) fail_bad_file("config.json rope_scaling is not supported");
  // transformers >= 5 writes the rope settings as {"rope_parameters": {"rope_type", "rope_theta"}}.
  if (const JsonValue* rp = cfg.find("rope_parameters"); rp != nullptr && !rp->is_null()) {
    const JsonValue* type = rp->find("rope_type");
    const std::string rope_type = type != nullptr ? type->as_string("rope_parameters.rope_type") : "default";
    if (rope_type != "default") fail_bad_file("config.json rope_parameters.rope_type '" + rope_type + "' is not supported (only default)");
    if (const JsonValue* t = rp->find("rope_theta")) hp.rope_theta = static_cast<float>(t->as_number("rope_parameters.rope_theta"));
  }
  hp.head_dim = hp.n_head > 0 ? hp.n_embd / hp.n_head : 0;
  if (const JsonValue* hd = cfg.find("head_dim"); hd != nullptr && !hd->is_null() && as_i32(*hd, "head_dim") != hp.head_dim)
    fail_bad_file("config.json head_dim differs from hidden_size / num_attention_heads, which is not supported");
  hp.rope = RopeStyle::Neox;
  check_hparams(hp);

  std::vector<std::string> paths;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".safetensors") paths.push_back(e.path().string());
  if (paths.empty()) fail_bad_file(dir + " has no .safetensors files");
  std::sort(paths.begin(), paths.end());
  std::vector<SafetensorsFile> files;
  int64_t n_params = 0, bytes = 0;
  for (const auto& p : paths) {
    m->files.push_back(std::make_unique<MappedFile>(p));
    files.push_back(parse_safetensors(m->files.back()->data(), m->files.back()->size()));
    for (const auto& t : files.back().tensors) {
      n_params += t.n_elements();
      bytes += static_cast<int64_t>(t.n_bytes);
    }
  }
  bind_weights(*m, *arch, [&](const std::string& name) -> std::optional<StoredTensor> {
    for (const auto& f : files)
      if (const SafetensorsTensor* t = f.find(name)) return StoredTensor{t->dtype, t->shape, t->data};
    return std::nullopt;
  }, false);
  std::string spec_error;
  TokenizerSpec spec;
  try {
    spec = tokenizer_spec_from_hf(dir);
  } catch (const Error& e) {
    spec_error = e.what();
  }
  finish(*m, n_params, bytes, std::move(spec), std::move(spec_error));
  return m;
}

}  // namespace

std::unique_ptr<Model> load_model(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return load_hf(path);
  if (!fs::exists(path, ec)) throw Error(OL_ERR_IO, "model not found: " + path);
  return load_gguf(path);
}

}  // namespace ol

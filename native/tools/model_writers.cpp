#include "model_writers.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "common/error.h"
#include "common/json.h"
#include "common/mapped_file.h"
#include "cpu/quant.h"
#include "model/safetensors.h"

namespace ol::tools {

namespace fs = std::filesystem;

NamedTensor make_tensor(std::string name, std::vector<int64_t> shape, DType dtype, const std::vector<float>& values) {
  NamedTensor t{std::move(name), std::move(shape), dtype, {}};
  const size_t row = static_cast<size_t>(t.shape.back());
  const size_t rows = values.size() / row;
  t.bytes.resize(rows * row_bytes(dtype, row));
  for (size_t r = 0; r < rows; ++r) quantize_row(dtype, values.data() + r * row, t.bytes.data() + r * row_bytes(dtype, row), row);
  return t;
}

namespace {

std::string json_escape(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"') out += "\\\"";
    else if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else out += static_cast<char>(c);
  }
  return out + "\"";
}

const char* safetensors_dtype(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    default: throw Error(OL_ERR_INVALID_ARGUMENT, "safetensors stores only F32/F16/BF16");
  }
}

template <typename T>
void put(std::vector<uint8_t>& out, T v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  out.insert(out.end(), p, p + sizeof(T));
}
void put_string(std::vector<uint8_t>& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}
void put_number(std::vector<uint8_t>& out, GgufType t, double v) {
  switch (t) {
    case GgufType::U8: put<uint8_t>(out, static_cast<uint8_t>(v)); break;
    case GgufType::I8: put<int8_t>(out, static_cast<int8_t>(v)); break;
    case GgufType::Bool: put<uint8_t>(out, v != 0 ? 1 : 0); break;
    case GgufType::U16: put<uint16_t>(out, static_cast<uint16_t>(v)); break;
    case GgufType::I16: put<int16_t>(out, static_cast<int16_t>(v)); break;
    case GgufType::U32: put<uint32_t>(out, static_cast<uint32_t>(v)); break;
    case GgufType::I32: put<int32_t>(out, static_cast<int32_t>(v)); break;
    case GgufType::F32: put<float>(out, static_cast<float>(v)); break;
    case GgufType::U64: put<uint64_t>(out, static_cast<uint64_t>(v)); break;
    case GgufType::I64: put<int64_t>(out, static_cast<int64_t>(v)); break;
    case GgufType::F64: put<double>(out, v); break;
    default: break;
  }
}

// GPT-2's byte -> printable character table (byte-level BPE vocabularies store tokens this way).
std::vector<std::string> byte_level_chars() {
  std::vector<int> printable;
  for (int b = '!'; b <= '~'; ++b) printable.push_back(b);
  for (int b = 0xA1; b <= 0xAC; ++b) printable.push_back(b);
  for (int b = 0xAE; b <= 0xFF; ++b) printable.push_back(b);
  std::vector<int> code(256, -1);
  for (int b : printable) code[static_cast<size_t>(b)] = b;
  int extra = 0;
  for (int b = 0; b < 256; ++b)
    if (code[static_cast<size_t>(b)] < 0) code[static_cast<size_t>(b)] = 256 + extra++;
  std::vector<std::string> out;
  for (int b = 0; b < 256; ++b) {
    const int cp = code[static_cast<size_t>(b)];
    std::string s;
    if (cp < 0x80) s += static_cast<char>(cp);
    else {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
    out.push_back(s);
  }
  return out;
}

constexpr const char* kChatMl =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + "
    "'\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

struct TinyVocab {
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  std::vector<std::string> merges;
  int32_t bos = 256, eos = 258;
};

TinyVocab tiny_vocab(int n_vocab) {
  if (n_vocab < 259) throw Error(OL_ERR_INVALID_ARGUMENT, "tiny models need n_vocab >= 259");
  TinyVocab v;
  v.tokens = byte_level_chars();
  v.types.assign(256, 1);
  for (const char* s : {"<|endoftext|>", "<|im_start|>", "<|im_end|>"}) {
    v.tokens.emplace_back(s);
    v.types.push_back(3);
  }
  const std::string letters = "etaoinsrhl";
  for (size_t i = 0; static_cast<int>(v.tokens.size()) < n_vocab; ++i) {
    if (i < letters.size() * letters.size()) {
      const std::string a(1, letters[i / letters.size()]), b(1, letters[i % letters.size()]);
      v.tokens.push_back(a + b);
      v.merges.push_back(a + " " + b);
      v.types.push_back(1);
    } else {
      v.tokens.push_back("<|reserved_" + std::to_string(i) + "|>");
      v.types.push_back(3);
    }
  }
  return v;
}

struct HfWeight {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> values;
  bool linear;  // stored in spec.dtype (others stay F32)
};

std::vector<HfWeight> tiny_weights(const TinyModelSpec& s) {
  std::mt19937_64 rng(s.seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int hd = s.n_embd / s.n_head;
  auto random = [&](std::vector<int64_t> shape, float scale, float offset) {
    size_t n = 1;
    for (int64_t d : shape) n *= static_cast<size_t>(d);
    std::vector<float> v(n);
    for (float& x : v) x = offset + scale * normal(rng);
    return v;
  };
  std::vector<HfWeight> w;
  auto add = [&](std::string name, std::vector<int64_t> shape, float scale, float offset, bool linear) {
    std::vector<float> vals = random(shape, scale, offset);
    w.push_back({std::move(name), std::move(shape), std::move(vals), linear});
  };
  const int64_t E = s.n_embd, F = s.n_ff, Q = int64_t{s.n_head} * hd, KV = int64_t{s.n_head_kv} * hd;
  add("model.embed_tokens.weight", {s.n_vocab, E}, 1.0f, 0.0f, false);
  for (int l = 0; l < s.n_layer; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    add(p + "input_layernorm.weight", {E}, 0.1f, 1.0f, false);
    add(p + "self_attn.q_proj.weight", {Q, E}, 1.0f / std::sqrt(static_cast<float>(E)), 0.0f, true);
    add(p + "self_attn.k_proj.weight", {KV, E}, 1.0f / std::sqrt(static_cast<float>(E)), 0.0f, true);
    add(p + "self_attn.v_proj.weight", {KV, E}, 1.0f / std::sqrt(static_cast<float>(E)), 0.0f, true);
    if (s.arch == "qwen2") {
      add(p + "self_attn.q_proj.bias", {Q}, 0.1f, 0.0f, false);
      add(p + "self_attn.k_proj.bias", {KV}, 0.1f, 0.0f, false);
      add(p + "self_attn.v_proj.bias", {KV}, 0.1f, 0.0f, false);
    }
    add(p + "self_attn.o_proj.weight", {E, Q}, 1.0f / std::sqrt(static_cast<float>(Q)), 0.0f, true);
    add(p + "post_attention_layernorm.weight", {E}, 0.1f, 1.0f, false);
    add(p + "mlp.gate_proj.weight", {F, E}, 1.0f / std::sqrt(static_cast<float>(E)), 0.0f, true);
    add(p + "mlp.up_proj.weight", {F, E}, 1.0f / std::sqrt(static_cast<float>(E)), 0.0f, true);
    add(p + "mlp.down_proj.weight", {E, F}, 1.0f / std::sqrt(static_cast<float>(F)), 0.0f, true);
  }
  add("model.norm.weight", {E}, 0.1f, 1.0f, false);
  if (!s.tied_embeddings) add("lm_head.weight", {s.n_vocab, E}, 1.0f / std::sqrt(static_cast<float>(E)), 0.0f, true);
  return w;
}

// llama.cpp's converter reorders q/k rows so that rotary pairs are adjacent (GGUF "llama" rope).
std::vector<float> permute_for_gguf(const std::vector<float>& w, int64_t rows, int64_t cols, int n_heads) {
  std::vector<float> out(w.size());
  const int64_t hd = rows / n_heads, half = hd / 2;
  for (int64_t h = 0; h < n_heads; ++h)
    for (int64_t i = 0; i < half; ++i)
      for (int64_t j = 0; j < 2; ++j) {
        const int64_t dst = h * hd + i * 2 + j, src = h * hd + j * half + i;
        std::memcpy(&out[static_cast<size_t>(dst * cols)], &w[static_cast<size_t>(src * cols)], static_cast<size_t>(cols) * 4);
      }
  return out;
}

std::string gguf_name(const std::string& hf) {
  static const std::map<std::string, std::string> direct{
      {"model.embed_tokens.weight", "token_embd.weight"}, {"model.norm.weight", "output_norm.weight"}, {"lm_head.weight", "output.weight"}};
  if (auto it = direct.find(hf); it != direct.end()) return it->second;
  static const std::vector<std::pair<std::string, std::string>> parts{
      {"input_layernorm.weight", "attn_norm.weight"}, {"self_attn.q_proj.", "attn_q."}, {"self_attn.k_proj.", "attn_k."},
      {"self_attn.v_proj.", "attn_v."}, {"self_attn.o_proj.weight", "attn_output.weight"},
      {"post_attention_layernorm.weight", "ffn_norm.weight"}, {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"}, {"mlp.down_proj.weight", "ffn_down.weight"}};
  const std::string prefix = "model.layers.";
  const size_t dot = hf.find('.', prefix.size());
  const std::string layer = hf.substr(prefix.size(), dot - prefix.size());
  std::string rest = hf.substr(dot + 1);
  for (const auto& [from, to] : parts)
    if (rest.rfind(from, 0) == 0) return "blk." + layer + "." + to + rest.substr(from.size());
  throw Error(OL_ERR_INTERNAL, "no GGUF name for " + hf);
}

}  // namespace

GgufValue gguf_string(std::string s) { GgufValue v; v.type = GgufType::String; v.string = std::move(s); return v; }
GgufValue gguf_u32(uint32_t x) { GgufValue v; v.type = GgufType::U32; v.number = x; return v; }
GgufValue gguf_f32(float x) { GgufValue v; v.type = GgufType::F32; v.number = x; return v; }
GgufValue gguf_bool(bool x) { GgufValue v; v.type = GgufType::Bool; v.number = x ? 1 : 0; return v; }
GgufValue gguf_strings(std::vector<std::string> s) {
  GgufValue v; v.type = GgufType::Array; v.elem_type = GgufType::String; v.strings = std::move(s); return v;
}
GgufValue gguf_numbers(GgufType elem, std::vector<double> n) {
  GgufValue v; v.type = GgufType::Array; v.elem_type = elem; v.numbers = std::move(n); return v;
}

std::vector<uint8_t> safetensors_bytes(const std::vector<NamedTensor>& tensors) {
  std::string header = "{";
  size_t offset = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& t = tensors[i];
    header += (i ? "," : "") + json_escape(t.name) + ":{\"dtype\":\"" + safetensors_dtype(t.dtype) + "\",\"shape\":[";
    for (size_t d = 0; d < t.shape.size(); ++d) header += (d ? "," : "") + std::to_string(t.shape[d]);
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + t.bytes.size()) + "]}";
    offset += t.bytes.size();
  }
  header += "}";
  while ((header.size() + 8) % 8 != 0) header += ' ';
  std::vector<uint8_t> out;
  put<uint64_t>(out, header.size());
  out.insert(out.end(), header.begin(), header.end());
  for (const auto& t : tensors) out.insert(out.end(), t.bytes.begin(), t.bytes.end());
  return out;
}

std::vector<uint8_t> gguf_bytes(const std::vector<std::pair<std::string, GgufValue>>& metadata,
                                const std::vector<NamedTensor>& tensors) {
  constexpr size_t kAlign = 32;
  std::vector<uint8_t> out;
  put<uint32_t>(out, 0x46554747u);
  put<uint32_t>(out, 3);
  put<uint64_t>(out, tensors.size());
  put<uint64_t>(out, metadata.size());
  for (const auto& [key, v] : metadata) {
    put_string(out, key);
    put<uint32_t>(out, static_cast<uint32_t>(v.type));
    if (v.type == GgufType::String) {
      put_string(out, v.string);
    } else if (v.type == GgufType::Array) {
      put<uint32_t>(out, static_cast<uint32_t>(v.elem_type));
      if (v.elem_type == GgufType::String) {
        put<uint64_t>(out, v.strings.size());
        for (const auto& s : v.strings) put_string(out, s);
      } else {
        put<uint64_t>(out, v.numbers.size());
        for (double x : v.numbers) put_number(out, v.elem_type, x);
      }
    } else {
      put_number(out, v.type, v.number);
    }
  }
  size_t offset = 0;
  for (const auto& t : tensors) {
    put_string(out, t.name);
    put<uint32_t>(out, static_cast<uint32_t>(t.shape.size()));
    for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) put<uint64_t>(out, static_cast<uint64_t>(*it));
    put<uint32_t>(out, static_cast<uint32_t>(t.dtype));
    put<uint64_t>(out, offset);
    offset += (t.bytes.size() + kAlign - 1) / kAlign * kAlign;
  }
  out.resize((out.size() + kAlign - 1) / kAlign * kAlign, 0);
  for (const auto& t : tensors) {
    out.insert(out.end(), t.bytes.begin(), t.bytes.end());
    out.resize((out.size() + kAlign - 1) / kAlign * kAlign, 0);
  }
  return out;
}

void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw Error(OL_ERR_IO, "cannot write " + path);
}
void write_text(const std::string& path, const std::string& text) {
  write_file(path, std::vector<uint8_t>(text.begin(), text.end()));
}

void write_tiny_gguf(const TinyModelSpec& s, const std::string& path) {
  const TinyVocab vocab = tiny_vocab(s.n_vocab);
  const std::string a = s.arch;
  std::vector<std::pair<std::string, GgufValue>> meta{
      {"general.architecture", gguf_string(a)},
      {"general.name", gguf_string("tiny-random-" + a)},
      {a + ".context_length", gguf_u32(static_cast<uint32_t>(s.n_ctx))},
      {a + ".embedding_length", gguf_u32(static_cast<uint32_t>(s.n_embd))},
      {a + ".block_count", gguf_u32(static_cast<uint32_t>(s.n_layer))},
      {a + ".feed_forward_length", gguf_u32(static_cast<uint32_t>(s.n_ff))},
      {a + ".attention.head_count", gguf_u32(static_cast<uint32_t>(s.n_head))},
      {a + ".attention.head_count_kv", gguf_u32(static_cast<uint32_t>(s.n_head_kv))},
      {a + ".rope.freq_base", gguf_f32(s.rope_theta)},
      {a + ".attention.layer_norm_rms_epsilon", gguf_f32(s.rms_eps)},
      {"tokenizer.ggml.model", gguf_string("gpt2")},
      {"tokenizer.ggml.pre", gguf_string("gpt2")},
      {"tokenizer.ggml.tokens", gguf_strings(vocab.tokens)},
      {"tokenizer.ggml.token_type", gguf_numbers(GgufType::I32, std::vector<double>(vocab.types.begin(), vocab.types.end()))},
      {"tokenizer.ggml.merges", gguf_strings(vocab.merges)},
      {"tokenizer.ggml.bos_token_id", gguf_u32(static_cast<uint32_t>(vocab.bos))},
      {"tokenizer.ggml.eos_token_id", gguf_u32(static_cast<uint32_t>(vocab.eos))},
      {"tokenizer.ggml.add_bos_token", gguf_bool(false)},
      {"tokenizer.chat_template", gguf_string(kChatMl)},
  };
  const int hd = s.n_embd / s.n_head;
  std::vector<NamedTensor> tensors;
  for (const HfWeight& w : tiny_weights(s)) {
    std::vector<float> values = w.values;
    const bool is_q = w.name.find("q_proj") != std::string::npos, is_k = w.name.find("k_proj") != std::string::npos;
    if (a == "llama" && (is_q || is_k)) {
      const int heads = is_q ? s.n_head : s.n_head_kv;
      const int64_t cols = w.shape.size() == 2 ? w.shape[1] : 1;
      values = permute_for_gguf(values, int64_t{heads} * hd, cols, heads);
    }
    tensors.push_back(make_tensor(gguf_name(w.name), w.shape, w.linear ? s.dtype : DType::F32, values));
  }
  write_file(path, gguf_bytes(meta, tensors));
}

void write_tiny_hf(const TinyModelSpec& s, const std::string& dir) {
  if (dtype_is_quantized(s.dtype)) throw Error(OL_ERR_INVALID_ARGUMENT, "safetensors models are F32, F16 or BF16");
  fs::create_directories(dir);
  const TinyVocab vocab = tiny_vocab(s.n_vocab);
  std::vector<NamedTensor> tensors;
  for (const HfWeight& w : tiny_weights(s)) tensors.push_back(make_tensor(w.name, w.shape, w.linear ? s.dtype : DType::F32, w.values));
  write_file(dir + "/model.safetensors", safetensors_bytes(tensors));
  std::ostringstream cfg;
  cfg << "{\"architectures\":[\"" << (s.arch == "qwen2" ? "Qwen2ForCausalLM" : "LlamaForCausalLM") << "\"],"
      << "\"model_type\":\"" << s.arch << "\",\"hidden_size\":" << s.n_embd << ",\"intermediate_size\":" << s.n_ff
      << ",\"num_hidden_layers\":" << s.n_layer << ",\"num_attention_heads\":" << s.n_head
      << ",\"num_key_value_heads\":" << s.n_head_kv << ",\"vocab_size\":" << s.n_vocab
      << ",\"max_position_embeddings\":" << s.n_ctx << ",\"rms_norm_eps\":" << s.rms_eps << ",\"rope_theta\":" << s.rope_theta
      << ",\"tie_word_embeddings\":" << (s.tied_embeddings ? "true" : "false") << ",\"bos_token_id\":" << vocab.bos
      << ",\"eos_token_id\":" << vocab.eos << ",\"torch_dtype\":\"float32\"}\n";
  write_text(dir + "/config.json", cfg.str());
  std::ostringstream tok;
  tok << "{\"version\":\"1.0\",\"added_tokens\":[";
  for (int id = 256; id < s.n_vocab; ++id) {
    if (vocab.types[static_cast<size_t>(id)] != 3) continue;
    tok << (id > 256 ? "," : "") << "{\"id\":" << id << ",\"content\":" << json_escape(vocab.tokens[static_cast<size_t>(id)])
        << ",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true}";
  }
  tok << "],\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,"
         "\"use_regex\":true},\"decoder\":{\"type\":\"ByteLevel\"},\"model\":{\"type\":\"BPE\",\"vocab\":{";
  for (size_t id = 0; id < vocab.tokens.size(); ++id) tok << (id ? "," : "") << json_escape(vocab.tokens[id]) << ":" << id;
  tok << "},\"merges\":[";
  for (size_t i = 0; i < vocab.merges.size(); ++i) tok << (i ? "," : "") << json_escape(vocab.merges[i]);
  tok << "]}}\n";
  write_text(dir + "/tokenizer.json", tok.str());
  write_text(dir + "/tokenizer_config.json", "{\"bos_token\":\"<|endoftext|>\",\"eos_token\":\"<|im_end|>\",\"add_bos_token\":false,"
                                             "\"chat_template\":" + json_escape(kChatMl) + "}\n");
}

namespace {
struct TargetShape {
  std::string module;  // path below model.layers.N.
  int64_t in, out;
};
TargetShape target_shape(const TinyModelSpec& m, const std::string& t) {
  const int64_t E = m.n_embd, F = m.n_ff, hd = m.n_embd / m.n_head, Q = m.n_head * hd, KV = m.n_head_kv * hd;
  if (t == "q_proj") return {"self_attn.q_proj", E, Q};
  if (t == "k_proj") return {"self_attn.k_proj", E, KV};
  if (t == "v_proj") return {"self_attn.v_proj", E, KV};
  if (t == "o_proj") return {"self_attn.o_proj", Q, E};
  if (t == "gate_proj") return {"mlp.gate_proj", E, F};
  if (t == "up_proj") return {"mlp.up_proj", E, F};
  if (t == "down_proj") return {"mlp.down_proj", F, E};
  throw Error(OL_ERR_INVALID_ARGUMENT, "unknown LoRA target " + t);
}
}  // namespace

void write_tiny_adapter(const TinyModelSpec& m, const TinyAdapterSpec& s, const std::string& dir) {
  fs::create_directories(dir);
  std::mt19937_64 rng(s.seed * 7919 + 13);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<NamedTensor> tensors;
  for (int l = 0; l < m.n_layer; ++l)
    for (const std::string& t : s.targets) {
      const TargetShape ts = target_shape(m, t);
      const std::string key = "base_model.model.model.layers." + std::to_string(l) + "." + ts.module;
      std::vector<float> a(static_cast<size_t>(s.rank * ts.in)), b(static_cast<size_t>(ts.out * s.rank));
      for (float& x : a) x = normal(rng) / std::sqrt(static_cast<float>(ts.in));
      for (float& x : b) x = s.b_scale * normal(rng);
      tensors.push_back(make_tensor(key + ".lora_A.weight", {s.rank, ts.in}, s.dtype, a));
      tensors.push_back(make_tensor(key + ".lora_B.weight", {ts.out, s.rank}, s.dtype, b));
    }
  write_file(dir + "/adapter_model.safetensors", safetensors_bytes(tensors));
  std::string targets;
  for (size_t i = 0; i < s.targets.size(); ++i) targets += (i ? "," : "") + json_escape(s.targets[i]);
  std::ostringstream cfg;
  cfg << "{\"peft_type\":\"LORA\",\"task_type\":\"CAUSAL_LM\",\"base_model_name_or_path\":\"tiny-random\",\"r\":" << s.rank
      << ",\"lora_alpha\":" << s.alpha << ",\"lora_dropout\":0.0,\"bias\":\"none\",\"use_rslora\":" << (s.use_rslora ? "true" : "false")
      << ",\"target_modules\":[" << targets << "]}\n";
  write_text(dir + "/adapter_config.json", cfg.str());
}

void write_merged_hf(const std::string& model_dir, const std::vector<std::pair<std::string, float>>& adapters,
                     const std::string& out_dir) {
  fs::create_directories(out_dir);
  MappedFile model_file(model_dir + "/model.safetensors");
  const SafetensorsFile model = parse_safetensors(model_file.data(), model_file.size());
  std::map<std::string, std::vector<float>> weights;
  std::vector<const SafetensorsTensor*> order;
  for (const auto& t : model.tensors) {
    std::vector<float> v(static_cast<size_t>(t.n_elements()));
    dequantize_row(t.dtype, t.data, v.data(), v.size());
    weights[t.name] = std::move(v);
    order.push_back(&t);
  }
  for (const auto& [dir, weight] : adapters) {
    const JsonValue cfg = JsonValue::parse(read_text_file(dir + "/adapter_config.json", 1 << 20));
    const double r = static_cast<double>(cfg.find("r")->as_int("r"));
    const double alpha = cfg.find("lora_alpha")->as_number("lora_alpha");
    const JsonValue* rs = cfg.find("use_rslora");
    const double scale = (rs != nullptr && rs->as_bool("use_rslora")) ? alpha / std::sqrt(r) : alpha / r;
    MappedFile af(dir + "/adapter_model.safetensors");
    const SafetensorsFile ad = parse_safetensors(af.data(), af.size());
    for (const auto& ta : ad.tensors) {
      const std::string suffix = ".lora_A.weight";
      if (ta.name.size() < suffix.size() || ta.name.compare(ta.name.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
      const std::string base = ta.name.substr(0, ta.name.size() - suffix.size());
      const SafetensorsTensor* tb = ad.find(base + ".lora_B.weight");
      const std::string target = base.substr(std::string("base_model.model.").size()) + ".weight";
      auto it = weights.find(target);
      if (tb == nullptr || it == weights.end()) throw Error(OL_ERR_BAD_FILE, "cannot merge " + ta.name);
      const int64_t rank = ta.shape[0], in = ta.shape[1], out = tb->shape[0];
      std::vector<float> A(static_cast<size_t>(rank * in)), B(static_cast<size_t>(out * rank));
      dequantize_row(ta.dtype, ta.data, A.data(), A.size());
      dequantize_row(tb->dtype, tb->data, B.data(), B.size());
      std::vector<float>& W = it->second;
      for (int64_t o = 0; o < out; ++o)
        for (int64_t i = 0; i < in; ++i) {
          double acc = 0;
          for (int64_t k = 0; k < rank; ++k) acc += static_cast<double>(B[static_cast<size_t>(o * rank + k)]) * A[static_cast<size_t>(k * in + i)];
          W[static_cast<size_t>(o * in + i)] += static_cast<float>(weight * scale * acc);
        }
    }
  }
  std::vector<NamedTensor> tensors;
  for (const SafetensorsTensor* t : order) tensors.push_back(make_tensor(t->name, t->shape, DType::F32, weights[t->name]));
  write_file(out_dir + "/model.safetensors", safetensors_bytes(tensors));
  for (const char* f : {"config.json", "tokenizer.json", "tokenizer_config.json"})
    if (fs::exists(model_dir + "/" + f)) fs::copy_file(model_dir + "/" + f, out_dir + "/" + f, fs::copy_options::overwrite_existing);
}

}  // namespace ol::tools

#include "model/tokenizer_spec.h"

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <filesystem>

#include "common/error.h"
#include "common/json.h"
#include "common/mapped_file.h"

namespace ol {

namespace {

// An id outside the vocabulary is ignored, as llama.cpp does ("bad special token").
int32_t id_or(const GgufFile& g, const std::string& key, int32_t fallback, size_t n_tokens) {
  auto v = g.number(key);
  return v && *v >= 0 && *v < static_cast<double>(n_tokens) ? static_cast<int32_t>(*v) : fallback;
}

}  // namespace

TokenizerSpec tokenizer_spec_from_gguf(const GgufFile& g) {
  TokenizerSpec s;
  const auto model = g.string("tokenizer.ggml.model");
  if (!model) fail_bad_file("GGUF has no tokenizer (tokenizer.ggml.model missing)");
  if (*model == "gpt2") s.kind = TokenizerKind::BytePairGpt2;
  else if (*model == "llama") s.kind = TokenizerKind::SentencePiece;
  else fail_bad_file("unsupported tokenizer model '" + *model + "'");
  s.pre = g.string("tokenizer.ggml.pre").value_or("default");
  const GgufValue* tokens = g.find("tokenizer.ggml.tokens");
  if (tokens == nullptr || tokens->elem_type != GgufType::String || tokens->strings.empty())
    fail_bad_file("GGUF tokenizer.ggml.tokens missing or not strings");
  s.tokens = tokens->strings;
  if (const GgufValue* v = g.find("tokenizer.ggml.scores"); v != nullptr && !v->numbers.empty()) {
    for (double x : v->numbers)
      if (std::isfinite(x) && std::fabs(x) > FLT_MAX) fail_bad_file("GGUF tokenizer.ggml.scores value out of float range");
    s.scores.assign(v->numbers.begin(), v->numbers.end());
  }
  if (const GgufValue* v = g.find("tokenizer.ggml.token_type"); v != nullptr)
    for (double t : v->numbers) {
      if (!(t >= INT32_MIN && t <= INT32_MAX)) fail_bad_file("GGUF tokenizer.ggml.token_type value out of range");
      s.types.push_back(static_cast<TokenType>(static_cast<int32_t>(t)));
    }
  if (const GgufValue* v = g.find("tokenizer.ggml.merges"); v != nullptr) s.merges = v->strings;
  const size_t n = s.tokens.size();
  s.bos_id = id_or(g, "tokenizer.ggml.bos_token_id", -1, n);
  s.eos_id = id_or(g, "tokenizer.ggml.eos_token_id", -1, n);
  s.unk_id = id_or(g, "tokenizer.ggml.unknown_token_id", -1, n);
  s.pad_id = id_or(g, "tokenizer.ggml.padding_token_id", -1, n);
  s.eot_id = id_or(g, "tokenizer.ggml.eot_token_id", -1, n);
  s.add_bos = g.number("tokenizer.ggml.add_bos_token").value_or(s.kind == TokenizerKind::SentencePiece ? 1 : 0) != 0;
  s.add_eos = g.number("tokenizer.ggml.add_eos_token").value_or(0) != 0;
  s.add_space_prefix = g.number("tokenizer.ggml.add_space_prefix").value_or(s.kind == TokenizerKind::SentencePiece ? 1 : 0) != 0;
  s.chat_template = g.string("tokenizer.chat_template").value_or("");
  return s;
}

TokenizerSpec tokenizer_spec_from_tokenizer_json(const std::string& text, const std::string& model_type) {
  const JsonValue root = JsonValue::parse(text);
  const JsonValue* model = root.find("model");
  if (model == nullptr) fail_bad_file("tokenizer.json has no model");
  const JsonValue* type = model->find("type");
  if (type == nullptr || type->as_string("tokenizer.json model.type") != "BPE")
    fail_bad_file("tokenizer.json: only BPE models are supported");
  TokenizerSpec s;
  s.kind = TokenizerKind::BytePairGpt2;
  const JsonValue* vocab = model->find("vocab");
  if (vocab == nullptr) fail_bad_file("tokenizer.json has no model.vocab");
  const auto& entries = vocab->as_object("tokenizer.json model.vocab");
  auto place = [&](int64_t id, const std::string& tok, TokenType tt) {
    if (id < 0 || id >= (int64_t{1} << 22)) fail_bad_file("tokenizer.json token id out of range");
    if (static_cast<size_t>(id) >= s.tokens.size()) {
      s.tokens.resize(static_cast<size_t>(id) + 1);
      s.types.resize(static_cast<size_t>(id) + 1, TokenType::Unused);
    }
    s.tokens[static_cast<size_t>(id)] = tok;
    s.types[static_cast<size_t>(id)] = tt;
  };
  for (const auto& [tok, id] : entries) place(id.as_int("tokenizer.json vocab id"), tok, TokenType::Normal);
  if (const JsonValue* merges = model->find("merges"))
    for (const JsonValue& m : merges->as_array("tokenizer.json merges")) {
      if (m.is_string()) {
        s.merges.push_back(m.as_string("merge"));
      } else {
        const auto& pair = m.as_array("merge");
        if (pair.size() != 2) fail_bad_file("tokenizer.json merge is not a pair");
        s.merges.push_back(pair[0].as_string("merge") + " " + pair[1].as_string("merge"));
      }
    }
  if (const JsonValue* added = root.find("added_tokens"))
    for (const JsonValue& a : added->as_array("tokenizer.json added_tokens")) {
      const JsonValue* id = a.find("id");
      const JsonValue* content = a.find("content");
      if (id == nullptr || content == nullptr) fail_bad_file("tokenizer.json added token needs id and content");
      const JsonValue* special = a.find("special");
      place(id->as_int("added token id"), content->as_string("added token content"),
            special != nullptr && special->as_bool("added token special") ? TokenType::Control : TokenType::UserDefined);
    }
  // Pre-tokenizer: SmolLM-style (digits split, then byte level), Llama-3/Qwen2 regex splits, or GPT-2.
  s.pre = "gpt2";
  if (model_type == "qwen2") s.pre = "qwen2";
  if (const JsonValue* pre = root.find("pre_tokenizer"); pre != nullptr && pre->is_object()) {
    const JsonValue* ptype = pre->find("type");
    if (ptype != nullptr && ptype->is_string() && ptype->as_string("pre_tokenizer.type") == "Sequence") {
      const JsonValue* list = pre->find("pretokenizers");
      if (list != nullptr)
        for (const JsonValue& p : list->as_array("pretokenizers")) {
          const JsonValue* t = p.find("type");
          if (t == nullptr || !t->is_string()) continue;
          if (t->as_string("type") == "Digits") s.pre = "smollm";
          if (t->as_string("type") == "Split" && model_type != "qwen2") s.pre = "llama-bpe";
        }
    }
  }
  return s;
}

TokenizerSpec tokenizer_spec_from_hf(const std::string& dir, const std::string& model_type) {
  if (!std::filesystem::exists(dir + "/tokenizer.json")) fail_bad_file(dir + " has no tokenizer.json");
  TokenizerSpec s = tokenizer_spec_from_tokenizer_json(read_text_file(dir + "/tokenizer.json", 64 << 20), model_type);
  auto id_of = [&](const std::string& tok) {
    for (size_t i = 0; i < s.tokens.size(); ++i)
      if (s.tokens[i] == tok) return static_cast<int32_t>(i);
    return int32_t{-1};
  };
  if (std::filesystem::exists(dir + "/tokenizer_config.json")) {
    const JsonValue cfg = JsonValue::parse(read_text_file(dir + "/tokenizer_config.json", 16 << 20));
    auto token_field = [&](const char* key) -> int32_t {
      const JsonValue* v = cfg.find(key);
      if (v == nullptr || v->is_null()) return -1;
      if (v->is_string()) return id_of(v->as_string(key));
      const JsonValue* content = v->find("content");
      return content != nullptr ? id_of(content->as_string(key)) : -1;
    };
    s.bos_id = token_field("bos_token");
    s.eos_id = token_field("eos_token");
    s.unk_id = token_field("unk_token");
    s.pad_id = token_field("pad_token");
    if (const JsonValue* v = cfg.find("add_bos_token"); v != nullptr && v->is_bool()) s.add_bos = v->as_bool("add_bos_token");
    if (const JsonValue* v = cfg.find("chat_template"); v != nullptr && v->is_string()) s.chat_template = v->as_string("chat_template");
  }
  return s;
}

}  // namespace ol

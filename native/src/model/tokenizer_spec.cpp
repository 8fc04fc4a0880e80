#include "model/tokenizer_spec.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <vector>

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

namespace {

// Reading tokenizer.json: each part is checked against the layouts Hugging Face converters write,
// and anything else is refused naming the part, since guessing would tokenize differently.
[[noreturn]] void unsupported(const std::string& what) { fail_bad_file("tokenizer.json: " + what + " is not supported"); }

const std::string& type_of(const JsonValue& node, const std::string& where) {
  const JsonValue* type = node.find("type");
  if (type == nullptr) fail_bad_file("tokenizer.json: " + where + " has no type");
  return type->as_string(where + ".type");
}

bool bool_or(const JsonValue& node, const char* key, bool fallback) {
  const JsonValue* v = node.find(key);
  return v == nullptr || v->is_null() ? fallback : v->as_bool(key);
}

std::string string_or(const JsonValue& node, const char* key, const std::string& fallback) {
  const JsonValue* v = node.find(key);
  return v == nullptr || v->is_null() ? fallback : v->as_string(key);
}

// The steps of a Sequence (its `list_key` array), or the node itself; none for null.
std::vector<const JsonValue*> steps_of(const JsonValue* node, const char* list_key, const std::string& where) {
  std::vector<const JsonValue*> steps;
  if (node == nullptr || node->is_null()) return steps;
  if (type_of(*node, where) != "Sequence") return {node};
  const JsonValue* list = node->find(list_key);
  if (list == nullptr) fail_bad_file("tokenizer.json: " + where + " Sequence has no " + list_key);
  for (const JsonValue& step : list->as_array(where)) {
    if (type_of(step, where) == "Sequence") unsupported("a nested " + where + " Sequence");
    steps.push_back(&step);
  }
  return steps;
}

// A Split or Replace pattern: {"String": s} or {"Regex": r}.
std::string pattern_of(const JsonValue& node, const std::string& where, bool* is_regex) {
  const JsonValue* pattern = node.find("pattern");
  if (pattern == nullptr) fail_bad_file("tokenizer.json: " + where + " has no pattern");
  if (const JsonValue* regex = pattern->find("Regex")) {
    *is_regex = true;
    return regex->as_string(where + " pattern");
  }
  if (const JsonValue* text = pattern->find("String")) {
    *is_regex = false;
    return text->as_string(where + " pattern");
  }
  fail_bad_file("tokenizer.json: " + where + " pattern is neither String nor Regex");
}


// The Split regexes of the converters whose rules pre_tokenizer.cpp implements, by the llama.cpp
// name of those rules (GPT-2's is also ByteLevel's own regex).
const std::pair<const char*, const char*> kSplitRegexes[] = {
    {"gpt-2", R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)"},
    {"llama-bpe", R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"},
    {"qwen2", R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"},
};

void read_normalizer(const JsonValue& root, TokenizerSpec& s) {
  HfTokenizerOptions& hf = *s.hf;
  for (const JsonValue* step : steps_of(root.find("normalizer"), "normalizers", "normalizer")) {
    const std::string& type = type_of(*step, "normalizer");
    if (type == "NFC") {
      hf.nfc = true;
    } else if (type == "Prepend" && string_or(*step, "prepend", "") == kSpaceSymbol) {
      hf.space_prefix = SpacePrefix::EveryPiece;
    } else if (type == "Replace") {
      bool regex = false;
      if (pattern_of(*step, "normalizer Replace", &regex) != " " || regex || string_or(*step, "content", "") != kSpaceSymbol)
        unsupported("normalizer Replace other than ' ' -> '▁'");
      hf.spaces_in_normalizer = true;
    } else {
      unsupported("normalizer " + type);
    }
  }
  if (hf.space_prefix == SpacePrefix::EveryPiece && !hf.spaces_in_normalizer)
    unsupported("normalizer Prepend('▁') without Replace(' ', '▁')");
}

// Byte-level: ByteLevel (GPT-2 regex), Digits + ByteLevel (SmolLM), or a known Split regex then
// ByteLevel without its regex (Llama 3, Qwen2). '▁'-spaced: none, or Metaspace.
void read_pre_tokenizer(const JsonValue& root, TokenizerSpec& s) {
  HfTokenizerOptions& hf = *s.hf;
  const std::vector<const JsonValue*> steps = steps_of(root.find("pre_tokenizer"), "pretokenizers", "pre_tokenizer");
  std::vector<std::string> names;
  for (const JsonValue* step : steps) names.push_back(type_of(*step, "pre_tokenizer"));
  std::string joined;
  for (const std::string& name : names) joined += (joined.empty() ? "" : ", ") + name;
  const auto refuse = [&](const std::string& why) { unsupported("pre_tokenizer [" + joined + "]" + why); };

  if (!names.empty() && names.back() == "ByteLevel") {
    const JsonValue& byte_level = *steps.back();
    if (bool_or(byte_level, "add_prefix_space", true)) refuse(" with ByteLevel add_prefix_space");
    const bool own_regex = bool_or(byte_level, "use_regex", true);
    s.kind = TokenizerKind::BytePairGpt2;
    if (names.size() == 1 && own_regex) {
      s.pre = "gpt-2";
    } else if (names.size() == 2 && names[0] == "Digits" && own_regex) {
      if (!bool_or(*steps[0], "individual_digits", false)) refuse(" with Digits not individual");
      s.pre = "smollm";
    } else if (names.size() == 2 && names[0] == "Split" && !own_regex) {
      bool regex = false;
      const std::string pattern = pattern_of(*steps[0], "pre_tokenizer Split", &regex);
      if (string_or(*steps[0], "behavior", "") != "Isolated" || bool_or(*steps[0], "invert", false))
        refuse(" with a Split that is not Isolated");
      for (const auto& [name, known] : kSplitRegexes)
        if (regex && pattern == known) s.pre = name;
      if (s.pre.empty()) refuse(" with Split pattern '" + pattern + "' (known: the GPT-2, Llama 3 and Qwen2 regexes)");
    } else {
      refuse("");
    }
    if (hf.spaces_in_normalizer) unsupported("a byte-level pre_tokenizer after a normalizer that writes '▁'");
    return;
  }
  s.kind = TokenizerKind::BytePairSpaceSymbol;
  if (names.empty()) {
    if (!hf.spaces_in_normalizer) unsupported("a BPE model with neither a pre_tokenizer nor a normalizer writing '▁'");
    return;
  }
  if (names.size() != 1 || names[0] != "Metaspace") refuse("");
  if (hf.spaces_in_normalizer) refuse(" after a normalizer that writes '▁'");
  const JsonValue& metaspace = *steps[0];
  if (string_or(metaspace, "replacement", std::string(kSpaceSymbol)) != kSpaceSymbol) refuse(" with a replacement other than '▁'");
  const std::string scheme = string_or(metaspace, "prepend_scheme", bool_or(metaspace, "add_prefix_space", true) ? "always" : "never");
  if (scheme == "always") hf.space_prefix = SpacePrefix::EveryPieceWithoutSpace;
  else if (scheme == "first") hf.space_prefix = SpacePrefix::FirstPieceWithoutSpace;
  else if (scheme != "never") refuse(" with prepend_scheme '" + scheme + "'");
  hf.split_on_space_symbol = bool_or(metaspace, "split", true);
}

// ByteLevel for byte-level BPE; for '▁'-spaced BPE the Llama-2 sequence Replace('▁', ' '),
// ByteFallback, Fuse, Strip(' ', 0 or 1, 0), or a Metaspace decoder.
void read_decoder(const JsonValue& root, TokenizerSpec& s) {
  HfTokenizerOptions& hf = *s.hf;
  const std::vector<const JsonValue*> steps = steps_of(root.find("decoder"), "decoders", "decoder");
  const bool byte_level = s.kind == TokenizerKind::BytePairGpt2;
  if (steps.empty()) unsupported("a BPE model without a decoder");
  bool spaces_back = false;
  for (const JsonValue* step : steps) {
    const std::string& type = type_of(*step, "decoder");
    if (byte_level) {
      if (type != "ByteLevel") unsupported("decoder " + type + " for byte-level BPE");
      continue;
    }
    if (type == "Replace") {
      bool regex = false;
      if (pattern_of(*step, "decoder Replace", &regex) != kSpaceSymbol || regex || string_or(*step, "content", "") != " ")
        unsupported("decoder Replace other than '▁' -> ' '");
      spaces_back = true;
    } else if (type == "Strip") {
      const JsonValue* start = step->find("start");
      const JsonValue* stop = step->find("stop");
      const int64_t first = start == nullptr ? 0 : start->as_int("decoder Strip start");
      if (string_or(*step, "content", "") != " " || first > 1 || first < 0 || (stop != nullptr && stop->as_int("decoder Strip stop") != 0))
        unsupported("decoder Strip other than one leading space");
      hf.decode_strips_leading_space = first == 1;
    } else if (type == "Metaspace") {
      spaces_back = true;
      hf.decode_strips_leading_space = string_or(*step, "prepend_scheme", bool_or(*step, "add_prefix_space", true) ? "always" : "never") != "never";
    } else if (type == "ByteFallback") {
      hf.decode_byte_fallback = true;
    } else if (type != "Fuse") {
      unsupported("decoder " + type + " for '▁'-spaced BPE");
    }
  }
  if (!byte_level && !spaces_back) unsupported("a '▁'-spaced BPE decoder that does not turn '▁' back into spaces");
}

// TemplateProcessing's single-sequence template: special tokens before $A become BOS, after it EOS.
void read_post_processor(const JsonValue& root, TokenizerSpec& s, const std::map<std::string, int32_t>& ids) {
  for (const JsonValue* step : steps_of(root.find("post_processor"), "processors", "post_processor")) {
    const std::string& type = type_of(*step, "post_processor");
    if (type == "ByteLevel") continue;  // offsets only
    if (type != "TemplateProcessing") unsupported("post_processor " + type);
    const JsonValue* single = step->find("single");
    if (single == nullptr) fail_bad_file("tokenizer.json: TemplateProcessing has no single template");
    std::vector<int32_t> before, after;
    bool seen_sequence = false;
    for (const JsonValue& piece : single->as_array("TemplateProcessing single")) {
      if (piece.find("Sequence") != nullptr) {
        if (seen_sequence) unsupported("TemplateProcessing with two sequences in its single template");
        seen_sequence = true;
      } else if (const JsonValue* special = piece.find("SpecialToken")) {
        const JsonValue* name = special->find("id");
        if (name == nullptr) fail_bad_file("tokenizer.json: TemplateProcessing special token has no id");
        const auto it = ids.find(name->as_string("TemplateProcessing special token"));
        if (it == ids.end()) fail_bad_file("tokenizer.json: TemplateProcessing names unknown token '" + name->as_string("") + "'");
        (seen_sequence ? after : before).push_back(it->second);
      } else {
        fail_bad_file("tokenizer.json: TemplateProcessing piece is neither Sequence nor SpecialToken");
      }
    }
    if (!seen_sequence) fail_bad_file("tokenizer.json: TemplateProcessing single template has no $A");
    if (before.size() > 1 || after.size() > 1) unsupported("TemplateProcessing adding more than one token before or after $A");
    s.add_bos = !before.empty();
    s.add_eos = !after.empty();
    if (s.add_bos) s.bos_id = before[0];
    if (s.add_eos) s.eos_id = after[0];
  }
}

TokenizerSpec read_tokenizer_json(const std::string& text, bool* has_post_processor) {
  const JsonValue root = JsonValue::parse(text);
  const JsonValue* model = root.find("model");
  if (model == nullptr) fail_bad_file("tokenizer.json has no model");
  const std::string& model_type = type_of(*model, "model");
  if (model_type != "BPE") unsupported("model.type '" + model_type + "' (only BPE)");
  if (const JsonValue* dropout = model->find("dropout"); dropout != nullptr && !dropout->is_null())
    unsupported("BPE dropout");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (!string_or(*model, key, "").empty()) unsupported(std::string("BPE ") + key);
  TokenizerSpec s;
  s.hf.emplace();
  HfTokenizerOptions& hf = *s.hf;
  hf.byte_fallback = bool_or(*model, "byte_fallback", false);
  hf.fuse_unk = bool_or(*model, "fuse_unk", false);
  hf.ignore_merges = bool_or(*model, "ignore_merges", false);

  const JsonValue* vocab = model->find("vocab");
  if (vocab == nullptr) fail_bad_file("tokenizer.json has no model.vocab");
  std::map<std::string, int32_t> ids;  // every token's text, for the post-processor and unk_token
  auto place = [&](int64_t id, const std::string& tok, TokenType tt) {
    if (id < 0 || id >= (int64_t{1} << 22)) fail_bad_file("tokenizer.json token id " + std::to_string(id) + " out of range");
    if (static_cast<size_t>(id) >= s.tokens.size()) {
      s.tokens.resize(static_cast<size_t>(id) + 1);
      s.types.resize(static_cast<size_t>(id) + 1, TokenType::Unused);
    }
    s.tokens[static_cast<size_t>(id)] = tok;
    s.types[static_cast<size_t>(id)] = tt;
    ids[tok] = static_cast<int32_t>(id);
  };
  for (const auto& [tok, id] : vocab->as_object("tokenizer.json model.vocab")) place(id.as_int("tokenizer.json vocab id"), tok, TokenType::Normal);
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
  if (const std::string unk = string_or(*model, "unk_token", ""); !unk.empty()) {
    const auto it = ids.find(unk);
    if (it == ids.end()) fail_bad_file("tokenizer.json: model.unk_token '" + unk + "' is not in the vocabulary");
    s.unk_id = it->second;
  }
  std::vector<std::pair<int64_t, AddedTokenMatch>> matches;
  if (const JsonValue* added = root.find("added_tokens"))
    for (const JsonValue& a : added->as_array("tokenizer.json added_tokens")) {
      const JsonValue* id = a.find("id");
      const JsonValue* content = a.find("content");
      if (id == nullptr || content == nullptr) fail_bad_file("tokenizer.json added token needs id and content");
      if (content->as_string("added token content").empty()) fail_bad_file("tokenizer.json added token with empty content");
      if (bool_or(a, "single_word", false)) unsupported("added token '" + content->as_string("") + "' with single_word");
      place(id->as_int("added token id"), content->as_string("added token content"),
            bool_or(a, "special", false) ? TokenType::Control : TokenType::UserDefined);
      matches.push_back({id->as_int(""), {bool_or(a, "lstrip", false), bool_or(a, "rstrip", false), bool_or(a, "normalized", true)}});
    }
  hf.added_token_match.resize(s.tokens.size());
  for (const auto& [id, match] : matches) hf.added_token_match[static_cast<size_t>(id)] = match;

  read_normalizer(root, s);
  read_pre_tokenizer(root, s);
  read_decoder(root, s);
  read_post_processor(root, s, ids);
  const JsonValue* post = root.find("post_processor");
  *has_post_processor = post != nullptr && !post->is_null();
  return s;
}

}  // namespace

TokenizerSpec tokenizer_spec_from_tokenizer_json(const std::string& text) {
  bool has_post_processor = false;
  return read_tokenizer_json(text, &has_post_processor);
}

TokenizerSpec tokenizer_spec_from_hf(const std::string& dir) {
  if (!std::filesystem::exists(dir + "/tokenizer.json")) fail_bad_file(dir + " has no tokenizer.json");
  bool has_post_processor = false;
  TokenizerSpec s = read_tokenizer_json(read_text_file(dir + "/tokenizer.json", 64 << 20), &has_post_processor);
  if (std::filesystem::exists(dir + "/tokenizer_config.json")) {
    const JsonValue cfg = JsonValue::parse(read_text_file(dir + "/tokenizer_config.json", 16 << 20));
    // A token field is its text or an AddedToken object {"content": ...}; -1 when absent or unknown.
    auto token_field = [&](const char* key) -> int32_t {
      const JsonValue* v = cfg.find(key);
      if (v == nullptr || v->is_null()) return -1;
      const JsonValue* content = v->is_string() ? v : v->find("content");
      if (content == nullptr) return -1;
      const auto it = std::find(s.tokens.begin(), s.tokens.end(), content->as_string(key));
      return it == s.tokens.end() ? -1 : static_cast<int32_t>(it - s.tokens.begin());
    };
    // tokenizer.json's post-processor says what encode adds; the config names the tokens.
    if (const int32_t bos = token_field("bos_token"); bos >= 0 && !s.add_bos) s.bos_id = bos;
    if (const int32_t eos = token_field("eos_token"); eos >= 0) {
      if (s.add_eos && eos != s.eos_id)
        fail_bad_file("tokenizer.json's post_processor appends '" + s.tokens[static_cast<size_t>(s.eos_id)] +
                      "' but tokenizer_config.json's eos_token is '" + s.tokens[static_cast<size_t>(eos)] + "'");
      s.eos_id = eos;
    }
    if (s.unk_id < 0) s.unk_id = token_field("unk_token");
    s.pad_id = token_field("pad_token");
    // Without a post-processor, the config's add_bos_token / add_eos_token say it.
    if (!has_post_processor) {
      s.add_bos = s.bos_id >= 0 && bool_or(cfg, "add_bos_token", false);
      s.add_eos = s.eos_id >= 0 && bool_or(cfg, "add_eos_token", false);
    }
    if (const JsonValue* v = cfg.find("chat_template"); v != nullptr && !v->is_null()) {
      if (v->is_string()) {
        s.chat_template = v->as_string("chat_template");
      } else {
        // A list of named templates: the one called "default".
        for (const JsonValue& named : v->as_array("chat_template"))
          if (string_or(named, "name", "") == "default") s.chat_template = string_or(named, "template", "");
      }
    }
  }
  // Newer exports keep the template in its own file.
  if (std::filesystem::exists(dir + "/chat_template.jinja")) s.chat_template = read_text_file(dir + "/chat_template.jinja", 16 << 20);
  return s;
}

}  // namespace ol

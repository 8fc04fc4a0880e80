// Tokenizer interface between the model loaders and the tokenizer implementations.
// A loader (GGUF metadata or tokenizer.json) fills a TokenizerSpec; make_tokenizer() builds the
// matching implementation. The tokenizer never reads files itself, so it can be fuzzed on specs.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ol {

enum class TokenizerKind {
  BytePairGpt2,   // GGUF tokenizer.ggml.model = "gpt2" / tokenizer.json BPE with ByteLevel
  SentencePiece,  // GGUF tokenizer.ggml.model = "llama" (SPM, byte fallback)
};

// Same numbering as GGUF's tokenizer.ggml.token_type.
enum class TokenType : int32_t {
  Undefined = 0, Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6,
};

struct TokenizerSpec {
  TokenizerKind kind = TokenizerKind::BytePairGpt2;
  // GGUF tokenizer.ggml.pre ("smollm", "llama-bpe", "qwen2", "gpt2", "default", ...): picks the
  // pre-tokenizer split rules, as llama.cpp does.
  std::string pre;
  std::vector<std::string> tokens;      // id -> token text (as stored: byte-level encoded for gpt2)
  std::vector<float> scores;            // SentencePiece scores (may be empty for BPE)
  std::vector<TokenType> types;         // may be empty: all Normal
  std::vector<std::string> merges;      // BPE merges "a b", highest priority first
  int32_t bos_id = -1, eos_id = -1, unk_id = -1, pad_id = -1, eot_id = -1;
  bool add_bos = false, add_eos = false;
  bool add_space_prefix = false;        // SentencePiece: prepend a space
  std::string chat_template;            // jinja source from metadata (may be empty)
};

// Immutable once made: every method is const and keeps no cache, so one tokenizer may serve many
// threads at once.
class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // add_special: BOS/EOS as the spec says; parse_special: control/user-defined tokens in the text
  // are matched as single tokens.
  virtual std::vector<int32_t> encode(std::string_view text, bool add_special,
                                      bool parse_special) const = 0;
  // The bytes of one token (byte-level decoded, SentencePiece '▁' -> ' ', <0xNN> -> byte): possibly
  // part of a UTF-8 character, so a stream must hold incomplete sequences back before showing them.
  // Control tokens give "" unless render_special. Throws std::out_of_range for an id outside the
  // vocabulary (so does decode).
  virtual std::string token_to_piece(int32_t id, bool render_special) const = 0;
  virtual std::string decode(const std::vector<int32_t>& ids, bool render_special) const = 0;
  virtual int32_t n_vocab() const = 0;
  virtual const TokenizerSpec& spec() const = 0;
};

// Throws std::runtime_error with a clear message when the spec is inconsistent (ids out of range,
// unknown kind or pre-tokenizer, merges naming unknown tokens...).
std::unique_ptr<Tokenizer> make_tokenizer(TokenizerSpec spec);

struct ChatMessage {
  std::string role;
  std::string content;
};

// Renders a conversation with the model's template. Recognises the ChatML family (<|im_start|>),
// the Llama-3 format (<|start_header_id|>) and Llama-2 [INST] from the template source; throws
// std::runtime_error naming the template when it is not recognised.
std::string apply_chat_template(const TokenizerSpec& spec, const std::vector<ChatMessage>& messages,
                                bool add_generation_prompt);

}  // namespace ol

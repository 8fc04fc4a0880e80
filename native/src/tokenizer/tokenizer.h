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

// U+2581 '▁': SentencePiece's (and '▁'-spaced BPE's) stand-in for a space.
inline constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";

enum class TokenizerKind {
  BytePairGpt2,   // GGUF tokenizer.ggml.model = "gpt2" / tokenizer.json BPE with ByteLevel
  SentencePiece,  // GGUF tokenizer.ggml.model = "llama" (SPM, byte fallback)
  // tokenizer.json BPE over text whose spaces are '▁' (U+2581), merged by merge rank, with <0xNN>
  // byte fallback: the Llama-2 / Mistral layout. Needs `hf`.
  BytePairSpaceSymbol,
};

// Same numbering as GGUF's tokenizer.ggml.token_type.
enum class TokenType : int32_t {
  Undefined = 0, Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6,
};

// Where a tokenizer.json puts a '▁' before a piece of text (a piece: the text between added tokens).
enum class SpacePrefix {
  None,
  EveryPiece,               // normalizer Prepend("▁")
  EveryPieceWithoutSpace,   // Metaspace prepend_scheme "always": unless the piece starts with a space
  FirstPieceWithoutSpace,   // Metaspace prepend_scheme "first": only the piece at the text's start
};

// How a tokenizer.json token from added_tokens is matched in text.
struct AddedTokenMatch {
  bool lstrip = false, rstrip = false;  // the match takes the whitespace before / after it
  bool normalized = false;              // matched in the normalized text (see spaces_in_normalizer)
};

// What a tokenizer.json asks for where Hugging Face `tokenizers` and llama.cpp differ. Set by the
// tokenizer.json loader; with it the tokenizer reproduces `tokenizers`: added tokens are matched
// leftmost-longest (special ones only with parse_special, as `encode_special_tokens` = false),
// BPE symbols outside the vocabulary fall back to <0xNN> tokens or the unknown token, decoding
// skips special tokens unless render_special and applies no llama.cpp space clean-up.
struct HfTokenizerOptions {
  bool ignore_merges = false;  // model.ignore_merges: a word that is a token is not merged
  bool byte_fallback = false;  // model.byte_fallback
  bool fuse_unk = false;       // model.fuse_unk: adjacent unknown symbols give one unknown token
  bool nfc = false;            // normalizer NFC
  // BytePairSpaceSymbol: the normalizer's or Metaspace pre-tokenizer's '▁' prefix; Metaspace
  // split (each '▁' starts a new word).
  SpacePrefix space_prefix = SpacePrefix::None;
  bool split_on_space_symbol = false;
  // The normalizer (Replace " " -> "▁") writes the '▁'s, not a Metaspace pre-tokenizer: added
  // tokens marked normalized are then matched, normalized, in the normalized text.
  bool spaces_in_normalizer = false;
  bool decode_strips_leading_space = false;  // decoder Strip(" ", 1, 0), or Metaspace
  bool decode_byte_fallback = false;         // decoder ByteFallback: <0xNN> tokens give their byte
  std::vector<AddedTokenMatch> added_token_match;  // id -> how it matches (empty: no strip anywhere)
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
  std::optional<HfTokenizerOptions> hf;  // set for tokenizer.json: behave like HF `tokenizers`
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

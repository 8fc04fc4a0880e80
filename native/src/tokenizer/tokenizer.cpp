// make_tokenizer() and the two tokenizers. Both follow llama.cpp's llama-vocab.cpp step by step
// (same special-token partition, same merge order and tie-breaks, same byte fallbacks), because
// "tokenizes like llama.cpp" is checked id for id against it.
#include "tokenizer.h"

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <queue>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "pre_tokenizer.h"
#include "unicode.h"

namespace ol {
namespace {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using TokenIndex = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

// A piece of the input: raw text still to tokenize, or a special token matched in it.
struct Fragment {
  size_t offset = 0, length = 0;
  int32_t token = -1;  // -1: raw text
};

[[noreturn]] void invalid_spec(const std::string& what) { throw std::runtime_error("invalid tokenizer spec: " + what); }

// llama.cpp's decoding clean-up for most byte-level vocabularies, pass for pass: drop the space
// before ? ! . , and around a lone apostrophe, and before 's 'm 're 've.
void clean_up_spaces(std::string& text) {
  const auto pass = [&text](auto&& step) {
    const size_t n = text.size();
    std::string out;
    out.reserve(n);
    if (n > 0) out += text[0];
    for (size_t i = 1; i < n; ++i) step(i, out);
    text = std::move(out);
  };
  pass([&](size_t& i, std::string& out) {
    const char x = text[i];
    if (text[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) out.pop_back();
    out += x;
  });
  pass([&](size_t& i, std::string& out) {
    const char x = text[i];
    if (x == '\'' && i + 1 < text.size() && text[i - 1] == ' ' && text[i + 1] == ' ') {
      out.pop_back();
      text[++i] = '\0';  // the space after is skipped, and no longer counts as a space
    }
    out += x;
  });
  pass([&](size_t& i, std::string& out) {
    const char x = text[i];
    if (text[i - 1] == ' ' && x == '\'' && i + 1 < text.size()) {
      const char x1 = text[i + 1];
      const char x2 = i + 2 < text.size() ? text[i + 2] : '\0';
      if (x1 == 's' || x1 == 'm' || (x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) out.pop_back();
    }
    out += x;
  });
}

// One symbol of a word being merged: a byte range of it, linked to its live neighbours.
struct Symbol {
  size_t offset, length;
  int prev, next;
};

// One symbol per UTF-8 character (a truncated last one keeps what is there).
std::vector<Symbol> split_characters(std::string_view text) {
  std::vector<Symbol> symbols;
  for (size_t offset = 0; offset < text.size();) {
    const size_t length =
        std::min(text.size() - offset, unicode::utf8_sequence_length(static_cast<uint8_t>(text[offset])));
    const int index = static_cast<int>(symbols.size());
    symbols.push_back({offset, length, index - 1, offset + length == text.size() ? -1 : index + 1});
    offset += length;
  }
  return symbols;
}

// Merges adjacent symbols, the best pair first and the leftmost among equals, until no pair merges:
// llama.cpp's loop for both vocabularies. pair_rank(left, right) is a pair's rank, or nullopt where
// it does not merge; worse(a, b) says rank a comes after rank b.
template <typename Rank, typename Worse, typename PairRank>
void merge_symbols(std::vector<Symbol>& symbols, Worse worse, PairRank pair_rank) {
  struct Bigram {
    Rank rank;
    int left, right;
    size_t length;  // merged length when queued: a stale entry no longer matches it
  };
  const auto order = [&worse](const Bigram& a, const Bigram& b) {
    return worse(a.rank, b.rank) || (a.rank == b.rank && a.left > b.left);
  };
  std::priority_queue<Bigram, std::vector<Bigram>, decltype(order)> queue(order);
  const auto try_bigram = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const std::optional<Rank> rank = pair_rank(symbols[left], symbols[right]);
    if (rank) queue.push({*rank, left, right, symbols[left].length + symbols[right].length});
  };
  for (int i = 1; i < static_cast<int>(symbols.size()); ++i) try_bigram(i - 1, i);
  while (!queue.empty()) {
    const Bigram bigram = queue.top();
    queue.pop();
    Symbol& left = symbols[bigram.left];
    Symbol& right = symbols[bigram.right];
    // Stale: one side was merged since (symbols are contiguous, so lengths tell).
    if (left.length == 0 || right.length == 0 || left.next != bigram.right ||
        left.length + right.length != bigram.length)
      continue;
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = bigram.left;
    try_bigram(left.prev, bigram.left);
    try_bigram(bigram.left, left.next);
  }
}

// Vocabulary, special tokens and everything both tokenizers share.
class VocabTokenizer : public Tokenizer {
 public:
  explicit VocabTokenizer(TokenizerSpec spec) : spec_(std::move(spec)) {
    const size_t n = spec_.tokens.size();
    if (n == 0) invalid_spec("no tokens");
    if (n > static_cast<size_t>(INT32_MAX)) invalid_spec("too many tokens");
    if (!spec_.scores.empty() && spec_.scores.size() != n)
      invalid_spec(std::to_string(spec_.scores.size()) + " scores for " + std::to_string(n) + " tokens");
    if (!spec_.types.empty() && spec_.types.size() != n)
      invalid_spec(std::to_string(spec_.types.size()) + " token types for " + std::to_string(n) + " tokens");
    for (size_t id = 0; id < spec_.types.size(); ++id) {
      const auto type = static_cast<int32_t>(spec_.types[id]);
      if (type < 0 || type > static_cast<int32_t>(TokenType::Byte))
        invalid_spec("token " + std::to_string(id) + " has unknown type " + std::to_string(type));
    }
    const std::pair<const char*, int32_t> special_ids[] = {{"bos", spec_.bos_id}, {"eos", spec_.eos_id},
                                                           {"unk", spec_.unk_id}, {"pad", spec_.pad_id},
                                                           {"eot", spec_.eot_id}};
    for (const auto& [name, id] : special_ids) {
      if (id < -1 || id >= static_cast<int64_t>(n))
        invalid_spec(std::string(name) + " id " + std::to_string(id) + " is outside the vocabulary of " +
                     std::to_string(n));
    }
    if (spec_.add_bos && spec_.bos_id < 0) invalid_spec("add_bos is set but there is no bos id");
    if (spec_.add_eos && spec_.eos_id < 0) invalid_spec("add_eos is set but there is no eos id");

    token_to_id_.reserve(n);
    for (size_t id = 0; id < n; ++id) {
      token_to_id_[spec_.tokens[id]] = static_cast<int32_t>(id);  // a repeated text maps to its last id
      const TokenType type = type_of(static_cast<int32_t>(id));
      const bool special = type == TokenType::Control || type == TokenType::UserDefined || type == TokenType::Unknown;
      if (special && !spec_.tokens[id].empty()) special_tokens_.push_back(static_cast<int32_t>(id));
    }
    // Longest first, so "<|im_start|>" wins over a token that is its prefix.
    std::stable_sort(special_tokens_.begin(), special_tokens_.end(), [&](int32_t a, int32_t b) {
      return spec_.tokens[a].size() > spec_.tokens[b].size();
    });
  }

  int32_t n_vocab() const override { return static_cast<int32_t>(spec_.tokens.size()); }
  const TokenizerSpec& spec() const override { return spec_; }

  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const override {
    std::vector<int32_t> ids;
    if (add_special && spec_.add_bos) ids.push_back(spec_.bos_id);
    encode_fragments(text, partition(text, parse_special), ids);
    if (add_special && spec_.add_eos) ids.push_back(spec_.eos_id);
    return ids;
  }

  std::string token_to_piece(int32_t id, bool render_special) const final {
    check_id(id);
    const TokenType type = type_of(id);
    const std::string& text = spec_.tokens[id];
    if (is_hidden_special(type)) return render_special ? text : std::string();
    if (type == TokenType::UserDefined) return text;
    return vocabulary_piece(type, text);
  }

  std::string decode(const std::vector<int32_t>& ids, bool render_special) const override {
    std::string text;
    // A SentencePiece prefix space is dropped from the first piece only.
    bool strip_space = spec_.add_space_prefix;
    for (int32_t id : ids) {
      std::string piece = token_to_piece(id, render_special);
      if (strip_space && !piece.empty() && piece[0] == ' ') piece.erase(0, 1);
      strip_space = false;
      text += piece;
    }
    if (cleans_spaces()) clean_up_spaces(text);
    return text;
  }

 protected:
  virtual void encode_fragments(std::string_view text, const std::vector<Fragment>& fragments,
                                std::vector<int32_t>& ids) const = 0;
  virtual bool cleans_spaces() const { return false; }
  // The text of a normal, byte, unused or undefined token, as this vocabulary encodes it.
  virtual std::string vocabulary_piece(TokenType type, const std::string& text) const = 0;

  TokenType type_of(int32_t id) const { return spec_.types.empty() ? TokenType::Normal : spec_.types[id]; }

  int32_t find_token(std::string_view text) const {
    auto it = token_to_id_.find(text);
    return it == token_to_id_.end() ? -1 : it->second;
  }

  void check_id(int32_t id) const {
    if (id < 0 || id >= n_vocab())
      throw std::out_of_range("token id " + std::to_string(id) + " is outside the vocabulary of " +
                              std::to_string(n_vocab()));
  }

  // Each merged symbol's token; a symbol that is no token gives its bytes' tokens, byte_token(byte)
  // each (-1: none, and the byte is dropped, as in llama.cpp).
  template <typename ByteToken>
  void push_symbol_tokens(std::string_view text, const std::vector<Symbol>& symbols, ByteToken byte_token,
                          std::vector<int32_t>& ids) const {
    for (int i = symbols.empty() ? -1 : 0; i >= 0; i = symbols[i].next) {
      const std::string_view piece = text.substr(symbols[i].offset, symbols[i].length);
      if (int32_t id = find_token(piece); id >= 0) {
        ids.push_back(id);
        continue;
      }
      for (char byte : piece) {
        if (int32_t id = byte_token(byte); id >= 0) ids.push_back(id);
      }
    }
  }

  // Control and unknown tokens: matched in text only with parse_special, shown only with render_special.
  static bool is_hidden_special(TokenType type) { return type == TokenType::Control || type == TokenType::Unknown; }

  TokenizerSpec spec_;

 private:
  // Splits the text on special tokens, longest token first, every occurrence, left to right.
  // Control and unknown tokens only count when parse_special; user-defined ones always do.
  std::vector<Fragment> partition(std::string_view text, bool parse_special) const {
    std::vector<Fragment> fragments;
    if (text.empty()) return fragments;
    fragments.push_back({0, text.size(), -1});
    for (int32_t id : special_tokens_) {
      if (!parse_special && is_hidden_special(type_of(id))) continue;
      const std::string& token_text = spec_.tokens[id];
      std::vector<Fragment> next;
      next.reserve(fragments.size());
      for (const Fragment& fragment : fragments) {
        if (fragment.token >= 0) {
          next.push_back(fragment);
          continue;
        }
        size_t begin = fragment.offset;
        const size_t end = fragment.offset + fragment.length;
        const std::string_view window = text.substr(0, end);
        for (size_t match = window.find(token_text, begin); match != std::string_view::npos;
             match = window.find(token_text, begin)) {
          if (match > begin) next.push_back({begin, match - begin, -1});
          next.push_back({match, token_text.size(), id});
          begin = match + token_text.size();
        }
        if (end > begin) next.push_back({begin, end - begin, -1});
      }
      fragments = std::move(next);
    }
    return fragments;
  }

  TokenIndex token_to_id_;
  std::vector<int32_t> special_tokens_;
};

// Byte-level BPE (GGUF "gpt2"): pre-tokenize, then merge adjacent symbols by merge rank.
class BytePairTokenizer final : public VocabTokenizer {
 public:
  explicit BytePairTokenizer(TokenizerSpec spec)
      : VocabTokenizer(std::move(spec)), pre_(pre_tokenizer_config(spec_.pre)) {
    merge_rank_.reserve(spec_.merges.size());
    for (size_t rank = 0; rank < spec_.merges.size(); ++rank) {
      const std::string& merge = spec_.merges[rank];
      const size_t space = merge.find(' ', 1);
      if (space == std::string::npos)
        invalid_spec("merge " + std::to_string(rank) + " '" + merge + "' is not two tokens separated by a space");
      const std::string_view left = std::string_view(merge).substr(0, space);
      const std::string_view right = std::string_view(merge).substr(space + 1);
      if (find_token(left) < 0 || find_token(right) < 0)
        invalid_spec("merge " + std::to_string(rank) + " '" + merge + "' names a token not in the vocabulary");
      merge_rank_.emplace(pair_key(left, right), static_cast<int32_t>(rank));  // the first rank wins
    }
  }

 protected:
  std::string vocabulary_piece(TokenType type, const std::string& text) const override {
    if (type != TokenType::Normal) return {};  // unused, undefined and byte tokens render as nothing
    std::string bytes;
    for (uint32_t cp : unicode::decode_utf8(text)) {
      const int byte = unicode::symbol_to_byte(cp);
      if (byte >= 0) {
        bytes += static_cast<char>(byte);
      } else {
        unicode::append_utf8(bytes, cp);  // not a byte symbol: keep the character
      }
    }
    return bytes;
  }

  void encode_fragments(std::string_view text, const std::vector<Fragment>& fragments,
                        std::vector<int32_t>& ids) const override {
    for (const Fragment& fragment : fragments) {
      if (fragment.token >= 0) {
        ids.push_back(fragment.token);
        continue;
      }
      for (const std::string& word : pre_tokenize(text.substr(fragment.offset, fragment.length), pre_.rules)) {
        encode_word(word, ids);
      }
    }
  }

  bool cleans_spaces() const override { return pre_.clean_spaces; }

 private:
  static std::string pair_key(std::string_view left, std::string_view right) {
    const auto n = static_cast<uint32_t>(left.size());
    std::string key(reinterpret_cast<const char*>(&n), sizeof n);
    key.append(left).append(right);
    return key;
  }

  int32_t rank_of(std::string_view left, std::string_view right) const {
    auto it = merge_rank_.find(pair_key(left, right));
    return it == merge_rank_.end() ? -1 : it->second;
  }

  void encode_word(const std::string& word, std::vector<int32_t>& ids) const {
    if (pre_.ignore_merges) {
      if (int32_t id = find_token(word); id >= 0) {
        ids.push_back(id);
        return;
      }
    }
    std::vector<Symbol> symbols = split_characters(word);
    const auto text_of = [&](const Symbol& s) { return std::string_view(word).substr(s.offset, s.length); };
    // Lowest merge rank first.
    merge_symbols<int32_t>(symbols, std::greater<int32_t>(), [&](const Symbol& left, const Symbol& right) {
      const int32_t rank = rank_of(text_of(left), text_of(right));
      return rank >= 0 ? std::optional<int32_t>(rank) : std::nullopt;
    });
    // llama.cpp's last resort: single-byte tokens, else nothing.
    push_symbol_tokens(word, symbols, [&](char byte) { return find_token(std::string_view(&byte, 1)); }, ids);
  }

  PreTokenizerConfig pre_;
  std::unordered_map<std::string, int32_t> merge_rank_;
};

// SentencePiece (GGUF "llama"): spaces become U+2581, then the highest-scoring adjacent pair that
// forms a vocabulary token is merged until none is left; leftovers fall back to <0xNN> tokens.
class SentencePieceTokenizer final : public VocabTokenizer {
 public:
  explicit SentencePieceTokenizer(TokenizerSpec spec) : VocabTokenizer(std::move(spec)) {
    static const char* kHex = "0123456789ABCDEF";
    for (int byte = 0; byte < 256; ++byte) {
      const char name[] = {'<', '0', 'x', kHex[byte >> 4], kHex[byte & 15], '>'};
      int32_t id = find_token(std::string_view(name, sizeof name));
      if (id < 0) id = find_token(std::string(1, static_cast<char>(byte)));
      // llama.cpp aborts here; an unknown-token id (or dropping the byte) keeps bad input harmless.
      byte_token_[byte] = id >= 0 ? id : spec_.unk_id;
    }
  }

 protected:
  std::string vocabulary_piece(TokenType type, const std::string& text) const override {
    if (type == TokenType::Normal) return replace_all(text, kSpaceSymbol, " ");
    if (type == TokenType::Byte) return std::string(1, static_cast<char>(byte_of_token(text)));
    return {};
  }

  void encode_fragments(std::string_view text, const std::vector<Fragment>& fragments,
                        std::vector<int32_t>& ids) const override {
    bool after_special = true;  // the text start counts as following a special token
    for (const Fragment& fragment : fragments) {
      if (fragment.token >= 0) {
        ids.push_back(fragment.token);
        after_special = true;
        continue;
      }
      std::string piece = spec_.add_space_prefix && after_special ? " " : "";
      piece.append(text.substr(fragment.offset, fragment.length));
      encode_piece(replace_all(piece, " ", kSpaceSymbol), ids);
      after_special = false;
    }
  }

 private:
  static constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";  // U+2581

  static std::string replace_all(std::string_view text, std::string_view from, std::string_view to) {
    std::string out;
    size_t begin = 0;
    for (size_t at = text.find(from); at != std::string_view::npos; at = text.find(from, begin)) {
      out.append(text.substr(begin, at - begin)).append(to);
      begin = at + from.size();
    }
    out.append(text.substr(begin));
    return out;
  }

  // "<0x4A>" -> 0x4A, read like llama.cpp reads it: the hex digits after "<0x" (0 when none).
  static uint8_t byte_of_token(const std::string& text) {
    if (text.size() < 3) return 0;
    const std::string digits = text.substr(3, 2);
    return static_cast<uint8_t>(std::strtol(digits.c_str(), nullptr, 16));
  }

  void encode_piece(const std::string& text, std::vector<int32_t>& ids) const {
    std::vector<Symbol> symbols = split_characters(text);
    // Only pairs that form a token merge, the highest-scoring first.
    merge_symbols<float>(symbols, std::less<float>(), [&](const Symbol& left, const Symbol& right) {
      const int32_t id = find_token(std::string_view(text).substr(left.offset, left.length + right.length));
      if (id < 0) return std::optional<float>();
      return std::optional<float>(spec_.scores.empty() ? 0.0f : spec_.scores[id]);
    });
    // Every merged symbol is a token (only token-forming pairs merge), so llama.cpp's re-segmentation
    // of non-token symbols reduces to the byte fallback for single characters.
    push_symbol_tokens(text, symbols, [&](char byte) { return byte_token_[static_cast<uint8_t>(byte)]; }, ids);
  }

  int32_t byte_token_[256];
};

}  // namespace

std::unique_ptr<Tokenizer> make_tokenizer(TokenizerSpec spec) {
  switch (spec.kind) {
    case TokenizerKind::BytePairGpt2:
      return std::make_unique<BytePairTokenizer>(std::move(spec));
    case TokenizerKind::SentencePiece:
      return std::make_unique<SentencePieceTokenizer>(std::move(spec));
  }
  throw std::runtime_error("invalid tokenizer spec: unknown tokenizer kind " +
                           std::to_string(static_cast<int>(spec.kind)));
}

}  // namespace ol

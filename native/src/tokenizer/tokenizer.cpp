// make_tokenizer() and the two tokenizers. Both follow llama.cpp's llama-vocab.cpp step by step
// (same special-token partition, same merge order and tie-breaks, same byte fallbacks), because
// "tokenizes like llama.cpp" is checked id for id against it.
#include "tokenizer.h"

#include <algorithm>
#include <cctype>
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

std::string replace_all(std::string_view text, std::string_view from, std::string_view to) {
  std::string out;
  size_t begin = 0;
  for (size_t at = text.find(from); at != std::string_view::npos; at = text.find(from, begin)) {
    out.append(text.substr(begin, at - begin)).append(to);
    begin = at + from.size();
  }
  out.append(text.substr(begin));
  return out;
}

// Spaces become '▁', with one in front when `prefix` (tokenizer.json normalizer Replace / Prepend).
std::string normalize_spaces(std::string_view text, bool prefix) {
  std::string spaced = replace_all(text, " ", kSpaceSymbol);
  if (prefix && !spaced.empty()) spaced.insert(0, kSpaceSymbol);
  return spaced;
}

// Added tokens by the first byte of the text they match, longest first.
struct AddedTokenTable {
  std::vector<std::pair<int32_t, std::string>> by_first_byte[256];
  void add(int32_t id, std::string content) {
    if (content.empty()) return;
    auto& bucket = by_first_byte[static_cast<uint8_t>(content[0])];
    const auto at = std::find_if(bucket.begin(), bucket.end(), [&](const auto& e) { return e.second.size() < content.size(); });
    bucket.insert(at, {id, std::move(content)});
  }
};

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
    if (spec_.hf) {
      const auto& match = spec_.hf->added_token_match;
      if (!match.empty() && match.size() != n)
        invalid_spec(std::to_string(match.size()) + " added-token match rules for " + std::to_string(n) + " tokens");
      // Tokens marked normalized are looked for in the normalized text when the normalizer writes
      // '▁' (their text normalized the same way), elsewhere in the text as given.
      for (int32_t id : special_tokens_) {
        if (spec_.kind == TokenizerKind::BytePairSpaceSymbol && spec_.hf->spaces_in_normalizer && !match.empty() &&
            match[id].normalized) {
          std::string normalized = normalize_spaces(spec_.tokens[id], spec_.hf->space_prefix == SpacePrefix::EveryPiece);
          normalized_added_.add(id, normalized);
          normalized_token_text_.emplace(id, std::move(normalized));
        } else {
          raw_added_.add(id, spec_.tokens[id]);
        }
      }
    }
  }

  int32_t n_vocab() const override { return static_cast<int32_t>(spec_.tokens.size()); }
  const TokenizerSpec& spec() const override { return spec_; }

  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const override {
    std::vector<int32_t> ids;
    if (add_special && spec_.add_bos) ids.push_back(spec_.bos_id);
    encode_fragments(text, partition(text, parse_special), parse_special, ids);
    if (add_special && spec_.add_eos) ids.push_back(spec_.eos_id);
    return ids;
  }

  std::string token_to_piece(int32_t id, bool render_special) const final {
    check_id(id);
    const TokenType type = type_of(id);
    const std::string& text = spec_.tokens[id];
    if (spec_.hf) {
      // `tokenizers` names a token matched in normalized text by that text, which is then no
      // special token's name, so it is not skipped either.
      if (const auto it = normalized_token_text_.find(id); it != normalized_token_text_.end()) return hf_piece(it->second);
      return type == TokenType::Control && !render_special ? std::string() : hf_piece(text);
    }
    if (is_hidden_special(type)) return render_special ? text : std::string();
    if (type == TokenType::UserDefined) return text;
    return vocabulary_piece(type, text);
  }

  std::string decode(const std::vector<int32_t>& ids, bool render_special) const override {
    std::string text;
    if (spec_.hf) {
      // `tokenizers`: skipped special tokens are gone before the decoder's Strip sees the text.
      for (int32_t id : ids) text += token_to_piece(id, render_special);
      if (spec_.hf->decode_strips_leading_space && !text.empty() && text[0] == ' ') text.erase(0, 1);
      return text;
    }
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
  virtual void encode_fragments(std::string_view text, const std::vector<Fragment>& fragments, bool parse_special,
                                std::vector<int32_t>& ids) const = 0;
  virtual bool cleans_spaces() const { return false; }
  // The text of a normal, byte, unused or undefined token, as this vocabulary encodes it.
  virtual std::string vocabulary_piece(TokenType type, const std::string& text) const = 0;
  // What the tokenizer.json decoder makes of one token's text (tokenizers with spec.hf only).
  virtual std::string hf_piece(const std::string& text) const { return text; }

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

  // `tokenizers`' BPE for symbols that are no token: the <0xNN> token of each byte when the model
  // has byte_fallback and all of them exist, else the unknown token (once for a run of them with
  // fuse_unk), else nothing.
  void push_symbol_tokens_hf(std::string_view text, const std::vector<Symbol>& symbols, std::vector<int32_t>& ids) const {
    bool after_unknown = false;
    for (int i = symbols.empty() ? -1 : 0; i >= 0; i = symbols[i].next) {
      const std::string_view piece = text.substr(symbols[i].offset, symbols[i].length);
      if (int32_t id = find_token(piece); id >= 0) {
        ids.push_back(id);
        after_unknown = false;
        continue;
      }
      if (spec_.hf->byte_fallback) {
        std::vector<int32_t> bytes;
        for (char byte : piece) {
          if (int32_t id = find_token(byte_token_name(static_cast<uint8_t>(byte))); id >= 0) bytes.push_back(id);
        }
        if (bytes.size() == piece.size()) {
          ids.insert(ids.end(), bytes.begin(), bytes.end());
          after_unknown = false;
          continue;
        }
      }
      if (spec_.unk_id >= 0 && !(after_unknown && spec_.hf->fuse_unk)) ids.push_back(spec_.unk_id);
      after_unknown = spec_.unk_id >= 0;
    }
  }

  // "<0x4A>" for 0x4A: SentencePiece's byte token names.
  static std::string byte_token_name(uint8_t byte) {
    static const char* kHex = "0123456789ABCDEF";
    return {'<', '0', 'x', kHex[byte >> 4], kHex[byte & 15], '>'};
  }

  // `tokenizers`' split on added tokens: scanning left to right, the longest token that starts at
  // the first position where any does; lstrip / rstrip tokens take the whitespace around them
  // (not beyond the previous match).
  std::vector<Fragment> partition_leftmost_longest(std::string_view text, bool parse_special,
                                                  const AddedTokenTable& table) const {
    std::vector<Fragment> fragments;
    const auto& match_rules = spec_.hf->added_token_match;
    size_t raw_begin = 0;
    for (size_t pos = 0; pos < text.size();) {
      int32_t found = -1;
      size_t found_length = 0;
      for (const auto& [id, content] : table.by_first_byte[static_cast<uint8_t>(text[pos])]) {
        if ((parse_special || !is_hidden_special(type_of(id))) && text.substr(pos).starts_with(content)) {
          found = id;
          found_length = content.size();
          break;
        }
      }
      if (found < 0) {
        ++pos;
        continue;
      }
      size_t begin = pos, end = pos + found_length;
      const AddedTokenMatch rule = match_rules.empty() ? AddedTokenMatch{} : match_rules[found];
      if (rule.lstrip) {
        for (size_t before = begin; before > raw_begin;) {
          size_t lead = before - 1;
          while (lead > raw_begin && (static_cast<uint8_t>(text[lead]) & 0xC0) == 0x80) --lead;
          if (!is_whitespace_at(text, lead)) break;
          before = begin = lead;
        }
      }
      if (rule.rstrip) {
        while (end < text.size() && is_whitespace_at(text, end))
          end += std::min(text.size() - end, unicode::utf8_sequence_length(static_cast<uint8_t>(text[end])));
      }
      if (begin > raw_begin) fragments.push_back({raw_begin, begin - raw_begin, -1});
      fragments.push_back({begin, end - begin, found});
      raw_begin = pos = end;
    }
    if (text.size() > raw_begin) fragments.push_back({raw_begin, text.size() - raw_begin, -1});
    return fragments;
  }

  // Control and unknown tokens: matched in text only with parse_special, shown only with render_special.
  static bool is_hidden_special(TokenType type) { return type == TokenType::Control || type == TokenType::Unknown; }

  TokenizerSpec spec_;
  // tokenizer.json: added tokens matched in the text as given, and in the normalized text.
  AddedTokenTable raw_added_, normalized_added_;

 private:
  // Splits the text on special tokens, longest token first, every occurrence, left to right.
  // Control and unknown tokens only count when parse_special; user-defined ones always do.
  std::vector<Fragment> partition(std::string_view text, bool parse_special) const {
    if (spec_.hf) return partition_leftmost_longest(text, parse_special, raw_added_);
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

  static bool is_whitespace_at(std::string_view text, size_t offset) {
    const std::vector<uint32_t> cps = unicode::decode_utf8(
        text.substr(offset, std::min(text.size() - offset, unicode::utf8_sequence_length(static_cast<uint8_t>(text[offset])))));
    return cps.size() == 1 && (unicode::flags(cps[0]) & unicode::kWhitespace);
  }

  TokenIndex token_to_id_;
  std::vector<int32_t> special_tokens_;
  std::unordered_map<int32_t, std::string> normalized_token_text_;  // tokenizer.json: id -> normalized text
};

// BPE that merges adjacent symbols by merge rank: byte-level (GGUF "gpt2", tokenizer.json with
// ByteLevel), words from the pre-tokenizer; or over '▁'-spaced text (tokenizer.json Llama-2 /
// Mistral layout), words from the space-symbol rules of HfTokenizerOptions.
class BytePairTokenizer final : public VocabTokenizer {
 public:
  explicit BytePairTokenizer(TokenizerSpec spec)
      : VocabTokenizer(std::move(spec)), byte_level_(spec_.kind == TokenizerKind::BytePairGpt2) {
    if (byte_level_) {
      const PreTokenizerConfig pre = pre_tokenizer_config(spec_.pre);
      rules_ = pre.rules;
      ignore_merges_ = spec_.hf ? spec_.hf->ignore_merges : pre.ignore_merges;
      clean_spaces_ = !spec_.hf && pre.clean_spaces;
    } else {
      if (!spec_.hf) invalid_spec("a '▁'-spaced BPE vocabulary comes from tokenizer.json (hf options missing)");
      ignore_merges_ = spec_.hf->ignore_merges;
    }
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
      // `tokenizers` refuses a merge whose result is no token; llama.cpp falls back to bytes.
      if (spec_.hf && find_token(std::string(left).append(right)) < 0)
        invalid_spec("merge " + std::to_string(rank) + " '" + merge + "' makes a token not in the vocabulary");
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

  std::string hf_piece(const std::string& text) const override {
    if (!byte_level_) {
      // Decoder Replace('▁', ' ') then ByteFallback.
      if (spec_.hf->decode_byte_fallback && text.size() == 6 && text.starts_with("<0x") && text[5] == '>' && std::isxdigit(static_cast<uint8_t>(text[3])) &&
          std::isxdigit(static_cast<uint8_t>(text[4])))
        return std::string(1, static_cast<char>(std::strtol(text.substr(3, 2).c_str(), nullptr, 16)));
      return replace_all(text, kSpaceSymbol, " ");
    }
    // Decoder ByteLevel: a token whose every character is a byte symbol gives those bytes, any
    // other token its own text.
    std::string bytes;
    for (uint32_t cp : unicode::decode_utf8(text)) {
      const int byte = unicode::symbol_to_byte(cp);
      if (byte < 0) return text;
      bytes += static_cast<char>(byte);
    }
    return bytes;
  }

  void encode_fragments(std::string_view text, const std::vector<Fragment>& fragments, bool parse_special,
                        std::vector<int32_t>& ids) const override {
    for (const Fragment& fragment : fragments) {
      if (fragment.token >= 0) {
        ids.push_back(fragment.token);
        continue;
      }
      const std::string_view piece = text.substr(fragment.offset, fragment.length);
      const std::string normalized = spec_.hf && spec_.hf->nfc ? unicode::nfc(piece) : std::string(piece);
      if (byte_level_) {
        const unicode::Classes classes = spec_.hf ? unicode::Classes::HfTokenizers : unicode::Classes::LlamaCpp;
        for (const std::string& word : pre_tokenize(normalized, rules_, classes)) encode_word(word, ids);
        continue;
      }
      const std::string spaced = space_symbol_text(normalized, fragment.offset == 0);
      // The normalized text is split again on the added tokens that match normalized.
      const std::vector<Fragment> parts = partition_leftmost_longest(spaced, parse_special, normalized_added_);
      for (const Fragment& part : parts) {
        if (part.token >= 0) {
          ids.push_back(part.token);
          continue;
        }
        for (const std::string& word : space_symbol_words(spaced.substr(part.offset, part.length))) encode_word(word, ids);
      }
    }
  }

  bool cleans_spaces() const override { return clean_spaces_; }

 private:
  // Spaces become '▁', with the prefix the normalizer or Metaspace pre-tokenizer asks for.
  std::string space_symbol_text(std::string_view piece, bool at_text_start) const {
    const HfTokenizerOptions& hf = *spec_.hf;
    std::string spaced = normalize_spaces(piece, hf.space_prefix == SpacePrefix::EveryPiece);
    const bool starts_spaced = std::string_view(spaced).starts_with(kSpaceSymbol);
    if ((hf.space_prefix == SpacePrefix::EveryPieceWithoutSpace && !starts_spaced) ||
        (hf.space_prefix == SpacePrefix::FirstPieceWithoutSpace && !starts_spaced && at_text_start))
      spaced.insert(0, kSpaceSymbol);
    return spaced;
  }

  // Metaspace split starts a new word at every '▁'.
  std::vector<std::string> space_symbol_words(std::string_view spaced) const {
    if (!spec_.hf->split_on_space_symbol) return {std::string(spaced)};
    std::vector<std::string> words;
    size_t begin = 0;
    for (size_t at = spaced.find(kSpaceSymbol, 1); at != std::string_view::npos; at = spaced.find(kSpaceSymbol, at + 1)) {
      if (at > begin) words.emplace_back(spaced.substr(begin, at - begin));
      begin = at;
    }
    words.emplace_back(spaced.substr(begin));
    return words;
  }

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
    if (ignore_merges_) {
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
    if (spec_.hf) {
      push_symbol_tokens_hf(word, symbols, ids);
      return;
    }
    // llama.cpp's last resort: single-byte tokens, else nothing.
    push_symbol_tokens(word, symbols, [&](char byte) { return find_token(std::string_view(&byte, 1)); }, ids);
  }

  bool byte_level_;
  PreTokenizer rules_ = PreTokenizer::Gpt2;
  bool ignore_merges_ = false, clean_spaces_ = false;
  std::unordered_map<std::string, int32_t> merge_rank_;
};

// SentencePiece (GGUF "llama"): spaces become U+2581, then the highest-scoring adjacent pair that
// forms a vocabulary token is merged until none is left; leftovers fall back to <0xNN> tokens.
class SentencePieceTokenizer final : public VocabTokenizer {
 public:
  explicit SentencePieceTokenizer(TokenizerSpec spec) : VocabTokenizer(std::move(spec)) {
    for (int byte = 0; byte < 256; ++byte) {
      int32_t id = find_token(byte_token_name(static_cast<uint8_t>(byte)));
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

  void encode_fragments(std::string_view text, const std::vector<Fragment>& fragments, bool,
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
    case TokenizerKind::BytePairSpaceSymbol:
      return std::make_unique<BytePairTokenizer>(std::move(spec));
    case TokenizerKind::SentencePiece:
      if (spec.hf) invalid_spec("tokenizer.json options on a score-merged SentencePiece vocabulary");
      return std::make_unique<SentencePieceTokenizer>(std::move(spec));
  }
  throw std::runtime_error("invalid tokenizer spec: unknown tokenizer kind " +
                           std::to_string(static_cast<int>(spec.kind)));
}

}  // namespace ol

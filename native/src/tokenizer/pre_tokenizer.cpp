#include "pre_tokenizer.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "unicode.h"

namespace ol {
namespace {

// A split works on code points and keeps llama.cpp's model: the text is a list of pieces (lengths
// in code points); each rule re-splits every piece on its own, so no rule looks across a piece
// boundary, and both matches and the text between them become pieces.
using Pieces = std::vector<size_t>;

// Re-splits every piece: split_one(begin, end, out) appends the sub-piece lengths of [begin, end).
template <typename SplitOne>
Pieces split_each(const Pieces& pieces, SplitOne split_one) {
  Pieces out;
  out.reserve(pieces.size());
  size_t begin = 0;
  for (size_t length : pieces) {
    split_one(begin, begin + length, out);
    begin += length;
  }
  return out;
}

// Regex-search semantics for rules whose match at a position is decided there: `match(pos, end)`
// returns the match length (0: none); text between matches becomes its own piece.
template <typename Match>
Pieces split_matches(const Pieces& pieces, Match match) {
  return split_each(pieces, [&](size_t begin, size_t end, Pieces& out) {
    size_t gap_start = begin;
    size_t pos = begin;
    while (pos < end) {
      const size_t length = match(pos, end);
      if (length == 0) {
        ++pos;
        continue;
      }
      if (pos > gap_start) out.push_back(pos - gap_start);
      out.push_back(length);
      pos += length;
      gap_start = pos;
    }
    if (end > gap_start) out.push_back(end - gap_start);
  });
}

constexpr uint32_t kOutOfRange = 0xFFFFFFFF;

// Accessors that treat everything outside [begin, end) as absent, as lookaheads must.
struct Window {
  const std::vector<uint32_t>& cps;
  const std::vector<uint16_t>& flags;  // of each code point
  size_t begin, end;
  uint32_t cp(size_t pos) const { return pos >= begin && pos < end ? cps[pos] : kOutOfRange; }
  uint16_t flag(size_t pos) const { return pos >= begin && pos < end ? flags[pos] : 0; }
};

bool is_letter(uint16_t f) { return f & unicode::kLetter; }
bool is_number(uint16_t f) { return f & unicode::kNumber; }
bool is_space(uint16_t f) { return f & unicode::kWhitespace; }
// [^\s\p{L}\p{N}] for a code point inside the window.
bool is_other(uint16_t f) { return f != 0 && !is_space(f) && !is_letter(f) && !is_number(f); }
bool is_newline(uint32_t cp) { return cp == '\r' || cp == '\n'; }

uint32_t ascii_lower(uint32_t cp) { return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp; }

// 's|'t|'re|'ve|'m|'ll|'d (optionally case-insensitive): length of the contraction at pos, or 0.
size_t contraction_length(const Window& w, size_t pos, bool ignore_case) {
  if (w.cp(pos) != '\'' || pos + 1 >= w.end) return 0;
  const auto fold = [&](uint32_t cp) { return ignore_case ? ascii_lower(cp) : cp; };
  const uint32_t next = fold(w.cp(pos + 1));
  if (next == 's' || next == 't' || next == 'm' || next == 'd') return 2;
  if (pos + 2 >= w.end) return 0;
  const uint32_t next2 = fold(w.cp(pos + 2));
  if ((next == 'r' && next2 == 'e') || (next == 'v' && next2 == 'e') || (next == 'l' && next2 == 'l')) return 3;
  return 0;
}

// Length of the whitespace run starting at pos.
size_t whitespace_run(const Window& w, size_t pos) {
  size_t n = 0;
  while (is_space(w.flag(pos + n))) ++n;
  return n;
}

// \s+(?!\S)|\s+ at pos: a run of spaces leaves its last one to the next word unless the run ends the
// piece; a lone code point that no rule matched is a piece of its own.
size_t space_run_end(const Window& w, size_t pos) {
  const size_t spaces = whitespace_run(w, pos);
  if (spaces > 1 && w.cp(pos + spaces) != kOutOfRange) return pos + spaces - 1;
  return pos + std::max<size_t>(spaces, 1);
}

// The scan both GPT-2-style rules share: at each position a contraction, else the word that
// word_end(w, pos) says ends there (after pos), becomes the next piece.
template <typename WordEnd>
void split_words(const std::vector<uint32_t>& cps, const std::vector<uint16_t>& flags, size_t begin, size_t end,
                 bool ignore_case, Pieces& out, WordEnd word_end) {
  const Window w{cps, flags, begin, end};
  size_t pos = begin;
  while (pos < end) {
    const size_t contraction = contraction_length(w, pos, ignore_case);
    const size_t stop = contraction > 0 ? pos + contraction : word_end(w, pos);
    if (stop > pos) out.push_back(stop - pos);
    pos = stop;
  }
}

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
void split_gpt2(const std::vector<uint32_t>& cps, const std::vector<uint16_t>& flags, size_t begin, size_t end,
                Pieces& out) {
  split_words(cps, flags, begin, end, false, out, [](const Window& w, size_t pos) {
    const bool space = w.cp(pos) == ' ';
    const uint16_t head = w.flag(pos + (space ? 1 : 0));
    size_t stop = pos + (space ? 1 : 0);
    if (is_letter(head)) {
      while (is_letter(w.flag(stop))) ++stop;
      return stop;
    }
    if (is_number(head)) {
      while (is_number(w.flag(stop))) ++stop;
      return stop;
    }
    if (is_other(head)) {
      while (is_other(w.flag(stop))) ++stop;
      return stop;
    }
    return space_run_end(w, pos);  // every code point matched a rule above
  });
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max_digits}| ?[^\s\p{L}\p{N}]+[\r\n]*|
// \s*[\r\n]+|\s+(?!\S)|\s+
void split_llama3(const std::vector<uint32_t>& cps, const std::vector<uint16_t>& flags, size_t begin, size_t end,
                  size_t max_digits, Pieces& out) {
  split_words(cps, flags, begin, end, true, out, [max_digits](const Window& w, size_t pos) {
    const uint32_t cp = w.cp(pos);
    const uint16_t f = w.flag(pos);
    if (!is_newline(cp) && !is_number(f) && (is_letter(f) || is_letter(w.flag(pos + 1)))) {
      size_t stop = pos + 1;
      while (is_letter(w.flag(stop))) ++stop;
      return stop;
    }
    if (is_number(f)) {  // a longer run goes on as the next piece
      size_t stop = pos;
      while (stop - pos < max_digits && is_number(w.flag(stop))) ++stop;
      return stop;
    }
    const bool space = cp == ' ';
    const uint16_t head = w.flag(pos + (space ? 1 : 0));
    if (is_other(head) || (space && head == 0)) {
      size_t stop = pos + (space ? 1 : 0);
      while (is_other(w.flag(stop))) ++stop;
      while (is_newline(w.cp(stop))) ++stop;
      return stop;
    }
    const size_t spaces = whitespace_run(w, pos);
    size_t after_last_newline = 0;
    for (size_t i = 0; i < spaces; ++i) {
      if (is_newline(w.cp(pos + i))) after_last_newline = pos + i + 1;
    }
    if (after_last_newline > 0) return after_last_newline;  // \s*[\r\n]+
    return space_run_end(w, pos);
  });
}

bool is_ascii_digit(uint32_t cp) { return cp >= '0' && cp <= '9'; }

std::vector<std::string> byte_encode_pieces(const std::vector<uint32_t>& cps, const Pieces& pieces) {
  std::vector<std::string> words;
  words.reserve(pieces.size());
  size_t begin = 0;
  std::string utf8;
  for (size_t length : pieces) {
    std::string word;
    for (size_t i = begin; i < begin + length; ++i) {
      utf8.clear();
      unicode::append_utf8(utf8, cps[i]);
      for (char byte : utf8) word += unicode::byte_to_symbol(static_cast<uint8_t>(byte));
    }
    words.push_back(std::move(word));
    begin += length;
  }
  return words;
}

}  // namespace

PreTokenizerConfig pre_tokenizer_config(std::string_view name) {
  using P = PreTokenizer;
  // llama.cpp's names, each checked against it (same ids and decoded text on random strings).
  static const std::pair<std::string_view, PreTokenizerConfig> kNames[] = {
      {"default", {P::Default, false, true}},     {"", {P::Default, false, true}},
      {"gpt-2", {P::Gpt2, false, true}},          {"gpt2", {P::Gpt2, false, true}},
      {"phi-2", {P::Gpt2, false, true}},          {"mpt", {P::Gpt2, false, true}},
      {"olmo", {P::Gpt2, false, true}},           {"jais", {P::Gpt2, false, true}},
      {"trillion", {P::Gpt2, false, false}},       {"llama-bpe", {P::Llama3, true, true}},
      {"llama3", {P::Llama3, true, true}},        {"llama-v3", {P::Llama3, true, true}},
      {"falcon3", {P::Llama3, true, true}},       {"pixtral", {P::Llama3, true, true}},
      {"qwen2", {P::Qwen2, false, false}},        {"deepseek-r1-qwen", {P::Qwen2, false, false}},
      {"smollm", {P::SmolLM, false, false}},      {"starcoder", {P::SmolLM, false, true}},
      {"refact", {P::SmolLM, false, true}},       {"command-r", {P::SmolLM, false, false}},
      {"codeshell", {P::SmolLM, false, true}},   {"exaone", {P::SmolLM, false, true}},
      {"minerva-7b", {P::SmolLM, false, true}},
  };
  for (const auto& [known, config] : kNames) {
    if (name == known) return config;
  }
  throw std::runtime_error("unknown pre-tokenizer '" + std::string(name) +
                           "' (supported: default, gpt-2, llama-bpe, qwen2, smollm and their llama.cpp aliases)");
}

std::vector<std::string> pre_tokenize(std::string_view text, PreTokenizer pre, unicode::Classes classes) {
  const std::vector<uint32_t> cps = unicode::decode_utf8(text);
  std::vector<uint16_t> flags(cps.size());
  for (size_t i = 0; i < cps.size(); ++i) flags[i] = unicode::flags(cps[i], classes);
  Pieces pieces;
  if (!cps.empty()) pieces.push_back(cps.size());
  const auto gpt2 = [&](size_t b, size_t e, Pieces& out) { split_gpt2(cps, flags, b, e, out); };
  switch (pre) {
    case PreTokenizer::Default: {
      // [\p{P}\$\+<=>\^~\|]+, then GPT-2, then \p{N}+, then [0-9][0-9][0-9]
      const auto punct = [&](size_t p) {
        const uint32_t cp = cps[p];
        return (flags[p] & unicode::kPunctuation) || cp == '$' || cp == '+' || cp == '<' || cp == '=' ||
               cp == '>' || cp == '^' || cp == '~' || cp == '|';
      };
      pieces = split_matches(pieces, [&](size_t p, size_t e) {
        size_t stop = p;
        while (stop < e && punct(stop)) ++stop;
        return stop - p;
      });
      pieces = split_each(pieces, gpt2);
      pieces = split_matches(pieces, [&](size_t p, size_t e) {
        size_t stop = p;
        while (stop < e && is_number(flags[stop])) ++stop;
        return stop - p;
      });
      pieces = split_matches(pieces, [&](size_t p, size_t e) -> size_t {
        return p + 3 <= e && is_ascii_digit(cps[p]) && is_ascii_digit(cps[p + 1]) && is_ascii_digit(cps[p + 2]) ? 3 : 0;
      });
      break;
    }
    case PreTokenizer::Gpt2:
      pieces = split_each(pieces, gpt2);
      break;
    case PreTokenizer::Llama3:
    case PreTokenizer::Qwen2: {
      const size_t max_digits = pre == PreTokenizer::Llama3 ? 3 : 1;
      pieces = split_each(pieces, [&](size_t b, size_t e, Pieces& out) { split_llama3(cps, flags, b, e, max_digits, out); });
      break;
    }
    case PreTokenizer::SmolLM:
      // \p{N}, then GPT-2
      pieces = split_matches(pieces, [&](size_t p, size_t) -> size_t { return is_number(flags[p]) ? 1 : 0; });
      pieces = split_each(pieces, gpt2);
      break;
  }
  return byte_encode_pieces(cps, pieces);
}

}  // namespace ol

// Unicode helpers for the tokenizers: code point classes (from the generated unicode_data.inc),
// UTF-8 decoding that never fails (as llama.cpp does it), and GPT-2's byte <-> symbol mapping.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ol::unicode {

// Category classes (exactly one per code point) plus the White_Space property; same values as
// gen_unicode_data.py writes.
enum Flag : uint16_t {
  kUndefined = 1,  // unassigned (and out of range)
  kNumber = 2,     // \p{N}
  kLetter = 4,     // \p{L}
  kSeparator = 8,  // \p{Z}
  kMark = 16,      // \p{M}
  kPunctuation = 32,
  kSymbol = 64,
  kControl = 128,
  kWhitespace = 256,
};

// Which Unicode version's classes: llama.cpp's table is 15.1, Hugging Face `tokenizers`' regex
// engine has 16.0.
enum class Classes { LlamaCpp, HfTokenizers };

uint16_t flags(uint32_t cp, Classes classes = Classes::LlamaCpp);

// Unicode 16.0 NFC (as `tokenizers`' NFC normalizer); bad UTF-8 is first decoded leniently.
std::string nfc(std::string_view text);

// Decodes leniently like llama.cpp: a byte that does not start a complete sequence becomes U+FFFD
// and decoding resumes at the next byte.
std::vector<uint32_t> decode_utf8(std::string_view text);
// Code points above U+10FFFF (reachable through lenient decoding) are written as U+FFFD.
void append_utf8(std::string& out, uint32_t cp);
// Length of the UTF-8 sequence a lead byte announces (1 for stray continuation bytes).
size_t utf8_sequence_length(uint8_t lead);

// GPT-2 byte-level encoding: every byte maps to one printable code point (space -> 'Ġ', ...).
const std::string& byte_to_symbol(uint8_t byte);
// The byte a symbol stands for, or -1 when cp is not one of the 256 symbols.
int symbol_to_byte(uint32_t cp);

}  // namespace ol::unicode

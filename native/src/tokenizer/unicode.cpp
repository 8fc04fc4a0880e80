#include "unicode.h"

#include <algorithm>
#include <array>
#include <utility>

namespace ol::unicode {
namespace {

struct FlagRun {
  uint32_t first;
  uint16_t flags;
};

constexpr FlagRun kFlagRuns[] = {
#include "unicode_data.inc"
};

constexpr uint32_t kMaxCodepoint = 0x10FFFF;
constexpr uint32_t kReplacement = 0xFFFD;

std::array<uint16_t, 128> make_ascii_flags() {
  std::array<uint16_t, 128> table{};
  for (uint32_t cp = 0; cp < 128; ++cp) {
    auto run = std::upper_bound(std::begin(kFlagRuns), std::end(kFlagRuns), cp,
                                [](uint32_t value, const FlagRun& r) { return value < r.first; });
    table[cp] = std::prev(run)->flags;
  }
  return table;
}

// GPT-2's bytes_to_unicode(): printable Latin-1 bytes map to themselves, the other 68 bytes to
// U+0100 upwards in byte order.
struct ByteSymbols {
  std::array<std::string, 256> symbol_of_byte;
  std::array<int16_t, 0x200> byte_of_symbol;  // every symbol is below U+0144
  ByteSymbols() {
    byte_of_symbol.fill(-1);
    uint32_t next_extra = 0x100;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      const uint32_t cp = printable ? b : next_extra++;
      append_utf8(symbol_of_byte[b], cp);
      byte_of_symbol[cp] = static_cast<int16_t>(b);
    }
  }
};

const ByteSymbols& byte_symbols() {
  static const ByteSymbols symbols;
  return symbols;
}

}  // namespace

uint16_t flags(uint32_t cp) {
  static const std::array<uint16_t, 128> ascii = make_ascii_flags();
  if (cp < 128) return ascii[cp];
  if (cp > kMaxCodepoint) return kUndefined;
  auto run = std::upper_bound(std::begin(kFlagRuns), std::end(kFlagRuns), cp,
                              [](uint32_t value, const FlagRun& r) { return value < r.first; });
  return std::prev(run)->flags;
}

size_t utf8_sequence_length(uint8_t lead) {
  static constexpr uint8_t kLengths[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLengths[lead >> 4];
}

std::vector<uint32_t> decode_utf8(std::string_view text) {
  std::vector<uint32_t> cps;
  cps.reserve(text.size());
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const auto continuation = [&](size_t i) { return i < text.size() && (byte(i) & 0xC0) == 0x80; };
  size_t i = 0;
  while (i < text.size()) {
    const uint8_t lead = byte(i);
    if (lead < 0x80) {
      cps.push_back(lead);
      i += 1;
    } else if ((lead & 0xE0) == 0xC0 && continuation(i + 1)) {
      cps.push_back((uint32_t(lead & 0x1F) << 6) | (byte(i + 1) & 0x3F));
      i += 2;
    } else if ((lead & 0xF0) == 0xE0 && continuation(i + 1) && continuation(i + 2)) {
      cps.push_back((uint32_t(lead & 0x0F) << 12) | (uint32_t(byte(i + 1) & 0x3F) << 6) | (byte(i + 2) & 0x3F));
      i += 3;
    } else if ((lead & 0xF8) == 0xF0 && continuation(i + 1) && continuation(i + 2) && continuation(i + 3)) {
      cps.push_back((uint32_t(lead & 0x07) << 18) | (uint32_t(byte(i + 1) & 0x3F) << 12) |
                    (uint32_t(byte(i + 2) & 0x3F) << 6) | (byte(i + 3) & 0x3F));
      i += 4;
    } else {
      cps.push_back(kReplacement);
      i += 1;
    }
  }
  return cps;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp > kMaxCodepoint) cp = kReplacement;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

const std::string& byte_to_symbol(uint8_t byte) { return byte_symbols().symbol_of_byte[byte]; }

int symbol_to_byte(uint32_t cp) {
  return cp < byte_symbols().byte_of_symbol.size() ? byte_symbols().byte_of_symbol[cp] : -1;
}

}  // namespace ol::unicode

#include "unicode.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <unordered_map>
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

struct FlagChange {
  uint32_t first, last;
  uint16_t flags;
};
struct CombiningClassRun {
  uint32_t first, last;
  uint8_t combining_class;
};
struct Decomposition {
  uint32_t code_point, first, second;  // second 0: a single code point
  bool composes;                       // NFC composes first + second back into code_point
};
#include "unicode_data_hf.inc"

// Finds the entry of a table sorted by `key` whose range holds cp.
template <typename Entry, size_t N>
const Entry* find_range(const Entry (&table)[N], uint32_t cp) {
  const Entry* it = std::upper_bound(std::begin(table), std::end(table), cp,
                                     [](uint32_t value, const Entry& e) { return value < e.first; });
  if (it == std::begin(table)) return nullptr;
  --it;
  return cp <= it->last ? it : nullptr;
}

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

uint16_t flags(uint32_t cp, Classes classes) {
  static const std::array<uint16_t, 128> ascii = make_ascii_flags();
  if (cp < 128) return ascii[cp];
  if (cp > kMaxCodepoint) return kUndefined;
  if (classes == Classes::HfTokenizers) {
    if (const FlagChange* change = find_range(kFlagChangesHf, cp)) return change->flags;
  }
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

namespace {

// Hangul syllables decompose and compose by arithmetic (Unicode 3.12).
constexpr uint32_t kHangulBase = 0xAC00, kLeadBase = 0x1100, kVowelBase = 0x1161, kTrailBase = 0x11A7;
constexpr uint32_t kVowels = 21, kTrails = 28, kSyllables = 11172;

uint8_t combining_class(uint32_t cp) {
  const CombiningClassRun* run = find_range(kCombiningClasses, cp);
  return run != nullptr ? run->combining_class : 0;
}

void decompose(uint32_t cp, std::vector<uint32_t>& out) {
  if (cp >= kHangulBase && cp < kHangulBase + kSyllables) {
    const uint32_t index = cp - kHangulBase;
    out.push_back(kLeadBase + index / (kVowels * kTrails));
    out.push_back(kVowelBase + (index % (kVowels * kTrails)) / kTrails);
    if (index % kTrails != 0) out.push_back(kTrailBase + index % kTrails);
    return;
  }
  const Decomposition* it = std::lower_bound(std::begin(kDecompositions), std::end(kDecompositions), cp,
                                             [](const Decomposition& d, uint32_t value) { return d.code_point < value; });
  if (it == std::end(kDecompositions) || it->code_point != cp) {
    out.push_back(cp);
    return;
  }
  decompose(it->first, out);
  if (it->second != 0) decompose(it->second, out);
}

// The primary composite of a pair, or 0.
uint32_t compose(uint32_t first, uint32_t second) {
  if (first >= kLeadBase && first < kLeadBase + 19 && second >= kVowelBase && second < kVowelBase + kVowels)
    return kHangulBase + ((first - kLeadBase) * kVowels + (second - kVowelBase)) * kTrails;
  if (first >= kHangulBase && first < kHangulBase + kSyllables && (first - kHangulBase) % kTrails == 0 &&
      second > kTrailBase && second < kTrailBase + kTrails)
    return first + (second - kTrailBase);
  static const auto* pairs = [] {
    auto* map = new std::unordered_map<uint64_t, uint32_t>();
    for (const Decomposition& d : kDecompositions)
      if (d.composes) map->emplace((uint64_t{d.first} << 32) | d.second, d.code_point);
    return map;
  }();
  const auto it = pairs->find((uint64_t{first} << 32) | second);
  return it == pairs->end() ? 0 : it->second;
}

}  // namespace

std::string nfc(std::string_view text) {
  // Below U+0300 nothing decomposes, combines or composes.
  if (std::all_of(text.begin(), text.end(), [](char c) { return static_cast<uint8_t>(c) < 0xCC; })) return std::string(text);
  std::vector<uint32_t> decomposed;
  for (uint32_t cp : decode_utf8(text)) decompose(cp, decomposed);
  // Canonical order: each run of non-starters sorted by combining class, stably.
  for (size_t i = 1; i < decomposed.size(); ++i) {
    const uint8_t cc = combining_class(decomposed[i]);
    if (cc == 0) continue;
    for (size_t j = i; j > 0 && combining_class(decomposed[j - 1]) > cc; --j) std::swap(decomposed[j], decomposed[j - 1]);
  }
  // Canonical composition: a code point joins the last starter unless something between them
  // has class 0 or a class not below its own.
  std::vector<uint32_t> composed;
  composed.reserve(decomposed.size());
  size_t starter = SIZE_MAX;
  int last_class = -1;  // class of the last code point kept after the starter; -1: none
  for (uint32_t cp : decomposed) {
    const int cc = combining_class(cp);
    if (starter != SIZE_MAX && (last_class == -1 || (last_class != 0 && last_class < cc))) {
      if (const uint32_t joined = compose(composed[starter], cp); joined != 0) {
        composed[starter] = joined;
        continue;
      }
    }
    if (cc == 0) {
      starter = composed.size();
      last_class = -1;
    } else {
      last_class = cc;
    }
    composed.push_back(cp);
  }
  std::string out;
  out.reserve(text.size());
  for (uint32_t cp : composed) append_utf8(out, cp);
  return out;
}

}  // namespace ol::unicode

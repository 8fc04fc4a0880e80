// libFuzzer harness for the tokenizer: a random TokenizerSpec (sometimes inconsistent, which must
// be refused with std::runtime_error), then random text through encode/decode, the pre-tokenizers
// and the chat templates. Beyond "no crash", it checks invariants that hold for every input:
// ids are inside the vocabulary, pre-tokenizer words cover the text exactly, and a byte-level BPE
// vocabulary with every byte symbol decodes back to the text it encoded.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace {

using namespace ol;

[[noreturn]] void violated(const char* what) {
  std::fprintf(stderr, "invariant violated: %s\n", what);
  std::abort();
}

// The text as the tokenizers see it: invalid UTF-8 replaced by U+FFFD.
std::string normalized_utf8(const std::string& text) {
  std::string out;
  for (uint32_t cp : unicode::decode_utf8(text)) unicode::append_utf8(out, cp);
  return out;
}

void check_pre_tokenizers(const std::string& text) {
  const std::string expected = normalized_utf8(text);
  // Every rule set with both class tables: llama.cpp's (GGUF files) and tokenizers' (tokenizer.json).
  for (unicode::Classes classes : {unicode::Classes::LlamaCpp, unicode::Classes::HfTokenizers}) {
    for (PreTokenizer pre : {PreTokenizer::Default, PreTokenizer::Gpt2, PreTokenizer::Llama3, PreTokenizer::Qwen2,
                             PreTokenizer::SmolLM}) {
      std::string joined;
      for (const std::string& word : pre_tokenize(text, pre, classes)) {
        if (word.empty()) violated("empty pre-tokenizer word");
        for (uint32_t cp : unicode::decode_utf8(word)) {
          const int byte = unicode::symbol_to_byte(cp);
          if (byte < 0) violated("pre-tokenizer word is not byte-level encoded");
          joined += static_cast<char>(byte);
        }
      }
      if (joined != expected) violated("pre-tokenizer words do not cover the text");
    }
  }
  const std::string composed = unicode::nfc(text);
  if (unicode::nfc(composed) != composed) violated("NFC is not idempotent");
}

std::string random_text(FuzzedDataProvider& in, size_t max_length, bool ascii) {
  std::string s = in.ConsumeRandomLengthString(max_length);
  if (ascii) {
    for (char& c : s) c = static_cast<char>(0x21 + static_cast<uint8_t>(c) % 94);
  }
  return s;
}

TokenizerSpec random_spec(FuzzedDataProvider& in, bool& round_trips) {
  TokenizerSpec spec;
  static const TokenizerKind kKinds[] = {TokenizerKind::BytePairGpt2, TokenizerKind::SentencePiece,
                                         TokenizerKind::BytePairSpaceSymbol};
  spec.kind = kKinds[in.ConsumeIntegralInRange<size_t>(0, std::size(kKinds) - 1)];
  static const char* kPre[] = {"smollm", "llama-bpe", "qwen2", "gpt-2", "default", "", "unknown-pre"};
  spec.pre = kPre[in.ConsumeIntegralInRange<size_t>(0, std::size(kPre) - 1)];
  const bool byte_level = spec.kind == TokenizerKind::BytePairGpt2;  // BytePairSpaceSymbol: like SentencePiece
  // Round-trip mode: every byte symbol present, merges only of tokens whose result is a token,
  // special tokens ASCII and rendered by decode, a pre-tokenizer whose decoding keeps spaces, and
  // no SentencePiece-style prefix space.
  bool keeps_spaces = false;
  try {
    keeps_spaces = !pre_tokenizer_config(spec.pre).clean_spaces;
  } catch (const std::exception&) {  // "unknown-pre": refused by make_tokenizer below
  }
  round_trips = byte_level && keeps_spaces && in.ConsumeBool();
  const auto add = [&](std::string text, TokenType type) {
    spec.tokens.push_back(std::move(text));
    spec.types.push_back(type);
    spec.scores.push_back(in.ConsumeFloatingPointInRange<float>(-100.0f, 0.0f));
  };
  if (in.ConsumeBool() || round_trips) {
    static const char* kHex = "0123456789ABCDEF";
    for (int b = 0; b < 256; ++b) {
      if (byte_level) {
        add(unicode::byte_to_symbol(static_cast<uint8_t>(b)), TokenType::Normal);
      } else {
        add(std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">", TokenType::Byte);
      }
    }
  }
  const size_t extra = in.ConsumeIntegralInRange<size_t>(0, 48);
  for (size_t i = 0; i < extra && in.remaining_bytes() > 0; ++i) {
    switch (in.ConsumeIntegralInRange<int>(0, 2)) {
      case 0: {  // two existing tokens merged
        if (spec.tokens.empty()) break;
        const size_t a = in.ConsumeIntegralInRange<size_t>(0, spec.tokens.size() - 1);
        const size_t b = in.ConsumeIntegralInRange<size_t>(0, spec.tokens.size() - 1);
        if (spec.tokens[a].empty() || spec.tokens[b].empty()) break;
        if (round_trips && (spec.types[a] != TokenType::Normal || spec.types[b] != TokenType::Normal)) break;
        spec.merges.push_back(spec.tokens[a] + " " + spec.tokens[b]);
        add(spec.tokens[a] + spec.tokens[b], TokenType::Normal);
        break;
      }
      case 1: {  // special-looking token
        static const TokenType kSpecial[] = {TokenType::Control, TokenType::UserDefined, TokenType::Unknown};
        add("<|" + random_text(in, 6, round_trips) + "|>", kSpecial[in.ConsumeIntegralInRange<int>(0, 2)]);
        break;
      }
      default: {  // anything, of any type (a few out of range)
        const auto type = static_cast<TokenType>(in.ConsumeIntegralInRange<int>(0, round_trips ? 4 : 7));
        if (round_trips && (type == TokenType::Normal || type == TokenType::Undefined)) break;
        add(random_text(in, 8, round_trips), type);
        break;
      }
    }
  }
  if (!round_trips && in.ConsumeBool()) spec.merges.push_back(random_text(in, 8, false));
  if (in.ConsumeBool()) spec.scores.clear();
  if (in.ConsumeBool() && !round_trips) spec.types.clear();
  const int32_t n = static_cast<int32_t>(spec.tokens.size());
  spec.bos_id = in.ConsumeIntegralInRange<int32_t>(-2, n);
  spec.eos_id = in.ConsumeIntegralInRange<int32_t>(-2, n);
  spec.unk_id = in.ConsumeIntegralInRange<int32_t>(-1, n);
  spec.add_bos = in.ConsumeBool();
  spec.add_eos = in.ConsumeBool();
  spec.add_space_prefix = in.ConsumeBool() && !round_trips;  // decoding drops a prefix space
  if (in.ConsumeBool()) {  // as from tokenizer.json (NFC would change the text a round trip compares)
    HfTokenizerOptions& hf = spec.hf.emplace();
    hf.ignore_merges = in.ConsumeBool();
    hf.byte_fallback = in.ConsumeBool();
    hf.fuse_unk = in.ConsumeBool();
    hf.nfc = in.ConsumeBool() && !round_trips;
    hf.space_prefix = static_cast<SpacePrefix>(in.ConsumeIntegralInRange<int>(0, 3));
    hf.split_on_space_symbol = in.ConsumeBool();
    hf.spaces_in_normalizer = in.ConsumeBool();
    hf.decode_strips_leading_space = in.ConsumeBool() && !round_trips;
    hf.decode_byte_fallback = in.ConsumeBool();
    const size_t rules = in.ConsumeBool() ? spec.tokens.size() : in.ConsumeIntegralInRange<size_t>(0, 3);
    for (size_t i = 0; i < rules; ++i) {
      // Stripping whitespace into a token loses it from the decoded text.
      const bool lstrip = in.ConsumeBool() && !round_trips, rstrip = in.ConsumeBool() && !round_trips;
      hf.added_token_match.push_back({lstrip, rstrip, in.ConsumeBool()});
    }
  }
  return spec;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  bool round_trips = false;
  TokenizerSpec spec = random_spec(in, round_trips);
  const bool add_special = in.ConsumeBool();
  const bool parse_special = in.ConsumeBool();
  const std::string chat_template = in.ConsumeRandomLengthString(256);
  const std::string text = in.ConsumeRemainingBytesAsString();
  check_pre_tokenizers(text);

  spec.chat_template = chat_template;
  try {
    apply_chat_template(spec, {{"system", text}, {"user", text}, {"assistant", chat_template}}, true);
  } catch (const std::runtime_error&) {
    // unknown or missing template: refused, as documented
  }

  std::unique_ptr<Tokenizer> tokenizer;
  try {
    tokenizer = make_tokenizer(std::move(spec));
  } catch (const std::runtime_error&) {
    return 0;  // inconsistent spec: refused, as documented
  }
  const std::vector<int32_t> ids = tokenizer->encode(text, add_special, parse_special);
  for (int32_t id : ids) {
    if (id < 0 || id >= tokenizer->n_vocab()) violated("id outside the vocabulary");
  }
  for (int32_t id = 0; id < tokenizer->n_vocab(); ++id) tokenizer->token_to_piece(id, (id & 1) != 0);
  const std::string decoded = tokenizer->decode(ids, true);
  if (round_trips && !add_special && decoded != normalized_utf8(text)) violated("byte-level BPE did not round-trip");
  return 0;
}

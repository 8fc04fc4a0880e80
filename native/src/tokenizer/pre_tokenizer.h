// Byte-level BPE pre-tokenizers: split text into words the way llama.cpp's regexes do for each
// GGUF tokenizer.ggml.pre value, written by hand over Unicode classes (no std::regex).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "unicode.h"

namespace ol {

enum class PreTokenizer {
  Default,  // "default" or missing: GPT-2 rules plus punctuation, digit-run and 3-digit splits
  Gpt2,     // "gpt-2" (also phi-2, mpt, olmo, ...)
  Llama3,   // "llama-bpe" (also llama3, falcon3, ...): case-insensitive contractions, 1-3 digit numbers
  Qwen2,    // "qwen2": Llama-3 rules with single digits
  SmolLM,   // "smollm" (also starcoder, command-r, ...): single digits, then GPT-2 rules
};

// What a GGUF tokenizer.ggml.pre name means to llama.cpp.
struct PreTokenizerConfig {
  PreTokenizer rules;
  bool ignore_merges;  // look each whole word up in the vocabulary before merging (Llama 3)
  bool clean_spaces;   // decoding drops the space before . , ! ? and some contractions
};

// Throws std::runtime_error naming the value when llama.cpp does not know it or it belongs to a
// rule set not implemented here.
PreTokenizerConfig pre_tokenizer_config(std::string_view name);

// The words of `text`, each already byte-level encoded (every byte as its GPT-2 symbol), with
// code point classes from llama.cpp's Unicode version or `tokenizers`'.
std::vector<std::string> pre_tokenize(std::string_view text, PreTokenizer pre,
                                      unicode::Classes classes = unicode::Classes::LlamaCpp);

}  // namespace ol

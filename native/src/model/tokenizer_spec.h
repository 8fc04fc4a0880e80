// Fills a TokenizerSpec (tokenizer/tokenizer.h) from GGUF metadata (tokenizer.ggml.*) or from a
// Hugging Face directory (tokenizer.json + tokenizer_config.json). Throws ol::Error(BAD_FILE).
#pragma once

#include <string>

#include "model/gguf.h"
#include "tokenizer/tokenizer.h"

namespace ol {

TokenizerSpec tokenizer_spec_from_gguf(const GgufFile& gguf);
// Parses tokenizer.json text (byte-level BPE); `model_type` (config.json) picks the pre-tokenizer
// when the JSON does not identify it.
TokenizerSpec tokenizer_spec_from_tokenizer_json(const std::string& json, const std::string& model_type);
TokenizerSpec tokenizer_spec_from_hf(const std::string& dir, const std::string& model_type);

}  // namespace ol

// Fills a TokenizerSpec (tokenizer/tokenizer.h) from GGUF metadata (tokenizer.ggml.*) or from a
// Hugging Face directory (tokenizer.json + tokenizer_config.json). Throws ol::Error(BAD_FILE).
#pragma once

#include <string>

#include "model/gguf.h"
#include "tokenizer/tokenizer.h"

namespace ol {

TokenizerSpec tokenizer_spec_from_gguf(const GgufFile& gguf);
// Parses tokenizer.json text: BPE, byte-level (GPT-2, SmolLM, Llama 3, Qwen2 pre-tokenizers) or
// over '▁'-spaced text (Llama 2 / Mistral layouts), its added tokens and TemplateProcessing
// BOS/EOS. The spec reproduces Hugging Face `tokenizers` (spec.hf is set). Layouts it does not
// know are refused naming the part.
TokenizerSpec tokenizer_spec_from_tokenizer_json(const std::string& json);
// A Hugging Face directory: tokenizer.json, plus tokenizer_config.json (bos/eos/unk/pad tokens,
// add_bos_token / add_eos_token where tokenizer.json has no post-processor, chat_template) and
// chat_template.jinja when present.
TokenizerSpec tokenizer_spec_from_hf(const std::string& dir);

}  // namespace ol

// Conformance with llama.cpp: on every golden string our ids equal llama.cpp's (golden/*.json,
// written by golden/gen-tokenizer-golden.mjs through node-llama-cpp) for the real SmolLM2-135M-Instruct
// GGUF, for a byte-level vocabulary under the other pre-tokenizers, and for a SentencePiece one. The
// GGUF comes from $OL_SMOLLM2_GGUF or the model cache that scripts/bootstrap.sh fills; its metadata
// becomes a TokenizerSpec through the engine's loader (model/tokenizer_spec.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/mapped_file.h"
#include "model/gguf.h"
#include "model/tokenizer_spec.h"
#include "tokenizer/tokenizer.h"

namespace ol {
namespace {

std::string model_path() {
  if (const char* path = std::getenv("OL_SMOLLM2_GGUF")) return path;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "") + "/.cache/openledger/models/SmolLM2-135M-Instruct.Q4_1.gguf";
}

const std::string kGoldenDir = OL_TOKENIZER_GOLDEN_DIR;

TokenizerSpec spec_from_gguf_file(const std::string& path) {
  const MappedFile file(path);
  return tokenizer_spec_from_gguf(parse_gguf(file.data(), file.size()));
}

// One golden file: its header says which vocabulary (the real model or a fixture GGUF next to it,
// possibly under another pre-tokenizer) produced the ids.
class GoldenFile : public ::testing::TestWithParam<const char*> {};

TEST_P(GoldenFile, IdsAndDecodedTextEqualLlamaCpp) {
  const JsonValue golden = JsonValue::parse(read_text_file(kGoldenDir + "/" + GetParam(), 16 << 20));
  const JsonValue* fixture = golden.find("vocab_fixture");
  TokenizerSpec spec = spec_from_gguf_file(fixture ? kGoldenDir + "/" + fixture->as_string("vocab_fixture") : model_path());
  if (const JsonValue* pre = golden.find("pre_override")) spec.pre = pre->as_string("pre_override");
  const bool lossless = std::string(GetParam()) == "smollm2-tokenizer.json";
  const std::unique_ptr<Tokenizer> tokenizer = make_tokenizer(std::move(spec));
  const auto& cases = golden.find("cases")->as_array("cases");
  ASSERT_GE(cases.size(), 200u);
  size_t mismatches = 0;
  for (const JsonValue& c : cases) {
    const std::string& text = c.find("text")->as_string("text");
    const bool parse_special = c.find("parse_special")->as_bool("parse_special");
    std::vector<int32_t> expected;
    for (const JsonValue& id : c.find("ids")->as_array("ids")) expected.push_back(static_cast<int32_t>(id.as_int("id")));
    const std::vector<int32_t> ids = tokenizer->encode(text, false, parse_special);
    const std::string& decoded = c.find("decoded")->as_string("decoded");
    const std::string ours = tokenizer->decode(ids, true);
    if (ids != expected || ours != decoded) ++mismatches;
    EXPECT_EQ(ids, expected) << "text: \"" << text << "\" parse_special=" << parse_special;
    EXPECT_EQ(ours, decoded) << "text: \"" << text << "\"";
    // Byte-level BPE without llama.cpp's space clean-up loses nothing.
    if (lossless) {
      EXPECT_EQ(decoded, text);
    }
  }
  EXPECT_EQ(mismatches, 0u) << "of " << cases.size() << " golden strings";
}

INSTANTIATE_TEST_SUITE_P(Tokenizer, GoldenFile,
                         ::testing::Values("smollm2-tokenizer.json", "bpe-pre-llama-bpe-tokenizer.json",
                                           "bpe-pre-qwen2-tokenizer.json", "bpe-pre-gpt-2-tokenizer.json",
                                           "bpe-pre-default-tokenizer.json", "spm-tokenizer.json"));

// Conformance with Hugging Face `tokenizers`: golden/hf/<name>/ is a Hugging Face tokenizer
// directory and golden.json what `tokenizers` made of each string of golden/hf/strings.json
// (written by golden/gen-hf-tokenizer-golden.py): ids with special tokens in the text matched,
// with the post-processor's tokens added, with special tokens split like text, and the decoded
// text (a field left out equals "ids", or for "decoded" the string).
class HfGoldenDir : public ::testing::TestWithParam<const char*> {};

std::vector<int32_t> ids_of(const JsonValue& c, const char* key) {
  const JsonValue* list = c.find(key);
  if (list == nullptr) list = c.find("ids");
  std::vector<int32_t> ids;
  for (const JsonValue& id : list->as_array(key)) ids.push_back(static_cast<int32_t>(id.as_int("id")));
  return ids;
}

TEST_P(HfGoldenDir, IdsAndDecodedTextEqualHfTokenizers) {
  const std::string dir = kGoldenDir + "/hf/" + GetParam();
  const JsonValue strings = JsonValue::parse(read_text_file(kGoldenDir + "/hf/strings.json", 16 << 20));
  const JsonValue golden = JsonValue::parse(read_text_file(dir + "/golden.json", 16 << 20));
  const std::unique_ptr<Tokenizer> tokenizer = make_tokenizer(tokenizer_spec_from_hf(dir));
  const auto& texts = strings.as_array("strings");
  const auto& cases = golden.find("cases")->as_array("cases");
  ASSERT_EQ(cases.size(), texts.size());
  ASSERT_GE(cases.size(), 400u);
  size_t mismatches = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const JsonValue& c = cases[i];
    const std::string& text = texts[i].as_string("text");
    const JsonValue* decoded_field = c.find("decoded");
    const std::string& expected_text = decoded_field != nullptr ? decoded_field->as_string("decoded") : text;
    const std::vector<int32_t> ids = tokenizer->encode(text, false, true);
    const std::vector<int32_t> with_special = tokenizer->encode(text, true, true);
    const std::vector<int32_t> split_special = tokenizer->encode(text, false, false);
    const std::string decoded = tokenizer->decode(ids, true);
    const bool same = ids == ids_of(c, "ids") && with_special == ids_of(c, "ids_add_special") &&
                      split_special == ids_of(c, "ids_split_special") && decoded == expected_text;
    if (!same) ++mismatches;
    EXPECT_EQ(ids, ids_of(c, "ids")) << "text: \"" << text << "\"";
    EXPECT_EQ(with_special, ids_of(c, "ids_add_special")) << "text: \"" << text << "\" (special tokens added)";
    EXPECT_EQ(split_special, ids_of(c, "ids_split_special")) << "text: \"" << text << "\" (special tokens split)";
    EXPECT_EQ(decoded, expected_text) << "text: \"" << text << "\"";
  }
  EXPECT_EQ(mismatches, 0u) << "of " << cases.size() << " golden strings";
}

INSTANTIATE_TEST_SUITE_P(Tokenizer, HfGoldenDir,
                         ::testing::Values("llama3", "qwen2", "gpt2", "smollm", "llama2", "mistral"));

TEST(HfLlama3Directory, ConfigAndPostProcessorGiveSpecialTokensAndTemplate) {
  const TokenizerSpec spec = tokenizer_spec_from_hf(kGoldenDir + "/hf/llama3");
  EXPECT_EQ(spec.bos_id, 1);  // TemplateProcessing's <|im_start|>, also the config's bos_token
  EXPECT_EQ(spec.eos_id, 2);  // the config's <|im_end|>
  EXPECT_TRUE(spec.add_bos);
  EXPECT_FALSE(spec.add_eos);
  EXPECT_EQ(apply_chat_template(spec, {{"user", "Hi"}}, false), "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>");
}

TEST(SmolLM2Tokenizer, ChatTemplateFromMetadata) {
  const std::unique_ptr<Tokenizer> tokenizer = make_tokenizer(spec_from_gguf_file(model_path()));
  const std::string prompt = apply_chat_template(tokenizer->spec(), {{"user", "What is 2+2?"}}, true);
  EXPECT_EQ(prompt,
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
            "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n");
  const std::vector<int32_t> ids = tokenizer->encode(prompt, true, true);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids.front(), 1);  // <|im_start|>; the GGUF says add_bos_token = false
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 2), 2);  // two <|im_end|>
}

}  // namespace
}  // namespace ol

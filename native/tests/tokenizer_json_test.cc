// tokenizer.json and Hugging Face directories (model/tokenizer_spec.h): layouts we do not know are
// refused with a message naming the part, never guessed; tokenizer_config.json supplies the
// special tokens and the chat template. What the accepted layouts tokenize to is checked against
// `tokenizers` itself in tokenizer_golden_test.cc.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "model/tokenizer_spec.h"
#include "tokenizer/tokenizer.h"

namespace ol {
namespace {

// A tiny byte-level tokenizer.json with the given pre-tokenizer / normalizer / decoder / model
// extras / post-processor; the vocabulary has every byte symbol a test text needs.
std::string byte_level_json(const std::string& pre_tokenizer, const std::string& normalizer = "null",
                            const std::string& decoder = R"({"type":"ByteLevel"})", const std::string& model_extra = "",
                            const std::string& post = "null", const std::string& added = "") {
  return R"({"version":"1.0","added_tokens":[{"id":0,"content":"<|endoftext|>","special":true})" + added +
         R"(],"normalizer":)" + normalizer + R"(,"pre_tokenizer":)" + pre_tokenizer + R"(,"post_processor":)" + post +
         R"(,"decoder":)" + decoder + R"(,"model":{"type":"BPE")" + model_extra +
         R"(,"vocab":{"<|endoftext|>":0,"h":1,"i":2,"hi":3,"Ġ":4,"Ġhi":5,"1":6,"2":7},"merges":["h i","Ġ hi"]}})";
}

const std::string kGpt2Pre = R"({"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true})";

// The ol::Error(OL_ERR_BAD_FILE) message of loading `json`, or "" when it loads.
std::string refusal(const std::string& json) {
  try {
    tokenizer_spec_from_tokenizer_json(json);
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), OL_ERR_BAD_FILE);
    return e.what();
  }
  return "";
}

TEST(TokenizerJson, LoadsByteLevelBpe) {
  const TokenizerSpec spec = tokenizer_spec_from_tokenizer_json(byte_level_json(kGpt2Pre));
  ASSERT_TRUE(spec.hf.has_value());
  EXPECT_EQ(spec.kind, TokenizerKind::BytePairGpt2);
  EXPECT_EQ(spec.pre, "gpt-2");
  const auto tokenizer = make_tokenizer(spec);
  EXPECT_EQ(tokenizer->encode("hi hi<|endoftext|>", false, true), (std::vector<int32_t>{3, 5, 0}));
  EXPECT_EQ(tokenizer->decode({3, 5, 0}, false), "hi hi");
  EXPECT_EQ(tokenizer->decode({3, 5, 0}, true), "hi hi<|endoftext|>");
}

TEST(TokenizerJson, SplitRegexesMapToTheirRules) {
  const auto split_then_byte_level = [](const std::string& regex) {
    return R"({"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":")" + regex +
           R"("},"behavior":"Isolated","invert":false},{"type":"ByteLevel","add_prefix_space":false,"use_regex":false}]})";
  };
  const std::pair<std::string, std::string> known[] = {
      {R"('s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+)", "gpt-2"},
      {R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+)",
       "llama-bpe"},
      {R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+)",
       "qwen2"}};
  for (const auto& [regex, rules] : known)
    EXPECT_EQ(tokenizer_spec_from_tokenizer_json(byte_level_json(split_then_byte_level(regex))).pre, rules) << regex;
  const std::string digits = R"({"type":"Sequence","pretokenizers":[{"type":"Digits","individual_digits":true},)" + kGpt2Pre + "]}";
  EXPECT_EQ(tokenizer_spec_from_tokenizer_json(byte_level_json(digits)).pre, "smollm");
}

TEST(TokenizerJson, RefusesUnknownLayoutsNamingThePart) {
  EXPECT_NE(refusal(R"({"model":{"type":"Unigram","vocab":[]}})").find("model.type 'Unigram'"), std::string::npos);
  EXPECT_NE(refusal(R"({"model":{"type":"WordPiece","vocab":{}}})").find("WordPiece"), std::string::npos);
  EXPECT_NE(refusal(byte_level_json(R"({"type":"Whitespace"})")).find("pre_tokenizer [Whitespace]"), std::string::npos);
  const std::string other_split =
      R"({"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"\\p{N}{1,2}"},"behavior":"Isolated","invert":false},)"
      R"({"type":"ByteLevel","add_prefix_space":false,"use_regex":false}]})";
  EXPECT_NE(refusal(byte_level_json(other_split)).find("Split pattern '\\p{N}{1,2}'"), std::string::npos);
  EXPECT_NE(refusal(byte_level_json(R"({"type":"ByteLevel","add_prefix_space":true})")).find("add_prefix_space"),
            std::string::npos);
  EXPECT_NE(refusal(byte_level_json(kGpt2Pre, R"({"type":"Lowercase"})")).find("normalizer Lowercase"), std::string::npos);
  EXPECT_NE(refusal(byte_level_json(kGpt2Pre, "null", "null")).find("without a decoder"), std::string::npos);
  EXPECT_NE(refusal(byte_level_json(kGpt2Pre, "null", R"({"type":"WordPiece"})")).find("decoder WordPiece"),
            std::string::npos);
  EXPECT_NE(refusal(byte_level_json(kGpt2Pre, "null", R"({"type":"ByteLevel"})", R"(,"dropout":0.1)")).find("dropout"),
            std::string::npos);
  EXPECT_NE(refusal(byte_level_json(kGpt2Pre, "null", R"({"type":"ByteLevel"})", R"(,"unk_token":"<unk>")"))
                .find("unk_token '<unk>'"),
            std::string::npos);
  EXPECT_NE(refusal(byte_level_json(kGpt2Pre, "null", R"({"type":"ByteLevel"})", "",
                                    R"({"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>"}},{"Sequence":{"id":"A"}}]})"))
                .find("unknown token '<s>'"),
            std::string::npos);
  EXPECT_NE(refusal(byte_level_json(kGpt2Pre, "null", R"({"type":"ByteLevel"})", "", "null",
                                    R"(,{"id":8,"content":"x","single_word":true})"))
                .find("single_word"),
            std::string::npos);
  EXPECT_FALSE(refusal(R"({"model":)").empty());  // malformed JSON
  EXPECT_FALSE(refusal(R"([1,2])").empty());
}

TEST(TokenizerJson, MergeIntoAnUnknownTokenIsRefusedByMakeTokenizer) {
  std::string json = byte_level_json(kGpt2Pre);
  json.replace(json.find(R"("h i")"), 5, R"("i h")");
  EXPECT_THROW(
      {
        try {
          make_tokenizer(tokenizer_spec_from_tokenizer_json(json));
        } catch (const std::runtime_error& e) {
          EXPECT_NE(std::string(e.what()).find("makes a token not in the vocabulary"), std::string::npos);
          throw;
        }
      },
      std::runtime_error);
}

TEST(TokenizerJson, TemplateProcessingAddsBosAndEos) {
  const std::string post = R"({"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<|endoftext|>","type_id":0}},)"
                           R"({"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"1","type_id":0}}]})";
  const TokenizerSpec spec = tokenizer_spec_from_tokenizer_json(byte_level_json(kGpt2Pre, "null", R"({"type":"ByteLevel"})", "", post));
  EXPECT_TRUE(spec.add_bos);
  EXPECT_TRUE(spec.add_eos);
  EXPECT_EQ(spec.bos_id, 0);
  EXPECT_EQ(spec.eos_id, 6);
  EXPECT_EQ(make_tokenizer(spec)->encode("hi", true, true), (std::vector<int32_t>{0, 3, 6}));
}

// Metaspace with prepend_scheme "always" and no split, byte fallback in the model but not in the
// decoder; the expected ids and texts are what `tokenizers` 0.23.3 gives.
TEST(TokenizerJson, MetaspaceAlwaysWithoutSplitLikeTokenizers) {
  const std::string json = R"({"added_tokens":[{"id":0,"content":"<unk>","special":true},{"id":1,"content":"<s>","special":true}],
    "normalizer":null,"pre_tokenizer":{"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":false},
    "post_processor":null,"decoder":{"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":false},
    "model":{"type":"BPE","unk_token":"<unk>","fuse_unk":true,"byte_fallback":true,
      "vocab":{"<unk>":0,"<s>":1,"</s>":2,"▁":3,"h":4,"i":5,"▁h":6,"▁hi":7,"hi":8,"<0x0A>":9,"<0xC3>":10,"<0xA9>":11},
      "merges":["▁ h","h i","▁h i"]}})";
  const auto tokenizer = make_tokenizer(tokenizer_spec_from_tokenizer_json(json));
  const std::pair<std::string, std::vector<int32_t>> cases[] = {
      {"hi hi", {7, 7}}, {" hi", {7}}, {"<s>hi", {1, 7}}, {"hi<s> hi", {7, 1, 7}}, {"hhi\n\xC3\xA9", {6, 8, 9, 10, 11}},
      {"xx hi", {3, 0, 7}}};
  for (const auto& [text, ids] : cases) EXPECT_EQ(tokenizer->encode(text, false, true), ids) << text;
  EXPECT_EQ(tokenizer->decode({1, 7}, true), "<s> hi");
  EXPECT_EQ(tokenizer->decode({3, 0, 7}, true), "<unk> hi");
  EXPECT_EQ(tokenizer->decode({6, 8, 9, 10, 11}, true), "hhi<0x0A><0xC3><0xA9>");  // no ByteFallback decoder
}

class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() / ("ol-tokjson-" + std::to_string(::getpid()) + "-" +
                                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name) << text;
    return path_.string();
  }

 private:
  std::filesystem::path path_;
};

TEST(HfDirectory, ConfigGivesSpecialTokensAndChatTemplate) {
  TempDir dir;
  dir.write("tokenizer.json", byte_level_json(kGpt2Pre));
  const std::string path = dir.write("tokenizer_config.json", R"({"bos_token":{"content":"<|endoftext|>","__type":"AddedToken"},
    "eos_token":"hi","add_bos_token":true,
    "chat_template":[{"name":"tool_use","template":"tools"},{"name":"default","template":"{{ messages }}"}]})");
  TokenizerSpec spec = tokenizer_spec_from_hf(path);
  EXPECT_EQ(spec.bos_id, 0);
  EXPECT_EQ(spec.eos_id, 3);
  EXPECT_TRUE(spec.add_bos);  // no post-processor: the config's add_bos_token counts
  EXPECT_EQ(spec.chat_template, "{{ messages }}");
  dir.write("chat_template.jinja", "{% for m in messages %}{% endfor %}");
  EXPECT_EQ(tokenizer_spec_from_hf(path).chat_template, "{% for m in messages %}{% endfor %}");
}

TEST(HfDirectory, PostProcessorDecidesOverConfigAndMustAgreeOnEos) {
  TempDir dir;
  const std::string eos_template = R"({"type":"TemplateProcessing","single":[{"Sequence":{"id":"A","type_id":0}},)"
                                   R"({"SpecialToken":{"id":"<|endoftext|>","type_id":0}}]})";
  dir.write("tokenizer.json", byte_level_json(kGpt2Pre, "null", R"({"type":"ByteLevel"})", "", eos_template));
  std::string path = dir.write("tokenizer_config.json", R"({"eos_token":"<|endoftext|>","add_bos_token":true,"bos_token":"h"})");
  const TokenizerSpec spec = tokenizer_spec_from_hf(path);
  EXPECT_FALSE(spec.add_bos);
  EXPECT_TRUE(spec.add_eos);
  EXPECT_EQ(spec.bos_id, 1);
  path = dir.write("tokenizer_config.json", R"({"eos_token":"hi"})");
  try {
    tokenizer_spec_from_hf(path);
    ADD_FAILURE() << "an eos_token other than the post-processor's was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("eos_token is 'hi'"), std::string::npos) << e.what();
  }
}

TEST(HfDirectory, MissingTokenizerJsonIsRefused) {
  TempDir dir;
  const std::string path = dir.write("config.json", "{}");
  EXPECT_THROW(tokenizer_spec_from_hf(path), Error);
}

}  // namespace
}  // namespace ol

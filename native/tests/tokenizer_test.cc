// Unit tests of the tokenizer library on small hand-made vocabularies: pre-tokenizer splits, BPE
// merge order, SentencePiece scores and byte fallback, special tokens, decoding, spec validation,
// chat templates. Conformance with llama.cpp on a real vocabulary is tokenizer_golden_test.cc.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace ol {
namespace {

using Words = std::vector<std::string>;

// Byte-level words are hard to read; decode them back to plain text for the comparisons.
Words plain(const Words& words) {
  Words out;
  for (const std::string& word : words) {
    std::string text;
    for (uint32_t cp : unicode::decode_utf8(word)) text += static_cast<char>(unicode::symbol_to_byte(cp));
    out.push_back(text);
  }
  return out;
}

Words split(std::string_view text, PreTokenizer pre) { return plain(pre_tokenize(text, pre)); }

TEST(PreTokenizer, SmolLMSplitsEveryDigitThenGpt2Rules) {
  EXPECT_EQ(split("Hello world  123", PreTokenizer::SmolLM), (Words{"Hello", " world", "  ", "1", "2", "3"}));
  EXPECT_EQ(split("a  b", PreTokenizer::SmolLM), (Words{"a", " ", " b"}));
  EXPECT_EQ(split("it's I'M", PreTokenizer::SmolLM), (Words{"it", "'s", " I", "'", "M"}));
  EXPECT_EQ(split("x1.5", PreTokenizer::SmolLM), (Words{"x", "1", ".", "5"}));
}

TEST(PreTokenizer, Llama3GroupsDigitsByThreeAndFoldsContractions) {
  EXPECT_EQ(split("1234567", PreTokenizer::Llama3), (Words{"123", "456", "7"}));
  EXPECT_EQ(split("Hello world  123", PreTokenizer::Llama3), (Words{"Hello", " world", " ", " ", "123"}));
  EXPECT_EQ(split("I'M here", PreTokenizer::Llama3), (Words{"I", "'M", " here"}));
  EXPECT_EQ(split("a\n\n b", PreTokenizer::Llama3), (Words{"a", "\n\n", " b"}));
  EXPECT_EQ(split("(x)!!\n\ny", PreTokenizer::Llama3), (Words{"(x", ")!!\n\n", "y"}));
}

TEST(PreTokenizer, Qwen2SplitsSingleDigits) {
  EXPECT_EQ(split("abc 123", PreTokenizer::Qwen2), (Words{"abc", " ", "1", "2", "3"}));
}

TEST(PreTokenizer, DefaultSplitsPunctuationDigitRunsAndTriples) {
  EXPECT_EQ(split("a+b=1234", PreTokenizer::Default), (Words{"a", "+", "b", "=", "123", "4"}));
}

TEST(PreTokenizer, UnicodeClasses) {
  // Letters from any script join a word; a combining mark is not a letter; CJK is letters.
  EXPECT_EQ(split("Привет мир", PreTokenizer::Gpt2), (Words{"Привет", " мир"}));
  EXPECT_EQ(split("e\u0301t\u00e9", PreTokenizer::Gpt2), (Words{"e", "\u0301", "t\u00e9"}));
  EXPECT_EQ(split("中文 ٣٤", PreTokenizer::Gpt2), (Words{"中文", " ٣٤"}));
  EXPECT_EQ(split("a\u3000\u3000b", PreTokenizer::Gpt2), (Words{"a", "\u3000", "\u3000", "b"}));
  EXPECT_EQ(unicode::flags(0x1F600) & unicode::kSymbol, unicode::kSymbol);
  EXPECT_EQ(unicode::flags(0x10FFFF + 1), unicode::kUndefined);
}

TEST(PreTokenizer, InvalidUtf8BecomesReplacementCharacters) {
  EXPECT_EQ(unicode::decode_utf8("a\xC3"), (std::vector<uint32_t>{'a', 0xFFFD}));
  EXPECT_EQ(unicode::decode_utf8("\x80\xE2\x82"), (std::vector<uint32_t>{0xFFFD, 0xFFFD, 0xFFFD}));
}

TEST(PreTokenizer, NamesAsLlamaCppReadsThem) {
  EXPECT_THROW(pre_tokenizer_config("no-such-pre"), std::runtime_error);
  EXPECT_THROW(pre_tokenizer_config("tekken"), std::runtime_error);
  EXPECT_EQ(pre_tokenizer_config("smollm").rules, PreTokenizer::SmolLM);
  EXPECT_FALSE(pre_tokenizer_config("smollm").clean_spaces);
  EXPECT_EQ(pre_tokenizer_config("starcoder").rules, PreTokenizer::SmolLM);
  EXPECT_EQ(pre_tokenizer_config("llama-bpe").rules, PreTokenizer::Llama3);
  EXPECT_TRUE(pre_tokenizer_config("llama-bpe").ignore_merges);
  EXPECT_TRUE(pre_tokenizer_config("gpt-2").clean_spaces);
  EXPECT_EQ(pre_tokenizer_config("").rules, PreTokenizer::Default);
}

// A byte-level vocabulary: the 256 byte symbols (id = byte), then merged tokens and specials.
TokenizerSpec byte_level_spec(const std::vector<std::string>& merges) {
  TokenizerSpec spec;
  spec.kind = TokenizerKind::BytePairGpt2;
  spec.pre = "gpt-2";
  for (int b = 0; b < 256; ++b) spec.tokens.push_back(unicode::byte_to_symbol(static_cast<uint8_t>(b)));
  spec.types.assign(256, TokenType::Normal);
  for (const std::string& merge : merges) {
    const size_t space = merge.find(' ');
    spec.tokens.push_back(merge.substr(0, space) + merge.substr(space + 1));
    spec.types.push_back(TokenType::Normal);
  }
  spec.merges = merges;
  const auto add = [&](const std::string& text, TokenType type) {
    spec.tokens.push_back(text);
    spec.types.push_back(type);
    return static_cast<int32_t>(spec.tokens.size() - 1);
  };
  spec.bos_id = add("<|bos|>", TokenType::Control);
  spec.eos_id = add("<|eos|>", TokenType::Control);
  add("<tool>", TokenType::UserDefined);
  return spec;
}

int32_t id_of(const Tokenizer& t, const std::string& text) {
  const auto& tokens = t.spec().tokens;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] == text) return static_cast<int32_t>(i);
  }
  throw std::runtime_error("no token " + text);
}

TEST(BytePair, MergesByRankLeftmostFirst) {
  // "t h" outranks "h e", so "the" merges t+h first and then needs "th e".
  auto t = make_tokenizer(byte_level_spec({"t h", "h e", "th e"}));
  EXPECT_EQ(t->encode("the", false, false), (std::vector<int32_t>{id_of(*t, "the")}));
  // Without "th e" the word stops at "th" + "e" even though "he" exists.
  auto t2 = make_tokenizer(byte_level_spec({"t h", "h e"}));
  EXPECT_EQ(t2->encode("the", false, false), (std::vector<int32_t>{id_of(*t2, "th"), 'e'}));
  // Equal ranks cannot happen, but overlapping candidates resolve leftmost: "aaa" -> "aa" + "a".
  auto t3 = make_tokenizer(byte_level_spec({"a a"}));
  EXPECT_EQ(t3->encode("aaa", false, false), (std::vector<int32_t>{id_of(*t3, "aa"), 'a'}));
}

TEST(BytePair, WordsDoNotMergeAcrossPreTokenizerSplits) {
  auto t = make_tokenizer(byte_level_spec({"Ġ t", "e Ġ"}));
  // "e " would merge, but the space belongs to the next word (" t").
  EXPECT_EQ(t->encode("e t", false, false), (std::vector<int32_t>{'e', id_of(*t, "Ġt")}));
}

TEST(BytePair, BytesOfAnyTextRoundTrip) {
  auto t = make_tokenizer(byte_level_spec({"Ġ t", "h e", "Ġt he"}));
  const std::string text = "the Thé 中文 😀 \t\n  x";
  const auto ids = t->encode(text, false, false);
  EXPECT_EQ(t->decode(ids, false), text);
  EXPECT_EQ(t->token_to_piece(id_of(*t, "Ġthe"), false), " the");
}

TEST(BytePair, DecodeCleansSpacesAsLlamaCppDoesForMostPreTokenizers) {
  TokenizerSpec spec = byte_level_spec({});
  const std::string text = "a , b ' c 's d 't e ?";
  auto gpt2 = make_tokenizer(spec);
  EXPECT_EQ(gpt2->decode(gpt2->encode(text, false, false), false), "a, b'c's d 't e?");
  spec.pre = "smollm";
  auto smollm = make_tokenizer(spec);
  EXPECT_EQ(smollm->decode(smollm->encode(text, false, false), false), text);
}

TEST(BytePair, SpecialTokens) {
  auto t = make_tokenizer(byte_level_spec({}));
  const int32_t bos = t->spec().bos_id, tool = id_of(*t, "<tool>");
  // Control tokens only when parse_special; user-defined ones always.
  EXPECT_EQ(t->encode("a<|bos|>b", false, true), (std::vector<int32_t>{'a', bos, 'b'}));
  EXPECT_EQ(t->encode("a<|bos|>b", false, false).size(), 9u);
  EXPECT_EQ(t->encode("<tool>x<tool>", false, false), (std::vector<int32_t>{tool, 'x', tool}));
  EXPECT_EQ(t->token_to_piece(bos, false), "");
  EXPECT_EQ(t->token_to_piece(bos, true), "<|bos|>");
  EXPECT_EQ(t->token_to_piece(tool, false), "<tool>");
}

TEST(BytePair, BosEosAsTheSpecSays) {
  TokenizerSpec spec = byte_level_spec({});
  spec.add_bos = true;
  spec.add_eos = true;
  auto t = make_tokenizer(spec);
  const auto ids = t->encode("x", true, false);
  EXPECT_EQ(ids, (std::vector<int32_t>{spec.bos_id, 'x', spec.eos_id}));
  EXPECT_EQ(t->encode("x", false, false), (std::vector<int32_t>{'x'}));
  EXPECT_EQ(t->encode("", true, false), (std::vector<int32_t>{spec.bos_id, spec.eos_id}));
  EXPECT_EQ(t->decode(ids, true), "<|bos|>x<|eos|>");
}

TEST(BytePair, Llama3LooksWholeWordsUpFirst) {
  // No merge path leads to "abc", but with ignore_merges the whole word is a token.
  TokenizerSpec spec = byte_level_spec({"a b"});
  spec.tokens.push_back("abc");
  spec.types.push_back(TokenType::Normal);
  spec.pre = "llama-bpe";
  auto t = make_tokenizer(spec);
  EXPECT_EQ(t->encode("abc", false, false), (std::vector<int32_t>{id_of(*t, "abc")}));
  spec.pre = "gpt-2";
  auto t2 = make_tokenizer(spec);
  EXPECT_EQ(t2->encode("abc", false, false), (std::vector<int32_t>{id_of(*t2, "ab"), 'c'}));
}

TEST(Spec, InconsistentSpecsAreRefused) {
  const auto refused = [](TokenizerSpec spec, const std::string& fragment) {
    try {
      make_tokenizer(std::move(spec));
    } catch (const std::runtime_error& e) {
      return std::string(e.what()).find(fragment) != std::string::npos;
    }
    return false;
  };
  TokenizerSpec spec = byte_level_spec({"t h"});
  EXPECT_TRUE(refused([&] { auto s = spec; s.tokens.clear(); s.types.clear(); return s; }(), "no tokens"));
  EXPECT_TRUE(refused([&] { auto s = spec; s.pre = "nope"; return s; }(), "unknown pre-tokenizer 'nope'"));
  EXPECT_TRUE(refused([&] { auto s = spec; s.bos_id = 100000; return s; }(), "bos id 100000"));
  EXPECT_TRUE(refused([&] { auto s = spec; s.merges.push_back("x zz"); return s; }(), "not in the vocabulary"));
  EXPECT_TRUE(refused([&] { auto s = spec; s.merges.push_back("nospace"); return s; }(), "separated by a space"));
  EXPECT_TRUE(refused([&] { auto s = spec; s.scores = {1.0f}; return s; }(), "1 scores"));
  EXPECT_TRUE(refused([&] { auto s = spec; s.types[3] = static_cast<TokenType>(42); return s; }(), "unknown type 42"));
  EXPECT_TRUE(refused([&] { auto s = spec; s.bos_id = -1; s.add_bos = true; return s; }(), "no bos id"));
  EXPECT_THROW(make_tokenizer(spec)->token_to_piece(-1, false), std::out_of_range);
}

// SentencePiece: "▁" marks spaces; merges follow scores; unknown characters fall back to bytes.
TokenizerSpec sentencepiece_spec() {
  TokenizerSpec spec;
  spec.kind = TokenizerKind::SentencePiece;
  const auto add = [&](const std::string& text, TokenType type, float score) {
    spec.tokens.push_back(text);
    spec.types.push_back(type);
    spec.scores.push_back(score);
  };
  add("<unk>", TokenType::Unknown, 0);
  add("<s>", TokenType::Control, 0);
  add("</s>", TokenType::Control, 0);
  static const char* kHex = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) add(std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">", TokenType::Byte, 0);
  for (const char* piece : {"\xE2\x96\x81", "h", "e", "l", "o", "w", "r", "d"}) add(piece, TokenType::Normal, -10);
  add("ll", TokenType::Normal, -1);
  add("he", TokenType::Normal, -2);
  add("llo", TokenType::Normal, -3);
  add("hello", TokenType::Normal, -4);
  add("\xE2\x96\x81hello", TokenType::Normal, -5);
  add("el", TokenType::Normal, -0.5f);  // best pair in "hello", but leads away from "hello"
  spec.unk_id = 0;
  spec.bos_id = 1;
  spec.eos_id = 2;
  spec.add_bos = true;
  spec.add_space_prefix = true;
  return spec;
}

TEST(SentencePiece, MergesByScoreWithSpacePrefixAndBos) {
  auto t = make_tokenizer(sentencepiece_spec());
  // "▁hello": "el" (-0.5) merges first, which blocks "ll"/"he": ▁ h el l o -> no further tokens.
  const auto ids = t->encode("hello", true, false);
  EXPECT_EQ(ids, (std::vector<int32_t>{1, id_of(*t, "\xE2\x96\x81"), id_of(*t, "h"), id_of(*t, "el"),
                                       id_of(*t, "l"), id_of(*t, "o")}));
  EXPECT_EQ(t->decode(ids, false), " hello");  // the BOS piece absorbs the prefix strip, as in llama.cpp
  EXPECT_EQ(t->decode(std::vector<int32_t>(ids.begin() + 1, ids.end()), false), "hello");
}

TEST(SentencePiece, ByteFallbackForUnknownCharacters) {
  auto t = make_tokenizer(sentencepiece_spec());
  const auto ids = t->encode("ж", false, false);
  // ▁ then the two UTF-8 bytes of ж (0xD0 0xB6) as <0xNN> tokens (byte b is id 3 + b).
  EXPECT_EQ(ids, (std::vector<int32_t>{id_of(*t, "\xE2\x96\x81"), 3 + 0xD0, 3 + 0xB6}));
  EXPECT_EQ(t->decode(ids, false), "ж");
}

TEST(SentencePiece, SpecialTokensResetTheSpacePrefix) {
  auto t = make_tokenizer(sentencepiece_spec());
  const int32_t space = id_of(*t, "\xE2\x96\x81");
  EXPECT_EQ(t->encode("d</s>d", false, true), (std::vector<int32_t>{space, id_of(*t, "d"), 2, space, id_of(*t, "d")}));
  EXPECT_EQ(t->encode("d</s>", false, false).size(), 6u);  // not parsed: ▁ d < / s > -> bytes for <,/,s,>
}

TEST(ChatTemplate, SmolLM2ChatMLWithDefaultSystemMessage) {
  TokenizerSpec spec;
  spec.chat_template =
      "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n"
      "You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}"
      "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
      "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";
  EXPECT_EQ(apply_chat_template(spec, {{"user", "Hi"}}, true),
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(apply_chat_template(spec, {{"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello"}}, false),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\nHello<|im_end|>\n");
}

TEST(ChatTemplate, Qwen2EscapedDefaultSystemAndPlainChatML) {
  TokenizerSpec spec;
  spec.chat_template =
      "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
      "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
      "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}";
  EXPECT_EQ(apply_chat_template(spec, {{"user", "x"}}, false),
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nx<|im_end|>\n");
  spec.chat_template =
      "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
      "'<|im_end|>' + '\\n'}}{% endfor %}";
  EXPECT_EQ(apply_chat_template(spec, {{"user", "x"}}, true), "<|im_start|>user\nx<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplate, Qwen25DefaultSystemAfterAHeaderOnlyLiteral) {
  TokenizerSpec spec;
  spec.chat_template =
      "{%- if tools %}{{- '<|im_start|>system\\n' }}{%- if messages[0]['role'] == 'system' %}{{- messages[0]['content'] }}"
      "{%- endif %}{{- \"\\n\\n# Tools\" }}{%- else %}{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + "
      "messages[0]['content'] + '<|im_end|>\\n' }}{%- else %}{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba "
      "Cloud. You are a helpful assistant.<|im_end|>\\n' }}{%- endif %}{%- endif %}";
  EXPECT_EQ(apply_chat_template(spec, {{"user", "x"}}, false),
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
            "<|im_start|>user\nx<|im_end|>\n");
}

TEST(ChatTemplate, Llama3) {
  TokenizerSpec spec;
  spec.chat_template =
      "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
      "message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{{ content }}{% endfor %}";
  EXPECT_EQ(apply_chat_template(spec, {{"system", "S"}, {"user", " Hi \n"}}, true),
            "<|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi"
            "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(ChatTemplate, Llama2WithSystemBlock) {
  TokenizerSpec spec;
  spec.chat_template = "{{ bos_token }}{% if messages[0]['role'] == 'system' %}<<SYS>>\\n...{% endif %}[INST] ... [/INST]";
  EXPECT_EQ(apply_chat_template(spec, {{"system", "S"}, {"user", "Q1"}, {"assistant", "A1"}, {"user", "Q2"}}, true),
            "[INST] <<SYS>>\nS\n<</SYS>>\n\nQ1 [/INST]A1</s>[INST] Q2 [/INST]");
}

TEST(ChatTemplate, UnknownOrMissingTemplatesAreRefused) {
  TokenizerSpec spec;
  EXPECT_THROW(apply_chat_template(spec, {{"user", "x"}}, true), std::runtime_error);
  spec.chat_template = "{{ '<|im_start|>' + message['role'] + '<|im_sep|>' }}";  // Phi-4, not ChatML
  EXPECT_THROW(apply_chat_template(spec, {{"user", "x"}}, true), std::runtime_error);
  spec.chat_template = "{{ '### Human: ' + messages[0]['content'] }}";
  try {
    apply_chat_template(spec, {{"user", "x"}}, true);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("### Human"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ol

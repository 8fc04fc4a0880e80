// Chat templates: the family is recognised from the template source (as llama.cpp's
// llm_chat_detect_template does) and rendered by hand; no Jinja interpreter.
#include <optional>
#include <stdexcept>
#include <string>

#include "tokenizer.h"

namespace ol {
namespace {

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string trim(const std::string& text) {
  const char* kSpace = " \t\n\r\f\v";
  const size_t first = text.find_first_not_of(kSpace);
  if (first == std::string::npos) return {};
  return text.substr(first, text.find_last_not_of(kSpace) - first + 1);
}

// The default system message some ChatML templates emit when the conversation has none (SmolLM2:
// "You are a helpful AI assistant named SmolLM, ..."; Qwen2: "You are a helpful assistant."): a
// whole string literal '<|im_start|>system\n...<|im_end|>...' in the template, Jinja escapes undone.
// Literals that stop before <|im_end|> (a header followed by Jinja code) are not it.
std::optional<std::string> chatml_default_system(const std::string& source) {
  static constexpr std::string_view kHeader = "<|im_start|>system";
  static constexpr std::string_view kEnd = "<|im_end|>";
  for (size_t at = source.find(kHeader); at != std::string::npos; at = source.find(kHeader, at + 1)) {
    if (at == 0 || (source[at - 1] != '\'' && source[at - 1] != '"')) continue;
    const char quote = source[at - 1];
    std::string literal;  // the rest of the string literal, unescaped
    bool closed = false;
    for (size_t i = at + kHeader.size(); i < source.size(); ++i) {
      if (source[i] == quote) {
        closed = true;
        break;
      }
      if (source[i] == '\\' && i + 1 < source.size()) {
        const char escaped = source[++i];
        literal += escaped == 'n' ? '\n' : escaped == 't' ? '\t' : escaped;
      } else {
        literal += source[i];
      }
    }
    const size_t end = literal.find(kEnd);
    if (!closed || literal.empty() || literal[0] != '\n' || end == std::string::npos) continue;
    return literal.substr(1, end - 1);
  }
  return std::nullopt;
}

std::string render_chatml(const std::string& source, const std::vector<ChatMessage>& messages,
                          bool add_generation_prompt) {
  std::string out;
  if (messages.empty() || messages.front().role != "system") {
    if (auto system = chatml_default_system(source)) out += "<|im_start|>system\n" + *system + "<|im_end|>\n";
  }
  for (const ChatMessage& m : messages) out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

// BOS is not written: the tokenizer adds it (add_bos), as with llama.cpp's built-in templates.
std::string render_llama3(const std::vector<ChatMessage>& messages, bool add_generation_prompt) {
  std::string out;
  for (const ChatMessage& m : messages) {
    out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + trim(m.content) + "<|eot_id|>";
  }
  if (add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return out;
}

// [INST] user [/INST] assistant</s>[INST] ...; system messages go in <<SYS>> when the template has
// them, else in front of the first user message. Variants as llama.cpp detects them.
std::string render_llama2(const std::string& source, const std::vector<ChatMessage>& messages) {
  const bool system_block = contains(source, "<<SYS>>");
  const bool bos_inside_history = contains(source, "bos_token + '[INST]");
  const bool strip = contains(source, "content.strip()");
  std::string out = "[INST] ";
  bool inside_turn = true;
  for (const ChatMessage& m : messages) {
    const std::string content = strip ? trim(m.content) : m.content;
    if (!inside_turn) {
      inside_turn = true;
      out += bos_inside_history ? "<s>[INST] " : "[INST] ";
    }
    if (m.role == "system") {
      out += system_block ? "<<SYS>>\n" + content + "\n<</SYS>>\n\n" : content + "\n";
    } else if (m.role == "user") {
      out += content + " [/INST]";
    } else {
      out += content + "</s>";
      inside_turn = false;
    }
  }
  return out;
}

}  // namespace

std::string apply_chat_template(const TokenizerSpec& spec, const std::vector<ChatMessage>& messages,
                                bool add_generation_prompt) {
  const std::string& source = spec.chat_template;
  if (source.empty()) throw std::runtime_error("the model has no chat template (tokenizer.chat_template is empty)");
  // <|im_sep|> marks Phi-4's variant, which is not ChatML.
  if (contains(source, "<|im_start|>") && !contains(source, "<|im_sep|>")) {
    return render_chatml(source, messages, add_generation_prompt);
  }
  if (contains(source, "<|start_header_id|>") && contains(source, "<|end_header_id|>")) {
    return render_llama3(messages, add_generation_prompt);
  }
  if (contains(source, "[INST]")) return render_llama2(source, messages);
  constexpr size_t kShown = 120;
  throw std::runtime_error("unsupported chat template (known: ChatML, Llama-3, Llama-2 [INST]): '" +
                           source.substr(0, kShown) + (source.size() > kShown ? "...'" : "'"));
}

}  // namespace ol

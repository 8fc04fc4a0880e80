#include "common/json.h"

#include <cmath>
#include <cstdlib>

#include "common/error.h"
#include "tokenizer/unicode.h"

namespace ol {

namespace {
constexpr int kMaxDepth = 256;

}  // namespace

class JsonParser {
 public:
  explicit JsonParser(std::string_view text) : s_(text) {}

  JsonValue parse_document() {
    JsonValue v = parse_value(0);
    skip_ws();
    if (pos_ != s_.size()) error("trailing characters");
    return v;
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;

  [[noreturn]] void error(const std::string& what) const {
    fail_bad_file("invalid JSON at byte " + std::to_string(pos_) + ": " + what);
  }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t')) ++pos_;
  }
  char peek() {
    skip_ws();
    if (pos_ >= s_.size()) error("unexpected end");
    return s_[pos_];
  }
  void expect_literal(std::string_view lit) {
    if (s_.substr(pos_, lit.size()) != lit) error("unexpected token");
    pos_ += lit.size();
  }

  JsonValue parse_value(int depth) {
    if (depth > kMaxDepth) error("nesting too deep");
    JsonValue v;
    char c = peek();
    if (c == '{') {
      v.kind_ = JsonValue::Kind::Object;
      ++pos_;
      if (peek() == '}') { ++pos_; return v; }
      for (;;) {
        if (peek() != '"') error("expected object key");
        std::string key = parse_string();
        if (peek() != ':') error("expected ':'");
        ++pos_;
        v.object_.emplace_back(std::move(key), parse_value(depth + 1));
        char d = peek();
        ++pos_;
        if (d == '}') break;
        if (d != ',') error("expected ',' or '}'");
      }
    } else if (c == '[') {
      v.kind_ = JsonValue::Kind::Array;
      ++pos_;
      if (peek() == ']') { ++pos_; return v; }
      for (;;) {
        v.array_.push_back(parse_value(depth + 1));
        char d = peek();
        ++pos_;
        if (d == ']') break;
        if (d != ',') error("expected ',' or ']'");
      }
    } else if (c == '"') {
      v.kind_ = JsonValue::Kind::String;
      v.string_ = parse_string();
    } else if (c == 't') {
      expect_literal("true");
      v.kind_ = JsonValue::Kind::Bool;
      v.bool_ = true;
    } else if (c == 'f') {
      expect_literal("false");
      v.kind_ = JsonValue::Kind::Bool;
    } else if (c == 'n') {
      expect_literal("null");
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      v.kind_ = JsonValue::Kind::Number;
      v.number_ = parse_number();
    } else {
      error("unexpected character");
    }
    return v;
  }

  double parse_number() {
    size_t start = pos_;
    if (s_[pos_] == '-') ++pos_;
    auto digits = [&] {
      size_t d0 = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      if (pos_ == d0) error("bad number");
    };
    digits();
    if (pos_ < s_.size() && s_[pos_] == '.') { ++pos_; digits(); }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      digits();
    }
    std::string text(s_.substr(start, pos_ - start));
    return std::strtod(text.c_str(), nullptr);
  }

  uint32_t parse_hex4() {
    if (pos_ + 4 > s_.size()) error("bad \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char h = s_[pos_++];
      v <<= 4;
      if (h >= '0' && h <= '9') v |= static_cast<uint32_t>(h - '0');
      else if (h >= 'a' && h <= 'f') v |= static_cast<uint32_t>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') v |= static_cast<uint32_t>(h - 'A' + 10);
      else error("bad \\u escape");
    }
    return v;
  }

  std::string parse_string() {
    ++pos_;  // opening quote
    std::string out;
    for (;;) {
      if (pos_ >= s_.size()) error("unterminated string");
      char c = s_[pos_++];
      if (c == '"') break;
      if (static_cast<unsigned char>(c) < 0x20) error("control character in string");
      if (c != '\\') { out += c; continue; }
      if (pos_ >= s_.size()) error("unterminated escape");
      char e = s_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = parse_hex4();
          if (cp >= 0xD800 && cp < 0xDC00 && pos_ + 1 < s_.size() && s_[pos_] == '\\' && s_[pos_ + 1] == 'u') {
            pos_ += 2;
            uint32_t lo = parse_hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) error("bad surrogate pair");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xD800 && cp <= 0xDFFF) {
            cp = 0xFFFD;  // lone surrogate
          }
          unicode::append_utf8(out, cp);
          break;
        }
        default: error("bad escape");
      }
    }
    return out;
  }
};

JsonValue JsonValue::parse(std::string_view text) { return JsonParser(text).parse_document(); }

namespace {
[[noreturn]] void wrong_kind(std::string_view what, const char* expected) {
  fail_bad_file(std::string(what) + ": expected " + expected);
}
}  // namespace

double JsonValue::as_number(std::string_view what) const {
  if (kind_ != Kind::Number) wrong_kind(what, "a number");
  return number_;
}
int64_t JsonValue::as_int(std::string_view what) const {
  double v = as_number(what);
  if (!(std::fabs(v) < 9.0e15) || v != std::floor(v)) wrong_kind(what, "an integer");
  return static_cast<int64_t>(v);
}
bool JsonValue::as_bool(std::string_view what) const {
  if (kind_ != Kind::Bool) wrong_kind(what, "a boolean");
  return bool_;
}
const std::string& JsonValue::as_string(std::string_view what) const {
  if (kind_ != Kind::String) wrong_kind(what, "a string");
  return string_;
}
const std::vector<JsonValue>& JsonValue::as_array(std::string_view what) const {
  if (kind_ != Kind::Array) wrong_kind(what, "an array");
  return array_;
}
const std::vector<std::pair<std::string, JsonValue>>& JsonValue::as_object(std::string_view what) const {
  if (kind_ != Kind::Object) wrong_kind(what, "an object");
  return object_;
}
const JsonValue* JsonValue::find(std::string_view key) const {
  if (kind_ != Kind::Object) return nullptr;
  for (const auto& [k, v] : object_)
    if (k == key) return &v;
  return nullptr;
}

}  // namespace ol

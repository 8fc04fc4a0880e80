// A small strict JSON reader for config files we do not control (config.json, adapter_config.json,
// safetensors headers, tokenizer.json). Malformed input throws ol::Error(OL_ERR_BAD_FILE).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ol {

class JsonValue {
 public:
  enum class Kind { Null, Bool, Number, String, Array, Object };

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::Null; }
  bool is_number() const { return kind_ == Kind::Number; }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_array() const { return kind_ == Kind::Array; }
  bool is_object() const { return kind_ == Kind::Object; }
  bool is_bool() const { return kind_ == Kind::Bool; }

  // Typed accessors throw ol::Error(OL_ERR_BAD_FILE) naming `what` when the kind differs.
  double as_number(std::string_view what) const;
  int64_t as_int(std::string_view what) const;
  bool as_bool(std::string_view what) const;
  const std::string& as_string(std::string_view what) const;
  const std::vector<JsonValue>& as_array(std::string_view what) const;
  const std::vector<std::pair<std::string, JsonValue>>& as_object(std::string_view what) const;

  // Object member lookup; nullptr when absent (or when this is not an object).
  const JsonValue* find(std::string_view key) const;

  static JsonValue parse(std::string_view text);

 private:
  friend class JsonParser;
  Kind kind_ = Kind::Null;
  bool bool_ = false;
  double number_ = 0;
  std::string string_;
  std::vector<JsonValue> array_;
  std::vector<std::pair<std::string, JsonValue>> object_;
};

}  // namespace ol

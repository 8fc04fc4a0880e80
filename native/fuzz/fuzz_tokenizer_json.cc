// libFuzzer harness for tokenizer.json loading (model/tokenizer_spec.h) and the tokenizer built
// from it: refused with ol::Error(OL_ERR_BAD_FILE) (std::runtime_error for an inconsistent
// vocabulary) or a tokenizer that encodes and decodes text.
#include <string>

#include "check_tokenizer.h"
#include "model/tokenizer_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string json(reinterpret_cast<const char*>(data), size);
  ol::fuzz::check_tokenizer([&] { return ol::tokenizer_spec_from_tokenizer_json(json); });
  return 0;
}

// libFuzzer harness for tokenizer.json loading (model/tokenizer_spec.h) and the tokenizer built
// from it: refused with ol::Error(OL_ERR_BAD_FILE) (std::runtime_error for an inconsistent
// vocabulary) or a tokenizer that encodes and decodes text.
#include <cstdlib>
#include <string>

#include "common/error.h"
#include "model/tokenizer_spec.h"
#include "tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string json(reinterpret_cast<const char*>(data), size);
  for (const char* model_type : {"llama", "qwen2"}) {
    try {
      const auto tokenizer = ol::make_tokenizer(ol::tokenizer_spec_from_tokenizer_json(json, model_type));
      const auto ids = tokenizer->encode("Hello <|im_start|>user\n 123 wörld 😀", true, true);
      tokenizer->decode(ids, true);
    } catch (const ol::Error& e) {
      if (e.status() != OL_ERR_BAD_FILE) std::abort();
    } catch (const std::runtime_error&) {
      // make_tokenizer refused an inconsistent vocabulary
    }
  }
  return 0;
}

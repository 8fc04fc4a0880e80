// libFuzzer harness for the GGUF parser (model/gguf.h) and the tokenizer loaded from its metadata
// (model/tokenizer_spec.h + make_tokenizer): any input is either refused with
// ol::Error(OL_ERR_BAD_FILE) (std::runtime_error for an inconsistent tokenizer) or parsed into
// tensors whose data lies inside the input and a tokenizer that encodes text. Any other exception
// or a crash is a bug.
#include <cstdio>
#include <cstdlib>

#include "check_tokenizer.h"
#include "common/error.h"
#include "model/gguf.h"
#include "model/tokenizer_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ol::GgufFile file;
  try {
    file = ol::parse_gguf(data, size);
  } catch (const ol::Error& e) {
    if (e.status() != OL_ERR_BAD_FILE) std::abort();
    return 0;
  }
  for (const ol::GgufTensorInfo& tensor : file.tensors) {
    if (tensor.n_bytes > 0 && (tensor.data < data || tensor.data + tensor.n_bytes > data + size)) {
      std::fprintf(stderr, "tensor %s lies outside the input\n", tensor.name.c_str());
      std::abort();
    }
  }
  if (!file.find("tokenizer.ggml.model")) return 0;
  ol::fuzz::check_tokenizer([&] { return ol::tokenizer_spec_from_gguf(file); });
  return 0;
}

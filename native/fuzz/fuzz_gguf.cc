// libFuzzer harness for the GGUF parser (model/gguf.h): any input is either refused with
// ol::Error(OL_ERR_BAD_FILE) or parsed into tensors whose data lies inside the input. Any other
// exception or a crash is a bug.
#include <cstdio>
#include <cstdlib>

#include "common/error.h"
#include "model/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const ol::GgufFile file = ol::parse_gguf(data, size);
    for (const ol::GgufTensorInfo& tensor : file.tensors) {
      if (tensor.n_bytes > 0 && (tensor.data < data || tensor.data + tensor.n_bytes > data + size)) {
        std::fprintf(stderr, "tensor %s lies outside the input\n", tensor.name.c_str());
        std::abort();
      }
    }
  } catch (const ol::Error& e) {
    if (e.status() != OL_ERR_BAD_FILE) std::abort();
  }
  return 0;
}

// ol_fuzz_seeds DIR: writes the seed corpora with the engine's own writers (tools/model_writers.h):
// DIR/gguf (tiny models in several weight types), DIR/safetensors (a tiny model and
// a PEFT adapter), DIR/tokenizer_json (a tiny tokenizer.json), DIR/tokenizer (a few texts). The
// fuzzers mutate from these valid files.
#include <cstdio>
#include <filesystem>
#include <string>

#include "model_writers.h"

namespace fs = std::filesystem;
using namespace ol;
using namespace ol::tools;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: ol_fuzz_seeds DIR\n");
    return 2;
  }
  const fs::path out = argv[1];
  for (const char* sub : {"gguf", "safetensors", "tokenizer", "tokenizer_json"}) fs::create_directories(out / sub);
  TinyModelSpec model;
  model.n_vocab = 259;  // the smallest the generator allows (byte tokens + specials)
  model.n_embd = 32;
  model.n_layer = 1;
  model.n_head = 2;
  model.n_head_kv = 1;
  model.n_ff = 32;
  model.n_ctx = 64;
  const std::pair<const char*, DType> dtypes[] = {
      {"f32", DType::F32}, {"f16", DType::F16}, {"q8_0", DType::Q8_0}, {"q4_1", DType::Q4_1}};
  for (const auto& [name, dtype] : dtypes) {
    model.dtype = dtype;
    write_tiny_gguf(model, (out / "gguf" / (std::string("tiny-") + name + ".gguf")).string());
  }
  model.dtype = DType::F32;
  const fs::path scratch = out / "scratch";
  write_tiny_hf(model, (scratch / "hf").string());
  fs::copy_file(scratch / "hf" / "model.safetensors", out / "safetensors" / "tiny-model.safetensors");
  fs::copy_file(scratch / "hf" / "tokenizer.json", out / "tokenizer_json" / "tiny-tokenizer.json");
  TinyAdapterSpec adapter;
  adapter.rank = 2;
  write_tiny_adapter(model, adapter, (scratch / "adapter").string());
  fs::copy_file(scratch / "adapter" / "adapter_model.safetensors", out / "safetensors" / "tiny-adapter.safetensors");
  fs::remove_all(scratch);
  const char* texts[] = {"Hello, world! It's 2024.", "<|im_start|>user\nhi<|im_end|>\n", "  \t\n\n  x ",
                         "中文 العربية 😀 e\u0301", "def f(x):\n    return x**2  # 123456"};
  int i = 0;
  std::string long_text;  // a few KiB, so the fuzzer starts with room for big specs and texts
  for (const char* text : texts) {
    write_text((out / "tokenizer" / ("text-" + std::to_string(i++))).string(), text);
    for (int repeat = 0; repeat < 16; ++repeat) long_text += text;
  }
  for (int byte = 0; byte < 256; ++byte) long_text += static_cast<char>(byte);  // invalid UTF-8 too
  write_text((out / "tokenizer" / "text-long").string(), long_text);
  return 0;
}

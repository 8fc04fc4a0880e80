// ol_fuzz_seeds DIR: writes the seed corpora with the engine's own writers (tools/model_writers.h):
// DIR/gguf (tiny models in several weight types), DIR/safetensors (a tiny model and
// a PEFT adapter), DIR/tokenizer_json (tiny tokenizer.json files: the writers' byte-level one, and
// the Llama-3 and Llama-2 layouts the loader knows), DIR/tokenizer (a few texts). The fuzzers
// mutate from these valid files.
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
  // Split regex + ByteLevel, ignore_merges, an lstrip/rstrip added token, TemplateProcessing.
  write_text((out / "tokenizer_json" / "llama3-layout.json").string(), R"({"added_tokens":[
{"id":0,"content":"<|begin_of_text|>","special":true},{"id":9,"content":"[N]","special":false,"lstrip":true,"rstrip":true}],
"normalizer":null,"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":
"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
"behavior":"Isolated","invert":false},{"type":"ByteLevel","add_prefix_space":false,"use_regex":false}]},
"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<|begin_of_text|>"}},{"Sequence":{"id":"A"}}]},
"decoder":{"type":"ByteLevel"},"model":{"type":"BPE","ignore_merges":true,
"vocab":{"<|begin_of_text|>":0,"h":1,"i":2,"hi":3,"Ġ":4,"Ġhi":5,"1":6,"2":7,"12":8,"[N]":9},"merges":[["h","i"],["Ġ","hi"],["1","2"]]}})");
  // Prepend + Replace normalizer, byte fallback, a normalized added token, Strip decoder.
  write_text((out / "tokenizer_json" / "llama2-layout.json").string(), R"({"added_tokens":[
{"id":0,"content":"<unk>","special":true,"normalized":true},{"id":1,"content":"<s>","special":true,"normalized":false}],
"normalizer":{"type":"Sequence","normalizers":[{"type":"Prepend","prepend":"▁"},{"type":"Replace","pattern":{"String":" "},"content":"▁"}]},
"pre_tokenizer":null,"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>"}},{"Sequence":{"id":"A"}}]},
"decoder":{"type":"Sequence","decoders":[{"type":"Replace","pattern":{"String":"▁"},"content":" "},{"type":"ByteFallback"},
{"type":"Fuse"},{"type":"Strip","content":" ","start":1,"stop":0}]},
"model":{"type":"BPE","unk_token":"<unk>","byte_fallback":true,"fuse_unk":true,
"vocab":{"<unk>":0,"<s>":1,"<0xE2>":2,"<0x82>":3,"<0xAC>":4,"▁":5,"h":6,"i":7,"▁h":8,"▁hi":9},"merges":["▁ h","▁h i"]}})");
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

// ol_make_tiny: writes tiny random models (GGUF or Hugging Face directory), random PEFT adapters
// for them, and models with adapters merged in (the reference for the LoRA tests).
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "common/error.h"
#include "model_writers.h"

using namespace ol;
using namespace ol::tools;

namespace {

const char* kUsage =
    "usage:\n"
    "  ol_make_tiny model   --out PATH [--format gguf|hf] [--arch llama|qwen2] [--dtype f32|f16|bf16|q8_0|q4_0|q4_1|q4_k|q6_k]\n"
    "                       [--seed N] [--vocab N] [--embd N] [--layers N] [--heads N] [--kv-heads N] [--ff N] [--ctx N] [--tied]\n"
    "  ol_make_tiny adapter --out DIR [model size flags as above] [--rank R] [--alpha A] [--rslora] [--dtype f32|f16|bf16]\n"
    "                       [--targets q_proj,k_proj,...] [--b-scale X] [--seed N]\n"
    "  ol_make_tiny merge   --model HF_DIR --adapter DIR[:WEIGHT]... --out DIR\n";

DType parse_dtype(const std::string& s) {
  static const std::map<std::string, DType> m{{"f32", DType::F32}, {"f16", DType::F16}, {"bf16", DType::BF16},
                                              {"q8_0", DType::Q8_0}, {"q4_0", DType::Q4_0}, {"q4_1", DType::Q4_1},
                                              {"q4_k", DType::Q4_K}, {"q6_k", DType::Q6_K}};
  auto it = m.find(s);
  if (it == m.end()) throw Error(OL_ERR_INVALID_ARGUMENT, "unknown dtype " + s);
  return it->second;
}

int run(int argc, char** argv) {
  if (argc < 2) throw Error(OL_ERR_INVALID_ARGUMENT, "missing command");
  const std::string cmd = argv[1];
  std::map<std::string, std::string> opt;
  std::vector<std::string> adapters;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--tied" || a == "--rslora") { opt[a] = "1"; continue; }
    if (i + 1 >= argc) throw Error(OL_ERR_INVALID_ARGUMENT, "missing value for " + a);
    if (a == "--adapter") adapters.push_back(argv[++i]);
    else opt[a] = argv[++i];
  }
  auto num = [&](const char* k, long long def) { return opt.count(k) ? std::stoll(opt[k]) : def; };
  auto need = [&](const char* k) {
    if (!opt.count(k)) throw Error(OL_ERR_INVALID_ARGUMENT, std::string("missing ") + k);
    return opt[k];
  };
  TinyModelSpec m;
  m.arch = opt.count("--arch") ? opt["--arch"] : "llama";
  if (m.arch != "llama" && m.arch != "qwen2") throw Error(OL_ERR_INVALID_ARGUMENT, "unknown arch " + m.arch);
  m.n_vocab = static_cast<int>(num("--vocab", m.n_vocab));
  m.n_embd = static_cast<int>(num("--embd", m.n_embd));
  m.n_layer = static_cast<int>(num("--layers", m.n_layer));
  m.n_head = static_cast<int>(num("--heads", m.n_head));
  m.n_head_kv = static_cast<int>(num("--kv-heads", m.n_head_kv));
  m.n_ff = static_cast<int>(num("--ff", m.n_ff));
  m.n_ctx = static_cast<int>(num("--ctx", m.n_ctx));
  m.tied_embeddings = opt.count("--tied") > 0;
  m.seed = static_cast<uint64_t>(num("--seed", 1));
  if (opt.count("--dtype")) m.dtype = parse_dtype(opt["--dtype"]);
  if (m.n_head <= 0 || m.n_head_kv <= 0 || m.n_embd % m.n_head != 0 || m.n_head % m.n_head_kv != 0 || (m.n_embd / m.n_head) % 2 != 0)
    throw Error(OL_ERR_INVALID_ARGUMENT, "inconsistent head counts");

  if (cmd == "model") {
    const std::string format = opt.count("--format") ? opt["--format"] : "gguf";
    if (format == "gguf") write_tiny_gguf(m, need("--out"));
    else if (format == "hf") write_tiny_hf(m, need("--out"));
    else throw Error(OL_ERR_INVALID_ARGUMENT, "unknown format " + format);
  } else if (cmd == "adapter") {
    TinyAdapterSpec s;
    s.rank = static_cast<int>(num("--rank", s.rank));
    s.alpha = opt.count("--alpha") ? std::stof(opt["--alpha"]) : s.alpha;
    s.use_rslora = opt.count("--rslora") > 0;
    s.b_scale = opt.count("--b-scale") ? std::stof(opt["--b-scale"]) : s.b_scale;
    s.seed = static_cast<uint64_t>(num("--seed", 1));
    s.dtype = m.dtype;
    if (opt.count("--targets")) {
      s.targets.clear();
      std::string t = opt["--targets"];
      for (size_t p = 0; p <= t.size();) {
        size_t c = t.find(',', p);
        if (c == std::string::npos) c = t.size();
        s.targets.push_back(t.substr(p, c - p));
        p = c + 1;
      }
    }
    write_tiny_adapter(m, s, need("--out"));
  } else if (cmd == "merge") {
    std::vector<std::pair<std::string, float>> list;
    for (const std::string& a : adapters) {
      const size_t colon = a.rfind(':');
      if (colon == std::string::npos) list.emplace_back(a, 1.0f);
      else list.emplace_back(a.substr(0, colon), std::stof(a.substr(colon + 1)));
    }
    write_merged_hf(need("--model"), list, need("--out"));
  } else {
    throw Error(OL_ERR_INVALID_ARGUMENT, "unknown command " + cmd);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ol_make_tiny: %s\n%s", e.what(), kUsage);
    return 2;
  }
}

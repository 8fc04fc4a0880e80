// llama.cpp's side of the probe: evaluates token ids with node-llama-cpp's own llama.cpp build and
// writes every contiguous F32 tensor of the graph to OUT_DIR/<OP>.<name>.bin (raw floats), plus
// OUT_DIR/tokens.txt. Context as the conformance test configures it: 1024 cells, F16 KV cache,
// flash attention "auto", 2 threads.
//   dump MODEL BACKEND_DIR OUT_DIR ID...          all ids in one batch
//   dump MODEL BACKEND_DIR OUT_DIR --decode ID... all ids but the last into OUT_DIR_prefill, then the
//                                                 last one alone into OUT_DIR (a decode step)
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "ggml-backend.h"
#include "ggml.h"
#include "llama.h"

static std::string g_dir;

static bool on_tensor(ggml_tensor* t, bool ask, void*) {
  if (ask) return true;  // yes, show us every node
  if (t->type != GGML_TYPE_F32 || !ggml_is_contiguous(t)) return true;
  std::string name = std::string(ggml_op_desc(t)) + "." + t->name;
  for (char& c : name)
    if (c == ' ' || c == '(' || c == ')') c = '_';
  FILE* f = std::fopen((g_dir + "/" + name + ".bin").c_str(), "wb");
  if (f == nullptr) return false;
  std::fwrite(t->data, 1, ggml_nbytes(t), f);
  std::fclose(f);
  return true;
}

static bool decode(llama_context* ctx, const std::vector<llama_token>& ids, int pos0) {
  llama_batch batch = llama_batch_init(static_cast<int>(ids.size()), 0, 1);
  for (size_t i = 0; i < ids.size(); ++i) {
    batch.token[i] = ids[i];
    batch.pos[i] = pos0 + static_cast<int>(i);
    batch.n_seq_id[i] = 1;
    batch.seq_id[i][0] = 0;
    batch.logits[i] = 1;
  }
  batch.n_tokens = static_cast<int>(ids.size());
  const bool ok = llama_decode(ctx, batch) == 0;
  llama_batch_free(batch);
  return ok;
}

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: dump MODEL BACKEND_DIR OUT_DIR [--decode] ID...\n");
    return 2;
  }
  ggml_backend_load_all_from_path(argv[2]);
  const std::string out = argv[3];
  const bool decode_last = std::strcmp(argv[4], "--decode") == 0;
  std::vector<llama_token> ids;
  for (int i = decode_last ? 5 : 4; i < argc; ++i) ids.push_back(std::atoi(argv[i]));
  llama_model* model = llama_model_load_from_file(argv[1], llama_model_default_params());
  if (model == nullptr) return 1;
  llama_context_params cp = llama_context_default_params();
  cp.n_ctx = 1024;
  cp.n_batch = cp.n_ubatch = 1024;
  cp.n_threads = cp.n_threads_batch = 2;
  cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_AUTO;
  cp.cb_eval = on_tensor;
  llama_context* ctx = llama_init_from_model(model, cp);
  bool ok;
  if (decode_last) {
    g_dir = out + "_prefill";
    ok = decode(ctx, std::vector<llama_token>(ids.begin(), ids.end() - 1), 0);
    g_dir = out;
    ok = ok && decode(ctx, {ids.back()}, static_cast<int>(ids.size()) - 1);
  } else {
    g_dir = out;
    ok = decode(ctx, ids, 0);
  }
  if (FILE* f = std::fopen((out + "/tokens.txt").c_str(), "w")) {
    for (llama_token t : ids) std::fprintf(f, "%d\n", t);
    std::fclose(f);
  }
  llama_free(ctx);
  llama_model_free(model);
  return ok ? 0 : 1;
}

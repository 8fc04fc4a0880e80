// Our side of the probe: feeds each of our forward ops llama.cpp's own inputs (dumped by dump.cpp)
// and counts the output values that differ from llama.cpp's in any bit; then our end-to-end logits
// through the C API. Zero everywhere = llama.cpp's numerics reproduced.
//   compare MODEL DIR            a batch dump: every op of every layer, then the logits
//   compare MODEL DIR --decode   a decode dump: attention of the last token, every layer (2 threads)
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "model/model.h"
#include "ol_engine.h"
#include "runtime/forward.h"
#include "runtime/forward_cpu.h"
#include "runtime/kv_cache.h"
#include "runtime/thread_pool.h"
#include "tensor/ops.h"

using namespace ol;

namespace {

std::vector<float> load(const std::string& dir, const std::string& name) {
  std::ifstream f(dir + "/" + name + ".bin", std::ios::binary | std::ios::ate);
  if (!f) throw std::runtime_error("missing " + dir + "/" + name + ".bin");
  std::vector<float> v(static_cast<size_t>(f.tellg()) / sizeof(float));
  f.seekg(0);
  f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
  return v;
}

std::vector<int32_t> load_tokens(const std::string& dir) {
  std::ifstream f(dir + "/tokens.txt");
  std::vector<int32_t> ids;
  for (int32_t t; f >> t;) ids.push_back(t);
  return ids;
}

// The graph names its flash-attention nodes node_<n>; in node order they are layers 0, 1, ...
std::vector<std::string> attention_names(const std::string& dir) {
  std::vector<std::pair<int, std::string>> found;
  const std::string prefix = "FLASH_ATTN_EXT.node_";
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string file = e.path().stem().string();
    if (file.rfind(prefix, 0) == 0) found.emplace_back(std::stoi(file.substr(prefix.size())), file);
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> names;
  for (auto& f : found) names.push_back(f.second);
  return names;
}

struct Tally {
  std::map<std::string, std::pair<size_t, size_t>> per_op;  // differing, total
  void add(const std::string& op, const std::vector<float>& ours, const std::vector<float>& ref) {
    auto& t = per_op[op];
    if (ours.size() != ref.size()) throw std::runtime_error(op + ": sizes differ");
    for (size_t i = 0; i < ours.size(); ++i) t.first += std::memcmp(&ours[i], &ref[i], sizeof(float)) != 0;
    t.second += ours.size();
  }
  void print() const {
    for (const auto& [op, t] : per_op) std::printf("%-14s %9zu of %10zu values differ\n", op.c_str(), t.first, t.second);
  }
};

void compare_batch(const std::string& model_path, const std::string& dir) {
  auto model = load_model(model_path);
  const HParams& hp = model->hp;
  std::vector<int32_t> ids = load_tokens(dir);
  const int64_t T = static_cast<int64_t>(ids.size());
  ThreadPool pool(2);
  KvCache kv(hp.n_layer, hp.kv_dim(), 16, T / 16 + 2, true);
  std::vector<int32_t> table;
  kv.reserve(table, T);
  const std::vector<AdapterTerm> none;
  const std::vector<BatchSequence> seqs{BatchSequence{ids.data(), static_cast<int32_t>(T), 0, &table, &none, true}};
  BatchPlan plan;
  plan.build(*model, seqs);
  const auto attention = attention_names(dir);
  Tally tally;
  auto linear = [&](int l, LinearKind k, const std::vector<float>& in, const std::string& ref, const char* op) {
    const Matrix& w = model->layers[static_cast<size_t>(l)].linear[static_cast<int>(k)];
    std::vector<float> y(static_cast<size_t>(T * w.rows));
    matmul(w, in.data(), T, y.data(), pool);
    tally.add(op, y, load(dir, ref));
  };
  for (int l = 0; l < hp.n_layer; ++l) {
    const LayerWeights& L = model->layers[static_cast<size_t>(l)];
    const std::string s = "-" + std::to_string(l);
    const auto x = l == 0 ? load(dir, "GET_ROWS.embd") : load(dir, "ADD.l_out-" + std::to_string(l - 1));
    std::vector<float> h(x.size());
    rms_norm(x.data(), L.attn_norm.data(), h.data(), T, hp.n_embd, hp.rms_eps);
    tally.add("rms_norm", h, load(dir, "MUL.attn_norm" + s));
    const auto normed = load(dir, "MUL.attn_norm" + s);
    linear(l, LinearKind::Q, normed, "MUL_MAT.Qcur" + s, "matmul");
    linear(l, LinearKind::K, normed, "MUL_MAT.Kcur" + s, "matmul");
    linear(l, LinearKind::V, normed, "MUL_MAT.Vcur" + s, "matmul");
    auto q = load(dir, "MUL_MAT.Qcur" + s), k = load(dir, "MUL_MAT.Kcur" + s);
    rope(q.data(), T, hp.n_head, hp.head_dim, plan.rope_cos.data(), plan.rope_sin.data(), hp.rope);
    rope(k.data(), T, hp.n_head_kv, hp.head_dim, plan.rope_cos.data(), plan.rope_sin.data(), hp.rope);
    tally.add("rope", q, load(dir, "ROPE.Qcur" + s));
    tally.add("rope", k, load(dir, "ROPE.Kcur" + s));
    q = load(dir, "ROPE.Qcur" + s);
    k = load(dir, "ROPE.Kcur" + s);
    const auto v = load(dir, "MUL_MAT.Vcur" + s);
    std::vector<float> att(q.size());
    attention_cpu(hp, kv, l, plan, seqs, q.data(), k.data(), v.data(), att.data(), pool);
    tally.add("attention", att, load(dir, attention[static_cast<size_t>(l)]));
    linear(l, LinearKind::O, load(dir, attention[static_cast<size_t>(l)]), "MUL_MAT.attn_out" + s, "matmul");
    const auto ffn_in = load(dir, "ADD.ffn_inp" + s);
    rms_norm(ffn_in.data(), L.ffn_norm.data(), h.data(), T, hp.n_embd, hp.rms_eps);
    tally.add("rms_norm", h, load(dir, "MUL.ffn_norm" + s));
    linear(l, LinearKind::Gate, load(dir, "MUL.ffn_norm" + s), "MUL_MAT.ffn_gate" + s, "matmul");
    linear(l, LinearKind::Up, load(dir, "MUL.ffn_norm" + s), "MUL_MAT.ffn_up" + s, "matmul");
    auto gate = load(dir, "MUL_MAT.ffn_gate" + s);
    silu_mul(gate.data(), load(dir, "MUL_MAT.ffn_up" + s).data(), gate.size());
    tally.add("swiglu", gate, load(dir, "SWIGLU.ffn_swiglu" + s));
    linear(l, LinearKind::Down, load(dir, "SWIGLU.ffn_swiglu" + s), "MUL_MAT.ffn_out" + s, "matmul");
  }
  const auto last = load(dir, "ADD.l_out-" + std::to_string(hp.n_layer - 1));
  std::vector<float> h(last.size());
  rms_norm(last.data(), model->output_norm.data(), h.data(), T, hp.n_embd, hp.rms_eps);
  tally.add("rms_norm", h, load(dir, "MUL.result_norm"));
  std::vector<float> logits(static_cast<size_t>(T * hp.n_vocab));
  matmul(model->output, load(dir, "MUL.result_norm").data(), T, logits.data(), pool);
  tally.add("matmul", logits, load(dir, "MUL_MAT.result_output"));
  std::printf("ops fed llama.cpp's inputs, %lld tokens, %d layers:\n", static_cast<long long>(T), hp.n_layer);
  tally.print();

  // End to end through the C API: our own activations all the way.
  ol_model_params mp{2, 0};
  ol_model* m = nullptr;
  ol_engine* e = nullptr;
  ol_engine_params ep{};
  if (ol_model_load(model_path.c_str(), &mp, &m) != OL_OK || ol_engine_create(m, &ep, &e) != OL_OK) throw std::runtime_error("engine");
  ol_eval_sequence seq{ids.data(), ids.size(), nullptr, nullptr, 0, logits.data()};
  if (ol_engine_eval_logits(e, &seq, 1) != OL_OK) throw std::runtime_error("eval");
  Tally end_to_end;
  end_to_end.add("logits", logits, load(dir, "MUL_MAT.result_output"));
  std::printf("end to end (ol_engine_eval_logits):\n");
  end_to_end.print();
  ol_engine_free(e);
  ol_model_free(m);
}

void compare_decode(const std::string& model_path, const std::string& dir) {
  auto model = load_model(model_path);
  const HParams& hp = model->hp;
  const std::string prefill = dir + "_prefill";
  std::vector<int32_t> ids = load_tokens(dir);
  const int32_t n = static_cast<int32_t>(ids.size());
  ThreadPool pool(2);  // the dump's thread count: the split form depends on it
  KvCache kv(hp.n_layer, hp.kv_dim(), 16, n / 16 + 2, true);
  std::vector<int32_t> table;
  kv.reserve(table, n);
  const std::vector<AdapterTerm> none;
  const std::vector<BatchSequence> pre{BatchSequence{ids.data(), n - 1, 0, &table, &none, true}};
  const std::vector<BatchSequence> step{BatchSequence{ids.data() + n - 1, 1, n - 1, &table, &none, true}};
  BatchPlan pre_plan, step_plan;
  pre_plan.build(*model, pre);
  step_plan.build(*model, step);
  const auto attention = attention_names(dir);
  Tally tally;
  for (int l = 0; l < hp.n_layer; ++l) {
    const std::string s = "-" + std::to_string(l);
    const auto q0 = load(prefill, "ROPE.Qcur" + s), k0 = load(prefill, "ROPE.Kcur" + s), v0 = load(prefill, "MUL_MAT.Vcur" + s);
    std::vector<float> o0(q0.size());
    attention_cpu(hp, kv, l, pre_plan, pre, q0.data(), k0.data(), v0.data(), o0.data(), pool);
    const auto q = load(dir, "ROPE.Qcur" + s), k = load(dir, "ROPE.Kcur" + s), v = load(dir, "MUL_MAT.Vcur" + s);
    std::vector<float> o(q.size());
    attention_cpu(hp, kv, l, step_plan, step, q.data(), k.data(), v.data(), o.data(), pool);
    tally.add("attention", o, load(dir, attention[static_cast<size_t>(l)]));
  }
  std::printf("decode step at position %d, %d layers:\n", n - 1, hp.n_layer);
  tally.print();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: compare MODEL DIR [--decode]\n");
    return 2;
  }
  try {
    if (argc > 3 && std::strcmp(argv[3], "--decode") == 0) compare_decode(argv[1], argv[2]);
    else compare_batch(argv[1], argv[2]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "compare: %s\n", e.what());
    return 1;
  }
  return 0;
}

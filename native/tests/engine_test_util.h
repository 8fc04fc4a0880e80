// Shared helpers of the engine tests: temporary directories, C API handles with RAII, and
// synchronous generation through the asynchronous API.
#pragma once

#include <gtest/gtest.h>

#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ol_engine.h"

namespace ol::test {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ol-engine-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct ModelDeleter {
  void operator()(ol_model* m) const { ol_model_free(m); }
};
struct EngineDeleter {
  void operator()(ol_engine* e) const { ol_engine_free(e); }
};
using ModelPtr = std::unique_ptr<ol_model, ModelDeleter>;
using EnginePtr = std::unique_ptr<ol_engine, EngineDeleter>;

inline ModelPtr load(const std::string& path, int threads = 2) {
  ol_model_params p{};
  p.n_threads = threads;
  ol_model* m = nullptr;
  const ol_status st = ol_model_load(path.c_str(), &p, &m);
  EXPECT_EQ(st, OL_OK) << ol_last_error();
  return ModelPtr(m);
}

inline EnginePtr engine(ol_model* m, ol_engine_params p = {}) {
  if (p.kv_cache_bytes == 0) p.kv_cache_bytes = 32 << 20;
  ol_engine* e = nullptr;
  const ol_status st = ol_engine_create(m, &p, &e);
  EXPECT_EQ(st, OL_OK) << ol_last_error();
  return EnginePtr(e);
}

inline int32_t n_vocab(ol_model* m) {
  ol_model_info info{};
  ol_model_get_info(m, &info);
  return info.n_vocab;
}

struct EvalInput {
  std::vector<int32_t> ids;
  std::vector<int32_t> adapters;
  std::vector<float> weights;
};

// Logits of every position of each sequence, all sequences in one batch.
inline std::vector<std::vector<float>> eval(ol_engine* e, int32_t vocab, const std::vector<EvalInput>& in) {
  std::vector<std::vector<float>> out(in.size());
  std::vector<ol_eval_sequence> seqs(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    out[i].resize(in[i].ids.size() * static_cast<size_t>(vocab));
    seqs[i] = {in[i].ids.data(), in[i].ids.size(), in[i].adapters.data(), in[i].weights.data(), in[i].adapters.size(), out[i].data()};
  }
  const ol_status st = ol_engine_eval_logits(e, seqs.data(), seqs.size());
  EXPECT_EQ(st, OL_OK) << ol_last_error();
  return out;
}

// max |a - b| / max |b|
inline double relative_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, static_cast<double>(std::abs(a[i] - b[i])));
    scale = std::max(scale, static_cast<double>(std::abs(b[i])));
  }
  return diff / scale;
}

struct Generation {
  std::vector<int32_t> ids;
  std::string text;
  ol_finish_reason finish = OL_FINISH_NONE;
  std::string error;
  bool done = false;
  std::mutex mutex;
  std::condition_variable cv;

  static void callback(void* user, uint64_t, int32_t token, const char* piece, size_t len, ol_finish_reason finish) {
    auto* g = static_cast<Generation*>(user);
    std::lock_guard<std::mutex> lock(g->mutex);
    if (token >= 0) {
      g->ids.push_back(token);
      g->text.append(piece, len);
      return;
    }
    g->finish = finish;
    g->error.assign(piece, len);
    g->done = true;
    g->cv.notify_all();
  }
  void wait() {
    std::unique_lock<std::mutex> lock(mutex);
    cv.wait(lock, [&] { return done; });
  }
};

inline ol_request greedy_request(const std::vector<int32_t>& prompt, int32_t max_tokens) {
  ol_request r{};
  r.prompt_ids = prompt.data();
  r.n_prompt = prompt.size();
  r.max_tokens = max_tokens;
  r.sampling.top_p = 1.0f;
  r.sampling.repetition_penalty = 1.0f;
  r.ignore_eos = 1;
  return r;
}

}  // namespace ol::test

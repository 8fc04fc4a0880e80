// The C API (include/ol_engine.h): models, tokenizer, adapters, the scheduler thread that runs
// continuous batching with chunked prefill over the paged KV cache, and teacher-forced evaluation.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <new>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "lora/adapter.h"
#include "model/model.h"
#include "ol_engine.h"
#include "runtime/forward.h"
#ifdef OL_HAVE_CUDA
#include "forward_cuda.h"
#endif
#include "runtime/kv_cache.h"
#include "runtime/profile.h"
#include "runtime/sampling.h"
#include "runtime/thread_pool.h"

using namespace ol;

struct ol_model {
  std::unique_ptr<Model> model;
  int32_t n_threads = 0;
  int32_t backend = 0;  // ol_model_params.backend
};

namespace {

thread_local std::string g_last_error;

template <typename F>
ol_status guarded(F&& body) {
  g_last_error.clear();
  try {
    body();
    return OL_OK;
  } catch (const Error& e) {
    g_last_error = e.what();
    return e.status();
  } catch (const std::bad_alloc&) {
    g_last_error = "out of memory";
    return OL_ERR_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    g_last_error = e.what();
    return OL_ERR_INTERNAL;
  }
}

void require(bool ok, const char* what) {
  if (!ok) fail_argument(what);
}

// Copies bytes/ids to a caller buffer with the cap/n convention.
template <typename T>
void copy_out(const T* src, size_t count, T* dst, size_t cap, size_t* n) {
  require(n != nullptr, "n must not be NULL");
  *n = count;
  if (dst != nullptr) std::memcpy(dst, src, std::min(count, cap) * sizeof(T));
}

}  // namespace

extern "C" const char* ol_last_error(void) { return g_last_error.c_str(); }

extern "C" ol_status ol_model_load(const char* path, const ol_model_params* params, ol_model** out) {
  return guarded([&] {
    require(path != nullptr && out != nullptr, "path and out must not be NULL");
    *out = nullptr;
    ol_model_params p{};
    if (params != nullptr) p = *params;
#ifndef OL_HAVE_CUDA
    if (p.backend == 1) fail_argument("the CUDA backend is not built into this engine (nvcc was not found at build time)");
#endif
    if (p.backend != 0 && p.backend != 1) fail_argument("unknown backend " + std::to_string(p.backend));
#ifdef OL_HAVE_CUDA
    if (p.backend == 1) cuda_device_name();  // refuses now, with the reason, when there is no usable device
#endif
    require(p.n_threads >= 0, "n_threads must be >= 0");
    auto m = std::make_unique<ol_model>();
    m->model = load_model(path);
    if (p.backend == 0) pack_weights(*m->model);
    m->n_threads = p.n_threads;
    m->backend = p.backend;
    *out = m.release();
  });
}

extern "C" void ol_model_free(ol_model* model) { delete model; }

extern "C" ol_status ol_model_get_info(const ol_model* model, ol_model_info* out) {
  return guarded([&] {
    require(model != nullptr && out != nullptr, "model and out must not be NULL");
    const Model& m = *model->model;
    std::memset(out, 0, sizeof *out);
    std::strncpy(out->architecture, m.architecture.c_str(), sizeof out->architecture - 1);
    out->n_vocab = m.hp.n_vocab;
    out->n_ctx_train = m.hp.n_ctx_train;
    out->n_embd = m.hp.n_embd;
    out->n_layer = m.hp.n_layer;
    out->n_head = m.hp.n_head;
    out->n_head_kv = m.hp.n_head_kv;
    out->n_ff = m.hp.n_ff;
    out->bos_id = m.bos_id;
    out->eos_id = m.eos_id;
    out->n_params = m.n_params;
    out->weights_bytes = m.weights_bytes;
  });
}

extern "C" ol_status ol_tokenize(const ol_model* model, const char* text, size_t text_len, int add_special, int parse_special,
                                 int32_t* ids, size_t cap, size_t* n) {
  return guarded([&] {
    require(model != nullptr && (text != nullptr || text_len == 0), "model and text must not be NULL");
    const auto out = model->model->require_tokenizer().encode(std::string_view(text == nullptr ? "" : text, text_len), add_special != 0, parse_special != 0);
    copy_out(out.data(), out.size(), ids, cap, n);
  });
}

extern "C" ol_status ol_detokenize(const ol_model* model, const int32_t* ids, size_t n_ids, int render_special, char* buf, size_t cap,
                                   size_t* n) {
  return guarded([&] {
    require(model != nullptr && (ids != nullptr || n_ids == 0), "model and ids must not be NULL");
    const Tokenizer& tok = model->model->require_tokenizer();
    for (size_t i = 0; i < n_ids; ++i)
      if (ids[i] < 0 || ids[i] >= tok.n_vocab()) fail_argument("token id " + std::to_string(ids[i]) + " out of range");
    const std::string text = tok.decode(std::vector<int32_t>(ids, ids + n_ids), render_special != 0);
    copy_out(text.data(), text.size(), buf, cap, n);
  });
}

extern "C" ol_status ol_apply_chat_template(const ol_model* model, const char* const* roles, const char* const* contents,
                                            size_t n_messages, int add_generation_prompt, char* buf, size_t cap, size_t* n) {
  return guarded([&] {
    require(model != nullptr, "model must not be NULL");
    require(n_messages == 0 || (roles != nullptr && contents != nullptr), "roles and contents must not be NULL");
    const Model& m = *model->model;
    m.require_tokenizer();
    std::vector<ChatMessage> messages;
    for (size_t i = 0; i < n_messages; ++i) {
      require(roles[i] != nullptr && contents[i] != nullptr, "message role/content must not be NULL");
      messages.push_back({roles[i], contents[i]});
    }
    const std::string text = apply_chat_template(m.tokenizer_spec, messages, add_generation_prompt != 0);
    copy_out(text.data(), text.size(), buf, cap, n);
  });
}

// ---------------------------------------------------------------------------------------- engine

namespace {

struct Request {
  uint64_t id = 0;
  std::vector<int32_t> tokens;  // prompt, then generated tokens
  size_t n_prompt = 0;
  int32_t max_tokens = 0;
  std::vector<std::string> stop;
  std::vector<int32_t> adapter_ids;
  std::vector<float> adapter_weights;
  bool ignore_eos = false;
  ol_token_callback cb = nullptr;
  void* user = nullptr;
  Sampler sampler;
  // Scheduling state.
  std::vector<AdapterTerm> adapters;  // resolved (resident, pinned) once admitted
  std::vector<int32_t> block_table;
  size_t n_cached = 0;  // tokens whose K/V are in the cache
  int32_t n_generated = 0;
  std::string text;
  explicit Request(const ol_sampling_params& sp) : sampler(sp) {}
};

}  // namespace

namespace {
// Half-precision K/V like llama.cpp, except for models whose linear weights are all single precision
// (the exact references of the LoRA tests).
bool half_precision_kv(const Model& m) {
  for (const LayerWeights& L : m.layers)
    for (const Matrix& w : L.linear)
      if (w.dtype != DType::F32) return true;
  return false;
}

std::unique_ptr<ForwardPass> make_forward(const Model& m, KvCache& kv, ThreadPool& pool, int backend) {
#ifdef OL_HAVE_CUDA
  if (backend == 1) return make_cuda_forward(m, kv);
#endif
  (void)backend;
  return make_cpu_forward(m, kv, pool);
}
}  // namespace

struct ol_engine {
  const Model& model;
  ol_engine_params params;
  ThreadPool pool;
  KvCache kv;
  AdapterRegistry adapters;
  std::unique_ptr<ForwardPass> forward;
  std::mutex forward_mutex;  // the forward pass, the KV pool and the thread pool: one user at a time

  std::mutex mutex;
  std::condition_variable cv;
  std::deque<std::unique_ptr<Request>> incoming;
  std::set<uint64_t> cancels;
  bool stop = false;
  std::atomic<uint64_t> next_id{1};
  std::atomic<int32_t> n_running{0}, n_waiting{0};
  std::set<uint64_t> live;  // submitted and not finished (for cancel's NOT_FOUND)
  std::thread scheduler;

  ol_engine(const Model& m, const ol_engine_params& p, int n_threads, int backend, int64_t kv_blocks)
      : model(m), params(p), pool(n_threads), kv(m.hp.n_layer, m.hp.kv_dim(), p.kv_block_size, kv_blocks, half_precision_kv(m)),
        adapters(m, p.adapter_budget_bytes, static_cast<AdapterPrecision>(p.adapter_precision)), forward(make_forward(m, kv, pool, backend)) {}

  void run_scheduler();
  void finish(Request& r, ol_finish_reason reason, const std::string& message = "");
  // Appends a sampled token, reports it, and says whether the request is now finished.
  ol_finish_reason emit_token(Request& r, int32_t token);
};

void ol_engine::finish(Request& r, ol_finish_reason reason, const std::string& message) {
  kv.release(r.block_table);
  r.adapters.clear();
  {
    std::lock_guard<std::mutex> lock(mutex);
    live.erase(r.id);
  }
  r.cb(r.user, r.id, -1, message.data(), message.size(), reason);
}

ol_finish_reason ol_engine::emit_token(Request& r, int32_t token) {
  r.tokens.push_back(token);
  const bool is_eos = token == model.eos_id || (model.eot_id >= 0 && token == model.eot_id);
  if (is_eos && !r.ignore_eos) return OL_FINISH_EOS;
  std::string piece;
  if (model.tokenizer) piece = model.tokenizer->token_to_piece(token, false);
  r.cb(r.user, r.id, token, piece.data(), piece.size(), OL_FINISH_NONE);
  ++r.n_generated;
  const size_t before = r.text.size();
  r.text += piece;
  for (const std::string& s : r.stop) {
    const size_t from = before >= s.size() ? before - s.size() + 1 : 0;
    if (!s.empty() && r.text.find(s, from) != std::string::npos) return OL_FINISH_STOP;
  }
  if (r.n_generated >= r.max_tokens || static_cast<int32_t>(r.tokens.size()) >= model.hp.n_ctx_train) return OL_FINISH_LENGTH;
  return OL_FINISH_NONE;
}

void ol_engine::run_scheduler() {
  std::vector<std::unique_ptr<Request>> waiting, running;
  // Per-step lists, kept across steps so a step allocates nothing once warm.
  std::vector<float> logits;
  std::vector<BatchSequence> batch;
  std::vector<Request*> order, in_batch, done;
  for (;;) {
    std::set<uint64_t> to_cancel;
    {
      std::unique_lock<std::mutex> lock(mutex);
      if (running.empty()) {
        // Nothing runnable: sleep until work arrives (briefly when adapters are loading).
        if (waiting.empty()) {
          profile::report();  // the burst of work that just ended
          cv.wait(lock, [&] { return stop || !incoming.empty(); });
        }
        else cv.wait_for(lock, std::chrono::milliseconds(1));
      }
      if (stop) break;
      while (!incoming.empty()) {
        waiting.push_back(std::move(incoming.front()));
        incoming.pop_front();
      }
      to_cancel.swap(cancels);
    }
    // The KV pool, the thread pool and the forward pass are shared with ol_engine_eval_logits.
    std::unique_lock<std::mutex> fwd(forward_mutex);
    auto drop_cancelled = [&](std::vector<std::unique_ptr<Request>>& list) {
      for (auto it = list.begin(); it != list.end();) {
        if (to_cancel.count((*it)->id)) {
          finish(**it, OL_FINISH_CANCELLED);
          it = list.erase(it);
        } else {
          ++it;
        }
      }
    };
    drop_cancelled(waiting);
    drop_cancelled(running);

    // Admission: a request joins when all its adapters are resident (loading ones wait without
    // holding anyone else back) and the KV pool has room for its prompt plus a block of headroom
    // for every running sequence.
    int64_t kv_free = kv.n_free() - static_cast<int64_t>(running.size());
    for (auto it = waiting.begin(); it != waiting.end() && static_cast<int32_t>(running.size()) < params.max_sequences;) {
      Request& r = **it;
      const int64_t blocks = static_cast<int64_t>(r.tokens.size()) / params.kv_block_size + 1;
      if (blocks > kv_free && !running.empty()) break;  // first come, first served: later ones wait too
      bool ready = true, failed = false;
      std::string error;
      std::vector<AdapterTerm> terms;
      for (size_t i = 0; i < r.adapter_ids.size(); ++i) {
        std::shared_ptr<const LoraWeights> w;
        const auto state = adapters.acquire(r.adapter_ids[i], &w, &error);
        if (state == AdapterRegistry::State::Failed) failed = true;
        else if (state == AdapterRegistry::State::Loading) ready = false;
        else terms.push_back({std::move(w), r.adapter_weights[i]});
      }
      if (failed) {
        finish(r, OL_FINISH_ERROR, "adapter failed to load: " + error);
        it = waiting.erase(it);
      } else if (ready) {
        kv_free -= blocks;
        r.adapters = std::move(terms);
        running.push_back(std::move(*it));
        it = waiting.erase(it);
      } else {
        ++it;
      }
    }
    n_running = static_cast<int32_t>(running.size());
    n_waiting = static_cast<int32_t>(waiting.size());
    if (running.empty()) continue;

    // One step: every decoding sequence contributes its next token, prefilling ones a chunk, within
    // the token budget. Decodes go first so generation never stalls behind long prompts.
    profile::Timer step_timer(profile::kStep);
    profile::count_step();
    batch.clear();
    in_batch.clear();
    order.clear();
    done.clear();
    int32_t budget = params.max_batch_tokens;
    for (auto& r : running)
      if (r->tokens.size() - r->n_cached == 1) order.push_back(r.get());
    for (auto& r : running)
      if (r->tokens.size() - r->n_cached > 1) order.push_back(r.get());
    for (Request* r : order) {
      if (budget <= 0) break;
      const int32_t pending = static_cast<int32_t>(r->tokens.size() - r->n_cached);
      int32_t n_new = std::min(pending, budget);
      while (n_new > 0 && !kv.reserve(r->block_table, static_cast<int64_t>(r->n_cached) + n_new)) n_new = std::min(n_new / 2, n_new - 1);
      if (n_new == 0) continue;
      BatchSequence s;
      s.tokens = r->tokens.data() + r->n_cached;
      s.n_tokens = n_new;
      s.pos0 = static_cast<int32_t>(r->n_cached);
      s.block_table = &r->block_table;
      s.adapters = &r->adapters;
      batch.push_back(s);
      in_batch.push_back(r);
      budget -= n_new;
    }
    if (batch.empty()) {
      // The KV pool cannot hold one more token of anyone. The newest sequence is preempted: its
      // blocks go back to the pool and it waits, keeping its tokens, to be recomputed later.
      std::unique_ptr<Request> victim = std::move(running.back());
      running.pop_back();
      if (running.empty()) {
        finish(*victim, OL_FINISH_ERROR, "KV cache exhausted (raise kv_cache_bytes)");
      } else {
        kv.release(victim->block_table);
        victim->n_cached = 0;
        victim->adapters.clear();
        waiting.insert(waiting.begin(), std::move(victim));
      }
      continue;
    }
    try {
      profile::Timer forward_timer(profile::kForward);
      forward->run(batch, logits);
    } catch (const std::exception& e) {
      for (auto& r : running) finish(*r, OL_FINISH_ERROR, std::string("forward pass failed: ") + e.what());
      running.clear();
      continue;
    }
    const int32_t n_vocab = model.hp.n_vocab;
    profile::Timer sample_timer(profile::kSample);
    for (size_t i = 0; i < batch.size(); ++i) {
      Request& r = *in_batch[i];
      r.n_cached += static_cast<size_t>(batch[i].n_tokens);
      if (r.n_cached < r.tokens.size()) continue;  // prompt chunk: nothing to sample yet
      const int32_t token = r.sampler.sample(logits.data() + i * static_cast<size_t>(n_vocab), n_vocab, r.tokens);
      const ol_finish_reason reason = emit_token(r, token);
      if (reason == OL_FINISH_NONE) continue;
      finish(r, reason);
      done.push_back(&r);
    }
    running.erase(std::remove_if(running.begin(), running.end(), [&](const auto& r) { return std::find(done.begin(), done.end(), r.get()) != done.end(); }),
                  running.end());
    n_running = static_cast<int32_t>(running.size());
  }
  for (auto* list : {&waiting, &running})
    for (auto& r : *list) finish(*r, OL_FINISH_CANCELLED);
  std::lock_guard<std::mutex> lock(mutex);
  for (auto& r : incoming) {
    r->cb(r->user, r->id, -1, "", 0, OL_FINISH_CANCELLED);
  }
  incoming.clear();
}

extern "C" ol_status ol_engine_create(ol_model* model, const ol_engine_params* params, ol_engine** out) {
  return guarded([&] {
    require(model != nullptr && out != nullptr, "model and out must not be NULL");
    *out = nullptr;
    ol_engine_params p{};
    if (params != nullptr) p = *params;
    require(p.max_batch_tokens >= 0 && p.max_sequences >= 0 && p.kv_block_size >= 0 && p.kv_cache_bytes >= 0 && p.adapter_budget_bytes >= 0,
            "engine parameters must be >= 0");
    require(p.adapter_precision == OL_ADAPTER_AS_STORED || p.adapter_precision == OL_ADAPTER_Q8,
            "adapter_precision must be OL_ADAPTER_AS_STORED (0) or OL_ADAPTER_Q8 (1)");
    if (p.max_batch_tokens == 0) p.max_batch_tokens = 512;
    if (p.max_sequences == 0) p.max_sequences = 64;
    if (p.kv_block_size == 0) p.kv_block_size = 16;
    if (p.adapter_budget_bytes == 0) p.adapter_budget_bytes = int64_t{256} << 20;
    const Model& m = *model->model;
    const size_t block_bytes = KvCache::bytes_per_block(m.hp.n_layer, m.hp.kv_dim(), p.kv_block_size, half_precision_kv(m));
    if (p.kv_cache_bytes == 0) {
      const int64_t tokens = int64_t{p.max_sequences} * std::max(1, m.hp.n_ctx_train / 4);
      p.kv_cache_bytes = std::min<int64_t>(tokens / p.kv_block_size * static_cast<int64_t>(block_bytes), int64_t{1} << 30);
    }
    const int64_t blocks = p.kv_cache_bytes / static_cast<int64_t>(block_bytes);
    if (blocks < 1) fail_argument("kv_cache_bytes is smaller than one KV block (" + std::to_string(block_bytes) + " bytes)");
    auto e = std::make_unique<ol_engine>(m, p, model->n_threads, model->backend, blocks);
    e->scheduler = std::thread([eng = e.get()] { eng->run_scheduler(); });
    *out = e.release();
  });
}

extern "C" void ol_engine_free(ol_engine* engine) {
  if (engine == nullptr) return;
  {
    std::lock_guard<std::mutex> lock(engine->mutex);
    engine->stop = true;
  }
  engine->cv.notify_all();
  engine->scheduler.join();
  delete engine;
}

extern "C" ol_status ol_engine_register_adapter(ol_engine* engine, const char* dir, int32_t* adapter_id) {
  return guarded([&] {
    require(engine != nullptr && dir != nullptr && adapter_id != nullptr, "engine, dir and adapter_id must not be NULL");
    *adapter_id = engine->adapters.add(dir);
  });
}

extern "C" ol_status ol_engine_unregister_adapter(ol_engine* engine, int32_t adapter_id) {
  return guarded([&] {
    require(engine != nullptr, "engine must not be NULL");
    engine->adapters.remove(adapter_id);
  });
}

extern "C" ol_status ol_engine_load_adapter(ol_engine* engine, int32_t adapter_id, int64_t* load_us) {
  return guarded([&] {
    require(engine != nullptr, "engine must not be NULL");
    int64_t us = 0;
    engine->adapters.load_now(adapter_id, &us);
    if (load_us != nullptr) *load_us = us;
  });
}

extern "C" ol_status ol_engine_get_stats(const ol_engine* engine, ol_engine_stats* out) {
  return guarded([&] {
    require(engine != nullptr && out != nullptr, "engine and out must not be NULL");
    auto* e = const_cast<ol_engine*>(engine);
    const AdapterStats a = e->adapters.stats();
    out->registered = a.registered;
    out->resident = a.resident;
    out->resident_bytes = a.resident_bytes;
    out->hits = a.hits;
    out->misses = a.misses;
    out->evictions = a.evictions;
    out->running_sequences = e->n_running;
    out->waiting_sequences = e->n_waiting;
    std::lock_guard<std::mutex> fwd(e->forward_mutex);
    out->kv_blocks_total = e->kv.n_blocks();
    out->kv_blocks_used = e->kv.n_blocks() - e->kv.n_free();
  });
}

namespace {
void check_adapters(ol_engine* e, const int32_t* ids, const float* weights, size_t n) {
  require(n == 0 || (ids != nullptr && weights != nullptr), "adapter_ids and adapter_weights must not be NULL");
  for (size_t i = 0; i < n; ++i) {
    if (!e->adapters.known(ids[i])) throw Error(OL_ERR_NOT_FOUND, "unknown adapter id " + std::to_string(ids[i]));
    if (!std::isfinite(weights[i])) fail_argument("adapter weights must be finite");
  }
}
void check_tokens(const Model& m, const int32_t* ids, size_t n) {
  require(ids != nullptr && n > 0, "a sequence needs at least one token");
  for (size_t i = 0; i < n; ++i)
    if (ids[i] < 0 || ids[i] >= m.hp.n_vocab)
      fail_argument("token id " + std::to_string(ids[i]) + " out of range (vocabulary " + std::to_string(m.hp.n_vocab) + ")");
  if (n >= static_cast<size_t>(m.hp.n_ctx_train)) fail_argument("sequence longer than the model context (" + std::to_string(m.hp.n_ctx_train) + ")");
}
}  // namespace

extern "C" ol_status ol_engine_submit(ol_engine* engine, const ol_request* request, ol_token_callback cb, void* user,
                                      uint64_t* request_id) {
  return guarded([&] {
    require(engine != nullptr && request != nullptr && cb != nullptr, "engine, request and cb must not be NULL");
    const ol_request& q = *request;
    check_tokens(engine->model, q.prompt_ids, q.n_prompt);
    require(q.max_tokens >= 1, "max_tokens must be >= 1");
    validate_sampling(q.sampling);
    check_adapters(engine, q.adapter_ids, q.adapter_weights, q.n_adapters);
    require(q.n_stop == 0 || q.stop != nullptr, "stop must not be NULL");
    const int64_t blocks_needed = (static_cast<int64_t>(q.n_prompt) + engine->params.kv_block_size) / engine->params.kv_block_size;
    if (blocks_needed > engine->kv.n_blocks()) fail_argument("prompt does not fit in the KV cache (raise kv_cache_bytes)");
    auto r = std::make_unique<Request>(q.sampling);
    r->tokens.assign(q.prompt_ids, q.prompt_ids + q.n_prompt);
    r->n_prompt = q.n_prompt;
    r->max_tokens = q.max_tokens;
    for (size_t i = 0; i < q.n_stop; ++i) {
      require(q.stop[i] != nullptr, "stop strings must not be NULL");
      r->stop.emplace_back(q.stop[i]);
    }
    r->adapter_ids.assign(q.adapter_ids, q.adapter_ids + q.n_adapters);
    r->adapter_weights.assign(q.adapter_weights, q.adapter_weights + q.n_adapters);
    r->ignore_eos = q.ignore_eos != 0;
    r->cb = cb;
    r->user = user;
    r->id = engine->next_id++;
    if (request_id != nullptr) *request_id = r->id;
    {
      std::lock_guard<std::mutex> lock(engine->mutex);
      engine->live.insert(r->id);
      engine->incoming.push_back(std::move(r));
    }
    engine->cv.notify_all();
  });
}

extern "C" ol_status ol_engine_cancel(ol_engine* engine, uint64_t request_id) {
  return guarded([&] {
    require(engine != nullptr, "engine must not be NULL");
    {
      std::lock_guard<std::mutex> lock(engine->mutex);
      if (!engine->live.count(request_id)) throw Error(OL_ERR_NOT_FOUND, "no running request " + std::to_string(request_id));
      engine->cancels.insert(request_id);
    }
    engine->cv.notify_all();
  });
}

extern "C" ol_status ol_engine_eval_logits(ol_engine* engine, const ol_eval_sequence* seqs, size_t n_seqs) {
  return guarded([&] {
    require(engine != nullptr && (seqs != nullptr || n_seqs == 0), "engine and seqs must not be NULL");
    const Model& m = engine->model;
    std::vector<std::vector<AdapterTerm>> terms(n_seqs);
    for (size_t i = 0; i < n_seqs; ++i) {
      const ol_eval_sequence& s = seqs[i];
      check_tokens(m, s.ids, s.n_ids);
      require(s.out != nullptr, "out must not be NULL");
      check_adapters(engine, s.adapter_ids, s.adapter_weights, s.n_adapters);
      for (size_t a = 0; a < s.n_adapters; ++a) {
        int64_t us = 0;
        terms[i].push_back({engine->adapters.load_now(s.adapter_ids[a], &us), s.adapter_weights[a]});
      }
    }
    std::lock_guard<std::mutex> fwd(engine->forward_mutex);
    std::vector<std::vector<int32_t>> tables(n_seqs);
    std::vector<BatchSequence> batch(n_seqs);
    struct Release {
      KvCache& kv;
      std::vector<std::vector<int32_t>>& tables;
      ~Release() {
        for (auto& t : tables) kv.release(t);
      }
    } release{engine->kv, tables};
    for (size_t i = 0; i < n_seqs; ++i) {
      if (!engine->kv.reserve(tables[i], static_cast<int64_t>(seqs[i].n_ids)))
        throw Error(OL_ERR_OUT_OF_MEMORY, "KV cache too small for this evaluation batch");
      batch[i] = BatchSequence{seqs[i].ids, static_cast<int32_t>(seqs[i].n_ids), 0, &tables[i], &terms[i], true};
    }
    std::vector<float> logits;
    engine->forward->run(batch, logits);
    size_t offset = 0;
    for (size_t i = 0; i < n_seqs; ++i) {
      const size_t count = seqs[i].n_ids * static_cast<size_t>(m.hp.n_vocab);
      std::memcpy(seqs[i].out, logits.data() + offset, count * sizeof(float));
      offset += count;
    }
  });
}

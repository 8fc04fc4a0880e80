// JS class Engine: an ol_engine (scheduler thread, KV cache, adapters) over a Model. Generation is
// asynchronous: submit() returns at once and tokens reach the JS callback through a
// ThreadSafeFunction as the engine thread produces them. Slow calls (adapter load, logits
// evaluation) run on libuv worker threads and return promises.
#pragma once

#include <napi.h>

#include <memory>

#include "ol_engine.h"

namespace ol_native {

// Owns the ol_engine and a share of its model. Workers in flight hold a share too, so dispose()
// never frees the engine under them.
struct EngineHandle {
  ol_engine* engine = nullptr;
  std::shared_ptr<ol_model> model;
  int32_t n_vocab = 0;
  ~EngineHandle() { ol_engine_free(engine); }
};

class Engine : public Napi::ObjectWrap<Engine> {
 public:
  static void init(Napi::Env env, Napi::Object exports);
  explicit Engine(const Napi::CallbackInfo& info);

 private:
  std::shared_ptr<EngineHandle> handle(Napi::Env env) const;
  Napi::Value register_adapter(const Napi::CallbackInfo& info);
  Napi::Value unregister_adapter(const Napi::CallbackInfo& info);
  Napi::Value load_adapter(const Napi::CallbackInfo& info);
  Napi::Value stats(const Napi::CallbackInfo& info);
  Napi::Value submit(const Napi::CallbackInfo& info);
  Napi::Value cancel(const Napi::CallbackInfo& info);
  Napi::Value eval_logits(const Napi::CallbackInfo& info);
  Napi::Value dispose(const Napi::CallbackInfo& info);

  std::shared_ptr<EngineHandle> handle_;
};

}  // namespace ol_native

// JS class Model: an ol_model loaded off the event loop (loadModel) plus its tokenizer and chat
// template. Immutable after load, so engines share it.
#pragma once

#include <napi.h>

#include <memory>

#include "ol_engine.h"

namespace ol_native {

class Model : public Napi::ObjectWrap<Model> {
 public:
  static void init(Napi::Env env, Napi::Object exports);
  explicit Model(const Napi::CallbackInfo& info);
  ~Model() override;

  // The loaded model, shared with the engines built on it (so finalization order and dispose()
  // never free it under them); throws when disposed.
  std::shared_ptr<ol_model> handle(Napi::Env env) const;
  // The Model behind a JS value, or nullptr when it is not one.
  static Model* from_value(Napi::Env env, const Napi::Value& value);

 private:
  static Napi::Value load(const Napi::CallbackInfo& info);
  Napi::Value info(const Napi::CallbackInfo& info);
  Napi::Value tokenize(const Napi::CallbackInfo& info);
  Napi::Value detokenize(const Napi::CallbackInfo& info);
  Napi::Value apply_chat_template(const Napi::CallbackInfo& info);
  Napi::Value dispose(const Napi::CallbackInfo& info);

  std::shared_ptr<ol_model> model_;
};

}  // namespace ol_native

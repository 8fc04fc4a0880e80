#include "model.h"

#include <memory>
#include <string>
#include <vector>

#include "common.h"

namespace ol_native {
namespace {

// Loads the model on a libuv worker thread; resolves with a Model object.
class LoadWorker : public Napi::AsyncWorker {
 public:
  LoadWorker(Napi::Env env, std::string path, ol_model_params params)
      : Napi::AsyncWorker(env, "ol_native.loadModel"),
        deferred_(Napi::Promise::Deferred::New(env)), path_(std::move(path)), params_(params) {}
  ~LoadWorker() override { ol_model_free(model_); }

  Napi::Promise promise() const { return deferred_.Promise(); }

  void Execute() override {
    ol_status status = ol_model_load(path_.c_str(), &params_, &model_);
    if (status != OL_OK) {
      failure_ = Failure::capture(status);
      model_ = nullptr;
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (failure_.status != OL_OK) {
      deferred_.Reject(failure_.to_error(env).Value());
      return;
    }
    Napi::Object object = addon_data(env).model_constructor.New({Napi::External<ol_model>::New(env, model_)});
    model_ = nullptr;  // owned by the JS object now
    deferred_.Resolve(object);
  }

  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::string path_;
  ol_model_params params_;
  ol_model* model_ = nullptr;
  Failure failure_;
};

// Calls an ol_* function following the header's "cap/n" convention until the buffer is big enough.
template <typename T, typename Call>
std::vector<T> grow_until_fits(Napi::Env env, size_t first_guess, Call call) {
  std::vector<T> buffer(first_guess > 0 ? first_guess : 1);
  for (;;) {
    size_t n = 0;
    check(env, call(buffer.data(), buffer.size(), &n));
    if (n <= buffer.size()) {
      buffer.resize(n);
      return buffer;
    }
    buffer.resize(n);
  }
}

}  // namespace

void Model::init(Napi::Env env, Napi::Object exports) {
  Napi::Function constructor = DefineClass(
      env, "Model",
      {InstanceMethod<&Model::info>("info"), InstanceMethod<&Model::tokenize>("tokenize"),
       InstanceMethod<&Model::detokenize>("detokenize"),
       InstanceMethod<&Model::apply_chat_template>("applyChatTemplate"),
       InstanceMethod<&Model::dispose>("dispose")});
  addon_data(env).model_constructor = Napi::Persistent(constructor);
  exports.Set("Model", constructor);
  exports.Set("loadModel", Napi::Function::New<&Model::load>(env, "loadModel"));
}

Model::Model(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Model>(info) {
  if (info.Length() != 1 || !info[0].IsExternal())
    throw Napi::TypeError::New(info.Env(), "Model objects come from loadModel(path)");
  model_.reset(info[0].As<Napi::External<ol_model>>().Data(), ol_model_free);
}

Model::~Model() = default;

Model* Model::from_value(Napi::Env env, const Napi::Value& value) {
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(addon_data(env).model_constructor.Value()))
    return nullptr;
  return Model::Unwrap(value.As<Napi::Object>());
}

std::shared_ptr<ol_model> Model::handle(Napi::Env env) const {
  if (!model_) throw Napi::Error::New(env, "the model has been disposed");
  return model_;
}

// loadModel(path: string, options?: {threads?: number, backend?: number}): Promise<Model>
Napi::Value Model::load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = string_arg(info, 0, "path");
  Napi::Object options = object_arg(info, 1, "options");
  ol_model_params params{};
  params.n_threads = static_cast<int32_t>(integer_field(options, "threads", 0, 0, 4096));
  params.backend = static_cast<int32_t>(integer_field(options, "backend", 0, 0, 1));
  auto* worker = new LoadWorker(env, std::move(path), params);
  Napi::Promise promise = worker->promise();
  worker->Queue();  // the worker deletes itself when done
  return promise;
}

Napi::Value Model::info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ol_model_info model_info{};
  check(env, ol_model_get_info(handle(env).get(), &model_info));
  Napi::Object out = Napi::Object::New(env);
  out.Set("architecture", Napi::String::New(env, model_info.architecture));
  out.Set("nVocab", model_info.n_vocab);
  out.Set("nCtxTrain", model_info.n_ctx_train);
  out.Set("nEmbd", model_info.n_embd);
  out.Set("nLayer", model_info.n_layer);
  out.Set("nHead", model_info.n_head);
  out.Set("nHeadKv", model_info.n_head_kv);
  out.Set("nFf", model_info.n_ff);
  out.Set("bosId", model_info.bos_id);
  out.Set("eosId", model_info.eos_id);
  out.Set("nParams", Napi::Number::New(env, static_cast<double>(model_info.n_params)));
  out.Set("weightsBytes", Napi::Number::New(env, static_cast<double>(model_info.weights_bytes)));
  return out;
}

// tokenize(text: string, addSpecial: boolean, parseSpecial: boolean): Int32Array
Napi::Value Model::tokenize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string text = string_arg(info, 0, "text");
  bool add_special = info.Length() > 1 && info[1].ToBoolean().Value();
  bool parse_special = info.Length() > 2 && info[2].ToBoolean().Value();
  std::shared_ptr<ol_model> model = handle(env);
  std::vector<int32_t> ids = grow_until_fits<int32_t>(env, text.size() + 8, [&](int32_t* out, size_t cap, size_t* n) {
    return ol_tokenize(model.get(), text.data(), text.size(), add_special, parse_special, out, cap, n);
  });
  Napi::Int32Array result = Napi::Int32Array::New(env, ids.size());
  std::copy(ids.begin(), ids.end(), result.Data());
  return result;
}

// detokenize(ids: Int32Array | number[], renderSpecial: boolean): Buffer (raw UTF-8 bytes; a
// piece may end inside a multi-byte character)
Napi::Value Model::detokenize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1) throw Napi::TypeError::New(env, "ids is required");
  std::vector<int32_t> ids = token_ids_arg(env, info[0], "ids");
  bool render_special = info.Length() > 1 && info[1].ToBoolean().Value();
  std::shared_ptr<ol_model> model = handle(env);
  std::vector<char> bytes = grow_until_fits<char>(env, ids.size() * 8 + 16, [&](char* out, size_t cap, size_t* n) {
    return ol_detokenize(model.get(), ids.data(), ids.size(), render_special, out, cap, n);
  });
  return Napi::Buffer<char>::Copy(env, bytes.data(), bytes.size());
}

// applyChatTemplate(messages: {role: string, content: string}[], addGenerationPrompt: boolean): string
Napi::Value Model::apply_chat_template(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray())
    throw Napi::TypeError::New(env, "messages must be an array of {role, content}");
  Napi::Array messages = info[0].As<Napi::Array>();
  bool add_generation_prompt = info.Length() > 1 && info[1].ToBoolean().Value();
  std::vector<std::string> roles, contents;
  size_t total = 64;
  for (uint32_t i = 0; i < messages.Length(); ++i) {
    Napi::Value message = messages.Get(i);
    if (!message.IsObject()) throw Napi::TypeError::New(env, "messages[" + std::to_string(i) + "] must be an object");
    Napi::Value role = message.As<Napi::Object>().Get("role");
    Napi::Value content = message.As<Napi::Object>().Get("content");
    if (!role.IsString() || !content.IsString())
      throw Napi::TypeError::New(env, "messages[" + std::to_string(i) + "] needs string role and content");
    roles.push_back(role.As<Napi::String>().Utf8Value());
    contents.push_back(content.As<Napi::String>().Utf8Value());
    total += roles.back().size() + contents.back().size() + 64;
  }
  std::vector<const char*> role_ptrs, content_ptrs;
  for (size_t i = 0; i < roles.size(); ++i) {
    role_ptrs.push_back(roles[i].c_str());
    content_ptrs.push_back(contents[i].c_str());
  }
  std::shared_ptr<ol_model> model = handle(env);
  std::vector<char> text = grow_until_fits<char>(env, total, [&](char* out, size_t cap, size_t* n) {
    return ol_apply_chat_template(model.get(), role_ptrs.data(), content_ptrs.data(), roles.size(),
                                  add_generation_prompt, out, cap, n);
  });
  return Napi::String::New(env, text.data(), text.size());
}

// Drops this object's hold on the weights; engines built on the model keep them until disposed.
Napi::Value Model::dispose(const Napi::CallbackInfo& info) {
  model_.reset();
  return info.Env().Undefined();
}

}  // namespace ol_native

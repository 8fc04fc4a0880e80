#include "engine.h"

#include <cmath>
#include <string>
#include <vector>

#include "common.h"
#include "model.h"

namespace ol_native {
namespace {

int32_t adapter_id(Napi::Env env, const Napi::Value& value) {
  double id = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : NAN;
  if (!(id >= INT32_MIN && id <= INT32_MAX && std::floor(id) == id))
    throw Napi::TypeError::New(env, "an adapter id must be an integer");
  return static_cast<int32_t>(id);
}

int32_t adapter_id_arg(const Napi::CallbackInfo& info, size_t index) {
  return adapter_id(info.Env(), info.Length() > index ? info[index] : info.Env().Undefined());
}

// A request's adapters: [{id: number, weight?: number}] (weight defaults to 1).
struct AdapterMix {
  std::vector<int32_t> ids;
  std::vector<float> weights;
};

AdapterMix adapters_field(Napi::Env env, const Napi::Object& object) {
  AdapterMix mix;
  Napi::Value value = object.Get("adapters");
  if (value.IsUndefined() || value.IsNull()) return mix;
  if (!value.IsArray()) throw Napi::TypeError::New(env, "adapters must be an array of {id, weight}");
  Napi::Array array = value.As<Napi::Array>();
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value item = array.Get(i);
    if (!item.IsObject())
      throw Napi::TypeError::New(env, "adapters[" + std::to_string(i) + "] must be {id: number, weight?: number}");
    mix.ids.push_back(adapter_id(env, item.As<Napi::Object>().Get("id")));
    mix.weights.push_back(static_cast<float>(number_field(item.As<Napi::Object>(), "weight", 1.0)));
  }
  return mix;
}

// ---------------------------------------------------------------- token delivery
// One generated token (or the final event) carried from the engine thread to the JS thread.
struct TokenEvent {
  int32_t token;
  std::string piece;
  ol_finish_reason finish;
};

// Per request: the thread-safe function that calls the request's JS callback. Released (and
// freed) with the final event, which the engine always sends exactly once.
struct RequestContext {
  Napi::ThreadSafeFunction deliver;
};

void call_js_with_token(Napi::Env env, Napi::Function callback, TokenEvent* event) {
  std::unique_ptr<TokenEvent> owned(event);
  if (env == nullptr) return;  // environment shutting down: nobody to tell
  try {
    callback.Call({Napi::Number::New(env, owned->token),
                   Napi::Buffer<char>::Copy(env, owned->piece.data(), owned->piece.size()),
                   Napi::Number::New(env, owned->finish)});
  } catch (const Napi::Error& error) {
    // A throwing JS callback becomes an uncaught exception, as with any async callback.
    error.ThrowAsJavaScriptException();
  }
}

// Runs on the engine's scheduler thread: must not block, so it only queues the event.
void on_token(void* user, uint64_t /*request_id*/, int32_t token, const char* piece, size_t piece_len,
              ol_finish_reason finish) {
  auto* context = static_cast<RequestContext*>(user);
  auto* event = new TokenEvent{token, std::string(piece ? piece : "", piece ? piece_len : 0), finish};
  if (context->deliver.NonBlockingCall(event, call_js_with_token) != napi_ok) delete event;
  if (finish != OL_FINISH_NONE) {
    context->deliver.Release();
    delete context;
  }
}

// ---------------------------------------------------------------- workers
class LoadAdapterWorker : public Napi::AsyncWorker {
 public:
  LoadAdapterWorker(Napi::Env env, std::shared_ptr<EngineHandle> handle, int32_t adapter_id)
      : Napi::AsyncWorker(env, "ol_native.loadAdapter"),
        deferred_(Napi::Promise::Deferred::New(env)), handle_(std::move(handle)), adapter_id_(adapter_id) {}
  Napi::Promise promise() const { return deferred_.Promise(); }
  void Execute() override {
    ol_status status = ol_engine_load_adapter(handle_->engine, adapter_id_, &load_us_);
    if (status != OL_OK) failure_ = Failure::capture(status);
  }
  void OnOK() override {
    if (failure_.status != OL_OK) deferred_.Reject(failure_.to_error(Env()).Value());
    else deferred_.Resolve(Napi::Number::New(Env(), static_cast<double>(load_us_)));
  }
  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<EngineHandle> handle_;
  int32_t adapter_id_;
  int64_t load_us_ = 0;
  Failure failure_;
};

struct EvalInput {
  std::vector<int32_t> ids;
  AdapterMix adapters;
  std::vector<float> logits;
};

class EvalLogitsWorker : public Napi::AsyncWorker {
 public:
  EvalLogitsWorker(Napi::Env env, std::shared_ptr<EngineHandle> handle, std::vector<EvalInput> inputs)
      : Napi::AsyncWorker(env, "ol_native.evalLogits"),
        deferred_(Napi::Promise::Deferred::New(env)), handle_(std::move(handle)), inputs_(std::move(inputs)) {}
  Napi::Promise promise() const { return deferred_.Promise(); }
  void Execute() override {
    std::vector<ol_eval_sequence> sequences;
    for (EvalInput& input : inputs_) {
      input.logits.resize(input.ids.size() * static_cast<size_t>(handle_->n_vocab));
      sequences.push_back(ol_eval_sequence{input.ids.data(), input.ids.size(), input.adapters.ids.data(),
                                           input.adapters.weights.data(), input.adapters.ids.size(),
                                           input.logits.data()});
    }
    ol_status status = ol_engine_eval_logits(handle_->engine, sequences.data(), sequences.size());
    if (status != OL_OK) failure_ = Failure::capture(status);
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (failure_.status != OL_OK) {
      deferred_.Reject(failure_.to_error(env).Value());
      return;
    }
    Napi::Array results = Napi::Array::New(env, inputs_.size());
    for (size_t i = 0; i < inputs_.size(); ++i) {
      Napi::Float32Array logits = Napi::Float32Array::New(env, inputs_[i].logits.size());
      std::copy(inputs_[i].logits.begin(), inputs_[i].logits.end(), logits.Data());
      results.Set(static_cast<uint32_t>(i), logits);
    }
    deferred_.Resolve(results);
  }
  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<EngineHandle> handle_;
  std::vector<EvalInput> inputs_;
  Failure failure_;
};

}  // namespace

void Engine::init(Napi::Env env, Napi::Object exports) {
  Napi::Function constructor = DefineClass(
      env, "Engine",
      {InstanceMethod<&Engine::register_adapter>("registerAdapter"),
       InstanceMethod<&Engine::unregister_adapter>("unregisterAdapter"),
       InstanceMethod<&Engine::load_adapter>("loadAdapter"), InstanceMethod<&Engine::stats>("stats"),
       InstanceMethod<&Engine::submit>("submit"), InstanceMethod<&Engine::cancel>("cancel"),
       InstanceMethod<&Engine::eval_logits>("evalLogits"), InstanceMethod<&Engine::dispose>("dispose")});
  addon_data(env).engine_constructor = Napi::Persistent(constructor);
  exports.Set("Engine", constructor);
}

// new Engine(model: Model, params?: {maxBatchTokens, maxSequences, kvBlockSize, kvCacheBytes,
// adapterBudgetBytes, adapterPrecision: "stored" | "q8"})
Engine::Engine(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Engine>(info) {
  Napi::Env env = info.Env();
  Model* model = info.Length() > 0 ? Model::from_value(env, info[0]) : nullptr;
  if (!model) throw Napi::TypeError::New(env, "new Engine(model): model must be a Model from loadModel()");
  Napi::Object options = object_arg(info, 1, "params");
  ol_engine_params params{};
  constexpr int64_t kMaxBytes = int64_t{1} << 50;
  params.max_batch_tokens = static_cast<int32_t>(integer_field(options, "maxBatchTokens", 0, 0, INT32_MAX));
  params.max_sequences = static_cast<int32_t>(integer_field(options, "maxSequences", 0, 0, INT32_MAX));
  params.kv_block_size = static_cast<int32_t>(integer_field(options, "kvBlockSize", 0, 0, INT32_MAX));
  params.kv_cache_bytes = integer_field(options, "kvCacheBytes", 0, 0, kMaxBytes);
  params.adapter_budget_bytes = integer_field(options, "adapterBudgetBytes", 0, 0, kMaxBytes);
  if (const Napi::Value precision = options.Get("adapterPrecision"); !precision.IsUndefined()) {
    const std::string name = precision.IsString() ? precision.As<Napi::String>().Utf8Value() : "";
    if (name == "q8") params.adapter_precision = OL_ADAPTER_Q8;
    else if (name != "stored") throw Napi::TypeError::New(env, "adapterPrecision must be \"stored\" or \"q8\"");
  }

  auto handle = std::make_shared<EngineHandle>();
  handle->model = model->handle(env);
  ol_model_info model_info{};
  check(env, ol_model_get_info(handle->model.get(), &model_info));
  handle->n_vocab = model_info.n_vocab;
  check(env, ol_engine_create(handle->model.get(), &params, &handle->engine));
  handle_ = std::move(handle);
}

std::shared_ptr<EngineHandle> Engine::handle(Napi::Env env) const {
  if (!handle_) throw Napi::Error::New(env, "the engine has been disposed");
  return handle_;
}

// registerAdapter(dir: string): number — validates now, loads the weights on first use.
Napi::Value Engine::register_adapter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string dir = string_arg(info, 0, "dir");
  int32_t adapter_id = 0;
  check(env, ol_engine_register_adapter(handle(env)->engine, dir.c_str(), &adapter_id));
  return Napi::Number::New(env, adapter_id);
}

Napi::Value Engine::unregister_adapter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  check(env, ol_engine_unregister_adapter(handle(env)->engine, adapter_id_arg(info, 0)));
  return env.Undefined();
}

// loadAdapter(id: number): Promise<number> — microseconds spent loading (0 when resident).
Napi::Value Engine::load_adapter(const Napi::CallbackInfo& info) {
  auto* worker = new LoadAdapterWorker(info.Env(), handle(info.Env()), adapter_id_arg(info, 0));
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

Napi::Value Engine::stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ol_engine_stats stats{};
  check(env, ol_engine_get_stats(handle(env)->engine, &stats));
  Napi::Object out = Napi::Object::New(env);
  auto number = [&](double value) { return Napi::Number::New(env, value); };
  out.Set("registered", number(stats.registered));
  out.Set("resident", number(stats.resident));
  out.Set("residentBytes", number(static_cast<double>(stats.resident_bytes)));
  out.Set("hits", number(static_cast<double>(stats.hits)));
  out.Set("misses", number(static_cast<double>(stats.misses)));
  out.Set("evictions", number(static_cast<double>(stats.evictions)));
  out.Set("runningSequences", number(stats.running_sequences));
  out.Set("waitingSequences", number(stats.waiting_sequences));
  out.Set("kvBlocksTotal", number(static_cast<double>(stats.kv_blocks_total)));
  out.Set("kvBlocksUsed", number(static_cast<double>(stats.kv_blocks_used)));
  return out;
}

// submit(request, onToken(token: number, piece: Buffer, finish: number)): number (request id)
// request: {promptIds, maxTokens, temperature?, topK?, topP?, minP?, repetitionPenalty?,
//           repetitionLastN?, seed?, stop?: string[], adapters?: [{id, weight}], ignoreEos?}
Napi::Value Engine::submit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<EngineHandle> engine = handle(env);
  Napi::Object request = object_arg(info, 0, "request");
  if (info.Length() < 2 || !info[1].IsFunction())
    throw Napi::TypeError::New(env, "submit(request, onToken): onToken must be a function");

  std::vector<int32_t> prompt = token_ids_arg(env, request.Get("promptIds"), "promptIds");
  std::vector<std::string> stop_strings;
  Napi::Value stop = request.Get("stop");
  if (!stop.IsUndefined()) {
    if (!stop.IsArray()) throw Napi::TypeError::New(env, "stop must be an array of strings");
    Napi::Array array = stop.As<Napi::Array>();
    for (uint32_t i = 0; i < array.Length(); ++i) {
      if (!array.Get(i).IsString()) throw Napi::TypeError::New(env, "stop must be an array of strings");
      stop_strings.push_back(array.Get(i).As<Napi::String>().Utf8Value());
    }
  }
  std::vector<const char*> stop_ptrs;
  for (const std::string& s : stop_strings) stop_ptrs.push_back(s.c_str());
  AdapterMix adapters = adapters_field(env, request);

  ol_request native{};
  native.prompt_ids = prompt.data();
  native.n_prompt = prompt.size();
  native.max_tokens = static_cast<int32_t>(integer_field(request, "maxTokens", 0, 0, INT32_MAX));
  native.sampling.temperature = static_cast<float>(number_field(request, "temperature", 0));
  native.sampling.top_k = static_cast<int32_t>(integer_field(request, "topK", 0, 0, INT32_MAX));
  native.sampling.top_p = static_cast<float>(number_field(request, "topP", 1));
  native.sampling.min_p = static_cast<float>(number_field(request, "minP", 0));
  native.sampling.repetition_penalty = static_cast<float>(number_field(request, "repetitionPenalty", 1));
  native.sampling.repetition_last_n = static_cast<int32_t>(integer_field(request, "repetitionLastN", 0, 0, INT32_MAX));
  native.sampling.seed = static_cast<uint64_t>(integer_field(request, "seed", 0, 0, int64_t{1} << 53));
  native.stop = stop_ptrs.data();
  native.n_stop = stop_ptrs.size();
  native.adapter_ids = adapters.ids.data();
  native.adapter_weights = adapters.weights.data();
  native.n_adapters = adapters.ids.size();
  native.ignore_eos = bool_field(request, "ignoreEos", false) ? 1 : 0;

  auto* context = new RequestContext{
      Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "ol_native.token", 0, 1)};
  uint64_t request_id = 0;
  ol_status status = ol_engine_submit(engine->engine, &native, on_token, context, &request_id);
  if (status != OL_OK) {
    Failure failure = Failure::capture(status);
    context->deliver.Release();  // the engine will never call back for a refused request
    delete context;
    throw failure.to_error(env);
  }
  return Napi::Number::New(env, static_cast<double>(request_id));
}

Napi::Value Engine::cancel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "request id must be a number");
  double id = info[0].As<Napi::Number>().DoubleValue();
  check(env, ol_engine_cancel(handle(env)->engine, static_cast<uint64_t>(id)));
  return env.Undefined();
}

// evalLogits(sequences: [{ids, adapters?}]): Promise<Float32Array[]> (n_ids * n_vocab each), all
// sequences run as one batch.
Napi::Value Engine::eval_logits(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray())
    throw Napi::TypeError::New(env, "evalLogits(sequences): sequences must be an array of {ids, adapters?}");
  Napi::Array array = info[0].As<Napi::Array>();
  std::vector<EvalInput> inputs;
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value item = array.Get(i);
    if (!item.IsObject()) throw Napi::TypeError::New(env, "sequences[" + std::to_string(i) + "] must be an object");
    Napi::Object sequence = item.As<Napi::Object>();
    EvalInput input;
    input.ids = token_ids_arg(env, sequence.Get("ids"), "ids");
    input.adapters = adapters_field(env, sequence);
    inputs.push_back(std::move(input));
  }
  auto* worker = new EvalLogitsWorker(env, handle(env), std::move(inputs));
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

// Frees the engine (cancelling running requests: their callbacks get a final "cancelled"
// event) once no worker uses it any more.
Napi::Value Engine::dispose(const Napi::CallbackInfo& info) {
  handle_.reset();
  return info.Env().Undefined();
}

}  // namespace ol_native

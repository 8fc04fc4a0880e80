// Module entry point and the shared helpers of common.h.
#include <cmath>

#include "common.h"
#include "engine.h"
#include "model.h"

namespace ol_native {

const char* status_code_name(ol_status status) {
  switch (status) {
    case OL_OK: return "OL_OK";
    case OL_ERR_INVALID_ARGUMENT: return "OL_ERR_INVALID_ARGUMENT";
    case OL_ERR_BAD_FILE: return "OL_ERR_BAD_FILE";
    case OL_ERR_IO: return "OL_ERR_IO";
    case OL_ERR_OUT_OF_MEMORY: return "OL_ERR_OUT_OF_MEMORY";
    case OL_ERR_NOT_FOUND: return "OL_ERR_NOT_FOUND";
    case OL_ERR_CANCELLED: return "OL_ERR_CANCELLED";
    default: return "OL_ERR_INTERNAL";
  }
}

Failure Failure::capture(ol_status status) {
  const char* message = ol_last_error();
  return Failure{status, (message && *message) ? message : status_code_name(status)};
}

Napi::Error Failure::to_error(Napi::Env env) const {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, status_code_name(status)));
  return error;
}

void throw_status(Napi::Env env, ol_status status) { throw Failure::capture(status).to_error(env); }

std::string string_arg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (info.Length() <= index || !info[index].IsString())
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a string");
  return info[index].As<Napi::String>().Utf8Value();
}

std::vector<int32_t> token_ids_arg(Napi::Env env, const Napi::Value& value, const char* name) {
  std::vector<int32_t> ids;
  if (value.IsTypedArray() && value.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array) {
    Napi::Int32Array array = value.As<Napi::Int32Array>();
    ids.assign(array.Data(), array.Data() + array.ElementLength());
    return ids;
  }
  if (!value.IsArray())
    throw Napi::TypeError::New(env, std::string(name) + " must be an Int32Array or an array of token ids");
  Napi::Array array = value.As<Napi::Array>();
  ids.reserve(array.Length());
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value item = array.Get(i);
    double id = item.IsNumber() ? item.As<Napi::Number>().DoubleValue() : NAN;
    if (!(id >= 0 && id <= INT32_MAX && std::floor(id) == id))
      throw Napi::TypeError::New(env, std::string(name) + "[" + std::to_string(i) +
                                          "] is not a token id (a non-negative integer)");
    ids.push_back(static_cast<int32_t>(id));
  }
  return ids;
}

Napi::Object object_arg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (info.Length() <= index || info[index].IsUndefined()) return Napi::Object::New(info.Env());
  if (!info[index].IsObject())
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be an object");
  return info[index].As<Napi::Object>();
}

double number_field(const Napi::Object& object, const char* key, double fallback) {
  Napi::Value value = object.Get(key);
  if (value.IsUndefined()) return fallback;
  if (!value.IsNumber() || !std::isfinite(value.As<Napi::Number>().DoubleValue()))
    throw Napi::TypeError::New(object.Env(), std::string(key) + " must be a finite number");
  return value.As<Napi::Number>().DoubleValue();
}

int64_t integer_field(const Napi::Object& object, const char* key, int64_t fallback, int64_t min, int64_t max) {
  double value = number_field(object, key, static_cast<double>(fallback));
  if (std::floor(value) != value || value < static_cast<double>(min) || value > static_cast<double>(max))
    throw Napi::RangeError::New(object.Env(), std::string(key) + " must be an integer in [" + std::to_string(min) +
                                                  ", " + std::to_string(max) + "]");
  return static_cast<int64_t>(value);
}

bool bool_field(const Napi::Object& object, const char* key, bool fallback) {
  Napi::Value value = object.Get(key);
  if (value.IsUndefined()) return fallback;
  if (!value.IsBoolean()) throw Napi::TypeError::New(object.Env(), std::string(key) + " must be a boolean");
  return value.As<Napi::Boolean>().Value();
}

}  // namespace ol_native

static Napi::Object init_addon(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new ol_native::AddonData());
  ol_native::Model::init(env, exports);
  ol_native::Engine::init(env, exports);
  return exports;
}

NODE_API_MODULE(ol_native, init_addon)

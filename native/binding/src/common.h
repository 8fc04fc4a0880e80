// Helpers shared by the addon's classes: turning ol_status failures into JS exceptions and
// reading typed arguments with clear TypeErrors.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ol_engine.h"

namespace ol_native {

// Per-environment state (worker threads each get their own): the class constructors.
struct AddonData {
  Napi::FunctionReference model_constructor;
  Napi::FunctionReference engine_constructor;
};
inline AddonData& addon_data(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

// The engine's status names, as JS sees them in error.code.
const char* status_code_name(ol_status status);

// Throws a JS Error whose message is ol_last_error() (captured on this thread) and whose code
// names the status. Call only right after the failing ol_* call, on the same thread.
[[noreturn]] void throw_status(Napi::Env env, ol_status status);

inline void check(Napi::Env env, ol_status status) {
  if (status != OL_OK) throw_status(env, status);
}

// The failure of an ol_* call made on a worker thread, to be thrown later on the JS thread.
struct Failure {
  ol_status status = OL_OK;
  std::string message;
  static Failure capture(ol_status status);
  Napi::Error to_error(Napi::Env env) const;
};

std::string string_arg(const Napi::CallbackInfo& info, size_t index, const char* name);
// Accepts an Int32Array or an array of integers.
std::vector<int32_t> token_ids_arg(Napi::Env env, const Napi::Value& value, const char* name);
Napi::Object object_arg(const Napi::CallbackInfo& info, size_t index, const char* name);
// Reads an optional numeric field of an options object; returns fallback when absent/undefined.
double number_field(const Napi::Object& object, const char* key, double fallback);
// Same for an integer field, which must lie in [min, max] (RangeError otherwise).
int64_t integer_field(const Napi::Object& object, const char* key, int64_t fallback, int64_t min, int64_t max);
bool bool_field(const Napi::Object& object, const char* key, bool fallback);

}  // namespace ol_native

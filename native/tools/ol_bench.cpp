// ol_bench: times the engine through its C API, for benchmark scripts that run where Node is not
// installed (bench/engine-gpu runs it on the GPU machine beside PyTorch). Prints one JSON object.
//
//   ol_bench decode --model PATH [--backend 0|1] [--prompt-tokens 256] [--decode-tokens 128] [--reps 3]
//   ol_bench batch  --model PATH [--backend 0|1] [--requests 32] [--tokens 64] [--adapter DIR]...
//   ol_bench logits --model PATH [--backend 0|1] --ids 1,2,3 --out FILE [--adapter DIR]
// Common: [--threads N] (0 = all cores) [--adapter-precision stored|q8]
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "ol_engine.h"

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "ol_bench: %s\n", message.c_str());
  std::exit(2);
}

void ok(ol_status st, const char* what) {
  if (st != OL_OK) die(std::string(what) + ": " + ol_last_error());
}

struct Args {
  std::string command, model, out, ids;
  int backend = 0, prompt_tokens = 256, decode_tokens = 128, reps = 3, requests = 32, tokens = 64, threads = 0;
  int32_t adapter_precision = OL_ADAPTER_AS_STORED;
  std::vector<std::string> adapters;
};

Args parse(int argc, char** argv) {
  if (argc < 2) die("usage: ol_bench decode|batch|logits --model PATH [options] (see the source's header)");
  Args a;
  a.command = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string k = argv[i];
    if (i + 1 >= argc) die("missing value for " + k);
    const std::string v = argv[++i];
    if (k == "--model") a.model = v;
    else if (k == "--out") a.out = v;
    else if (k == "--ids") a.ids = v;
    else if (k == "--adapter") a.adapters.push_back(v);
    else if (k == "--backend") a.backend = std::stoi(v);
    else if (k == "--prompt-tokens") a.prompt_tokens = std::stoi(v);
    else if (k == "--decode-tokens") a.decode_tokens = std::stoi(v);
    else if (k == "--reps") a.reps = std::stoi(v);
    else if (k == "--requests") a.requests = std::stoi(v);
    else if (k == "--tokens") a.tokens = std::stoi(v);
    else if (k == "--threads") a.threads = std::stoi(v);
    else if (k == "--adapter-precision" && (v == "stored" || v == "q8")) a.adapter_precision = v == "q8" ? OL_ADAPTER_Q8 : OL_ADAPTER_AS_STORED;
    else die("unknown option " + k);
  }
  if (a.model.empty()) die("--model is required");
  return a;
}

// Deterministic prompt ids spread over the vocabulary.
std::vector<int32_t> prompt(int n, int seed, int32_t vocab) {
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) ids[static_cast<size_t>(i)] = static_cast<int32_t>((int64_t{i} * 7919 + int64_t{seed} * 104729 + 17) % vocab);
  return ids;
}

// Records when the first and the last token arrived, and when the request finished.
struct Timing {
  std::mutex mutex;
  std::condition_variable cv;
  Clock::time_point first{}, last{};
  int tokens = 0;
  bool done = false;
  std::string error;
  static void callback(void* user, uint64_t, int32_t token, const char* piece, size_t len, ol_finish_reason finish) {
    auto* t = static_cast<Timing*>(user);
    std::lock_guard<std::mutex> lock(t->mutex);
    if (token >= 0) {
      t->last = Clock::now();
      if (t->tokens++ == 0) t->first = t->last;
      return;
    }
    if (finish == OL_FINISH_ERROR) t->error.assign(piece, len);
    t->done = true;
    t->cv.notify_all();
  }
  void wait() {
    std::unique_lock<std::mutex> lock(mutex);
    cv.wait(lock, [&] { return done; });
    if (!error.empty()) die("generation failed: " + error);
  }
};

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

ol_request greedy(const std::vector<int32_t>& ids, int max_tokens) {
  ol_request r{};
  r.prompt_ids = ids.data();
  r.n_prompt = ids.size();
  r.max_tokens = max_tokens;
  r.sampling.top_p = 1.0f;
  r.sampling.repetition_penalty = 1.0f;
  r.ignore_eos = 1;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  ol_model_params mp{};
  mp.backend = a.backend;
  mp.n_threads = a.threads;
  ol_model* model = nullptr;
  const auto t_load = Clock::now();
  ok(ol_model_load(a.model.c_str(), &mp, &model), "loading the model");
  ol_model_info info{};
  ok(ol_model_get_info(model, &info), "model info");
  ol_engine_params ep{};
  ep.max_sequences = std::max(64, a.requests);
  ep.adapter_precision = a.adapter_precision;
  ol_engine* engine = nullptr;
  ok(ol_engine_create(model, &ep, &engine), "creating the engine");
  const double load_s = seconds(Clock::now() - t_load);
  std::vector<int32_t> adapter_ids;
  for (const std::string& dir : a.adapters) {
    int32_t id = 0;
    int64_t us = 0;
    ok(ol_engine_register_adapter(engine, dir.c_str(), &id), ("registering " + dir).c_str());
    ok(ol_engine_load_adapter(engine, id, &us), ("loading " + dir).c_str());
    adapter_ids.push_back(id);
  }
  std::printf("{\"command\":\"%s\",\"backend\":%d,\"n_params\":%lld,\"load_s\":%.3f", a.command.c_str(), a.backend,
              static_cast<long long>(info.n_params), load_s);

  if (a.command == "decode") {
    std::vector<double> prefill, decode;
    for (int rep = 0; rep < a.reps + 1; ++rep) {  // the first repetition warms up and is not counted
      const auto long_prompt = prompt(a.prompt_tokens, rep, info.n_vocab);
      Timing pre;
      ol_request r = greedy(long_prompt, 1);
      uint64_t id = 0;
      const auto t0 = Clock::now();
      ok(ol_engine_submit(engine, &r, Timing::callback, &pre, &id), "submit");
      pre.wait();
      const auto short_prompt = prompt(16, 100 + rep, info.n_vocab);
      Timing dec;
      r = greedy(short_prompt, a.decode_tokens + 1);
      ok(ol_engine_submit(engine, &r, Timing::callback, &dec, &id), "submit");
      dec.wait();
      if (rep == 0) continue;
      prefill.push_back(a.prompt_tokens / seconds(pre.first - t0));
      decode.push_back(a.decode_tokens / seconds(dec.last - dec.first));
    }
    std::printf(",\"prefill_tok_s\":%.1f,\"decode_tok_s\":%.1f}\n", median(prefill), median(decode));
  } else if (a.command == "batch") {
    std::vector<double> rates;
    for (int rep = 0; rep < a.reps + 1; ++rep) {
      std::vector<std::vector<int32_t>> prompts;
      std::vector<Timing> timings(static_cast<size_t>(a.requests));
      const float one = 1.0f;
      for (int i = 0; i < a.requests; ++i) prompts.push_back(prompt(16, 1000 * rep + i, info.n_vocab));
      const auto t0 = Clock::now();
      for (int i = 0; i < a.requests; ++i) {
        ol_request r = greedy(prompts[static_cast<size_t>(i)], a.tokens);
        if (!adapter_ids.empty()) {
          r.adapter_ids = &adapter_ids[static_cast<size_t>(i) % adapter_ids.size()];
          r.adapter_weights = &one;
          r.n_adapters = 1;
        }
        uint64_t id = 0;
        ok(ol_engine_submit(engine, &r, Timing::callback, &timings[static_cast<size_t>(i)], &id), "submit");
      }
      for (Timing& t : timings) t.wait();
      if (rep > 0) rates.push_back(static_cast<double>(a.requests) * a.tokens / seconds(Clock::now() - t0));
    }
    std::printf(",\"requests\":%d,\"adapters\":%zu,\"aggregate_tok_s\":%.1f}\n", a.requests, adapter_ids.size(), median(rates));
  } else if (a.command == "logits") {
    std::vector<int32_t> ids;
    std::stringstream ss(a.ids);
    for (std::string tok; std::getline(ss, tok, ',');) ids.push_back(static_cast<int32_t>(std::stol(tok)));
    if (ids.empty() || a.out.empty()) die("logits needs --ids and --out");
    std::vector<float> out(ids.size() * static_cast<size_t>(info.n_vocab));
    const float one = 1.0f;
    ol_eval_sequence seq{ids.data(), ids.size(), adapter_ids.empty() ? nullptr : adapter_ids.data(), &one, adapter_ids.empty() ? 0u : 1u,
                         out.data()};
    ok(ol_engine_eval_logits(engine, &seq, 1), "eval");
    std::ofstream f(a.out, std::ios::binary);
    f.write(reinterpret_cast<const char*>(out.data()), static_cast<std::streamsize>(out.size() * sizeof(float)));
    std::printf(",\"positions\":%zu,\"n_vocab\":%d}\n", ids.size(), info.n_vocab);
  } else {
    die("unknown command " + a.command);
  }
  ol_engine_free(engine);
  ol_model_free(model);
  return 0;
}

// The CUDA backend against the CPU backend on the same tiny random models: logits of mixed
// multi-LoRA batches, qwen2 biases, quantized weights, long contexts over many KV blocks, and greedy
// generation through the scheduler (continuous batching, chunked prefill). Skipped without a GPU.
#include <algorithm>

#include "engine_test_util.h"
#include "forward_cuda.h"
#include "model_writers.h"

using namespace ol;
using namespace ol::test;
using namespace ol::tools;

namespace {

bool have_gpu() {
  try {
    cuda_device_name();
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

#define REQUIRE_GPU() \
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device on this machine"

ModelPtr load_on(const std::string& path, int backend) {
  ol_model_params p{};
  p.n_threads = 2;
  p.backend = backend;
  ol_model* m = nullptr;
  EXPECT_EQ(ol_model_load(path.c_str(), &p, &m), OL_OK) << ol_last_error();
  return ModelPtr(m);
}

ol_engine_params small_blocks() {
  ol_engine_params p{};
  p.kv_block_size = 4;  // many blocks per sequence: exercises the block tables
  p.max_batch_tokens = 24;  // prompts are prefilled in several chunks
  return p;
}

std::vector<int32_t> tokens(int n, int seed, int vocab) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) t[static_cast<size_t>(i)] = (i * 37 + seed * 101 + 11) % vocab;
  return t;
}

size_t argmax(const float* v, size_t n) { return static_cast<size_t>(std::max_element(v, v + n) - v); }

// Both backends on one model directory/file: same registrations, same evaluations.
struct Pair {
  ModelPtr cpu_model, gpu_model;
  EnginePtr cpu, gpu;
  int32_t vocab = 0;
  Pair(const std::string& path, ol_engine_params p = small_blocks())
      : cpu_model(load_on(path, 0)), gpu_model(load_on(path, 1)), cpu(engine(cpu_model.get(), p)), gpu(engine(gpu_model.get(), p)) {
    vocab = n_vocab(cpu_model.get());
  }
  int32_t add_adapter(const std::string& dir) {
    int32_t a = 0, b = 0;
    EXPECT_EQ(ol_engine_register_adapter(cpu.get(), dir.c_str(), &a), OL_OK) << ol_last_error();
    EXPECT_EQ(ol_engine_register_adapter(gpu.get(), dir.c_str(), &b), OL_OK) << ol_last_error();
    EXPECT_EQ(a, b);
    return a;
  }
};

}  // namespace

TEST(Cuda, RefusesCleanlyWhenThereIsNoDevice) {
  if (have_gpu()) GTEST_SKIP() << "a CUDA device is present";
  TempDir dir;
  TinyModelSpec spec;
  write_tiny_hf(spec, dir / "m");
  ol_model_params p{};
  p.backend = 1;
  ol_model* m = nullptr;
  EXPECT_EQ(ol_model_load((dir / "m").c_str(), &p, &m), OL_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(ol_last_error()).find("CUDA"), std::string::npos) << ol_last_error();
}

// Adapters held as stored and as q8 components (the device widens both to fp32; the CPU's q8
// expand rounds its shrunk values to int16, a relative error of ~1e-5).
TEST(Cuda, MixedMultiLoraBatchMatchesTheCpuBackend) {
  REQUIRE_GPU();
  TempDir dir;
  TinyModelSpec spec;
  write_tiny_hf(spec, dir / "base");
  for (int32_t precision : {OL_ADAPTER_AS_STORED, OL_ADAPTER_Q8}) {
    ol_engine_params params = small_blocks();
    params.adapter_precision = precision;
    Pair both(dir / "base", params);
    std::vector<EvalInput> batch;
    for (int i = 0; i < 8; ++i) {
      TinyAdapterSpec a;
      a.seed = static_cast<uint64_t>(10 + i);
      a.rank = 4 + i % 5;
      a.use_rslora = i % 2 == 1;
      if (i % 3 == 2) a.dtype = i == 2 ? DType::F16 : DType::BF16;  // resident in their stored type on the CPU
      if (i == 7) a.targets = {"q_proj", "v_proj"};
      const std::string path = dir / ("a" + std::to_string(i));
      write_tiny_adapter(spec, a, path);
      batch.push_back({tokens(5 + 3 * i, i, both.vocab), {both.add_adapter(path)}, {1.0f}});
    }
    batch.push_back({tokens(17, 99, both.vocab), {}, {}});                                    // base only
    batch.push_back({tokens(9, 98, both.vocab), {batch[0].adapters[0], batch[3].adapters[0]}, {0.7f, -0.4f}});  // weighted mix
    const auto cpu = eval(both.cpu.get(), both.vocab, batch);
    const auto gpu = eval(both.gpu.get(), both.vocab, batch);
    const double tolerance = precision == OL_ADAPTER_Q8 ? 5e-4 : 1e-4;
    for (size_t i = 0; i < batch.size(); ++i) EXPECT_LT(relative_diff(gpu[i], cpu[i]), tolerance) << "sequence " << i << " precision " << precision;
  }
}

TEST(Cuda, Qwen2BiasesAndLongContextsMatchTheCpuBackend) {
  REQUIRE_GPU();
  TempDir dir;
  TinyModelSpec spec;
  spec.arch = "qwen2";
  write_tiny_hf(spec, dir / "qwen2");
  Pair both(dir / "qwen2");
  const std::vector<EvalInput> batch{{tokens(300, 1, both.vocab), {}, {}}, {tokens(3, 2, both.vocab), {}, {}}};
  const auto cpu = eval(both.cpu.get(), both.vocab, batch);
  const auto gpu = eval(both.gpu.get(), both.vocab, batch);
  for (size_t i = 0; i < batch.size(); ++i) EXPECT_LT(relative_diff(gpu[i], cpu[i]), 1e-4) << "sequence " << i;
}

TEST(Cuda, QuantizedWeightsAgreeWithTheCpuBackend) {
  REQUIRE_GPU();
  TempDir dir;
  TinyModelSpec spec;
  spec.dtype = DType::Q8_0;
  spec.n_embd = 128;
  spec.n_ff = 256;
  write_tiny_gguf(spec, dir / "q8.gguf");
  Pair both(dir / "q8.gguf");
  const auto ids = tokens(64, 3, both.vocab);
  const auto cpu = eval(both.cpu.get(), both.vocab, {{ids, {}, {}}});
  const auto gpu = eval(both.gpu.get(), both.vocab, {{ids, {}, {}}});
  // fp16 weights and activations on the GPU, 8-bit activations on the CPU: close, not equal.
  EXPECT_LT(relative_diff(gpu[0], cpu[0]), 2e-2);
  size_t same = 0;
  const size_t V = static_cast<size_t>(both.vocab);
  for (size_t p = 0; p < ids.size(); ++p) same += argmax(gpu[0].data() + p * V, V) == argmax(cpu[0].data() + p * V, V);
  EXPECT_GE(same, ids.size() * 9 / 10) << same << " of " << ids.size() << " top-1 agree";
}

TEST(Cuda, GreedyGenerationThroughTheSchedulerMatchesTheCpuBackend) {
  REQUIRE_GPU();
  TempDir dir;
  TinyModelSpec spec;
  write_tiny_hf(spec, dir / "base");
  TinyAdapterSpec a;
  a.seed = 5;
  write_tiny_adapter(spec, a, dir / "adapter");
  Pair both(dir / "base");
  const int32_t adapter = both.add_adapter(dir / "adapter");
  const float one = 1.0f;
  // Six concurrent requests (half with the adapter), submitted together: they share steps.
  auto run = [&](ol_engine* e) {
    std::vector<std::vector<int32_t>> prompts;
    for (int i = 0; i < 6; ++i) prompts.push_back(tokens(7 + 11 * i, 40 + i, both.vocab));
    std::vector<Generation> gens(prompts.size());
    for (size_t i = 0; i < prompts.size(); ++i) {
      ol_request r = greedy_request(prompts[i], 24);
      if (i % 2 == 1) {
        r.adapter_ids = &adapter;
        r.adapter_weights = &one;
        r.n_adapters = 1;
      }
      uint64_t id = 0;
      EXPECT_EQ(ol_engine_submit(e, &r, Generation::callback, &gens[i], &id), OL_OK) << ol_last_error();
    }
    std::vector<std::vector<int32_t>> out;
    for (auto& g : gens) {
      g.wait();
      EXPECT_EQ(g.finish, OL_FINISH_LENGTH) << g.error;
      out.push_back(g.ids);
    }
    return out;
  };
  const auto cpu = run(both.cpu.get());
  const auto gpu = run(both.gpu.get());
  for (size_t i = 0; i < cpu.size(); ++i) EXPECT_EQ(gpu[i], cpu[i]) << "request " << i;
}

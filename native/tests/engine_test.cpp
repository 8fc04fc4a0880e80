// The engine end to end on tiny random models (both architectures, both file formats, every
// weight type) and on the real SmolLM2 model when it is installed: logits, continuous batching
// with chunked prefill over the paged KV cache, sampling, stop strings, cancellation, bad files.
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <set>
#include <thread>

#include "engine_test_util.h"
#include "model_writers.h"
#include "runtime/sampling.h"

using namespace ol;
using namespace ol::test;
using namespace ol::tools;

namespace {

std::vector<int32_t> prompt_of(size_t n, int salt) {
  std::vector<int32_t> p;
  for (size_t i = 0; i < n; ++i) p.push_back(static_cast<int32_t>((i * 37 + static_cast<size_t>(salt) * 101 + 3) % 300));
  return p;
}

std::vector<std::vector<int32_t>> generate_all(ol_engine* e, const std::vector<ol_request>& reqs) {
  std::vector<std::unique_ptr<Generation>> gens;
  for (const auto& r : reqs) {
    gens.push_back(std::make_unique<Generation>());
    EXPECT_EQ(ol_engine_submit(e, &r, Generation::callback, gens.back().get(), nullptr), OL_OK) << ol_last_error();
  }
  std::vector<std::vector<int32_t>> out;
  for (auto& g : gens) {
    g->wait();
    out.push_back(g->ids);
  }
  return out;
}

// The default tiny model, written to dir/m.gguf and loaded: what the generation tests run on.
ModelPtr load_tiny_model(const TempDir& dir) {
  write_tiny_gguf(TinyModelSpec{}, dir / "m.gguf");
  return load(dir / "m.gguf");
}

std::string home_model() {
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "") + "/.cache/openledger/models/SmolLM2-135M-Instruct.Q4_1.gguf";
}

}  // namespace

TEST(TinyModel, GgufAndSafetensorsGiveTheSameLogits) {
  for (const char* arch : {"llama", "qwen2"}) {
    TempDir dir;
    TinyModelSpec spec;
    spec.arch = arch;
    spec.tied_embeddings = std::string(arch) == "qwen2";
    write_tiny_gguf(spec, dir / "m.gguf");
    write_tiny_hf(spec, dir / "hf");
    auto g = load(dir / "m.gguf");
    auto h = load(dir / "hf");
    ol_model_info info{};
    ASSERT_EQ(ol_model_get_info(g.get(), &info), OL_OK);
    EXPECT_STREQ(info.architecture, arch);
    EXPECT_EQ(info.n_layer, spec.n_layer);
    auto eg = engine(g.get());
    auto eh = engine(h.get());
    const auto prompt = prompt_of(20, 1);
    const auto lg = eval(eg.get(), info.n_vocab, {{prompt, {}, {}}});
    const auto lh = eval(eh.get(), info.n_vocab, {{prompt, {}, {}}});
    EXPECT_LT(relative_diff(lg[0], lh[0]), 1e-5) << arch;
    // The tokenizer from GGUF metadata and the one from tokenizer.json agree.
    const std::string text = "<|im_start|>user\nthe rain in Spain 123 héllo<|im_end|>";
    std::vector<int32_t> ig(128), ih(128);
    size_t ng = 0, nh = 0;
    ASSERT_EQ(ol_tokenize(g.get(), text.data(), text.size(), 1, 1, ig.data(), ig.size(), &ng), OL_OK) << ol_last_error();
    ASSERT_EQ(ol_tokenize(h.get(), text.data(), text.size(), 1, 1, ih.data(), ih.size(), &nh), OL_OK) << ol_last_error();
    ig.resize(ng);
    ih.resize(nh);
    EXPECT_EQ(ig, ih);
    EXPECT_EQ(ig.front(), 257) << "<|im_start|> is one special token";
    EXPECT_LT(ng, text.size()) << "merges apply";
    char back[256];
    size_t nb = 0;
    ASSERT_EQ(ol_detokenize(g.get(), ig.data(), ig.size(), 1, back, sizeof back, &nb), OL_OK) << ol_last_error();
    EXPECT_EQ(std::string(back, nb), text);
  }
}

TEST(TinyModel, EveryWeightTypeTracksTheF32Model) {
  TempDir dir;
  TinyModelSpec spec;
  spec.n_embd = 256;
  spec.n_ff = 512;
  spec.n_head = 4;
  spec.n_head_kv = 2;
  write_tiny_gguf(spec, dir / "f32.gguf");
  auto ref_model = load(dir / "f32.gguf");
  auto ref_engine = engine(ref_model.get());
  const int32_t vocab = n_vocab(ref_model.get());
  const auto prompt = prompt_of(16, 2);
  const auto ref = eval(ref_engine.get(), vocab, {{prompt, {}, {}}})[0];
  const std::pair<const char*, DType> types[] = {{"f16", DType::F16}, {"bf16", DType::BF16}, {"q8_0", DType::Q8_0},
                                                 {"q6_k", DType::Q6_K}, {"q4_k", DType::Q4_K}, {"q4_1", DType::Q4_1},
                                                 {"q4_0", DType::Q4_0}};
  for (const auto& [name, dtype] : types) {
    spec.dtype = dtype;
    const std::string path = dir / (std::string(name) + ".gguf");
    write_tiny_gguf(spec, path);
    auto m = load(path);
    auto e = engine(m.get());
    const auto got = eval(e.get(), vocab, {{prompt, {}, {}}})[0];
    // Correlation of the logits with the f32 model's: quantization noise only.
    double sab = 0, saa = 0, sbb = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      sab += static_cast<double>(got[i]) * ref[i];
      saa += static_cast<double>(got[i]) * got[i];
      sbb += static_cast<double>(ref[i]) * ref[i];
    }
    const double corr = sab / std::sqrt(saa * sbb);
    EXPECT_GT(corr, dtype == DType::F16 || dtype == DType::BF16 || dtype == DType::Q8_0 ? 0.999 : 0.98) << name;
  }
}

TEST(Generation, ContinuousBatchingWithChunkedPrefillMatchesEachRequestAlone) {
  TempDir dir;
  auto m = load_tiny_model(dir);
  ol_engine_params p{};
  p.max_batch_tokens = 24;  // prompts are split into chunks and mixed with decodes
  p.kv_block_size = 4;
  auto e = engine(m.get(), p);
  std::vector<std::vector<int32_t>> prompts;
  std::vector<ol_request> reqs;
  for (int i = 0; i < 6; ++i) prompts.push_back(prompt_of(5 + static_cast<size_t>(i) * 13, i));
  for (int i = 0; i < 6; ++i) reqs.push_back(greedy_request(prompts[static_cast<size_t>(i)], 10 + i));
  const auto together = generate_all(e.get(), reqs);
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(together[i].size(), static_cast<size_t>(10 + i));
    EXPECT_EQ(together[i], generate_all(e.get(), {reqs[i]})[0]) << "request " << i;
  }
  // Greedy generation continues the teacher-forced argmax.
  std::vector<int32_t> seq = prompts[0];
  seq.insert(seq.end(), together[0].begin(), together[0].end() - 1);
  const int32_t vocab = n_vocab(m.get());
  const auto logits = eval(e.get(), vocab, {{seq, {}, {}}})[0];
  for (size_t k = 0; k < together[0].size(); ++k) {
    const float* row = logits.data() + (prompts[0].size() - 1 + k) * static_cast<size_t>(vocab);
    EXPECT_EQ(std::max_element(row, row + vocab) - row, together[0][k]) << k;
  }
  ol_engine_stats s{};
  ASSERT_EQ(ol_engine_get_stats(e.get(), &s), OL_OK);
  EXPECT_EQ(s.kv_blocks_used, 0) << "finished sequences give their KV blocks back";
}

TEST(Generation, RequestsQueueWhenTheKvPoolIsSmall) {
  TempDir dir;
  auto m = load_tiny_model(dir);
  ol_engine_params p{};
  p.kv_block_size = 4;
  // F32 model, F32 cache: 2 layers x 2 (K, V) x 4 slots x 32 floats = 2 KiB per block; 12 blocks = 48 tokens.
  p.kv_cache_bytes = 12 * 2 * 2 * 4 * 32 * 4;
  auto e = engine(m.get(), p);
  ol_engine_stats s{};
  ASSERT_EQ(ol_engine_get_stats(e.get(), &s), OL_OK);
  ASSERT_EQ(s.kv_blocks_total, 12);
  std::vector<std::vector<int32_t>> prompts;
  std::vector<ol_request> reqs;
  for (int i = 0; i < 5; ++i) prompts.push_back(prompt_of(10, 20 + i));
  for (const auto& pr : prompts) reqs.push_back(greedy_request(pr, 12));  // 22 tokens = 6 blocks each
  const auto together = generate_all(e.get(), reqs);
  for (size_t i = 0; i < reqs.size(); ++i) EXPECT_EQ(together[i], generate_all(e.get(), {reqs[i]})[0]) << i;
  std::vector<int32_t> too_long = prompt_of(60, 1);
  ol_request r = greedy_request(too_long, 4);
  EXPECT_EQ(ol_engine_submit(e.get(), &r, Generation::callback, nullptr, nullptr), OL_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(ol_last_error()).find("KV cache"), std::string::npos) << ol_last_error();
}

TEST(Sampling, ArgmaxIsTheFirstLargestLogit) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> level(-40, 40);  // few distinct values: many ties
  for (int32_t n : {1, 2, 15, 16, 17, 33, 1000, 49152}) {
    std::vector<float> logits(static_cast<size_t>(n));
    for (int trial = 0; trial < 20; ++trial) {
      for (float& v : logits) v = static_cast<float>(level(rng)) * 0.25f;
      EXPECT_EQ(ol::argmax(logits.data(), n), std::max_element(logits.begin(), logits.end()) - logits.begin()) << n;
    }
    logits.back() = 1e30f;  // the largest in the tail after the last full block
    EXPECT_EQ(ol::argmax(logits.data(), n), n - 1);
  }
}

// Top-p sorts only the prefix it needs (in growing chunks): the draws must still follow the
// distribution of the full-sort definition, and tokens outside the nucleus or under min-p never come.
TEST(Sampling, TopPAndMinPDrawFromTheExactDistribution) {
  constexpr int32_t kVocab = 300;
  std::vector<float> logits(kVocab);
  for (int32_t i = 0; i < kVocab; ++i) logits[static_cast<size_t>(i)] = -0.02f * static_cast<float>((i * 7919) % kVocab);
  for (const auto& [top_p, min_p] : {std::pair{0.9f, 0.0f}, std::pair{1.0f, 0.3f}, std::pair{0.95f, 0.2f}}) {
    ol_sampling_params sp{};
    sp.temperature = 0.8f;
    sp.top_p = top_p;
    sp.min_p = min_p;
    sp.repetition_penalty = 1.0f;
    sp.seed = 11;
    // The reference: full descending sort, softmax, nucleus, min-p floor, renormalise.
    std::vector<std::pair<double, int32_t>> ref;
    for (int32_t i = 0; i < kVocab; ++i) ref.emplace_back(std::exp(logits[static_cast<size_t>(i)] / sp.temperature), i);
    std::sort(ref.begin(), ref.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    double sum = 0;
    for (const auto& r : ref) sum += r.first;
    std::vector<double> want(kVocab, 0.0);
    double cum = 0, kept = 0;
    for (const auto& [w, id] : ref) {
      const double p = w / sum;
      if (p < ref.front().first / sum * min_p) break;
      want[static_cast<size_t>(id)] = p;
      kept += p;
      cum += p;
      if (cum >= top_p) break;
    }
    ol::Sampler sampler(sp);
    constexpr int kDraws = 40000;
    std::vector<int> count(kVocab, 0);
    const std::vector<int32_t> recent;
    for (int d = 0; d < kDraws; ++d) {
      std::vector<float> l = logits;
      ++count[static_cast<size_t>(sampler.sample(l.data(), kVocab, recent))];
    }
    double worst = 0;
    for (int32_t i = 0; i < kVocab; ++i) {
      if (want[static_cast<size_t>(i)] == 0) {
        EXPECT_EQ(count[static_cast<size_t>(i)], 0) << "token " << i << " is outside the kept set";
      }
      worst = std::max(worst, std::fabs(count[static_cast<size_t>(i)] / static_cast<double>(kDraws) - want[static_cast<size_t>(i)] / kept));
    }
    EXPECT_LT(worst, 0.005) << "top_p " << top_p << " min_p " << min_p;
  }
}

TEST(Generation, SamplingIsReproducibleWithASeed) {
  TempDir dir;
  auto m = load_tiny_model(dir);
  auto e = engine(m.get());
  const auto prompt = prompt_of(8, 3);
  auto sampled = [&](uint64_t seed, float temp, int top_k, float top_p, float min_p, float rep) {
    ol_request r = greedy_request(prompt, 24);
    r.sampling.temperature = temp;
    r.sampling.top_k = top_k;
    r.sampling.top_p = top_p;
    r.sampling.min_p = min_p;
    r.sampling.repetition_penalty = rep;
    r.sampling.seed = seed;
    return generate_all(e.get(), {r})[0];
  };
  EXPECT_EQ(sampled(7, 1.0f, 0, 1.0f, 0.0f, 1.0f), sampled(7, 1.0f, 0, 1.0f, 0.0f, 1.0f));
  EXPECT_NE(sampled(7, 1.0f, 0, 1.0f, 0.0f, 1.0f), sampled(8, 1.0f, 0, 1.0f, 0.0f, 1.0f));
  EXPECT_EQ(sampled(9, 0.8f, 40, 0.9f, 0.05f, 1.3f), sampled(9, 0.8f, 40, 0.9f, 0.05f, 1.3f));
  // top_k = 1 is greedy whatever the seed.
  EXPECT_EQ(sampled(1, 1.5f, 1, 1.0f, 0.0f, 1.0f), sampled(0, 0.0f, 0, 1.0f, 0.0f, 1.0f));
  // A strong repetition penalty changes a greedy run that repeats itself.
  const auto plain = sampled(0, 0.0f, 0, 1.0f, 0.0f, 1.0f);
  const auto penalised = sampled(0, 0.0f, 0, 1.0f, 0.0f, 100.0f);
  std::set<int32_t> distinct_plain(plain.begin(), plain.end()), distinct_pen(penalised.begin(), penalised.end());
  EXPECT_GE(distinct_pen.size(), distinct_plain.size());
  ol_request bad = greedy_request(prompt, 4);
  bad.sampling.top_p = 0.0f;
  EXPECT_EQ(ol_engine_submit(e.get(), &bad, Generation::callback, nullptr, nullptr), OL_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(ol_last_error()).find("top_p"), std::string::npos);
}

TEST(Generation, StopStringsEndTheTextAndCancelStopsARequest) {
  TempDir dir;
  auto m = load_tiny_model(dir);
  auto e = engine(m.get());
  const auto prompt = prompt_of(6, 4);
  Generation free_run;
  ol_request r = greedy_request(prompt, 30);
  ASSERT_EQ(ol_engine_submit(e.get(), &r, Generation::callback, &free_run, nullptr), OL_OK);
  free_run.wait();
  ASSERT_GE(free_run.text.size(), 6u);
  const std::string stop = free_run.text.substr(free_run.text.size() / 2, 2);
  const char* stops[] = {"never-appears", stop.c_str()};
  r.stop = stops;
  r.n_stop = 2;
  Generation stopped;
  ASSERT_EQ(ol_engine_submit(e.get(), &r, Generation::callback, &stopped, nullptr), OL_OK);
  stopped.wait();
  EXPECT_EQ(stopped.finish, OL_FINISH_STOP);
  EXPECT_NE(stopped.text.find(stop), std::string::npos);
  EXPECT_LT(stopped.ids.size(), free_run.ids.size());
  EXPECT_EQ(stopped.text.find(stop), stopped.text.size() - stop.size()) << "ends at the first occurrence";

  // Cancellation: a long request is cancelled while running.
  ol_request long_req = greedy_request(prompt, 400);
  Generation cancelled;
  uint64_t id = 0;
  ASSERT_EQ(ol_engine_submit(e.get(), &long_req, Generation::callback, &cancelled, &id), OL_OK);
  while (true) {
    std::lock_guard<std::mutex> lock(cancelled.mutex);
    if (!cancelled.ids.empty()) break;
  }
  ASSERT_EQ(ol_engine_cancel(e.get(), id), OL_OK) << ol_last_error();
  cancelled.wait();
  EXPECT_EQ(cancelled.finish, OL_FINISH_CANCELLED);
  EXPECT_LT(cancelled.ids.size(), 400u);
  EXPECT_EQ(ol_engine_cancel(e.get(), id), OL_ERR_NOT_FOUND);

  // Requests still running when the engine is freed end with OL_FINISH_CANCELLED.
  Generation orphan;
  ASSERT_EQ(ol_engine_submit(e.get(), &long_req, Generation::callback, &orphan, nullptr), OL_OK);
  e.reset();
  orphan.wait();
  EXPECT_EQ(orphan.finish, OL_FINISH_CANCELLED);
}

TEST(Generation, BadRequestsAreRefused) {
  TempDir dir;
  auto m = load_tiny_model(dir);
  auto e = engine(m.get());
  std::vector<int32_t> bad_ids{1, 2, 100000};
  ol_request r = greedy_request(bad_ids, 4);
  EXPECT_EQ(ol_engine_submit(e.get(), &r, Generation::callback, nullptr, nullptr), OL_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(ol_last_error()).find("out of range"), std::string::npos);
  std::vector<int32_t> ok{1, 2, 3};
  r = greedy_request(ok, 0);
  EXPECT_EQ(ol_engine_submit(e.get(), &r, Generation::callback, nullptr, nullptr), OL_ERR_INVALID_ARGUMENT);
  r = greedy_request(ok, 4);
  int32_t unknown = 99;
  float w = 1;
  r.adapter_ids = &unknown;
  r.adapter_weights = &w;
  r.n_adapters = 1;
  EXPECT_EQ(ol_engine_submit(e.get(), &r, Generation::callback, nullptr, nullptr), OL_ERR_NOT_FOUND);
  ol_model_params p{};
  p.backend = 7;
  ol_model* other = nullptr;
  EXPECT_EQ(ol_model_load((dir / "m.gguf").c_str(), &p, &other), OL_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(ol_last_error()).find("unknown backend"), std::string::npos) << ol_last_error();
  // CUDA: loads where it is built and a device is present (native/cuda/tests), else a clear refusal.
  p.backend = 1;
  ol_model* cuda = nullptr;
  const ol_status st = ol_model_load((dir / "m.gguf").c_str(), &p, &cuda);
  if (st == OL_OK) {
    ol_model_free(cuda);
  } else {
    EXPECT_EQ(st, OL_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(ol_last_error()).find("CUDA"), std::string::npos) << ol_last_error();
  }
}

TEST(BadFiles, ModelLoaderRefusesBrokenModels) {
  TempDir dir;
  TinyModelSpec spec;
  write_tiny_gguf(spec, dir / "m.gguf");
  std::ifstream in(dir / "m.gguf", std::ios::binary);
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
  auto refused = [&](const std::string& path, const std::string& reason, ol_status want = OL_ERR_BAD_FILE) {
    ol_model* m = nullptr;
    EXPECT_EQ(ol_model_load(path.c_str(), nullptr, &m), want) << path;
    EXPECT_EQ(m, nullptr);
    EXPECT_NE(std::string(ol_last_error()).find(reason), std::string::npos) << path << ": " << ol_last_error();
  };
  for (size_t cut : {size_t{3}, size_t{100}, bytes.size() / 2, bytes.size() - 1}) {
    write_file(dir / "cut.gguf", std::vector<uint8_t>(bytes.begin(), bytes.begin() + static_cast<long>(cut)));
    refused(dir / "cut.gguf", "truncated");
  }
  refused(dir / "nothing-here.gguf", "not found", OL_ERR_IO);

  spec.arch = "llama";
  TinyModelSpec qwen = spec;
  write_tiny_hf(qwen, dir / "hf");
  write_text(dir / "hf/config.json", "{\"model_type\": \"gpt_neox\"}");
  refused(dir / "hf", "unsupported model_type 'gpt_neox'");
  write_tiny_hf(qwen, dir / "hf2");
  std::string cfg;
  {
    std::ifstream c(dir / "hf2/config.json");
    cfg.assign(std::istreambuf_iterator<char>(c), {});
  }
  cfg.replace(cfg.find("\"hidden_size\":64"), 16, "\"hidden_size\":96");
  write_text(dir / "hf2/config.json", cfg);
  refused(dir / "hf2", "does not match the model");
}

TEST(RealModel, GreedyContinuationMatchesLlamaCpp) {
  const std::string path = home_model();
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "real model not installed: " << path;
  auto m = load(path);
  auto e = engine(m.get());
  const std::string text = "The capital of France is";
  int32_t ids[64];
  size_t n = 0;
  ASSERT_EQ(ol_tokenize(m.get(), text.data(), text.size(), 1, 0, ids, 64, &n), OL_OK) << ol_last_error();
  ASSERT_EQ(std::vector<int32_t>(ids, ids + n), (std::vector<int32_t>{504, 3575, 282, 4649, 314}));
  ol_request r = greedy_request(std::vector<int32_t>(ids, ids + n), 14);
  std::vector<int32_t> prompt(ids, ids + n);
  r.prompt_ids = prompt.data();
  const auto out = generate_all(e.get(), {r})[0];
  // llama.cpp (node-llama-cpp 3.21.1, same file) greedy: " Paris.\n\nThe United States has a population of approximately 3"
  EXPECT_EQ(out, (std::vector<int32_t>{7042, 30, 198, 198, 504, 1797, 1918, 553, 253, 2155, 282, 4723, 216, 35}));
}

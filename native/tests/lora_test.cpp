// Multi-LoRA correctness on tiny fp32 models: an adapter gives the logits of the model with the
// adapter merged into its weights (W + scale * B A); a batch mixing 8 adapters and base-only rows
// gives each sequence its logits alone; a weighted pair equals the merged weighted sum.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>

#include <random>

#include "cpu/quant.h"
#include "engine_test_util.h"
#include "model_writers.h"
#include "runtime/forward_cpu.h"

using namespace ol;
using namespace ol::test;
using namespace ol::tools;

namespace {

const std::vector<int32_t> kPrompt{5, 77, 260, 3, 199, 42, 42, 7, 300, 11, 64, 128};

struct Fixture {
  TempDir dir;
  TinyModelSpec spec;
  std::string base_dir;
  Fixture() {
    base_dir = dir / "base";
    write_tiny_hf(spec, base_dir);
  }
  std::string adapter(int seed, bool rslora = false, std::vector<std::string> targets = {}, DType dtype = DType::F32) {
    TinyAdapterSpec a;
    a.dtype = dtype;
    a.seed = static_cast<uint64_t>(seed);
    a.use_rslora = rslora;
    a.rank = 4 + seed % 5;
    if (!targets.empty()) a.targets = targets;
    const std::string path = dir / ("adapter" + std::to_string(seed) + (rslora ? "rs" : "") + std::string(dtype_name(dtype)));
    write_tiny_adapter(spec, a, path);
    return path;
  }
};

int32_t register_adapter(ol_engine* e, const std::string& dir) {
  int32_t id = 0;
  EXPECT_EQ(ol_engine_register_adapter(e, dir.c_str(), &id), OL_OK) << ol_last_error();
  return id;
}

}  // namespace

TEST(Lora, AdapterEqualsMergedWeights) {
  Fixture f;
  for (bool rslora : {false, true}) {
    const std::string ad = f.adapter(3, rslora);
    const std::string merged = f.dir / (rslora ? "merged-rs" : "merged");
    write_merged_hf(f.base_dir, {{ad, 1.0f}}, merged);
    auto base = load(f.base_dir);
    auto ref = load(merged);
    auto e = engine(base.get());
    auto e_ref = engine(ref.get());
    const int32_t vocab = n_vocab(base.get());
    const int32_t id = register_adapter(e.get(), ad);
    const auto with_adapter = eval(e.get(), vocab, {{kPrompt, {id}, {1.0f}}});
    const auto expected = eval(e_ref.get(), vocab, {{kPrompt, {}, {}}});
    const auto without = eval(e.get(), vocab, {{kPrompt, {}, {}}});
    EXPECT_LT(relative_diff(with_adapter[0], expected[0]), 1e-4) << "rslora " << rslora;
    EXPECT_GT(relative_diff(without[0], expected[0]), 1e-2) << "the adapter must change the output";
  }
}

TEST(Lora, GgufBaseWithPermutedRowsEqualsMergedWeights) {
  Fixture f;
  const std::string gguf = f.dir / "base.gguf";
  write_tiny_gguf(f.spec, gguf);
  const std::string ad = f.adapter(5);
  const std::string merged = f.dir / "merged";
  write_merged_hf(f.base_dir, {{ad, 1.0f}}, merged);
  auto base = load(gguf);
  auto ref = load(merged);
  auto e = engine(base.get());
  auto e_ref = engine(ref.get());
  const int32_t vocab = n_vocab(base.get());
  const int32_t id = register_adapter(e.get(), ad);
  EXPECT_LT(relative_diff(eval(e.get(), vocab, {{kPrompt, {id}, {1.0f}}})[0], eval(e_ref.get(), vocab, {{kPrompt, {}, {}}})[0]), 1e-4);
}

TEST(Lora, MixedBatchOfEightAdaptersAndBaseGivesEachItsOwnLogits) {
  Fixture f;
  auto base = load(f.base_dir);
  auto e = engine(base.get());
  const int32_t vocab = n_vocab(base.get());
  std::vector<EvalInput> batch;
  for (int i = 0; i < 8; ++i) {
    const int32_t id = register_adapter(e.get(), f.adapter(10 + i, i % 2 == 1, i == 7 ? std::vector<std::string>{"q_proj", "v_proj"} : std::vector<std::string>{}));
    std::vector<int32_t> prompt(kPrompt.begin(), kPrompt.begin() + 4 + i);  // different lengths too
    batch.push_back({prompt, {id}, {1.0f}});
  }
  batch.push_back({kPrompt, {}, {}});
  const auto together = eval(e.get(), vocab, batch);
  for (size_t i = 0; i < batch.size(); ++i) {
    const auto alone = eval(e.get(), vocab, {batch[i]});
    EXPECT_LT(relative_diff(together[i], alone[0]), 1e-5) << "sequence " << i;
  }
}

TEST(Lora, WeightedPairEqualsMergedWeightedSum) {
  Fixture f;
  const std::string a = f.adapter(21), b = f.adapter(22, true);
  const std::string merged = f.dir / "merged-pair";
  write_merged_hf(f.base_dir, {{a, 0.7f}, {b, -0.4f}}, merged);
  auto base = load(f.base_dir);
  auto ref = load(merged);
  auto e = engine(base.get());
  auto e_ref = engine(ref.get());
  const int32_t vocab = n_vocab(base.get());
  const int32_t ia = register_adapter(e.get(), a), ib = register_adapter(e.get(), b);
  const auto got = eval(e.get(), vocab, {{kPrompt, {ia, ib}, {0.7f, -0.4f}}});
  EXPECT_LT(relative_diff(got[0], eval(e_ref.get(), vocab, {{kPrompt, {}, {}}})[0]), 1e-4);
}

TEST(Lora, ResidentSetStaysWithinBudgetWithLruEviction) {
  Fixture f;
  auto base = load(f.base_dir);
  std::vector<std::string> dirs;
  for (int i = 0; i < 6; ++i) dirs.push_back(f.adapter(30 + i * 5));  // rank 4 + (30+5i)%5 = 4
  ol_engine_params p{};
  // Each rank-4 all-linear adapter of the tiny model is 2 layers x 4 x (in + out) floats.
  const int64_t one = 2 * 4 * (64 + 64 + 64 + 32 + 64 + 32 + 64 + 64 + 64 + 128 + 64 + 128 + 128 + 64) * 4;
  p.adapter_budget_bytes = 3 * one;
  auto e = engine(base.get(), p);
  std::vector<int32_t> ids;
  for (const auto& d : dirs) ids.push_back(register_adapter(e.get(), d));
  const int32_t vocab = n_vocab(base.get());
  for (int32_t id : ids) {
    int64_t us = -1;
    ASSERT_EQ(ol_engine_load_adapter(e.get(), id, &us), OL_OK) << ol_last_error();
    EXPECT_GT(us, 0);
  }
  ol_engine_stats s{};
  ASSERT_EQ(ol_engine_get_stats(e.get(), &s), OL_OK);
  EXPECT_EQ(s.registered, 6);
  EXPECT_EQ(s.resident, 3);
  EXPECT_EQ(s.resident_bytes, 3 * one);
  EXPECT_EQ(s.evictions, 3);
  int64_t us = -1;
  ASSERT_EQ(ol_engine_load_adapter(e.get(), ids.back(), &us), OL_OK);
  EXPECT_EQ(us, 0) << "most recent adapter is still resident";
  // An evicted adapter reloads on demand, and after being evicted again reloads to the same logits.
  const auto first = eval(e.get(), vocab, {{kPrompt, {ids[0]}, {1.0f}}});
  ASSERT_EQ(ol_engine_get_stats(e.get(), &s), OL_OK);
  EXPECT_EQ(s.resident, 3);
  const int64_t evictions_before = s.evictions;
  for (size_t i = 3; i < ids.size(); ++i) ASSERT_EQ(ol_engine_load_adapter(e.get(), ids[i], &us), OL_OK) << ol_last_error();
  ASSERT_EQ(ol_engine_get_stats(e.get(), &s), OL_OK);
  EXPECT_GT(s.evictions, evictions_before);
  EXPECT_EQ(s.resident, 3);
  const auto again = eval(e.get(), vocab, {{kPrompt, {ids[0]}, {1.0f}}});
  EXPECT_EQ(again, first);
  EXPECT_NE(first, eval(e.get(), vocab, {{kPrompt, {}, {}}})) << "the adapter changes the logits";
  EXPECT_EQ(ol_engine_unregister_adapter(e.get(), ids[0]), OL_OK);
  EXPECT_EQ(ol_engine_unregister_adapter(e.get(), ids[0]), OL_ERR_NOT_FOUND);
}

TEST(Lora, GenerationWithAdaptersUsesTheSameBatchedPath) {
  Fixture f;
  auto base = load(f.base_dir);
  auto e = engine(base.get());
  const int32_t a = register_adapter(e.get(), f.adapter(41)), b = register_adapter(e.get(), f.adapter(42));
  auto run = [&](std::vector<std::vector<int32_t>> adapter_sets) {
    std::vector<std::unique_ptr<Generation>> gens;
    std::vector<float> ones(2, 1.0f);
    for (auto& set : adapter_sets) {
      gens.push_back(std::make_unique<Generation>());
      ol_request r = greedy_request(kPrompt, 12);
      r.adapter_ids = set.data();
      r.adapter_weights = ones.data();
      r.n_adapters = set.size();
      EXPECT_EQ(ol_engine_submit(e.get(), &r, Generation::callback, gens.back().get(), nullptr), OL_OK) << ol_last_error();
    }
    std::vector<std::vector<int32_t>> out;
    for (auto& g : gens) {
      g->wait();
      EXPECT_EQ(g->finish, OL_FINISH_LENGTH) << g->error;
      out.push_back(g->ids);
    }
    return out;
  };
  const auto together = run({{a}, {b}, {}, {a, b}});
  EXPECT_EQ(together[0], run({{a}})[0]);
  EXPECT_EQ(together[1], run({{b}})[0]);
  EXPECT_EQ(together[2], run({{}})[0]);
  EXPECT_EQ(together[3], run({{a, b}})[0]);
  EXPECT_NE(together[0], together[2]);
}

TEST(Lora, BadAdaptersAreRefusedWithTheirReason) {
  Fixture f;
  auto base = load(f.base_dir);
  auto e = engine(base.get());
  auto refused = [&](const std::string& dir, const std::string& reason, ol_status want) {
    int32_t id = 0;
    EXPECT_EQ(ol_engine_register_adapter(e.get(), dir.c_str(), &id), want) << dir;
    EXPECT_NE(std::string(ol_last_error()).find(reason), std::string::npos) << ol_last_error();
  };
  // Shapes of another model (wider embedding).
  TinyModelSpec wide = f.spec;
  wide.n_embd = 128;
  TinyAdapterSpec as;
  write_tiny_adapter(wide, as, f.dir / "wide");
  refused(f.dir / "wide", "does not match the model", OL_ERR_BAD_FILE);
  // More layers than the model.
  TinyModelSpec deep = f.spec;
  deep.n_layer = 4;
  write_tiny_adapter(deep, as, f.dir / "deep");
  refused(f.dir / "deep", "layer index out of range", OL_ERR_BAD_FILE);
  refused(f.dir / "missing", "cannot open", OL_ERR_IO);
  const std::string good = f.adapter(50);
  write_text(good + "/adapter_config.json", "{\"r\": 8, \"lora_alpha\": ");
  refused(good, "invalid JSON", OL_ERR_BAD_FILE);

  // NaN weights: registration (header only) passes, loading refuses.
  const std::string nan_dir = f.adapter(51);
  {
    std::vector<uint8_t> bytes;
    std::ifstream in(nan_dir + "/adapter_model.safetensors", std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
    const float nan = std::nanf("");
    std::memcpy(&bytes[bytes.size() - 4], &nan, 4);
    write_file(nan_dir + "/adapter_model.safetensors", bytes);
  }
  int32_t id = 0;
  ASSERT_EQ(ol_engine_register_adapter(e.get(), nan_dir.c_str(), &id), OL_OK) << ol_last_error();
  int64_t us = 0;
  EXPECT_EQ(ol_engine_load_adapter(e.get(), id, &us), OL_ERR_BAD_FILE);
  EXPECT_NE(std::string(ol_last_error()).find("NaN"), std::string::npos) << ol_last_error();
  // A generation request naming it finishes with an error instead of hanging or crashing.
  Generation g;
  ol_request r = greedy_request(kPrompt, 4);
  float w = 1.0f;
  r.adapter_ids = &id;
  r.adapter_weights = &w;
  r.n_adapters = 1;
  ASSERT_EQ(ol_engine_submit(e.get(), &r, Generation::callback, &g, nullptr), OL_OK);
  g.wait();
  EXPECT_EQ(g.finish, OL_FINISH_ERROR);
  EXPECT_NE(g.error.find("NaN"), std::string::npos) << g.error;
}

TEST(Lora, HalfPrecisionAdaptersStayAsStoredAndEqualMergedWeights) {
  Fixture f;
  auto base = load(f.base_dir);
  const int32_t vocab = n_vocab(base.get());
  auto resident_bytes = [&](ol_engine* e, int32_t id) {
    int64_t us = 0;
    EXPECT_EQ(ol_engine_load_adapter(e, id, &us), OL_OK) << ol_last_error();
    ol_engine_stats s{};
    EXPECT_EQ(ol_engine_get_stats(e, &s), OL_OK);
    return s.resident_bytes;
  };
  auto e32 = engine(base.get());
  const int64_t f32_bytes = resident_bytes(e32.get(), register_adapter(e32.get(), f.adapter(61)));
  for (DType dtype : {DType::F16, DType::BF16}) {
    const std::string ad = f.adapter(61, false, {}, dtype);
    const std::string merged = f.dir / ("merged-" + std::string(dtype_name(dtype)));
    write_merged_hf(f.base_dir, {{ad, 1.0f}}, merged);  // from the same half-precision values
    auto ref = load(merged);
    auto e = engine(base.get());
    auto e_ref = engine(ref.get());
    const int32_t id = register_adapter(e.get(), ad);
    EXPECT_EQ(resident_bytes(e.get(), id) * 2, f32_bytes) << dtype_name(dtype) << " must stay in 2 bytes per value";
    const auto got = eval(e.get(), vocab, {{kPrompt, {id}, {1.0f}}});
    EXPECT_LT(relative_diff(got[0], eval(e_ref.get(), vocab, {{kPrompt, {}, {}}})[0]), 1e-4) << dtype_name(dtype);
    // In one batch with an F32 adapter and base-only rows, each keeps its own logits.
    const int32_t other = register_adapter(e.get(), f.adapter(62));
    const std::vector<EvalInput> batch{{kPrompt, {id}, {1.0f}}, {kPrompt, {other}, {1.0f}}, {kPrompt, {}, {}}, {kPrompt, {id, other}, {0.5f, 0.5f}}};
    const auto together = eval(e.get(), vocab, batch);
    for (size_t i = 0; i < batch.size(); ++i) EXPECT_LT(relative_diff(together[i], eval(e.get(), vocab, {batch[i]})[0]), 1e-5) << i;
  }
  // A half-precision NaN is refused like a single-precision one.
  const std::string nan_dir = f.adapter(63, false, {}, DType::F16);
  {
    std::ifstream in(nan_dir + "/adapter_model.safetensors", std::ios::binary);
    std::vector<uint8_t> bytes(std::istreambuf_iterator<char>(in), {});
    bytes[bytes.size() - 1] = 0x7E;  // the last value's high byte: exponent all ones, mantissa set
    write_file(nan_dir + "/adapter_model.safetensors", bytes);
  }
  auto e = engine(base.get());
  const int32_t id = register_adapter(e.get(), nan_dir);
  int64_t us = 0;
  EXPECT_EQ(ol_engine_load_adapter(e.get(), id, &us), OL_ERR_BAD_FILE);
  EXPECT_NE(std::string(ol_last_error()).find("NaN"), std::string::npos) << ol_last_error();
}

// OL_ADAPTER_Q8: a quarter of the F32 bytes (plus padding and one scale per rank component), logits whose
// error is a small fraction of what the adapter changes, on HF and GGUF bases (q/k rows permuted
// before quantizing), in mixed batches with exact adapters' rows.
TEST(Lora, Q8AdaptersTakeAQuarterOfTheBytesAndStayCloseToExact) {
  Fixture f;
  const std::string gguf = f.dir / "base.gguf";
  write_tiny_gguf(f.spec, gguf);
  ol_engine_params q8{};
  q8.adapter_precision = OL_ADAPTER_Q8;
  for (const std::string& base_path : {f.base_dir, gguf}) {
    auto base = load(base_path);
    const int32_t vocab = n_vocab(base.get());
    for (int seed : {71, 72}) {
      auto exact = engine(base.get());
      auto quant = engine(base.get(), q8);
      const std::string ad = f.adapter(seed, seed % 2 == 0);
      const int32_t id_exact = register_adapter(exact.get(), ad), id_q8 = register_adapter(quant.get(), ad);
      int64_t us = 0;
      ASSERT_EQ(ol_engine_load_adapter(exact.get(), id_exact, &us), OL_OK) << ol_last_error();
      ASSERT_EQ(ol_engine_load_adapter(quant.get(), id_q8, &us), OL_OK) << ol_last_error();
      ol_engine_stats s_exact{}, s_q8{};
      ASSERT_EQ(ol_engine_get_stats(exact.get(), &s_exact), OL_OK);
      ASSERT_EQ(ol_engine_get_stats(quant.get(), &s_q8), OL_OK);
      // Per layer: q, k, v, o, gate, up, down as (in, out); Q8Layout pads rank to 4 in A, out to 64 in B.
      const size_t rank = static_cast<size_t>(4 + seed % 5), E = static_cast<size_t>(f.spec.n_embd), F = static_cast<size_t>(f.spec.n_ff);
      const size_t KV = E / static_cast<size_t>(f.spec.n_head) * static_cast<size_t>(f.spec.n_head_kv);
      size_t f32_bytes = 0, q8_bytes = 0;
      for (auto [in, out] : {std::pair{E, E}, {E, KV}, {E, KV}, {E, E}, {E, F}, {E, F}, {F, E}}) {
        f32_bytes += (in + out) * rank * sizeof(float);
        q8_bytes += Q8Layout::a_bytes(rank, in) + Q8Layout::b_bytes(rank, out) + rank * sizeof(float);
      }
      EXPECT_EQ(s_exact.resident_bytes, static_cast<int64_t>(f32_bytes * static_cast<size_t>(f.spec.n_layer)));
      EXPECT_EQ(s_q8.resident_bytes, static_cast<int64_t>(q8_bytes * static_cast<size_t>(f.spec.n_layer))) << base_path;
      const auto want = eval(exact.get(), vocab, {{kPrompt, {id_exact}, {1.0f}}})[0];
      const auto got = eval(quant.get(), vocab, {{kPrompt, {id_q8}, {1.0f}}})[0];
      const auto base_only = eval(exact.get(), vocab, {{kPrompt, {}, {}}})[0];
      const double effect = relative_diff(base_only, want), error = relative_diff(got, want);
      EXPECT_GT(effect, 1e-2) << "the adapter must change the output";
      EXPECT_LT(error, 0.05 * effect) << base_path << " seed " << seed;
      // Batched with base-only and differently weighted rows, each keeps its own logits.
      const std::vector<EvalInput> batch{{kPrompt, {id_q8}, {1.0f}}, {kPrompt, {}, {}}, {kPrompt, {id_q8}, {-0.5f}}};
      const auto together = eval(quant.get(), vocab, batch);
      for (size_t i = 0; i < batch.size(); ++i) EXPECT_LT(relative_diff(together[i], eval(quant.get(), vocab, {batch[i]})[0]), 1e-5) << i;
    }
  }
}

// The LoRA kernels (portable and, where the CPU has it, AVX-512) against a double-precision
// reference (the matrices' values from lora_matrices_to_f32), over ranks and widths that are not
// multiples of the vector width, row groups larger than a shrink block, rows shared by two
// adapters, and every resident type.
TEST(Lora, KernelsMatchDoublePrecisionReference) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  ThreadPool pool(2);
  std::vector<std::string_view> isas{"scalar"};
  if (isa_has_avx512(kernels().isa)) isas.push_back("avx512");
  struct Shape {
    int rank;
    int64_t in, out;
  };
  for (DType dtype : {DType::F32, DType::F16, DType::BF16, DType::I8})
    for (Shape sh : {Shape{1, 64, 16}, Shape{5, 100, 40}, Shape{16, 576, 192}, Shape{17, 33, 130}, Shape{40, 64, 7}}) {
      // Three adapters; rows 0..8 use the first, 9..11 the second, rows 3 and 10 also the third, and
      // row 8 also the second alone (a one-row group, as in decode steps).
      std::vector<std::shared_ptr<LoraWeights>> adapters;
      std::vector<std::vector<float>> a_values, b_values;  // the resident values, as floats in PEFT's layout
      std::vector<std::vector<uint8_t>> q8_storage;
      for (int n = 0; n < 3; ++n) {
        auto w = std::make_shared<LoraWeights>();
        w->rank = sh.rank;
        w->layers.resize(1);
        LoraMatrices& m = w->layers[0][static_cast<size_t>(LinearKind::Up)];
        m.in = sh.in;
        m.out = sh.out;
        const DType stored = dtype == DType::I8 ? DType::F32 : dtype;  // I8: quantized from F32 below
        auto fill = [&](std::vector<uint8_t>& bytes, size_t count) {
          std::vector<float> values(count);
          for (float& v : values) v = normal(rng);
          bytes.resize(count * dtype_traits(stored).block_bytes);
          quantize_row(stored, values.data(), bytes.data(), count);
        };
        m.dtype = stored;
        fill(m.a_copy, static_cast<size_t>(sh.rank * sh.in));
        fill(m.b_copy, static_cast<size_t>(sh.out * sh.rank));
        m.a = m.a_copy.data();
        m.b = m.b_copy.data();
        if (dtype == DType::I8) {
          const size_t rank = static_cast<size_t>(sh.rank);
          q8_storage.emplace_back(Q8Layout::a_bytes(rank, static_cast<size_t>(sh.in)) + Q8Layout::b_bytes(rank, static_cast<size_t>(sh.out)));
          quantize_lora_components(m, sh.rank, q8_storage.back().data(), q8_storage.back().data() + Q8Layout::a_bytes(rank, static_cast<size_t>(sh.in)));
        }
        a_values.emplace_back(static_cast<size_t>(sh.rank * sh.in));
        b_values.emplace_back(static_cast<size_t>(sh.out * sh.rank));
        lora_matrices_to_f32(m, sh.rank, a_values.back().data(), b_values.back().data());
        adapters.push_back(w);
      }
      std::vector<float> x(static_cast<size_t>(12 * sh.in)), y0(static_cast<size_t>(12 * sh.out));
      for (float& v : x) v = normal(rng);
      for (float& v : y0) v = normal(rng);
      // All four groups (rows in two groups: the expand splits output columns), or the first two
      // (every row in one group: the expand splits groups).
      for (size_t n_groups : {4, 2}) {
        BatchPlan plan;
        plan.rows = 12;
        plan.lora_groups.resize(4);
        for (int32_t row = 0; row < 12; ++row) {
          LoraGroup& g = plan.lora_groups[row < 9 ? 0 : 1];
          g.rows.push_back(row);
          g.row_scale.push_back(0.5f + 0.1f * static_cast<float>(row));
        }
        plan.lora_groups[2].rows = {3, 10};
        plan.lora_groups[2].row_scale = {-0.7f, 2.0f};
        plan.lora_groups[3].rows = {8};
        plan.lora_groups[3].row_scale = {1.3f};
        const size_t group_adapter[4] = {0, 1, 2, 1};
        for (size_t n = 0; n < 4; ++n) plan.lora_groups[n].weights = adapters[group_adapter[n]];
        plan.lora_groups.resize(n_groups);
        std::vector<double> want(y0.begin(), y0.end());
        for (size_t n = 0; n < n_groups; ++n) {
          const LoraGroup& g = plan.lora_groups[n];
          const std::vector<float>& av = a_values[group_adapter[n]];
          const std::vector<float>& bv = b_values[group_adapter[n]];
          for (size_t i = 0; i < g.rows.size(); ++i) {
            const float* xr = x.data() + static_cast<size_t>(g.rows[i] * sh.in);
            std::vector<double> t(static_cast<size_t>(sh.rank));
            for (int k = 0; k < sh.rank; ++k)
              for (int64_t j = 0; j < sh.in; ++j) t[static_cast<size_t>(k)] += static_cast<double>(av[static_cast<size_t>(k * sh.in + j)]) * xr[j];
            for (int64_t o = 0; o < sh.out; ++o)
              for (int k = 0; k < sh.rank; ++k)
                want[static_cast<size_t>(g.rows[i] * sh.out + o)] += g.row_scale[i] * t[static_cast<size_t>(k)] * bv[static_cast<size_t>(o * sh.rank + k)];
          }
        }
        double scale = 0;
        for (double v : want) scale = std::max(scale, std::fabs(v));
        // I8 kernels take the shrunk values as int16 (a relative error of ~1e-5).
        const double tolerance = dtype == DType::I8 ? 1e-4 : 2e-6;
        for (std::string_view isa : isas) {
          LoraCpu lora(isa);
          std::vector<float> y = y0;
          lora.apply(plan, 0, LinearKind::Up, x.data(), sh.in, y.data(), sh.out, pool);
          double worst = 0;
          for (size_t i = 0; i < y.size(); ++i) worst = std::max(worst, std::fabs(y[i] - want[i]));
          const std::string what = std::string(isa) + " " + std::string(dtype_name(dtype)) + " rank " + std::to_string(sh.rank) + " in " +
                                   std::to_string(sh.in) + " out " + std::to_string(sh.out) + " groups " + std::to_string(n_groups);
          EXPECT_LT(worst / scale, tolerance) << what;
        }
      }
    }
}

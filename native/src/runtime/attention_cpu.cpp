#include <algorithm>
#include <cmath>

#include "cpu/kernels.h"
#include "cpu/quant.h"
#include "cpu/vec_math.h"
#include "runtime/forward_cpu.h"
#include "tensor/ops.h"

namespace ol {

namespace {
// llama.cpp (ggml-cpu) takes its tiled flash attention for batches of at least GGML_FA_TILE_Q query
// rows, with key tiles of GGML_FA_TILE_KV positions.
constexpr int32_t kTiledMinRows = 64;
constexpr int32_t kKvTile = 64;
// For a batch of one query row it splits the keys across its threads once its cache view (padded
// to kCachePad cells, at least kCachePad) reaches 512 cells, i.e. beyond kSplitMinContext tokens.
constexpr int32_t kCachePad = 256;
constexpr int32_t kSplitMinContext = 256;
}  // namespace

void attention_cpu(const HParams& hp, KvCache& kv, int layer, const BatchPlan& plan, const std::vector<BatchSequence>& seqs,
                   const float* q, const float* k, const float* v, float* out, ThreadPool& pool) {
  const KernelSet& kern = kernels();
  const int kv_dim = hp.kv_dim(), hd = hp.head_dim, group = hp.n_head / hp.n_head_kv, bs = kv.block_size();
  const bool half = kv.half();
  const int64_t rows = plan.rows;
  for (int64_t r = 0; r < rows; ++r) {
    const BatchSequence& s = seqs[static_cast<size_t>(plan.row_seq[static_cast<size_t>(r)])];
    const int32_t p = plan.positions[static_cast<size_t>(r)];
    const int32_t block = (*s.block_table)[static_cast<size_t>(p / bs)];
    uint8_t* kd = kv.key(layer, block, p % bs);
    uint8_t* vd = kv.value(layer, block, p % bs);
    if (half) {
      kern.f32_to_f16_row(k + r * kv_dim, reinterpret_cast<uint16_t*>(kd), static_cast<size_t>(kv_dim));
      kern.f32_to_f16_row(v + r * kv_dim, reinterpret_cast<uint16_t*>(vd), static_cast<size_t>(kv_dim));
    } else {
      std::copy_n(k + r * kv_dim, kv_dim, reinterpret_cast<float*>(kd));
      std::copy_n(v + r * kv_dim, kv_dim, reinterpret_cast<float*>(vd));
    }
  }
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const RowDotFn dot_k = kern.row_dot[static_cast<int>(DType::F32)];
  const VecMath& vm = vec_math();
  const int32_t n_threads = pool.size();  // llama.cpp's split form depends on its thread count: ours mirrors it
  const int q_dim = hp.q_dim();
  const size_t elem = half ? 2 : 4;
  // Over a half-precision cache this is llama.cpp's CPU flash attention, operation for operation
  // (conformance), in its three forms: rows of a sequence that brings at least kTiledMinRows tokens
  // to this step (a prompt evaluated whole) take its tiled form, a lone decode row past
  // kSplitMinContext its split form, the others its one-row form. Over a single-precision cache
  // (F32 models): plain softmax attention in single precision.
  pool.parallel_for(static_cast<size_t>(rows) * static_cast<size_t>(hp.n_head), 1, [&](size_t i0, size_t i1) {
    // Per-thread scratch, kept across chunks, layers and steps.
    thread_local std::vector<float> scores, acc;
    thread_local std::vector<uint16_t> q_bits, acc_half;
    thread_local std::vector<const uint16_t*> key_ptrs;
    q_bits.resize(static_cast<size_t>(hd));
    acc_half.resize(static_cast<size_t>(hd));
    acc.resize(static_cast<size_t>(hd));
    for (size_t i = i0; i < i1; ++i) {
      const int64_t r = static_cast<int64_t>(i / static_cast<size_t>(hp.n_head));
      const int h = static_cast<int>(i % static_cast<size_t>(hp.n_head)), kvh = h / group;
      const BatchSequence& s = seqs[static_cast<size_t>(plan.row_seq[static_cast<size_t>(r)])];
      const int32_t n_ctx = plan.positions[static_cast<size_t>(r)] + 1;
      const float* qv = q + r * q_dim + h * hd;
      float* o = out + r * q_dim + h * hd;
      auto key_at = [&](int32_t j) {
        return kv.key(layer, (*s.block_table)[static_cast<size_t>(j / bs)], j % bs) + static_cast<size_t>(kvh * hd) * elem;
      };
      auto value_at = [&](int32_t j) {
        return kv.value(layer, (*s.block_table)[static_cast<size_t>(j / bs)], j % bs) + static_cast<size_t>(kvh * hd) * elem;
      };
      if (half && s.n_tokens >= kTiledMinRows) {
        // Tiled form: q stays single precision; keys in tiles of kKvTile positions (aligned to
        // position 0), each score a fused multiply-add chain; per tile the running maximum, the
        // tile's exponentials summed in double, V accumulated in single precision.
        float max_score = -INFINITY, sum = 0.0f;
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (int32_t t0 = 0; t0 < n_ctx; t0 += kKvTile) {
          const int32_t count = std::min(kKvTile, n_ctx - t0);
          const uint16_t* keys[kKvTile];
          float tile[kKvTile];
          for (int32_t j = 0; j < count; ++j) keys[j] = reinterpret_cast<const uint16_t*>(key_at(t0 + j));
          vm.dot_keys_f16(qv, keys, static_cast<size_t>(count), static_cast<size_t>(hd), tile);
          for (int32_t j = 0; j < count; ++j) tile[j] *= scale;
          std::fill(tile + count, tile + kKvTile, -INFINITY);
          const float new_max = std::max(max_score, *std::max_element(tile, tile + kKvTile));
          if (new_max > max_score) {
            const float rescale = std::exp(max_score - new_max);
            for (float& a : acc) a *= rescale;
            sum *= rescale;
          }
          max_score = new_max;
          sum = static_cast<float>(static_cast<double>(sum) + vm.exp_sum(tile, tile, max_score, kKvTile));
          for (int32_t j = 0; j < count; ++j)
            vm.mad_f16_f32(acc.data(), reinterpret_cast<const uint16_t*>(value_at(t0 + j)), tile[j], static_cast<size_t>(hd));
        }
        const float inv = sum == 0.0f ? 0.0f : 1.0f / sum;
        for (int d = 0; d < hd; ++d) o[d] = acc[static_cast<size_t>(d)] * inv;
        continue;
      }
      if (half) {
        // One-row form: q rounded to half, one pass over keys [lo, hi) with a running maximum, V
        // sums accumulated in half precision (acc_half), divided by the softmax sum at the end.
        kern.f32_to_f16_row(qv, q_bits.data(), static_cast<size_t>(hd));
        auto attend = [&](int32_t lo, int32_t hi, float& max_score, float& sum) {
          key_ptrs.resize(static_cast<size_t>(hi - lo));
          scores.resize(static_cast<size_t>(hi - lo));
          for (int32_t j = lo; j < hi; ++j) key_ptrs[static_cast<size_t>(j - lo)] = reinterpret_cast<const uint16_t*>(key_at(j));
          vm.dot_keys_f16_half(q_bits.data(), key_ptrs.data(), key_ptrs.size(), static_cast<size_t>(hd), scores.data());
          sum = 0.0f;
          max_score = -INFINITY;
          std::fill(acc_half.begin(), acc_half.end(), uint16_t{0});
          for (int32_t j = lo; j < hi; ++j) {
            const float score = scores[static_cast<size_t>(j - lo)] * scale;
            float old_scale = 1.0f, weight = 1.0f;
            if (score > max_score) {
              old_scale = std::exp(max_score - score);
              max_score = score;
              kern.scale_f16(acc_half.data(), old_scale, static_cast<size_t>(hd));
            } else {
              weight = std::exp(score - max_score);
            }
            kern.mad_f16(acc_half.data(), reinterpret_cast<const uint16_t*>(value_at(j)), weight, static_cast<size_t>(hd));
            sum = sum * old_scale + weight;
          }
        };
        if (s.n_tokens > 1 || n_ctx <= kSplitMinContext) {
          float max_score, sum;
          attend(0, n_ctx, max_score, sum);
          dequantize_row(DType::F16, acc_half.data(), o, static_cast<size_t>(hd));
          const float inv = sum == 0.0f ? 0.0f : 1.0f / sum;
          for (int d = 0; d < hd; ++d) o[d] *= inv;
          continue;
        }
        // Split form, for one query row over a longer context: llama.cpp cuts its padded cache
        // view (a multiple of kCachePad cells) into one piece per thread, attends each piece alone
        // and merges the pieces' (maximum, sum, V) with fused multiply-adds.
        const int32_t view = (n_ctx + kCachePad - 1) / kCachePad * kCachePad;
        const int32_t piece = (view + n_threads - 1) / n_threads;
        float max_all = -INFINITY, sum_all = 0.0f;
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (int32_t lo = 0; lo < n_ctx; lo += piece) {
          float max_score, sum;
          attend(lo, std::min(lo + piece, n_ctx), max_score, sum);
          if (sum == 0.0f) continue;
          const float new_max = std::max(max_all, max_score);
          const float old_scale = std::exp(max_all - new_max), piece_scale = std::exp(max_score - new_max);
          for (int d = 0; d < hd; ++d)
            acc[static_cast<size_t>(d)] = std::fma(acc[static_cast<size_t>(d)], old_scale, f16_to_f32(acc_half[static_cast<size_t>(d)]) * piece_scale);
          sum_all = std::fma(sum_all, old_scale, sum * piece_scale);
          max_all = new_max;
        }
        const float inv = sum_all == 0.0f ? 1.0f : 1.0f / sum_all;
        for (int d = 0; d < hd; ++d) o[d] = acc[static_cast<size_t>(d)] * inv;
        continue;
      }
      scores.resize(static_cast<size_t>(n_ctx));
      for (int32_t j = 0; j < n_ctx; ++j) scores[static_cast<size_t>(j)] = scale * dot_k(key_at(j), qv, static_cast<size_t>(hd));
      softmax(scores.data(), scores.size());
      std::fill_n(o, hd, 0.0f);
      for (int32_t j = 0; j < n_ctx; ++j) {
        const float* vf = reinterpret_cast<const float*>(value_at(j));
        const float a = scores[static_cast<size_t>(j)];
        for (int d = 0; d < hd; ++d) o[d] += a * vf[d];
      }
    }
  });
}

}  // namespace ol

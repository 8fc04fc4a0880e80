#include "runtime/forward.h"

#include <algorithm>
#include <cmath>

#include "cpu/kernels.h"
#include "model/arch.h"
#include "tensor/ops.h"

namespace ol {


void BlockContext::linear(int layer, LinearKind kind, const float* in, float* out) {
  const LayerWeights& L = model.layers[static_cast<size_t>(layer)];
  const Matrix& w = L.linear[static_cast<int>(kind)];
  matmul(w, in, rows, out, pool);
  const std::vector<float>* bias = kind == LinearKind::Q ? &L.bq : kind == LinearKind::K ? &L.bk : kind == LinearKind::V ? &L.bv : nullptr;
  if (bias != nullptr && !bias->empty()) add_bias(out, bias->data(), rows, w.rows);

  apply_lora(layer, kind, in, w.cols, out, w.rows);
}

void BlockContext::apply_lora(int layer, LinearKind kind, const float* in, int64_t n_in, float* out, int64_t n_out) {
  // Segmented gather matmul: rows are grouped by adapter. All groups share one parallel loop for
  // the shrink (t = x A^T, rank-sized) and one for the expand (y += t B^T), however many adapters.
  // segments/shrink_items are members so that their storage is reused across layers and steps.
  std::vector<LoraSegment>& segments = lora_segments;
  std::vector<std::pair<size_t, size_t>>& shrink_items = lora_shrink_items;
  segments.clear();
  shrink_items.clear();
  size_t t_size = 0;
  for (const LoraGroup& g : lora_groups) {
    const LoraMatrices& m = g.weights->layers[static_cast<size_t>(layer)][static_cast<size_t>(kind)];
    if (m.empty()) continue;
    segments.push_back({&m, &g, t_size});
    for (size_t row = 0; row < g.rows.size(); ++row) shrink_items.emplace_back(segments.size() - 1, row);
    t_size += g.rows.size() * static_cast<size_t>(g.weights->rank);
  }
  if (segments.empty()) return;
  const KernelSet& kern = kernels();
  lora_t.resize(t_size);
  pool.parallel_for(shrink_items.size(), 1, [&](size_t i0, size_t i1) {
    for (size_t i = i0; i < i1; ++i) {
      const LoraSegment& sg = segments[shrink_items[i].first];
      const size_t row = shrink_items[i].second, r = static_cast<size_t>(sg.group->weights->rank);
      const float* x = in + static_cast<size_t>(sg.group->rows[row]) * static_cast<size_t>(n_in);
      float* t = lora_t.data() + sg.t_offset + row * r;
      for (size_t k = 0; k < r; ++k)
        t[k] = sg.group->row_scale[row] * kern.dot_f32(x, sg.m->a + k * static_cast<size_t>(n_in), static_cast<size_t>(n_in));
    }
  });
  pool.parallel_for(static_cast<size_t>(n_out), 16, [&](size_t o0, size_t o1) {
    for (const LoraSegment& sg : segments) {
      const size_t r = static_cast<size_t>(sg.group->weights->rank);
      for (size_t o = o0; o < o1; ++o) {
        const float* b = sg.m->b + o * r;
        for (size_t row = 0; row < sg.group->rows.size(); ++row)
          out[static_cast<size_t>(sg.group->rows[row]) * static_cast<size_t>(n_out) + o] +=
              kern.dot_f32(lora_t.data() + sg.t_offset + row * r, b, r);
      }
    }
  });
}

void BlockContext::rope(float* t, int n_heads) {
  const HParams& hp = model.hp;
  ol::rope(t, rows, n_heads, hp.head_dim, rope_cos.data(), rope_sin.data(), hp.rope);
}

void BlockContext::attention(int layer) {
  const HParams& hp = model.hp;
  const KernelSet& kern = kernels();
  const int kv_dim = hp.kv_dim(), hd = hp.head_dim, group = hp.n_head / hp.n_head_kv, bs = kv.block_size();
  const bool half = kv.half();
  for (int64_t r = 0; r < rows; ++r) {
    const BatchSequence& s = (*seqs)[static_cast<size_t>(row_seq[static_cast<size_t>(r)])];
    const int32_t p = positions[static_cast<size_t>(r)];
    const int32_t block = (*s.block_table)[static_cast<size_t>(p / bs)];
    uint8_t* kd = kv.key(layer, block, p % bs);
    uint8_t* vd = kv.value(layer, block, p % bs);
    if (half) {
      kern.f32_to_f16_row(k.data() + r * kv_dim, reinterpret_cast<uint16_t*>(kd), static_cast<size_t>(kv_dim));
      kern.f32_to_f16_row(v.data() + r * kv_dim, reinterpret_cast<uint16_t*>(vd), static_cast<size_t>(kv_dim));
    } else {
      std::copy_n(k.data() + r * kv_dim, kv_dim, reinterpret_cast<float*>(kd));
      std::copy_n(v.data() + r * kv_dim, kv_dim, reinterpret_cast<float*>(vd));
    }
  }
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const RowDotFn dot_k = kern.row_dot[static_cast<int>(half ? DType::F16 : DType::F32)];
  const int q_dim = hp.q_dim();
  const size_t elem = half ? 2 : 4;
  // Over a half-precision cache this is llama.cpp's CPU flash attention, operation for operation
  // (conformance): q rounded to half, one pass with a running maximum, V sums accumulated in half
  // precision, divided by the softmax sum at the end. Over a single-precision cache (F32 models):
  // plain softmax attention in single precision.
  pool.parallel_for(static_cast<size_t>(rows) * static_cast<size_t>(hp.n_head), 1, [&](size_t i0, size_t i1) {
    // Per-thread scratch, kept across chunks, layers and steps.
    thread_local std::vector<float> scores, q_round;
    thread_local std::vector<uint16_t> q_bits, acc_half;
    q_round.resize(static_cast<size_t>(hd));
    q_bits.resize(static_cast<size_t>(hd));
    acc_half.resize(static_cast<size_t>(hd));
    for (size_t i = i0; i < i1; ++i) {
      const int64_t r = static_cast<int64_t>(i / static_cast<size_t>(hp.n_head));
      const int h = static_cast<int>(i % static_cast<size_t>(hp.n_head)), kvh = h / group;
      const BatchSequence& s = (*seqs)[static_cast<size_t>(row_seq[static_cast<size_t>(r)])];
      const int32_t n_ctx = positions[static_cast<size_t>(r)] + 1;
      const float* qv = q.data() + r * q_dim + h * hd;
      float* o = attn.data() + r * q_dim + h * hd;
      auto key_at = [&](int32_t j) {
        return kv.key(layer, (*s.block_table)[static_cast<size_t>(j / bs)], j % bs) + static_cast<size_t>(kvh * hd) * elem;
      };
      auto value_at = [&](int32_t j) {
        return kv.value(layer, (*s.block_table)[static_cast<size_t>(j / bs)], j % bs) + static_cast<size_t>(kvh * hd) * elem;
      };
      if (half) {
        kern.f32_to_f16_row(qv, q_bits.data(), static_cast<size_t>(hd));
        dequantize_row(DType::F16, q_bits.data(), q_round.data(), static_cast<size_t>(hd));
        float sum = 0.0f, max_score = -INFINITY;
        std::fill(acc_half.begin(), acc_half.end(), uint16_t{0});
        for (int32_t j = 0; j < n_ctx; ++j) {
          const float score = scale * dot_k(key_at(j), q_round.data(), static_cast<size_t>(hd));
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
        dequantize_row(DType::F16, acc_half.data(), o, static_cast<size_t>(hd));
        const float inv = sum == 0.0f ? 0.0f : 1.0f / sum;
        for (int d = 0; d < hd; ++d) o[d] *= inv;
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

ForwardPass::ForwardPass(const Model& model, KvCache& kv, ThreadPool& pool) : ctx_{.model = model, .pool = pool, .kv = kv} {}

void ForwardPass::run(const std::vector<BatchSequence>& seqs, std::vector<float>& logits) {
  BlockContext& c = ctx_;
  const Model& m = c.model;
  const HParams& hp = m.hp;
  c.seqs = &seqs;
  c.rows = 0;
  for (const auto& s : seqs) c.rows += s.n_tokens;
  const int64_t T = c.rows, E = hp.n_embd;
  c.x.resize(static_cast<size_t>(T * E));
  c.h.resize(static_cast<size_t>(T * E));
  c.proj.resize(static_cast<size_t>(T * E));
  c.q.resize(static_cast<size_t>(T * hp.q_dim()));
  c.attn.resize(static_cast<size_t>(T * hp.q_dim()));
  c.k.resize(static_cast<size_t>(T * hp.kv_dim()));
  c.v.resize(static_cast<size_t>(T * hp.kv_dim()));
  c.gate.resize(static_cast<size_t>(T * hp.n_ff));
  c.up.resize(static_cast<size_t>(T * hp.n_ff));
  c.positions.clear();
  c.row_seq.clear();
  c.lora_groups.clear();
  std::vector<int64_t>& logit_rows = logit_rows_;
  logit_rows.clear();
  for (size_t si = 0; si < seqs.size(); ++si) {
    const BatchSequence& s = seqs[si];
    const int64_t first = static_cast<int64_t>(c.positions.size());
    for (int32_t i = 0; i < s.n_tokens; ++i) {
      const int32_t tok = s.tokens[i];
      dequantize_row(m.tok_embd.dtype, m.tok_embd.row(tok), c.x.data() + (first + i) * E, static_cast<size_t>(E));
      c.positions.push_back(s.pos0 + i);
      c.row_seq.push_back(static_cast<int32_t>(si));
      if (s.all_logits || i == s.n_tokens - 1) logit_rows.push_back(first + i);
    }
    if (s.adapters == nullptr) continue;
    for (const AdapterTerm& term : *s.adapters) {
      // A batch holds few distinct adapters: a linear search finds the group.
      auto it = std::find_if(c.lora_groups.begin(), c.lora_groups.end(), [&](const auto& g) { return g.weights == term.weights.get(); });
      if (it == c.lora_groups.end()) it = c.lora_groups.insert(it, {term.weights.get(), {}, {}});
      BlockContext::LoraGroup& g = *it;
      for (int32_t i = 0; i < s.n_tokens; ++i) {
        g.rows.push_back(static_cast<int32_t>(first + i));
        g.row_scale.push_back(term.weight * term.weights->scale);
      }
    }
  }
  c.rope_cos.resize(static_cast<size_t>(T * hp.head_dim / 2));
  c.rope_sin.resize(static_cast<size_t>(T * hp.head_dim / 2));
  rope_tables(c.positions.data(), T, hp.head_dim, hp.rope_theta, c.rope_cos.data(), c.rope_sin.data());
  const ArchDef* arch = find_arch(m.architecture);
  for (int l = 0; l < hp.n_layer; ++l) arch->block(c, l);

  const int64_t n_out = static_cast<int64_t>(logit_rows.size());
  std::vector<float>& last = last_norm_;
  last.resize(static_cast<size_t>(n_out * E));
  for (int64_t i = 0; i < n_out; ++i) rms_norm(c.x.data() + logit_rows[static_cast<size_t>(i)] * E, m.output_norm.data(), last.data() + i * E, 1, E, hp.rms_eps);
  logits.resize(static_cast<size_t>(n_out * hp.n_vocab));
  matmul(m.output, last.data(), n_out, logits.data(), c.pool);
}

}  // namespace ol

#include "cpu/kernels.h"
#include "runtime/forward_cpu.h"

namespace ol {

void LoraCpu::apply(const BatchPlan& plan, int layer, LinearKind kind, const float* in, int64_t n_in, float* out, int64_t n_out,
                    ThreadPool& pool) {
  // Rows are grouped by adapter. All groups share one parallel loop for the shrink (t = x A^T,
  // rank-sized) and one for the expand (y += t B^T), however many adapters.
  segments_.clear();
  shrink_items_.clear();
  size_t t_size = 0;
  for (const LoraGroup& g : plan.lora_groups) {
    const LoraMatrices& m = g.weights->layers[static_cast<size_t>(layer)][static_cast<size_t>(kind)];
    if (m.empty()) continue;
    segments_.push_back({&m, &g, t_size});
    for (size_t row = 0; row < g.rows.size(); ++row) shrink_items_.emplace_back(segments_.size() - 1, row);
    t_size += g.rows.size() * static_cast<size_t>(g.weights->rank);
  }
  if (segments_.empty()) return;
  const KernelSet& kern = kernels();
  t_.resize(t_size);
  pool.parallel_for(shrink_items_.size(), 1, [&](size_t i0, size_t i1) {
    for (size_t i = i0; i < i1; ++i) {
      const Segment& sg = segments_[shrink_items_[i].first];
      const size_t row = shrink_items_[i].second, r = static_cast<size_t>(sg.group->weights->rank);
      const float* x = in + static_cast<size_t>(sg.group->rows[row]) * static_cast<size_t>(n_in);
      float* t = t_.data() + sg.t_offset + row * r;
      for (size_t k = 0; k < r; ++k)
        t[k] = sg.group->row_scale[row] * kern.dot_f32(x, sg.m->a + k * static_cast<size_t>(n_in), static_cast<size_t>(n_in));
    }
  });
  pool.parallel_for(static_cast<size_t>(n_out), 16, [&](size_t o0, size_t o1) {
    for (const Segment& sg : segments_) {
      const size_t r = static_cast<size_t>(sg.group->weights->rank);
      for (size_t o = o0; o < o1; ++o) {
        const float* b = sg.m->b + o * r;
        for (size_t row = 0; row < sg.group->rows.size(); ++row)
          out[static_cast<size_t>(sg.group->rows[row]) * static_cast<size_t>(n_out) + o] +=
              kern.dot_f32(t_.data() + sg.t_offset + row * r, b, r);
      }
    }
  });
}

}  // namespace ol

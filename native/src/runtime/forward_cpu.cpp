// The CPU backend's forward pass: activation buffers in host memory, ops from tensor/ops.h.
#include "runtime/forward_cpu.h"

#include <array>

#include "cpu/quant.h"
#include "model/arch.h"
#include "tensor/ops.h"

namespace ol {
namespace {

class CpuForward final : public ForwardPass, public BlockOps {
 public:
  CpuForward(const Model& model, KvCache& kv, ThreadPool& pool) : model_(model), kv_(kv), pool_(pool) {}

  const Model& model() const override { return model_; }

  void run(const std::vector<BatchSequence>& seqs, std::vector<float>& logits) override {
    const HParams& hp = model_.hp;
    seqs_ = &seqs;
    plan_.build(model_, seqs);
    const int64_t T = plan_.rows, E = hp.n_embd;
    const int64_t widths[] = {E, E, hp.q_dim(), hp.kv_dim(), hp.kv_dim(), hp.q_dim(), E, hp.n_ff, hp.n_ff};
    for (size_t b = 0; b < bufs_.size(); ++b) bufs_[b].resize(static_cast<size_t>(T * widths[b]));
    float* x = buf(Buf::X);
    for (int64_t r = 0; r < T; ++r)
      dequantize_row(model_.tok_embd.dtype, model_.tok_embd.row(plan_.tokens[static_cast<size_t>(r)]), x + r * E, static_cast<size_t>(E));
    const ArchDef* arch = find_arch(model_.architecture);
    for (int l = 0; l < hp.n_layer; ++l) arch->block(*this, l);

    const int64_t n_out = static_cast<int64_t>(plan_.logit_rows.size());
    last_norm_.resize(static_cast<size_t>(n_out * E));
    for (int64_t i = 0; i < n_out; ++i)
      ol::rms_norm(x + plan_.logit_rows[static_cast<size_t>(i)] * E, model_.output_norm.data(), last_norm_.data() + i * E, 1, E, hp.rms_eps);
    logits.resize(static_cast<size_t>(n_out * hp.n_vocab));
    matmul(model_.output, last_norm_.data(), n_out, logits.data(), pool_);
  }

  void rms_norm(Buf in, const std::vector<float>& weight, Buf out) override {
    ol::rms_norm(buf(in), weight.data(), buf(out), plan_.rows, model_.hp.n_embd, model_.hp.rms_eps);
  }

  void linear(int layer, LinearKind kind, Buf in, Buf out) override {
    const LayerWeights& L = model_.layers[static_cast<size_t>(layer)];
    const Matrix& w = L.linear[static_cast<int>(kind)];
    matmul(w, buf(in), plan_.rows, buf(out), pool_);
    const std::vector<float>* bias = kind == LinearKind::Q ? &L.bq : kind == LinearKind::K ? &L.bk : kind == LinearKind::V ? &L.bv : nullptr;
    if (bias != nullptr && !bias->empty()) add_bias(buf(out), bias->data(), plan_.rows, w.rows);
    lora_.apply(plan_, layer, kind, buf(in), w.cols, buf(out), w.rows, pool_);
  }

  void rope(Buf t, int n_heads) override {
    const HParams& hp = model_.hp;
    ol::rope(buf(t), plan_.rows, n_heads, hp.head_dim, plan_.rope_cos.data(), plan_.rope_sin.data(), hp.rope);
  }

  void attention(int layer) override {
    attention_cpu(model_.hp, kv_, layer, plan_, *seqs_, buf(Buf::Q), buf(Buf::K), buf(Buf::V), buf(Buf::Attn), pool_);
  }

  void add(Buf y, Buf x) override { add_inplace(buf(y), buf(x), bufs_[static_cast<size_t>(y)].size()); }

  void silu_mul(Buf gate, Buf up) override { ol::silu_mul(buf(gate), buf(up), bufs_[static_cast<size_t>(gate)].size()); }

 private:
  float* buf(Buf b) { return bufs_[static_cast<size_t>(b)].data(); }

  const Model& model_;
  KvCache& kv_;
  ThreadPool& pool_;
  const std::vector<BatchSequence>* seqs_ = nullptr;
  BatchPlan plan_;
  std::array<std::vector<float>, 9> bufs_{};  // indexed by Buf; storage reused across steps
  std::vector<float> last_norm_;             // logit rows after the output norm
  LoraCpu lora_;
};

}  // namespace

std::unique_ptr<ForwardPass> make_cpu_forward(const Model& model, KvCache& kv, ThreadPool& pool) {
  return std::make_unique<CpuForward>(model, kv, pool);
}

}  // namespace ol

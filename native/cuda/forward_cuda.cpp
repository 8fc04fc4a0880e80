// The CUDA backend's forward pass: the same BatchPlan and architecture blocks as the CPU backend,
// with activations, weights, adapters and the paged KV pool in device memory. Dense matmuls go to
// cuBLAS (fp32 weights: SGEMM; fp16 weights: GemmEx with fp32 accumulation); the rest is ops_cuda.cu.
// One step = one upload of the batch layout, the kernels on one stream, one download of the logits.
#include "forward_cuda.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <unordered_map>
#include <utility>

#include "common/error.h"
#include "cpu/quant.h"
#include "model/arch.h"
#include "ops_cuda.h"

namespace ol {
namespace {

void check(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return;
  cudaGetLastError();  // clear it, so the next call does not report it again
  throw Error(e == cudaErrorMemoryAllocation ? OL_ERR_OUT_OF_MEMORY : OL_ERR_INTERNAL, std::string("CUDA ") + what + ": " + cudaGetErrorString(e));
}

void check(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS) throw Error(OL_ERR_INTERNAL, std::string("cuBLAS ") + what + ": " + cublasGetStatusString(s));
}

// Device memory that only grows (contents are not kept when it does).
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  ~DeviceBuffer() { cudaFree(ptr_); }
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      cudaFree(ptr_);
      ptr_ = std::exchange(o.ptr_, nullptr);
      bytes_ = std::exchange(o.bytes_, 0);
    }
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  // True when the buffer moved (so captured graphs that use it are stale).
  bool reserve(size_t bytes) {
    if (bytes <= bytes_) return false;
    cudaFree(ptr_);  // synchronises the device: no kernel still reads the old buffer
    ptr_ = nullptr;
    bytes_ = 0;
    check(cudaMalloc(&ptr_, bytes), ("allocating " + std::to_string(bytes) + " bytes").c_str());
    bytes_ = bytes;
    return true;
  }
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

template <typename T>
void upload(DeviceBuffer& dst, const std::vector<T>& src) {
  dst.reserve(src.size() * sizeof(T));
  check(cudaMemcpy(dst.as<void>(), src.data(), src.size() * sizeof(T), cudaMemcpyHostToDevice), "copying weights");
}

struct DeviceMatrix {
  DeviceBuffer mem;
  bool half = false;  // fp16, else fp32
  int64_t rows = 0, cols = 0;
};

// Dequantizes a stored matrix row by row on the host and uploads it as fp32 or fp16.
void upload_matrix(const Matrix& w, bool half, DeviceMatrix& out) {
  out.half = half;
  out.rows = w.rows;
  out.cols = w.cols;
  std::vector<float> row(static_cast<size_t>(w.cols));
  const size_t n = static_cast<size_t>(w.rows) * static_cast<size_t>(w.cols);
  if (half) {
    std::vector<uint16_t> host(n);
    for (int64_t r = 0; r < w.rows; ++r) {
      dequantize_row(w.dtype, w.row(r), row.data(), row.size());
      for (size_t i = 0; i < row.size(); ++i) host[static_cast<size_t>(r) * row.size() + i] = f32_to_f16(row[i]);
    }
    upload(out.mem, host);
  } else {
    std::vector<float> host(n);
    for (int64_t r = 0; r < w.rows; ++r) dequantize_row(w.dtype, w.row(r), host.data() + static_cast<size_t>(r) * row.size(), row.size());
    upload(out.mem, host);
  }
}

// An adapter's A/B matrices in device memory, per (layer, linear): null where it has none.
struct DeviceAdapter {
  std::weak_ptr<const LoraWeights> owner;  // expired = evicted by the registry and unused: freed
  DeviceBuffer mem;
  std::vector<const float*> a, b;  // [layer * kLinearKinds + kind]
};

class CudaForward final : public ForwardPass, public BlockOps {
 public:
  CudaForward(const Model& model, KvCache& kv) : model_(model), kv_(kv) {
    const HParams& hp = model.hp;
    if (hp.head_dim > 256 || hp.head_dim % 2 != 0)
      fail_argument("the CUDA backend supports even head dimensions up to 256 (this model has " + std::to_string(hp.head_dim) + ")");
    check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "creating a stream");
    check(cublasCreate(&cublas_), "creating a handle");
    check(cublasSetStream(cublas_, stream_), "setting the stream");
    // A workspace of our own, so cuBLAS never allocates while a step is being captured.
    constexpr size_t kCublasWorkspace = size_t{32} << 20;
    cublas_workspace_.reserve(kCublasWorkspace);
    check(cublasSetWorkspace(cublas_, cublas_workspace_.as<void>(), kCublasWorkspace), "setting the workspace");
    // Opt-in until a GPU run has checked replayed steps against eager ones (see README.md).
    const char* graphs = std::getenv("OL_CUDA_GRAPHS");
    graphs_enabled_ = graphs != nullptr && std::string(graphs) == "1";
    upload_weights();
    kv_layout_ = {nullptr, kv.half(), hp.n_layer, hp.kv_dim(), kv.block_size()};
    kv_pool_.reserve(KvCache::bytes_per_block(hp.n_layer, hp.kv_dim(), kv.block_size(), kv.half()) * static_cast<size_t>(kv.n_blocks()));
    kv_layout_.pool = kv_pool_.as<void>();
  }

  ~CudaForward() override {
    cudaStreamSynchronize(stream_);
    drop_graph();
    cublasDestroy(cublas_);
    cudaStreamDestroy(stream_);
  }

  const Model& model() const override { return model_; }

  void run(const std::vector<BatchSequence>& seqs, std::vector<float>& logits) override {
    const HParams& hp = model_.hp;
    plan_.build(model_, seqs);
    const int64_t T = plan_.rows, E = hp.n_embd, n_out = static_cast<int64_t>(plan_.logit_rows.size());
    // Every buffer the step touches is sized (and staged) before the kernels are queued: a step may
    // be captured into a CUDA graph, where allocation is not allowed.
    const int64_t widths[] = {E, E, hp.q_dim(), hp.kv_dim(), hp.kv_dim(), hp.q_dim(), E, hp.n_ff, hp.n_ff};
    bool moved = false;
    for (size_t b = 0; b < bufs_.size(); ++b) moved |= bufs_[b].reserve(static_cast<size_t>(T * widths[b]) * sizeof(float));
    moved |= half_x_.reserve(static_cast<size_t>(T * std::max({E, static_cast<int64_t>(hp.n_ff), static_cast<int64_t>(hp.q_dim())})) * 2);
    moved |= last_norm_.reserve(static_cast<size_t>(n_out * E) * sizeof(float));
    moved |= logits_dev_.reserve(static_cast<size_t>(n_out * hp.n_vocab) * sizeof(float));
    moved |= stage(seqs);

    // Decode steps repeat the same shapes: the kernels read positions, block tables and LoRA items
    // from the staged buffers, so a graph captured for one step replays for the next one with the
    // same shape key, turning ~700 launches into one.
    const GraphKey key{T, n_out, static_cast<int64_t>(plan_.lora_groups.size()), lora_items_.count};
    if (moved) drop_graph();
    if (graph_exec_ != nullptr && key == graph_key_) {
      check(cudaGraphLaunch(graph_exec_, stream_), "replaying the step");
    } else if (graphs_enabled_) {
      drop_graph();
      capture_and_launch(key);
    } else {
      compute();
    }
    logits.resize(static_cast<size_t>(n_out * hp.n_vocab));
    check(cudaMemcpyAsync(logits.data(), logits_dev_.as<float>(), logits.size() * sizeof(float), cudaMemcpyDeviceToHost, stream_),
          "copying logits");
    check(cudaStreamSynchronize(stream_), "running the forward pass");
  }

  void rms_norm(Buf in, const std::vector<float>& weight, Buf out) override {
    wrote(out);
    cuda::rms_norm(buf(in), norms_.at(weight.data()), buf(out), plan_.rows, model_.hp.n_embd, model_.hp.rms_eps, nullptr, stream_);
  }

  void linear(int layer, LinearKind kind, Buf in, Buf out) override {
    const LayerDev& L = layers_[static_cast<size_t>(layer)];
    const DeviceMatrix& w = L.linear[static_cast<size_t>(kind)];
    wrote(out);
    gemm(w, in, plan_.rows, buf(out));
    const float* bias = kind == LinearKind::Q ? L.bq : kind == LinearKind::K ? L.bk : kind == LinearKind::V ? L.bv : nullptr;
    if (bias != nullptr) cuda::add_bias(buf(out), bias, plan_.rows, w.rows, stream_);
    if (lora_items_.count == 0) return;
    const size_t slot = (static_cast<size_t>(layer) * kLinearKinds + static_cast<size_t>(kind)) * plan_.lora_groups.size();
    const float* const* a = step_ptrs_.as<const float*>() + slot;
    const float* const* b = step_ptrs_.as<const float*>() + at_.b_ptrs + slot;
    const int32_t* ranks = step_ints_.as<int32_t>() + at_.ranks;
    cuda::lora_shrink(lora_items_, a, ranks, buf(in), w.cols, lora_t_.as<float>(), stream_);
    cuda::lora_expand(lora_items_, a, b, ranks, lora_t_.as<float>(), buf(out), w.rows, stream_);
  }

  void rope(Buf t, int n_heads) override {
    const HParams& hp = model_.hp;
    wrote(t);
    const float* floats = step_floats_.as<float>();
    cuda::rope(buf(t), plan_.rows, n_heads, hp.head_dim, floats + at_.rope_cos, floats + at_.rope_sin, hp.rope == RopeStyle::Neox, stream_);
  }

  void attention(int layer) override {
    const HParams& hp = model_.hp;
    const int32_t* ints = step_ints_.as<int32_t>();
    const cuda::AttentionRows ar{ints + at_.positions, ints + at_.table_offset, ints + at_.tables};
    wrote(Buf::Attn);
    cuda::kv_store(kv_layout_, layer, ar, buf(Buf::K), buf(Buf::V), plan_.rows, stream_);
    cuda::attention(kv_layout_, layer, ar, buf(Buf::Q), buf(Buf::Attn), plan_.rows, hp.n_head, hp.n_head_kv, hp.head_dim, stream_);
  }

  void add(Buf y, Buf x) override {
    wrote(y);
    cuda::add(buf(y), buf(x), static_cast<size_t>(plan_.rows * width(y)), stream_);
  }

  void silu_mul(Buf gate, Buf up) override {
    wrote(gate);
    cuda::silu_mul(buf(gate), buf(up), static_cast<size_t>(plan_.rows * width(gate)), stream_);
  }

 private:
  struct LayerDev {
    std::array<DeviceMatrix, kLinearKinds> linear;
    const float* bq = nullptr;
    const float* bk = nullptr;
    const float* bv = nullptr;
  };
  // What a captured step depends on besides the staged data: rows, logit rows, adapter groups, items.
  struct GraphKey {
    int64_t rows = -1, logit_rows = -1, groups = -1, items = -1;
    bool operator==(const GraphKey&) const = default;
  };
  // Offsets (in elements) of each array in the step's staging buffers.
  struct StepLayout {
    size_t tokens = 0, positions = 0, table_offset = 0, tables = 0, logit_rows = 0, item_row = 0, item_group = 0, item_t = 0, ranks = 0;
    size_t rope_cos = 0, rope_sin = 0, item_scale = 0;
    size_t b_ptrs = 0;
  };

  float* buf(Buf b) const { return bufs_[static_cast<size_t>(b)].as<float>(); }

  int64_t width(Buf b) const {
    const HParams& hp = model_.hp;
    switch (b) {
      case Buf::Q:
      case Buf::Attn:
        return hp.q_dim();
      case Buf::K:
      case Buf::V:
        return hp.kv_dim();
      case Buf::Gate:
      case Buf::Up:
        return hp.n_ff;
      default:
        return hp.n_embd;
    }
  }

  const float* upload_vector(const std::vector<float>& v) {
    DeviceBuffer& d = vectors_.emplace_back();
    upload(d, v);
    norms_[v.data()] = d.as<float>();
    return d.as<float>();
  }

  void upload_weights() {
    // fp32 models keep fp32 weights (exact comparisons with the CPU backend); all others use fp16.
    bool all_f32 = model_.tok_embd.dtype == DType::F32;
    for (const LayerWeights& L : model_.layers)
      for (const Matrix& w : L.linear) all_f32 = all_f32 && w.dtype == DType::F32;
    const bool half = !all_f32;
    layers_.resize(model_.layers.size());
    for (size_t l = 0; l < model_.layers.size(); ++l) {
      const LayerWeights& L = model_.layers[l];
      upload_vector(L.attn_norm);
      upload_vector(L.ffn_norm);
      if (!L.bq.empty()) layers_[l].bq = upload_vector(L.bq);
      if (!L.bk.empty()) layers_[l].bk = upload_vector(L.bk);
      if (!L.bv.empty()) layers_[l].bv = upload_vector(L.bv);
      for (size_t k = 0; k < static_cast<size_t>(kLinearKinds); ++k) upload_matrix(L.linear[k], half, layers_[l].linear[k]);
    }
    upload(output_norm_, model_.output_norm);
    upload_matrix(model_.tok_embd, half, tok_embd_);
    if (model_.output.data == model_.tok_embd.data) {
      output_ = &tok_embd_;
    } else {
      upload_matrix(model_.output, half, output_weight_);
      output_ = &output_weight_;
    }
  }

  // y[rows, w.rows] = x[rows, w.cols] * W^T. Row-major W is column-major W^T, hence OP_T.
  void gemm(const DeviceMatrix& w, const float* x, int64_t rows, float* y, const void* x_half) {
    const float one = 1.0f, zero = 0.0f;
    const int m = static_cast<int>(w.rows), n = static_cast<int>(rows), k = static_cast<int>(w.cols);
    if (!w.half) {
      check(cublasSgemm(cublas_, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &one, w.mem.as<float>(), k, x, k, &zero, y, m), "SGEMM");
      return;
    }
    check(cublasGemmEx(cublas_, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &one, w.mem.as<void>(), CUDA_R_16F, k, x_half, CUDA_R_16F, k, &zero, y,
                       CUDA_R_32F, m, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
          "GemmEx");
  }

  // A linear over buffer `in`: q/k/v (and gate/up) share their input, so its fp16 copy is made once.
  void gemm(const DeviceMatrix& w, Buf in, int64_t rows, float* y) {
    if (w.half && !(half_valid_ && half_src_ == in)) {
      cuda::to_half(buf(in), half_x_.as<void>(), static_cast<size_t>(rows * w.cols), stream_);
      half_src_ = in;
      half_valid_ = true;
    }
    gemm(w, buf(in), rows, y, half_x_.as<void>());
  }

  void wrote(Buf b) {
    if (b == half_src_) half_valid_ = false;
  }

  // The kernels of one step, from the embedding to the logits (nothing allocated, nothing copied
  // from or to the host).
  void compute() {
    const HParams& hp = model_.hp;
    const int64_t T = plan_.rows, E = hp.n_embd, n_out = static_cast<int64_t>(plan_.logit_rows.size());
    half_valid_ = false;
    cuda::embed(tok_embd_.mem.as<void>(), tok_embd_.half, E, step_ints_.as<int32_t>() + at_.tokens, T, buf(Buf::X), stream_);
    const ArchDef* arch = find_arch(model_.architecture);
    for (int l = 0; l < hp.n_layer; ++l) arch->block(*this, l);
    cuda::rms_norm(buf(Buf::X), output_norm_.as<float>(), last_norm_.as<float>(), n_out, E, hp.rms_eps,
                   step_ints_.as<int32_t>() + at_.logit_rows, stream_);
    if (output_->half) cuda::to_half(last_norm_.as<float>(), half_x_.as<void>(), static_cast<size_t>(n_out * E), stream_);
    gemm(*output_, last_norm_.as<float>(), n_out, logits_dev_.as<float>(), half_x_.as<void>());
  }

  void capture_and_launch(const GraphKey& key) {
    check(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal), "starting a graph capture");
    cudaGraph_t graph = nullptr;
    bool captured = true;
    try {
      compute();
    } catch (const Error&) {
      captured = false;  // something in the step cannot be captured: run it eagerly below
    }
    const cudaError_t end = cudaStreamEndCapture(stream_, &graph);
    const cudaError_t inst = captured && end == cudaSuccess ? cudaGraphInstantiate(&graph_exec_, graph, 0) : cudaErrorUnknown;
    if (graph != nullptr) cudaGraphDestroy(graph);
    if (inst != cudaSuccess) {
      // Graphs are an optimisation: without them every step launches its kernels one by one (and a
      // real error shows up there).
      cudaGetLastError();
      graph_exec_ = nullptr;
      graphs_enabled_ = false;
      compute();
      return;
    }
    graph_key_ = key;
    check(cudaGraphLaunch(graph_exec_, stream_), "launching the step");
  }

  void drop_graph() {
    if (graph_exec_ != nullptr) cudaGraphExecDestroy(graph_exec_);
    graph_exec_ = nullptr;
  }

  const DeviceAdapter& device_adapter(const std::shared_ptr<const LoraWeights>& w) {
    auto it = adapters_.find(w.get());
    if (it != adapters_.end()) return it->second;
    DeviceAdapter& d = adapters_[w.get()];
    d.owner = w;
    std::vector<float> host;
    std::vector<std::pair<size_t, size_t>> offsets;  // (a, b) per matrix; SIZE_MAX = none
    for (const auto& layer : w->layers)
      for (const LoraMatrices& m : layer) {
        if (m.empty()) {
          offsets.emplace_back(SIZE_MAX, SIZE_MAX);
          continue;
        }
        // Whatever the resident form (F32, F16, BF16 or q8 components), the device copy is fp32 in PEFT's layout.
        const size_t a_n = static_cast<size_t>(w->rank) * static_cast<size_t>(m.in), b_n = static_cast<size_t>(m.out) * static_cast<size_t>(w->rank);
        offsets.emplace_back(host.size(), host.size() + a_n);
        host.resize(host.size() + a_n + b_n);
        lora_matrices_to_f32(m, w->rank, host.data() + offsets.back().first, host.data() + offsets.back().second);
      }
    upload(d.mem, host);
    for (const auto& [a, b] : offsets) {
      d.a.push_back(a == SIZE_MAX ? nullptr : d.mem.as<float>() + a);
      d.b.push_back(b == SIZE_MAX ? nullptr : d.mem.as<float>() + b);
    }
    return d;
  }

  // Uploads the step's layout: token ids, positions, block tables, logit rows, rope tables, and the
  // LoRA items with each group's matrix pointers for every (layer, linear).
  bool stage(const std::vector<BatchSequence>& seqs) {
    const HParams& hp = model_.hp;
    for (auto it = adapters_.begin(); it != adapters_.end();) it = it->second.owner.expired() ? adapters_.erase(it) : std::next(it);

    std::vector<int32_t>& ints = host_ints_;
    std::vector<float>& floats = host_floats_;
    std::vector<const float*>& ptrs = host_ptrs_;
    ints.clear();
    floats.clear();
    ptrs.clear();
    auto append = [](auto& dst, const auto& src) {
      const size_t at = dst.size();
      dst.insert(dst.end(), src.begin(), src.end());
      return at;
    };
    at_.tokens = append(ints, plan_.tokens);
    at_.positions = append(ints, plan_.positions);
    seq_table_offset_.clear();
    int32_t table_end = 0;
    for (const BatchSequence& s : seqs) {
      seq_table_offset_.push_back(table_end);
      table_end += static_cast<int32_t>(s.block_table->size());
    }
    at_.table_offset = ints.size();
    for (int32_t si : plan_.row_seq) ints.push_back(seq_table_offset_[static_cast<size_t>(si)]);
    at_.logit_rows = ints.size();
    for (int64_t r : plan_.logit_rows) ints.push_back(static_cast<int32_t>(r));

    // LoRA: one item per (group, row); item i's shrunk activations start at the sum of earlier ranks.
    const size_t G = plan_.lora_groups.size();
    size_t n_items = 0;
    for (const LoraGroup& group : plan_.lora_groups) n_items += group.rows.size();
    at_.item_row = ints.size();
    at_.item_group = at_.item_row + n_items;
    at_.item_t = at_.item_group + n_items;
    at_.ranks = at_.item_t + n_items;
    at_.tables = at_.ranks + G;  // last: its length changes as contexts grow, the offsets above do not
    ints.resize(at_.tables);
    at_.rope_cos = append(floats, plan_.rope_cos);
    at_.rope_sin = append(floats, plan_.rope_sin);
    at_.item_scale = floats.size();
    int32_t t_size = 0;
    size_t item = 0;
    for (size_t g = 0; g < G; ++g) {
      const LoraGroup& group = plan_.lora_groups[g];
      ints[at_.ranks + g] = group.weights->rank;
      for (size_t i = 0; i < group.rows.size(); ++i, ++item) {
        ints[at_.item_row + item] = group.rows[i];
        ints[at_.item_group + item] = static_cast<int32_t>(g);
        ints[at_.item_t + item] = t_size;
        floats.push_back(group.row_scale[i]);
        t_size += group.weights->rank;
      }
    }
    for (const BatchSequence& s : seqs) ints.insert(ints.end(), s.block_table->begin(), s.block_table->end());
    for (const bool b_side : {false, true}) {
      if (b_side) at_.b_ptrs = ptrs.size();
      for (size_t idx = 0; idx < static_cast<size_t>(hp.n_layer) * kLinearKinds; ++idx)
        for (const LoraGroup& group : plan_.lora_groups) {
          const DeviceAdapter& dev = device_adapter(group.weights);
          ptrs.push_back(b_side ? dev.b[idx] : dev.a[idx]);
        }
    }

    // Staging grows with slack so that growing contexts rarely move it (which drops the graph).
    const size_t ints_bytes = ints.size() * sizeof(int32_t);
    bool moved = ints_bytes > step_ints_.bytes() && step_ints_.reserve(ints_bytes + ints_bytes / 2 + 4096);
    moved |= step_floats_.reserve(floats.size() * sizeof(float));
    moved |= step_ptrs_.reserve(std::max<size_t>(ptrs.size(), 1) * sizeof(const float*));
    moved |= lora_t_.reserve(std::max<size_t>(static_cast<size_t>(t_size), 1) * sizeof(float));
    check(cudaMemcpyAsync(step_ints_.as<void>(), ints.data(), ints.size() * sizeof(int32_t), cudaMemcpyHostToDevice, stream_), "staging");
    check(cudaMemcpyAsync(step_floats_.as<void>(), floats.data(), floats.size() * sizeof(float), cudaMemcpyHostToDevice, stream_), "staging");
    if (!ptrs.empty())
      check(cudaMemcpyAsync(step_ptrs_.as<void>(), ptrs.data(), ptrs.size() * sizeof(const float*), cudaMemcpyHostToDevice, stream_), "staging");
    const int32_t* dints = step_ints_.as<int32_t>();
    lora_items_ = {dints + at_.item_row, dints + at_.item_group, dints + at_.item_t, step_floats_.as<float>() + at_.item_scale,
                   static_cast<int32_t>(n_items)};
    return moved;
  }

  const Model& model_;
  KvCache& kv_;  // block ids only; the keys and values live in kv_pool_
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;

  std::vector<LayerDev> layers_;
  std::vector<DeviceBuffer> vectors_;                      // norms and biases (moving one keeps its device address)
  std::unordered_map<const float*, const float*> norms_;  // host vector data -> device copy
  DeviceBuffer output_norm_;
  DeviceMatrix tok_embd_, output_weight_;
  const DeviceMatrix* output_ = nullptr;
  DeviceBuffer kv_pool_;
  cuda::KvLayout kv_layout_;
  std::unordered_map<const LoraWeights*, DeviceAdapter> adapters_;

  BatchPlan plan_;
  StepLayout at_;
  std::vector<int32_t> host_ints_, seq_table_offset_;
  std::vector<float> host_floats_;
  std::vector<const float*> host_ptrs_;
  DeviceBuffer step_ints_, step_floats_, step_ptrs_;
  cuda::LoraItems lora_items_;
  std::array<DeviceBuffer, 9> bufs_{};  // indexed by Buf
  DeviceBuffer half_x_, lora_t_, last_norm_, logits_dev_;
  Buf half_src_ = Buf::X;  // the buffer half_x_ holds an fp16 copy of, while half_valid_
  bool half_valid_ = false;
  DeviceBuffer cublas_workspace_;
  bool graphs_enabled_ = false;
  cudaGraphExec_t graph_exec_ = nullptr;
  GraphKey graph_key_;
};

}  // namespace

std::string cuda_device_name() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess || n == 0) {
    cudaGetLastError();
    fail_argument(std::string("no usable CUDA device: ") + (e != cudaSuccess ? cudaGetErrorString(e) : "none found"));
  }
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, 0), "reading device properties");
  return prop.name;
}

std::unique_ptr<ForwardPass> make_cuda_forward(const Model& model, KvCache& kv) { return std::make_unique<CudaForward>(model, kv); }

}  // namespace ol

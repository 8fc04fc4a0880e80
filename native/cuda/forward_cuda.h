// The CUDA backend's entry points (built only when nvcc is found; OL_HAVE_CUDA is then defined).
#pragma once

#include <memory>
#include <string>

#include "runtime/forward.h"

namespace ol {

// Name of CUDA device 0; throws ol::Error(INVALID_ARGUMENT) naming the reason when none is usable.
std::string cuda_device_name();
// A forward pass on CUDA device 0: uploads the model's weights (fp32 models stay fp32, others become
// fp16), keeps its own paged KV pool with kv's geometry (kv itself only allocates block ids).
std::unique_ptr<ForwardPass> make_cuda_forward(const Model& model, KvCache& kv);

}  // namespace ol

// Memory that kernels stream front to back on every step (packed weights, resident q8 adapters):
// one allocation, 64-byte aligned, and from 2 MB on 2 MB-aligned and advised into transparent huge
// pages, because 4 KB pages cost a TLB miss and a restart of the hardware prefetchers every 4 KB.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

namespace ol {

struct FreeBytes {
  void operator()(uint8_t* p) const { std::free(p); }
};
using StreamBuffer = std::unique_ptr<uint8_t, FreeBytes>;

// Throws ol::Error(OUT_OF_MEMORY) naming `what`.
StreamBuffer allocate_stream_buffer(size_t bytes, const char* what);

}  // namespace ol

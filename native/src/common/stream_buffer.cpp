#include "common/stream_buffer.h"

#include <sys/mman.h>

#include <algorithm>
#include <string>

#include "common/error.h"

namespace ol {

StreamBuffer allocate_stream_buffer(size_t bytes, const char* what) {
  constexpr size_t kHugePage = size_t{2} << 20, kLine = 64;
  const size_t align = bytes >= kHugePage ? kHugePage : kLine;
  const size_t total = (std::max<size_t>(bytes, 1) + align - 1) / align * align;
  auto* buffer = static_cast<uint8_t*>(std::aligned_alloc(align, total));
  if (buffer == nullptr) throw Error(OL_ERR_OUT_OF_MEMORY, std::string("out of memory ") + what);
  if (align == kHugePage) madvise(buffer, total, MADV_HUGEPAGE);  // advice only: without it, just slower
  return StreamBuffer(buffer);
}

}  // namespace ol

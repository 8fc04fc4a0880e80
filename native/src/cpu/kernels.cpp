#include "cpu/kernels.h"

#include <cstdlib>
#include <string>
#include <vector>

#include <sys/syscall.h>
#include <unistd.h>

namespace ol {

namespace {
bool cpu_has_avx2() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"); }

bool cpu_has_avx512() {
  return cpu_has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
}

// AMX tiles need the CPU feature and the kernel's consent to save the 8 KB tile state per thread.
bool cpu_has_amx() {
  if (!cpu_has_avx512() || !__builtin_cpu_supports("amx-tile") || !__builtin_cpu_supports("amx-int8")) return false;
  constexpr int kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}

std::vector<const KernelSet*> detect() {
  std::vector<const KernelSet*> sets{&kernels_scalar()};
  if (cpu_has_avx2()) sets.push_back(kernels_avx2());
  if (cpu_has_avx512()) sets.push_back(kernels_avx512());
  if (cpu_has_amx()) sets.push_back(kernels_amx());
  return sets;
}
const std::vector<const KernelSet*>& usable() {
  static const std::vector<const KernelSet*> sets = detect();
  return sets;
}
}  // namespace

const KernelSet* const* available_kernel_sets(size_t* count) {
  *count = usable().size();
  return usable().data();
}

const KernelSet& kernels() {
  static const KernelSet* chosen = [] {
    const auto& sets = usable();
    const char* forced = std::getenv("OL_ISA");
    if (forced != nullptr)
      for (const KernelSet* s : sets)
        if (s->isa == forced) return s;
    return sets.back();
  }();
  return *chosen;
}

}  // namespace ol

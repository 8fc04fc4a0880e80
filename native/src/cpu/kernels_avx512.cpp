// AVX-512 (F, BW, VL, VNNI) kernel set: the x86 kernels with VNNI dot products (compiled with
// -mavx512f -mavx512bw -mavx512vl -mavx512vnni plus the AVX2 flags; see kernels_x86.inc).
#define OL_KERNEL_NAME kernels_avx512
#define OL_KERNEL_ISA "avx512"
#define OL_VNNI 1
#define OL_AVX512 1
#define OL_AMX 0
#include "cpu/kernels_x86.inc"

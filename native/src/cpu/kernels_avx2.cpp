// AVX2 + FMA + F16C kernel set (compiled with -mavx2 -mfma -mf16c; see kernels_x86.inc).
#define OL_KERNEL_NAME kernels_avx2
#define OL_KERNEL_ISA "avx2"
#define OL_VNNI 0
#define OL_AVX512 0
#define OL_AMX 0
#include "cpu/kernels_x86.inc"

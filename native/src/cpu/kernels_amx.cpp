// AMX kernel set: the AVX-512 kernels plus AMX int8 tiles for packed matmuls of 48 or more rows
// (compiled with the AVX-512 flags and -mamx-tile -mamx-int8; see kernels_x86.inc, packed_amx.inc).
#define OL_KERNEL_NAME kernels_amx
#define OL_KERNEL_ISA "amx"
#define OL_VNNI 1
#define OL_AVX512 1
#define OL_AMX 1
#include "cpu/kernels_x86.inc"

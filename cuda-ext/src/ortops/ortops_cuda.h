/* CUDA EP kernels of libtessera_ortops (ortops_cuda.cu; built only with nvcc). Device pointers, except
 * cu_host (validated cu_seqlens on the host). Return NULL or a static error string. */
#ifndef TSR_ORTOPS_CUDA_H
#define TSR_ORTOPS_CUDA_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif
const char* tsr_ortops_cuda_attention(void* stream, float* out, const float* qkv, const int64_t* cu_host, int B, int T,
                                      int NH, int D, const float* slopes_host, float scale);
const char* tsr_ortops_cuda_mean_pool(void* stream, float* out, const float* h, const int64_t* cu_host, int B, int H);
#ifdef __cplusplus
}
#endif
#endif

/* Internals of the CUDA backend shared with dist.cu. */
#ifndef TSR_CUDA_BACKEND_CUH
#define TSR_CUDA_BACKEND_CUH

#include "common.cuh"

/* The model's stream and device gradient block (for the NCCL all-reduce). */
int tsr_cuda_model_handles(tsr_model* m, cudaStream_t* stream, float** grads, int64_t* n);

#endif

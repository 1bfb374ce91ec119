/*
 * tessera_dist.h — multi-GPU data parallelism for TSR_BACKEND_CUDA models (one process per GPU).
 *
 * Ranks come from the standard environment: RANK, WORLD_SIZE, LOCAL_RANK (GPU index on this host;
 * default RANK % device count), MASTER_ADDR, MASTER_PORT. Rank 0 creates the NCCL unique id and
 * sends it to every other rank over TCP (rank 0 listens on MASTER_ADDR:MASTER_PORT).
 * NCCL is loaded at run time (dlopen "libnccl.so.2", or $TSR_NCCL): nothing is needed to build, and
 * a single-process run (WORLD_SIZE unset or 1) never touches it.
 *
 * Call tsr_dist_init() BEFORE creating the model: it selects the rank's GPU.
 * After tsr_backward of the last micro-batch, tsr_dist_allreduce_grads() replaces the gradient
 * block by its mean over the ranks (bucketed NCCL all-reduces on the model's stream, asynchronous),
 * then tsr_clip_grad_norm / tsr_adamw_step proceed as on one GPU — every rank stays identical.
 */
#ifndef TESSERA_DIST_H
#define TESSERA_DIST_H

#include "tessera.h"

#ifdef __cplusplus
extern "C" {
#endif

/* TSR_OK; TSR_ERR_NO_BACKEND if built without CUDA, NCCL missing, or no GPU; TSR_ERR_INVALID_ARG for
 * a bad environment; TSR_ERR_DEVICE for NCCL / socket failures (timeout 120 s). Idempotent. */
TSR_API int tsr_dist_init(void);
TSR_API int tsr_dist_rank(void);        /* 0 before init */
TSR_API int tsr_dist_world_size(void);  /* 1 before init */
/* Mean of the gradient block over all ranks (no-op when world size is 1). bucket_floats <= 0: 32 Mi. */
TSR_API int tsr_dist_allreduce_grads(tsr_model* model, int64_t bucket_floats);
TSR_API int tsr_dist_finalize(void);

/* Diagnostics: which engine runs the CUDA backend's matrix products, e.g. "cublasLt 130000" or
 * "wmma fallback (libcublasLt.so.13/.12 not found; ...)". Loads cuBLASLt if not yet done. */
TSR_API const char* tsr_cuda_gemm_engine(void);
/* GEMM fallbacks so far: returns the number of calls that ran the wmma kernel although cuBLASLt was
 * loaded (its plan for the shape could not be built or its cublasLtMatmul failed; forced fallbacks
 * are not counted). Optional outputs: shapes whose plan failed, cublasLtMatmul calls that failed, and
 * a description of the last failure ("" if none; valid until the next failure). 0 without CUDA. */
TSR_API long long tsr_cuda_gemm_fallbacks(long long* failed_plans, long long* failed_matmuls, const char** last);

#ifdef __cplusplus
}
#endif
#endif /* TESSERA_DIST_H */

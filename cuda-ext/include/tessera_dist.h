/*
 * tessera_dist.h — data-parallel training, one process per rank, the same API on the CPU and on CUDA.
 *
 * Ranks come from the environment, as torchrun and a Kubernetes Indexed Job set it:
 *   WORLD_SIZE (unset or 1: a single process, nothing is opened), RANK (else JOB_COMPLETION_INDEX),
 *   MASTER_ADDR, MASTER_PORT (rank 0's address; rank 0 listens on MASTER_PORT on every interface),
 *   LOCAL_RANK (CUDA: the GPU of this rank on its host; default RANK % device count),
 *   GLOO_SOCKET_IFNAME (optional: the network interface the collectives use; default: the one that
 *   reaches MASTER_ADDR).
 *
 * Rendezvous (src/dist/store.c): rank 0 runs a small TCP key-value store on MASTER_PORT; every other
 * rank connects to it (retrying until the connect timeout) and says hello with its rank, world size
 * and the caller's fingerprint (e.g. recipe and vocabulary hashes). Rank 0 refuses a rank whose world
 * size or fingerprint differs from its own (TSR_ERR_INVALID_ARG on both sides, naming the rank and
 * both values) before any collective runs. The store then carries the addresses the collective
 * library exchanges (and, on CUDA, the NCCL id).
 *
 * Collectives: on the CPU Gloo (Debian's libgloo, the library PyTorch DDP uses on CPUs) through the
 * shim libtessera_gloo.so, built next to libtessera.so when CMake finds Gloo and loaded only when
 * WORLD_SIZE > 1 (so libtessera itself never needs libgloo). On CUDA, NCCL (dlopen "libnccl.so.2" or
 * $TSR_NCCL) reduces the device blocks; small host values (losses, flags, barriers) go through Gloo on
 * both backends.
 *
 * TSR_DIST_FORCE=1 with WORLD_SIZE=1 runs the whole path (rendezvous, Gloo, NCCL) for one rank: a smoke
 * test of the collectives on a machine with one GPU (bench/gpu/run.sh).
 *
 * Failures return TSR_ERR_DIST with a message that names the peer: a rank that died ("rank 1 (host
 * 10.0.0.2) has left"), a peer that cannot be reached within the timeout, rank 0 gone. Each collective
 * gives up after timeout_ms; a dead peer is usually seen at once (its connections close).
 *
 * Typical use: tsr_dist_init (before creating a CUDA model: it selects the GPU); create the model;
 * rank 0 loads or initialises it, tsr_dist_broadcast(model, PARAMS / ADAM_M / ADAM_V); per step
 * backward of this rank's micro-batches, tsr_dist_allreduce_grads (mean over the ranks), then
 * tsr_clip_grad_norm / tsr_adamw_step as on one process — every rank stays identical.
 */
#ifndef TESSERA_DIST_H
#define TESSERA_DIST_H

#include "tessera.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Joins the job described by the environment. backend: TSR_BACKEND_CPU or TSR_BACKEND_CUDA.
 * fingerprint: compared with rank 0's at rendezvous (NULL = ""; at most 1000 bytes).
 * connect_timeout_ms: how long rank 0 waits for all ranks, and the others for rank 0 (<= 0: 300 s).
 * timeout_ms: each later collective (<= 0: 300 s). gloo_library: path of libtessera_gloo.so (NULL:
 * the one beside libtessera.so). With WORLD_SIZE unset or 1 nothing is opened and TSR_OK returned.
 * TSR_ERR_INVALID_ARG: bad environment or a refused rendezvous; TSR_ERR_NO_BACKEND: built without
 * Gloo / NCCL or CUDA missing; TSR_ERR_DIST: network failures. Calling it again after success is a no-op.
 */
TSR_API int tsr_dist_init(int backend, const char* fingerprint, int connect_timeout_ms, int timeout_ms,
                          const char* gloo_library);
TSR_API int tsr_dist_rank(void);        /* 0 before init */
TSR_API int tsr_dist_world_size(void);  /* 1 before init */
/* Mean of the gradient block over all ranks, in buckets of bucket_floats (<= 0: 8 Mi floats). */
TSR_API int tsr_dist_allreduce_grads(tsr_model* model, int64_t bucket_floats);
/* Copies block `which` (TSR_BUF_*) of rank 0's model into every rank's model. */
TSR_API int tsr_dist_broadcast(tsr_model* model, int which);
/* Element-wise sum over the ranks of n host doubles, in place (losses, counts, stop flags). */
TSR_API int tsr_dist_allreduce_f64(double* values, int n);
/* Rank 0's n host doubles into every rank's values (exact for integers below 2^53). */
TSR_API int tsr_dist_broadcast_f64(double* values, int n);
/* Waits for every rank; timeout_ms <= 0: the init timeout. For phases where rank 0 alone works. */
TSR_API int tsr_dist_barrier(int timeout_ms);
/* Closes the connections (rank 0: the store too). Safe to call when not initialised. */
TSR_API int tsr_dist_finalize(void);
/* Whether this library can run more than one rank on the backend (TSR_OK) or why not. */
TSR_API int tsr_dist_available(int backend, const char* gloo_library);

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

/*
 * Internals of tessera_dist.h: the rendezvous store (store.c), the C ABI of the Gloo shim
 * (gloo_shim.cpp -> libtessera_gloo.so, loaded with dlopen) and the NCCL hooks of the CUDA backend
 * (src/cuda/dist.cu; absent without CUDA).
 */
#ifndef TSR_DIST_INTERNAL_H
#define TSR_DIST_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "../common/model.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DIST_TRY(expr)                 \
    do {                               \
        int st_ = (expr);              \
        if (st_ != TSR_OK) return st_; \
    } while (0)

/* ---- store.c: rank 0's TCP key-value store and every rank's client ---- */
typedef struct tsr_store tsr_store;

/* Rank 0: listen on port, wait until world-1 ranks said hello with the same world size and
 * fingerprint (refusing others) or connect_timeout_ms passes. Others: connect (retrying) and say hello.
 * Errors are set with tsr_set_error. */
int tsr_store_open(int rank, int world, const char* addr, const char* port, const char* fingerprint,
                   int connect_timeout_ms, tsr_store** out);
int tsr_store_set(tsr_store* s, const char* key, const void* value, size_t n);
/* Waits (polling) until key exists or timeout_ms passes; *value is malloc'ed. */
int tsr_store_get(tsr_store* s, const char* key, void** value, size_t* n, int timeout_ms);
/* The local address of this rank on the route to rank 0 (for the collective library to bind). */
const char* tsr_store_local_addr(const tsr_store* s);
/* After a failed collective: a sentence naming the ranks that left (rank 0 knows from its connections;
 * others ask rank 0, or report it unreachable). */
void tsr_store_describe_peers(tsr_store* s, char* out, size_t n);
void tsr_store_close(tsr_store* s);

/* ---- libtessera_gloo.so (C ABI; every function returns 0 or -1 with a message in err) ---- */
typedef struct tsr_store_ops {
    void* ctx;
    int (*set)(void* ctx, const char* key, const void* value, size_t n);
    int (*get)(void* ctx, const char* key, void** value, size_t* n, int timeout_ms); /* malloc'ed */
} tsr_store_ops;

#define TSR_GLOO_ABI 1
typedef struct tsr_gloo_api {
    int abi;
    void* (*connect)(int rank, int world, const char* bind_addr, const char* iface, int timeout_ms,
                     const tsr_store_ops* store, char* err, size_t errlen);
    int (*allreduce_f32)(void* h, float* p, size_t n, int timeout_ms, char* err, size_t errlen);
    int (*allreduce_f64)(void* h, double* p, size_t n, int timeout_ms, char* err, size_t errlen);
    int (*broadcast)(void* h, void* p, size_t bytes, int root, int timeout_ms, char* err, size_t errlen);
    int (*barrier)(void* h, int timeout_ms, char* err, size_t errlen);
    void (*destroy)(void* h);
} tsr_gloo_api;
/* The shim's one exported symbol. */
typedef const tsr_gloo_api* (*tsr_gloo_api_fn)(void);

/* ---- NCCL hooks (src/cuda/dist.cu) ---- */
#ifdef TSR_HAVE_CUDA
int tsr_nccl_select_device(int rank, int* local_rank);
int tsr_nccl_unique_id(void* id128);
int tsr_nccl_comm_init(const void* id128, int world, int rank);
int tsr_nccl_allreduce_mean(tsr_model* m, int64_t bucket, int world);
int tsr_nccl_broadcast(tsr_model* m, int which);
void tsr_nccl_destroy(void);
#endif

#ifdef __cplusplus
}
#endif
#endif /* TSR_DIST_INTERNAL_H */

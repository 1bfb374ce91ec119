/*
 * NCCL for the CUDA backend's data parallelism (include/tessera_dist.h): loaded with dlopen, driven by
 * src/dist/dist.c (which does the rendezvous and sends the NCCL id through Gloo). Device blocks only:
 * the gradient all-reduce (bucketed, on the model's stream) and the parameter broadcast.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mutex>

#include "../../include/tessera_dist.h"
#include "../dist/dist_internal.h"
#include "backend.cuh"
#include "kernels.cuh"

namespace {

/* NCCL ABI subset (nccl.h): these values are stable since NCCL 2.0. */
struct nccl_id { char internal[128]; };
typedef void* nccl_comm;
enum { NCCL_SUCCESS = 0, NCCL_FLOAT32 = 7, NCCL_SUM = 0 };
struct nccl_api {
    int (*get_unique_id)(nccl_id*);
    int (*comm_init_rank)(nccl_comm*, int, nccl_id, int);
    int (*all_reduce)(const void*, void*, size_t, int, int, nccl_comm, cudaStream_t);
    int (*broadcast)(const void*, void*, size_t, int, int, nccl_comm, cudaStream_t);
    int (*group_start)(void);
    int (*group_end)(void);
    int (*comm_destroy)(nccl_comm);
    const char* (*error_string)(int);
};

struct dist_state {
    std::mutex mu;
    bool inited = false;
    int rank = 0, world = 1;
    void* lib = nullptr;
    nccl_api f{};
    nccl_comm comm = nullptr;
} g;

int nccl_err(int r, const char* what) {
    return tsr_set_error(TSR_ERR_DEVICE, "NCCL %s failed: %s (%d)", what, g.f.error_string ? g.f.error_string(r) : "?", r);
}

int load_nccl() {
    const char* cands[] = {getenv("TSR_NCCL"), "libnccl.so.2", "libnccl.so"};
    for (const char* c : cands)
        if (c && *c && (g.lib = dlopen(c, RTLD_NOW | RTLD_LOCAL))) break;
    if (!g.lib) return tsr_set_error(TSR_ERR_NO_BACKEND, "tsr_dist_init: libnccl.so.2 not found (install NCCL, or set TSR_NCCL / LD_LIBRARY_PATH)");
#define SYM(field, name)                                                                        \
    if (!(*(void**)&g.f.field = dlsym(g.lib, name)))                                           \
        return tsr_set_error(TSR_ERR_NO_BACKEND, "tsr_dist_init: NCCL lacks symbol %s", name);
    SYM(get_unique_id, "ncclGetUniqueId");
    SYM(comm_init_rank, "ncclCommInitRank");
    SYM(all_reduce, "ncclAllReduce");
    SYM(broadcast, "ncclBroadcast");
    SYM(group_start, "ncclGroupStart");
    SYM(group_end, "ncclGroupEnd");
    SYM(comm_destroy, "ncclCommDestroy");
    SYM(error_string, "ncclGetErrorString");
#undef SYM
    return TSR_OK;
}

} // namespace

extern "C" {

int tsr_nccl_select_device(int rank, int* local_out) {
    int ndev = 0;
    cudaError_t e = cudaGetDeviceCount(&ndev);
    if (e != cudaSuccess || ndev == 0) {
        cudaGetLastError();
        return tsr_set_error(TSR_ERR_NO_BACKEND, "tsr_dist_init: no CUDA device (%s)", cudaGetErrorName(e));
    }
    int local = rank % ndev;
    const char* v = getenv("LOCAL_RANK");
    if (v && *v) {
        char* end;
        long x = strtol(v, &end, 10);
        if (*end || x < 0) return tsr_set_error(TSR_ERR_INVALID_ARG, "tsr_dist_init: LOCAL_RANK='%s' is not a valid integer", v);
        local = (int)x;
    }
    if (local >= ndev) return tsr_set_error(TSR_ERR_INVALID_ARG, "tsr_dist_init: LOCAL_RANK=%d but only %d GPUs", local, ndev);
    CU_TRY(cudaSetDevice(local));
    *local_out = local;
    return TSR_OK;
}

int tsr_nccl_unique_id(void* id128) {
    std::lock_guard<std::mutex> lock(g.mu);
    if (!g.lib) TSR_TRY(load_nccl());
    int r = g.f.get_unique_id(static_cast<nccl_id*>(id128));
    return r == NCCL_SUCCESS ? TSR_OK : nccl_err(r, "ncclGetUniqueId");
}

int tsr_nccl_comm_init(const void* id128, int world, int rank) {
    std::lock_guard<std::mutex> lock(g.mu);
    if (!g.lib) TSR_TRY(load_nccl());
    nccl_id id;
    memcpy(&id, id128, sizeof id);
    int r = g.f.comm_init_rank(&g.comm, world, id, rank);
    if (r != NCCL_SUCCESS) return nccl_err(r, "ncclCommInitRank");
    g.rank = rank;
    g.world = world;
    g.inited = true;
    return TSR_OK;
}

int tsr_nccl_allreduce_mean(tsr_model* m, int64_t bucket, int world) {
    if (!g.inited) return tsr_set_error(TSR_ERR_STATE, "NCCL is not initialised");
    cudaStream_t st;
    float* grads;
    int64_t n;
    TSR_TRY(tsr_cuda_model_handles(m, &st, &grads, &n));
    int r = g.f.group_start();
    if (r != NCCL_SUCCESS) return nccl_err(r, "ncclGroupStart");
    for (int64_t off = 0; off < n; off += bucket) {
        size_t cnt = (size_t)(n - off < bucket ? n - off : bucket);
        r = g.f.all_reduce(grads + off, grads + off, cnt, NCCL_FLOAT32, NCCL_SUM, g.comm, st);
        if (r != NCCL_SUCCESS) {
            g.f.group_end();
            return nccl_err(r, "ncclAllReduce");
        }
    }
    r = g.f.group_end();
    if (r != NCCL_SUCCESS) return nccl_err(r, "ncclGroupEnd");
    return k_scale(st, grads, 1.0f / (float)world, n);
}

int tsr_nccl_broadcast(tsr_model* m, int which) {
    if (!g.inited) return tsr_set_error(TSR_ERR_STATE, "NCCL is not initialised");
    cudaStream_t st;
    float* grads;
    int64_t n;
    TSR_TRY(tsr_cuda_model_handles(m, &st, &grads, &n));
    float* p;
    TSR_TRY(m->ops->buffer_ptr(m, which, &p));
    int r = g.f.broadcast(p, p, (size_t)n, NCCL_FLOAT32, 0, g.comm, st);
    if (r != NCCL_SUCCESS) return nccl_err(r, "ncclBroadcast");
    CU_TRY(cudaStreamSynchronize(st));
    if (which == TSR_BUF_PARAMS) m->can_backward = 0;
    return TSR_OK;
}

void tsr_nccl_destroy(void) {
    std::lock_guard<std::mutex> lock(g.mu);
    if (g.comm) g.f.comm_destroy(g.comm);
    g.comm = nullptr;
    g.inited = false;
    g.rank = 0;
    g.world = 1;
}

const char* tsr_cuda_gemm_engine(void) { return tsr_gemm_engine(); }
long long tsr_cuda_gemm_fallbacks(long long* failed_plans, long long* failed_matmuls, const char** last) {
    long long calls = 0;
    tsr_gemm_fallback_stats(failed_plans, failed_matmuls, &calls, last);
    return calls;
}

} // extern "C"

/*
 * Data-parallel training across GPUs: NCCL loaded with dlopen, ranks from the environment, the
 * NCCL unique id sent by rank 0 over a plain TCP socket. See include/tessera_dist.h.
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

int env_int(const char* name, int dflt, int* out) {
    const char* v = getenv(name);
    if (!v || !*v) {
        *out = dflt;
        return TSR_OK;
    }
    char* end;
    long x = strtol(v, &end, 10);
    if (*end || x < 0 || x > 1 << 20) return tsr_set_error(TSR_ERR_INVALID_ARG, "tsr_dist_init: %s='%s' is not a valid integer", name, v);
    *out = (int)x;
    return TSR_OK;
}

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
    SYM(group_start, "ncclGroupStart");
    SYM(group_end, "ncclGroupEnd");
    SYM(comm_destroy, "ncclCommDestroy");
    SYM(error_string, "ncclGetErrorString");
#undef SYM
    return TSR_OK;
}

int write_all(int fd, const void* buf, size_t n) {
    const char* p = static_cast<const char*>(buf);
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}
int read_all(int fd, void* buf, size_t n) {
    char* p = static_cast<char*>(buf);
    while (n > 0) {
        ssize_t r = recv(fd, p, n, 0);
        if (r <= 0) return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* rank 0: serve the id to world-1 peers; others: fetch it (retrying for up to 120 s). */
int exchange_id(nccl_id* id, const char* addr, const char* port) {
    struct addrinfo hints, *res = nullptr;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (g.rank == 0) hints.ai_flags = AI_PASSIVE;
    int gai = getaddrinfo(g.rank == 0 ? nullptr : addr, port, &hints, &res);
    if (gai != 0) return tsr_set_error(TSR_ERR_INVALID_ARG, "tsr_dist_init: cannot resolve %s:%s: %s", addr, port, gai_strerror(gai));
    int status = TSR_OK;
    if (g.rank == 0) {
        int fd = socket(res->ai_family, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 64) != 0) {
            status = tsr_set_error(TSR_ERR_DEVICE, "tsr_dist_init: rank 0 cannot listen on port %s: %s", port, strerror(errno));
        } else {
            for (int peer = 1; peer < g.world && status == TSR_OK; peer++) {
                int c = accept(fd, nullptr, nullptr);
                if (c < 0 || write_all(c, id, sizeof *id) != 0)
                    status = tsr_set_error(TSR_ERR_DEVICE, "tsr_dist_init: sending the NCCL id failed: %s", strerror(errno));
                if (c >= 0) close(c);
            }
        }
        if (fd >= 0) close(fd);
    } else {
        time_t deadline = time(nullptr) + 120;
        for (;;) {
            int fd = socket(res->ai_family, SOCK_STREAM, 0);
            if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) == 0) {
                int r = read_all(fd, id, sizeof *id);
                close(fd);
                if (r != 0) status = tsr_set_error(TSR_ERR_DEVICE, "tsr_dist_init: rank %d: connection closed before the NCCL id arrived", g.rank);
                break;
            }
            if (fd >= 0) close(fd);
            if (time(nullptr) > deadline) {
                status = tsr_set_error(TSR_ERR_DEVICE, "tsr_dist_init: rank %d could not reach %s:%s within 120 s", g.rank, addr, port);
                break;
            }
            usleep(200 * 1000);
        }
    }
    freeaddrinfo(res);
    return status;
}

} // namespace

extern "C" {

int tsr_dist_init(void) {
    std::lock_guard<std::mutex> lock(g.mu);
    if (g.inited) return TSR_OK;
    int rank = 0, world = 1, local = 0;
    TSR_TRY(env_int("RANK", 0, &rank));
    TSR_TRY(env_int("WORLD_SIZE", 1, &world));
    if (world < 1 || rank >= world)
        return tsr_set_error(TSR_ERR_INVALID_ARG, "tsr_dist_init: RANK=%d must be < WORLD_SIZE=%d", rank, world);
    int ndev = 0;
    cudaError_t e = cudaGetDeviceCount(&ndev);
    if (e != cudaSuccess || ndev == 0) {
        cudaGetLastError();
        return tsr_set_error(TSR_ERR_NO_BACKEND, "tsr_dist_init: no CUDA device (%s)", cudaGetErrorName(e));
    }
    TSR_TRY(env_int("LOCAL_RANK", rank % ndev, &local));
    if (local >= ndev) return tsr_set_error(TSR_ERR_INVALID_ARG, "tsr_dist_init: LOCAL_RANK=%d but only %d GPUs", local, ndev);
    CU_TRY(cudaSetDevice(local));
    g.rank = rank;
    g.world = world;
    if (world > 1) {
        const char* addr = getenv("MASTER_ADDR");
        const char* port = getenv("MASTER_PORT");
        if (!addr || !*addr || !port || !*port)
            return tsr_set_error(TSR_ERR_INVALID_ARG, "tsr_dist_init: WORLD_SIZE=%d needs MASTER_ADDR and MASTER_PORT", world);
        TSR_TRY(load_nccl());
        nccl_id id;
        memset(&id, 0, sizeof id);
        if (rank == 0) {
            int r = g.f.get_unique_id(&id);
            if (r != NCCL_SUCCESS) return nccl_err(r, "ncclGetUniqueId");
        }
        TSR_TRY(exchange_id(&id, addr, port));
        int r = g.f.comm_init_rank(&g.comm, world, id, rank);
        if (r != NCCL_SUCCESS) return nccl_err(r, "ncclCommInitRank");
    }
    g.inited = true;
    return TSR_OK;
}

int tsr_dist_rank(void) { return g.rank; }
int tsr_dist_world_size(void) { return g.world; }

int tsr_dist_allreduce_grads(tsr_model* m, int64_t bucket) {
    if (!g.inited || g.world == 1) return TSR_OK;
    cudaStream_t st;
    float* grads;
    int64_t n;
    TSR_TRY(tsr_cuda_model_handles(m, &st, &grads, &n));
    if (bucket <= 0) bucket = (int64_t)32 << 20;
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
    return k_scale(st, grads, 1.0f / (float)g.world, n);
}

int tsr_dist_finalize(void) {
    std::lock_guard<std::mutex> lock(g.mu);
    if (g.comm) g.f.comm_destroy(g.comm);
    g.comm = nullptr;
    g.inited = false;
    g.rank = 0;
    g.world = 1;
    return TSR_OK;
}

const char* tsr_cuda_gemm_engine(void) { return tsr_gemm_engine(); }
long long tsr_cuda_gemm_fallbacks(long long* failed_plans, long long* failed_matmuls, const char** last) {
    long long calls = 0;
    tsr_gemm_fallback_stats(failed_plans, failed_matmuls, &calls, last);
    return calls;
}

} // extern "C"

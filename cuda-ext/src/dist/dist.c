/*
 * tessera_dist.h: ranks from the environment, rendezvous through store.c, collectives on the CPU through
 * the Gloo shim (dlopen'ed libtessera_gloo.so) and on CUDA through NCCL (src/cuda/dist.cu; host values
 * still through Gloo). One process-wide state; the calls are made from the training thread.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../include/tessera_dist.h"
#include "dist_internal.h"

#define DEFAULT_TIMEOUT_MS 300000
#define DEFAULT_BUCKET ((int64_t)8 << 20)

static struct {
    pthread_mutex_t mu;
    int inited;
    int rank, world, backend;
    int timeout_ms;
    tsr_store* store;
    void* gloo_lib;
    const tsr_gloo_api* gloo;
    void* comm;
    int nccl;
    int force; /* TSR_DIST_FORCE=1: a world of one still runs the whole path (GPU smoke test) */
} g = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 1, 0, DEFAULT_TIMEOUT_MS, NULL, NULL, NULL, NULL, 0, 0};

static int env_int(const char* name, int* out, int* present) {
    const char* v = getenv(name);
    *present = v && *v;
    if (!*present) return TSR_OK;
    char* end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (*end || errno || x < 0 || x > (1 << 20))
        return tsr_set_error(TSR_ERR_INVALID_ARG, "tsr_dist_init: %s='%s' is not a valid non-negative integer", name, v);
    *out = (int)x;
    return TSR_OK;
}

/* RANK, else JOB_COMPLETION_INDEX (a Kubernetes Indexed Job); WORLD_SIZE (default 1). */
static int read_env(int* rank, int* world) {
    int have;
    *world = 1;
    DIST_TRY(env_int("WORLD_SIZE", world, &have));
    if (*world < 1) return tsr_set_error(TSR_ERR_INVALID_ARG, "tsr_dist_init: WORLD_SIZE must be at least 1");
    *rank = 0;
    DIST_TRY(env_int("RANK", rank, &have));
    if (!have) DIST_TRY(env_int("JOB_COMPLETION_INDEX", rank, &have));
    if (!have && *world > 1)
        return tsr_set_error(TSR_ERR_INVALID_ARG, "tsr_dist_init: WORLD_SIZE=%d but neither RANK nor JOB_COMPLETION_INDEX is set", *world);
    if (*rank >= *world) return tsr_set_error(TSR_ERR_INVALID_ARG, "tsr_dist_init: RANK=%d must be below WORLD_SIZE=%d", *rank, *world);
    return TSR_OK;
}

/* The shim beside this library (dladdr of one of our symbols), or the given path. */
static int load_gloo(const char* path) {
    if (g.gloo) return TSR_OK;
    char buf[PATH_MAX];
    if (!path || !*path) {
        Dl_info info;
        if (!dladdr((void*)&tsr_dist_init, &info) || !info.dli_fname)
            return tsr_set_error(TSR_ERR_NO_BACKEND, "tsr_dist_init: cannot locate libtessera to find libtessera_gloo.so");
        snprintf(buf, sizeof buf, "%s", info.dli_fname);
        char* slash = strrchr(buf, '/');
        if (slash) snprintf(slash + 1, sizeof buf - (size_t)(slash + 1 - buf), "libtessera_gloo.so");
        else snprintf(buf, sizeof buf, "libtessera_gloo.so");
        path = buf;
    }
    g.gloo_lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!g.gloo_lib) {
        const char* why = dlerror();
        return tsr_set_error(TSR_ERR_NO_BACKEND,
                             "multi-process training needs the Gloo collectives, which are not usable here: %s "
                             "(libtessera_gloo.so is built when CMake finds Debian's libgloo-dev; at run time it needs libgloo0)",
                             why ? why : path);
    }
    tsr_gloo_api_fn fn = (tsr_gloo_api_fn)dlsym(g.gloo_lib, "tsr_gloo_api_v1");
    const tsr_gloo_api* api = fn ? fn() : NULL;
    if (!api || api->abi != TSR_GLOO_ABI) {
        dlclose(g.gloo_lib);
        g.gloo_lib = NULL;
        return tsr_set_error(TSR_ERR_NO_BACKEND, "tsr_dist_init: %s is not a matching libtessera_gloo.so", path);
    }
    g.gloo = api;
    return TSR_OK;
}

static int st_set(void* ctx, const char* key, const void* v, size_t n) { return tsr_store_set((tsr_store*)ctx, key, v, n); }
static int st_get(void* ctx, const char* key, void** v, size_t* n, int t) { return tsr_store_get((tsr_store*)ctx, key, v, n, t); }

/* A collective failed with `err` from Gloo/NCCL: say which peer is at fault, as far as rank 0 knows. */
static int peer_failure(const char* what, const char* err) {
    char peers[1024] = "";
    if (g.store) tsr_store_describe_peers(g.store, peers, sizeof peers);
    return tsr_set_error(TSR_ERR_DIST, "rank %d of %d: %s failed: %s; %s", g.rank, g.world, what, peers[0] ? peers : "?", err);
}

static void teardown(void) {
    if (g.comm && g.gloo) g.gloo->destroy(g.comm);
    g.comm = NULL;
#ifdef TSR_HAVE_CUDA
    if (g.nccl) tsr_nccl_destroy();
#endif
    g.nccl = 0;
    if (g.store) tsr_store_close(g.store);
    g.store = NULL;
}

int tsr_dist_available(int backend, const char* gloo_library) {
    if (backend != TSR_BACKEND_CPU && backend != TSR_BACKEND_CUDA)
        return tsr_set_error(TSR_ERR_INVALID_ARG, "tsr_dist: unknown backend %d", backend);
#ifndef TSR_HAVE_CUDA
    if (backend == TSR_BACKEND_CUDA)
        return tsr_set_error(TSR_ERR_NO_BACKEND, "multi-GPU training needs the CUDA backend; this libtessera was built without CUDA");
#endif
    pthread_mutex_lock(&g.mu);
    int st = load_gloo(gloo_library);
    pthread_mutex_unlock(&g.mu);
    return st;
}

int tsr_dist_init(int backend, const char* fingerprint, int connect_timeout_ms, int timeout_ms, const char* gloo_library) {
    pthread_mutex_lock(&g.mu);
    int st = TSR_OK;
    if (g.inited) goto out;
    int rank = 0, world = 1;
    if ((st = read_env(&rank, &world)) != TSR_OK) goto out;
    if (backend != TSR_BACKEND_CPU && backend != TSR_BACKEND_CUDA) {
        st = tsr_set_error(TSR_ERR_INVALID_ARG, "tsr_dist_init: unknown backend %d", backend);
        goto out;
    }
    if (fingerprint && strlen(fingerprint) > 1000) {
        st = tsr_set_error(TSR_ERR_INVALID_ARG, "tsr_dist_init: fingerprint longer than 1000 bytes");
        goto out;
    }
    if (connect_timeout_ms <= 0) connect_timeout_ms = DEFAULT_TIMEOUT_MS;
    if (timeout_ms <= 0) timeout_ms = DEFAULT_TIMEOUT_MS;
#ifdef TSR_HAVE_CUDA
    int local = 0;
    if (backend == TSR_BACKEND_CUDA && (st = tsr_nccl_select_device(rank, &local)) != TSR_OK) goto out;
#else
    if (backend == TSR_BACKEND_CUDA && world > 1) {
        st = tsr_set_error(TSR_ERR_NO_BACKEND, "tsr_dist_init: WORLD_SIZE=%d on CUDA needs the CUDA backend; this libtessera was built without CUDA", world);
        goto out;
    }
#endif
    g.rank = rank;
    g.world = world;
    g.backend = backend;
    g.timeout_ms = timeout_ms;
    const char* force = getenv("TSR_DIST_FORCE");
    g.force = world == 1 && force && strcmp(force, "1") == 0;
    if (world > 1 || g.force) {
        const char* addr = getenv("MASTER_ADDR");
        const char* port = getenv("MASTER_PORT");
        if (!addr || !*addr || !port || !*port) {
            st = tsr_set_error(TSR_ERR_INVALID_ARG, "tsr_dist_init: WORLD_SIZE=%d needs MASTER_ADDR and MASTER_PORT (rank 0's address)", world);
            goto fail;
        }
        /* Gloo first, so a machine without it says so before anyone waits on the network */
        if ((st = load_gloo(gloo_library)) != TSR_OK) goto fail;
        if ((st = tsr_store_open(rank, world, addr, port, fingerprint, connect_timeout_ms, &g.store)) != TSR_OK) goto fail;
        char err[1024] = "";
        tsr_store_ops ops = {g.store, st_set, st_get};
        const char* iface = getenv("GLOO_SOCKET_IFNAME");
        g.comm = g.gloo->connect(rank, world, tsr_store_local_addr(g.store), iface, connect_timeout_ms, &ops, err, sizeof err);
        if (!g.comm) {
            st = peer_failure("connecting the collectives", err);
            goto fail;
        }
#ifdef TSR_HAVE_CUDA
        if (backend == TSR_BACKEND_CUDA) {
            char id[128];
            memset(id, 0, sizeof id);
            if (rank == 0 && (st = tsr_nccl_unique_id(id)) != TSR_OK) goto fail;
            if (g.gloo->broadcast(g.comm, id, sizeof id, 0, timeout_ms, err, sizeof err) != 0) {
                st = peer_failure("sending the NCCL id", err);
                goto fail;
            }
            if ((st = tsr_nccl_comm_init(id, world, rank)) != TSR_OK) goto fail;
            g.nccl = 1;
        }
#endif
    }
    g.inited = 1;
    goto out;
fail:;
    char keep[1024];
    snprintf(keep, sizeof keep, "%s", tsr_last_error());
    teardown();
    g.rank = 0;
    g.world = 1;
    tsr_set_error(st, "%s", keep);
out:
    pthread_mutex_unlock(&g.mu);
    return st;
}

int tsr_dist_rank(void) { return g.rank; }
int tsr_dist_world_size(void) { return g.world; }

static int single(void) { return !g.inited || (g.world == 1 && !g.force); }

int tsr_dist_allreduce_grads(tsr_model* m, int64_t bucket) {
    if (!m) return tsr_set_error(TSR_ERR_INVALID_ARG, "tsr_dist_allreduce_grads: model is NULL");
    if (single()) return TSR_OK;
    if (bucket <= 0) bucket = DEFAULT_BUCKET;
#ifdef TSR_HAVE_CUDA
    if (m->backend == TSR_BACKEND_CUDA) {
        if (!g.nccl) return tsr_set_error(TSR_ERR_STATE, "tsr_dist_allreduce_grads: a CUDA model but tsr_dist_init was for the CPU");
        return tsr_nccl_allreduce_mean(m, bucket, g.world);
    }
#endif
    if (m->backend != TSR_BACKEND_CPU) return tsr_set_error(TSR_ERR_STATE, "tsr_dist_allreduce_grads: unknown model backend");
    float* grads;
    DIST_TRY(m->ops->buffer_ptr(m, TSR_BUF_GRADS, &grads));
    char err[1024] = "";
    for (int64_t off = 0; off < m->num_params; off += bucket) {
        size_t n = (size_t)(m->num_params - off < bucket ? m->num_params - off : bucket);
        if (g.gloo->allreduce_f32(g.comm, grads + off, n, g.timeout_ms, err, sizeof err) != 0)
            return peer_failure("the gradient all-reduce", err);
    }
    return m->ops->scale_grads(m, 1.0f / (float)g.world);
}

int tsr_dist_broadcast(tsr_model* m, int which) {
    if (!m) return tsr_set_error(TSR_ERR_INVALID_ARG, "tsr_dist_broadcast: model is NULL");
    if (which < TSR_BUF_PARAMS || which > TSR_BUF_ADAM_V) return tsr_set_error(TSR_ERR_INVALID_ARG, "tsr_dist_broadcast: bad buffer %d", which);
    if (single()) return TSR_OK;
#ifdef TSR_HAVE_CUDA
    if (m->backend == TSR_BACKEND_CUDA) {
        if (!g.nccl) return tsr_set_error(TSR_ERR_STATE, "tsr_dist_broadcast: a CUDA model but tsr_dist_init was for the CPU");
        return tsr_nccl_broadcast(m, which);
    }
#endif
    float* p;
    DIST_TRY(m->ops->buffer_ptr(m, which, &p));
    char err[1024] = "";
    if (g.gloo->broadcast(g.comm, p, (size_t)m->num_params * sizeof(float), 0, g.timeout_ms, err, sizeof err) != 0)
        return peer_failure("the parameter broadcast", err);
    /* a parameter write invalidates a pending backward, as tsr_buffer_write does */
    if (which == TSR_BUF_PARAMS) m->can_backward = 0;
    return TSR_OK;
}

int tsr_dist_allreduce_f64(double* v, int n) {
    if (!v || n < 0) return tsr_set_error(TSR_ERR_INVALID_ARG, "tsr_dist_allreduce_f64: bad arguments");
    if (single() || n == 0) return TSR_OK;
    char err[1024] = "";
    if (g.gloo->allreduce_f64(g.comm, v, (size_t)n, g.timeout_ms, err, sizeof err) != 0) return peer_failure("an all-reduce", err);
    return TSR_OK;
}

int tsr_dist_broadcast_f64(double* v, int n) {
    if (!v || n < 0) return tsr_set_error(TSR_ERR_INVALID_ARG, "tsr_dist_broadcast_f64: bad arguments");
    if (single() || n == 0) return TSR_OK;
    char err[1024] = "";
    if (g.gloo->broadcast(g.comm, v, (size_t)n * sizeof(double), 0, g.timeout_ms, err, sizeof err) != 0)
        return peer_failure("a broadcast", err);
    return TSR_OK;
}

int tsr_dist_barrier(int timeout_ms) {
    if (single()) return TSR_OK;
    char err[1024] = "";
    if (g.gloo->barrier(g.comm, timeout_ms > 0 ? timeout_ms : g.timeout_ms, err, sizeof err) != 0)
        return peer_failure("a barrier", err);
    return TSR_OK;
}

int tsr_dist_finalize(void) {
    pthread_mutex_lock(&g.mu);
    teardown();
    g.inited = 0;
    g.rank = 0;
    g.world = 1;
    pthread_mutex_unlock(&g.mu);
    return TSR_OK;
}

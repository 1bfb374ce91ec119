/*
 * tessera_dist.h on the CPU (Gloo), ranks forked on localhost:
 *   1. 3 ranks: rank 0's parameters reach everyone; the gradient all-reduce is the mean (checked
 *      against the mean computed here from every rank's known gradients); f64 sum; barrier.
 *   2. a rank with another fingerprint is refused: both sides fail with a message naming it.
 *   3. a rank that dies: the survivor's next collective fails within the timeout, naming rank 1.
 *   4. a rank 0 that never comes: rank 1 gives up after the connect timeout, naming MASTER_ADDR.
 * Exit 77 (skipped) when libtessera_gloo.so was not built.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tessera_dist.h"

static int port_base;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void env(int rank, int world, int port) {
    char b[32];
    snprintf(b, sizeof b, "%d", rank);
    setenv("RANK", b, 1);
    snprintf(b, sizeof b, "%d", world);
    setenv("WORLD_SIZE", b, 1);
    snprintf(b, sizeof b, "%d", port);
    setenv("MASTER_PORT", b, 1);
    setenv("MASTER_ADDR", "127.0.0.1", 1);
}

static tsr_model* tiny(void) {
    tsr_config c = {0};
    c.variant = TSR_VARIANT_MOSAIC_BERT;
    c.head = TSR_HEAD_MLM;
    c.vocab_size = 64;
    c.hidden_size = 16;
    c.num_layers = 1;
    c.num_heads = 2;
    c.intermediate_size = 32;
    c.type_vocab_size = 2;
    c.max_position_embeddings = 0;
    c.layer_norm_eps = 1e-12f;
    c.max_tokens = 32;
    c.max_seqs = 4;
    tsr_model* m = NULL;
    if (tsr_model_create(&c, TSR_BACKEND_CPU, &m) != TSR_OK) {
        fprintf(stderr, "model: %s\n", tsr_last_error());
        exit(3);
    }
    return m;
}

#define FAIL(...) do { fprintf(stderr, "rank %d: ", rank); fprintf(stderr, __VA_ARGS__); fprintf(stderr, "\n"); _exit(1); } while (0)

/* 1. */
static void rank_main_ok(int rank, int world, int port) {
    env(rank, world, port);
    if (tsr_dist_init(TSR_BACKEND_CPU, "recipe=a vocab=b", 20000, 20000, NULL) != TSR_OK) FAIL("init: %s", tsr_last_error());
    if (tsr_dist_rank() != rank || tsr_dist_world_size() != world) FAIL("rank/world");
    tsr_model* m = tiny();
    int64_t n = tsr_num_params(m);
    if (rank == 0) tsr_init_params(m, 42, 0.02f);
    if (tsr_dist_broadcast(m, TSR_BUF_PARAMS) != TSR_OK) FAIL("broadcast: %s", tsr_last_error());
    tsr_model* ref = tiny();
    tsr_init_params(ref, 42, 0.02f);
    float* a = malloc(n * sizeof(float));
    float* b = malloc(n * sizeof(float));
    tsr_buffer_read(m, TSR_BUF_PARAMS, 0, n, a);
    tsr_buffer_read(ref, TSR_BUF_PARAMS, 0, n, b);
    if (memcmp(a, b, n * sizeof(float)) != 0) FAIL("parameters differ from rank 0's after the broadcast");
    /* gradient of rank r: g_i = (r + 1) * (i % 7 - 3) * 0.25 ; mean over r = (world + 1) / 2 * (...) */
    for (int64_t i = 0; i < n; i++) a[i] = (float)((rank + 1) * ((i % 7) - 3) * 0.25);
    tsr_buffer_write(m, TSR_BUF_GRADS, 0, n, a);
    if (tsr_dist_allreduce_grads(m, 1000) != TSR_OK) FAIL("allreduce: %s", tsr_last_error()); /* several buckets */
    tsr_buffer_read(m, TSR_BUF_GRADS, 0, n, a);
    for (int64_t i = 0; i < n; i++) {
        double want = (world + 1) / 2.0 * ((i % 7) - 3) * 0.25;
        if (a[i] != (float)want) FAIL("grad[%lld] = %g, want %g", (long long)i, a[i], want);
    }
    double v[2] = {rank, 1.0};
    if (tsr_dist_allreduce_f64(v, 2) != TSR_OK || v[0] != world * (world - 1) / 2.0 || v[1] != world) FAIL("f64 sum");
    double s[3] = {0, 0, 0};
    if (rank == 0) s[0] = 123456789012.0, s[1] = 7, s[2] = -1;
    if (tsr_dist_broadcast_f64(s, 3) != TSR_OK || s[0] != 123456789012.0 || s[2] != -1) FAIL("f64 broadcast");
    if (tsr_dist_barrier(0) != TSR_OK) FAIL("barrier: %s", tsr_last_error());
    tsr_dist_finalize();
    _exit(0);
}

/* 2. */
static void rank_main_mismatch(int rank, int port) {
    env(rank, 2, port);
    int st = tsr_dist_init(TSR_BACKEND_CPU, rank == 0 ? "recipe=aaaa" : "recipe=bbbb", 10000, 10000, NULL);
    if (st != TSR_ERR_INVALID_ARG) FAIL("mismatch: status %d (%s)", st, tsr_last_error());
    const char* e = tsr_last_error();
    if (!strstr(e, "rank 1") || !strstr(e, "recipe=aaaa") || !strstr(e, "recipe=bbbb")) FAIL("mismatch message: %s", e);
    fprintf(stderr, "  rank %d refused as expected: %s\n", rank, e);
    _exit(0);
}

/* 3. */
static void rank_main_dies(int rank, int port) {
    env(rank, 2, port);
    if (tsr_dist_init(TSR_BACKEND_CPU, "x", 10000, 8000, NULL) != TSR_OK) FAIL("init: %s", tsr_last_error());
    double v = 1;
    if (tsr_dist_allreduce_f64(&v, 1) != TSR_OK) FAIL("first all-reduce: %s", tsr_last_error());
    if (rank == 1) _exit(9); /* dies without a word */
    usleep(200 * 1000);
    double t0 = now();
    int st = tsr_dist_allreduce_f64(&v, 1);
    double dt = now() - t0;
    if (st != TSR_ERR_DIST) FAIL("dead peer: status %d", st);
    if (dt > 9) FAIL("dead peer noticed after %.1f s", dt);
    if (!strstr(tsr_last_error(), "rank 1")) FAIL("message does not name rank 1: %s", tsr_last_error());
    fprintf(stderr, "  rank 0 saw its peer die in %.2f s: %s\n", dt, tsr_last_error());
    _exit(0);
}

/* 4. */
static void rank_main_no_master(int port) {
    env(1, 2, port);
    double t0 = now();
    int st = tsr_dist_init(TSR_BACKEND_CPU, "x", 1500, 1500, NULL);
    double dt = now() - t0;
    int rank = 1;
    if (st != TSR_ERR_DIST || !strstr(tsr_last_error(), "MASTER_ADDR=127.0.0.1")) FAIL("no master: %d %s", st, tsr_last_error());
    if (dt > 5) FAIL("gave up only after %.1f s", dt);
    fprintf(stderr, "  rank 1 without rank 0: %s\n", tsr_last_error());
    _exit(0);
}

static int run(const char* name, int n, void (*fn)(int, int, int), int world, int port) {
    pid_t pids[8];
    for (int r = 0; r < n; r++) {
        pids[r] = fork();
        if (pids[r] == 0) {
            alarm(60);
            fn(r, world, port);
        }
    }
    int ok = 1;
    for (int r = 0; r < n; r++) {
        int st;
        waitpid(pids[r], &st, 0);
        int expect_exit = 0;
        if (fn == (void (*)(int, int, int))rank_main_dies && r == 1) expect_exit = 9;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != expect_exit) ok = 0;
    }
    printf("%s: %s\n", name, ok ? "ok" : "FAILED");
    return ok;
}

static void ok3(int r, int w, int p) { rank_main_ok(r, w, p); }
static void mism(int r, int w, int p) { (void)w; rank_main_mismatch(r, p); }
static void nomaster(int r, int w, int p) { (void)r; (void)w; rank_main_no_master(p); }

int main(void) {
    if (tsr_dist_available(TSR_BACKEND_CPU, NULL) != TSR_OK) {
        printf("SKIP: %s\n", tsr_last_error());
        return 77;
    }
    port_base = 20000 + (getpid() % 20000);
    int ok = 1;
    ok &= run("three ranks: broadcast, mean of gradients, sums, barrier", 3, ok3, 3, port_base);
    ok &= run("fingerprint mismatch refused on both sides", 2, mism, 2, port_base + 1);
    ok &= run("dead rank noticed and named", 2, (void (*)(int, int, int))rank_main_dies, 2, port_base + 2);
    ok &= run("rank 0 never comes: bounded connect timeout", 1, nomaster, 2, port_base + 3);
    return ok ? 0 : 1;
}

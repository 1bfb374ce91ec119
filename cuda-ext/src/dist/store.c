/*
 * The rendezvous store of tessera_dist.h: rank 0 serves a small key-value map over TCP on MASTER_PORT
 * (one thread per connected rank); every other rank keeps one connection to it for the whole run.
 * It carries the hello (rank, world size, fingerprint: refused on mismatch), the addresses Gloo
 * exchanges, the NCCL id, and after a failure tells which ranks have left (their connection closed).
 *
 * Frames: request  u8 op | u32 key length | key | u32 value length | value
 *         reply    u8 status | u32 length | data
 * Ops: 'H' hello (key "rank world pid host", value fingerprint) -> 0, or 1 + reason;
 *      'S' set -> 0; 'G' get -> 0 + value, or 2 if absent; 'P' peers -> 0 + a sentence.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "dist_internal.h"

#define MAX_FRAME (64u << 20)

typedef struct entry {
    char* key;
    void* value;
    size_t n;
    struct entry* next;
} entry;

typedef struct peer {
    int fd;
    int said_hello, left;
    long pid;
    char host[64];
    double left_at;
    pthread_t thread;
    int has_thread;
} peer;

struct tsr_store {
    int rank, world;
    char addr[256], port[16];
    char fingerprint[1024];
    char local_addr[64];
    /* client */
    int fd;
    char master_ip[64];
    /* server */
    int listen_fd;
    pthread_t accept_thread;
    int has_accept_thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    entry* map;
    peer* peers; /* [world] */
    int hellos;
    char refused[2600];
    int closing;
};

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int write_all(int fd, const void* buf, size_t n) {
    const char* p = (const char*)buf;
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, void* buf, size_t n) {
    char* p = (char*)buf;
    while (n > 0) {
        ssize_t r = recv(fd, p, n, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            if (r == 0) errno = ECONNRESET;
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static int send_frame(int fd, uint8_t op, const void* a, uint32_t an, const void* b, uint32_t bn) {
    uint32_t la = htonl(an), lb = htonl(bn);
    if (write_all(fd, &op, 1) || write_all(fd, &la, 4) || (an && write_all(fd, a, an))) return -1;
    if (write_all(fd, &lb, 4) || (bn && write_all(fd, b, bn))) return -1;
    return 0;
}

static int send_reply(int fd, uint8_t status, const void* d, uint32_t n) {
    uint32_t l = htonl(n);
    if (write_all(fd, &status, 1) || write_all(fd, &l, 4) || (n && write_all(fd, d, n))) return -1;
    return 0;
}

/* Reads a u32-prefixed blob (malloc'ed, NUL-terminated for convenience). */
static int read_blob(int fd, char** out, uint32_t* n) {
    uint32_t l;
    if (read_all(fd, &l, 4)) return -1;
    l = ntohl(l);
    if (l > MAX_FRAME) {
        errno = EPROTO;
        return -1;
    }
    char* p = (char*)malloc((size_t)l + 1);
    if (!p) return -1;
    if (l && read_all(fd, p, l)) {
        free(p);
        return -1;
    }
    p[l] = 0;
    *out = p;
    *n = l;
    return 0;
}

static void set_timeouts(int fd, int ms) {
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* numeric address; an IPv4-mapped IPv6 address (dual-stack listener) as plain IPv4 */
static void format_addr(const struct sockaddr_storage* ss, char* out, size_t n) {
    out[0] = 0;
    if (ss->ss_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in*)ss)->sin_addr, out, (socklen_t)n);
    } else if (ss->ss_family == AF_INET6) {
        const struct in6_addr* a = &((const struct sockaddr_in6*)ss)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a)) inet_ntop(AF_INET, &a->s6_addr[12], out, (socklen_t)n);
        else inet_ntop(AF_INET6, a, out, (socklen_t)n);
    }
}

static void sock_local_addr(int fd, char* out, size_t n) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    out[0] = 0;
    if (getsockname(fd, (struct sockaddr*)&ss, &len) == 0) format_addr(&ss, out, n);
}

static void sock_peer_addr(int fd, char* out, size_t n) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    out[0] = 0;
    if (getpeername(fd, (struct sockaddr*)&ss, &len) == 0) format_addr(&ss, out, n);
}

/* ---------------- server (rank 0) ---------------- */

static entry* find(tsr_store* s, const char* key) {
    for (entry* e = s->map; e; e = e->next)
        if (strcmp(e->key, key) == 0) return e;
    return NULL;
}

/* caller holds s->mu; takes ownership of value */
static void put(tsr_store* s, const char* key, void* value, size_t n) {
    entry* e = find(s, key);
    if (e) {
        free(e->value);
    } else {
        e = (entry*)calloc(1, sizeof *e);
        e->key = strdup(key);
        e->next = s->map;
        s->map = e;
    }
    e->value = value;
    e->n = n;
    pthread_cond_broadcast(&s->cv);
}

/* A collective can fail (its socket reset) a moment before the store thread sees the same rank's
 * connection close: give that up to two seconds before saying nobody left. Caller holds s->mu. */
static void wait_for_a_leaver_locked(tsr_store* s) {
    double deadline = now_s() + 2.0;
    for (;;) {
        for (int r = 1; r < s->world; r++)
            if (s->peers[r].left) return;
        double left = deadline - now_s();
        if (left <= 0) return;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        double until = ts.tv_sec + ts.tv_nsec * 1e-9 + (left < 0.1 ? left : 0.1);
        ts.tv_sec = (time_t)until;
        ts.tv_nsec = (long)((until - (double)ts.tv_sec) * 1e9);
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
}

static void describe_left_locked(tsr_store* s, char* out, size_t n) {
    wait_for_a_leaver_locked(s);
    size_t used = 0;
    out[0] = 0;
    double t = now_s();
    for (int r = 1; r < s->world; r++) {
        peer* p = &s->peers[r];
        if (!p->left) continue;
        int w = snprintf(out + used, n - used, "%srank %d (host %s, pid %ld) has left: its connection to rank 0 closed %.1f s ago",
                         used ? "; " : "", r, p->host, p->pid, t - p->left_at);
        if (w < 0 || (size_t)w >= n - used) break;
        used += (size_t)w;
    }
    if (!used) snprintf(out, n, "every rank is still connected to rank 0 (a peer may be stalled or unreachable on the collective network)");
}

typedef struct conn_arg {
    tsr_store* s;
    int fd;
} conn_arg;

static void* serve_conn(void* arg) {
    conn_arg* ca = (conn_arg*)arg;
    tsr_store* s = ca->s;
    int fd = ca->fd;
    free(ca);
    int rank = -1;
    for (;;) {
        uint8_t op;
        char *key = NULL, *val = NULL;
        uint32_t kn, vn;
        if (read_all(fd, &op, 1) || read_blob(fd, &key, &kn)) break;
        if (read_blob(fd, &val, &vn)) {
            free(key);
            break;
        }
        int ok = 0;
        if (op == 'H') {
            int r = -1, w = -1;
            long pid = 0;
            char host[64] = "?";
            sscanf(key, "%d %d %ld %63s", &r, &w, &pid, host);
            char why[2600] = "";
            pthread_mutex_lock(&s->mu);
            if (w != s->world)
                snprintf(why, sizeof why, "rank %d (host %s) has WORLD_SIZE=%d but rank 0 has WORLD_SIZE=%d", r, host, w, s->world);
            else if (r < 1 || r >= s->world)
                snprintf(why, sizeof why, "a process on host %s says RANK=%d, outside 1..%d", host, r, s->world - 1);
            else if (s->peers[r].said_hello && !s->peers[r].left)
                snprintf(why, sizeof why, "two processes claim RANK=%d (hosts %s and %s)", r, s->peers[r].host, host);
            else if (strcmp(val, s->fingerprint) != 0)
                snprintf(why, sizeof why, "rank %d (host %s) was started with another configuration: rank 0 has [%s], rank %d has [%s]",
                         r, host, s->fingerprint, r, val);
            if (why[0]) {
                if (!s->refused[0]) snprintf(s->refused, sizeof s->refused, "%s", why);
                pthread_cond_broadcast(&s->cv);
            } else {
                peer* p = &s->peers[r];
                if (!p->said_hello) s->hellos++;
                p->said_hello = 1;
                p->left = 0;
                p->fd = fd;
                p->pid = pid;
                snprintf(p->host, sizeof p->host, "%s", host);
                if (!s->local_addr[0]) sock_local_addr(fd, s->local_addr, sizeof s->local_addr);
                rank = r;
                pthread_cond_broadcast(&s->cv);
            }
            pthread_mutex_unlock(&s->mu);
            ok = why[0] ? send_reply(fd, 1, why, (uint32_t)strlen(why)) : send_reply(fd, 0, NULL, 0);
            if (why[0]) {
                free(key);
                free(val);
                break;
            }
        } else if (op == 'S') {
            pthread_mutex_lock(&s->mu);
            put(s, key, val, vn);
            val = NULL;
            pthread_mutex_unlock(&s->mu);
            ok = send_reply(fd, 0, NULL, 0);
        } else if (op == 'G') {
            pthread_mutex_lock(&s->mu);
            entry* e = find(s, key);
            void* copy = NULL;
            size_t n = 0;
            if (e) {
                n = e->n;
                copy = malloc(n ? n : 1);
                memcpy(copy, e->value, n);
            }
            pthread_mutex_unlock(&s->mu);
            ok = e ? send_reply(fd, 0, copy, (uint32_t)n) : send_reply(fd, 2, NULL, 0);
            free(copy);
        } else if (op == 'P') {
            char msg[2048];
            pthread_mutex_lock(&s->mu);
            describe_left_locked(s, msg, sizeof msg);
            pthread_mutex_unlock(&s->mu);
            ok = send_reply(fd, 0, msg, (uint32_t)strlen(msg));
        } else {
            ok = -1;
        }
        free(key);
        free(val);
        if (ok != 0) break;
    }
    pthread_mutex_lock(&s->mu);
    if (rank > 0 && s->peers[rank].fd == fd) {
        s->peers[rank].left = 1;
        s->peers[rank].left_at = now_s();
        s->peers[rank].fd = -1;
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    close(fd);
    return NULL;
}

static void* accept_loop(void* arg) {
    tsr_store* s = (tsr_store*)arg;
    for (;;) {
        int fd = accept(s->listen_fd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            break; /* listen socket shut down by tsr_store_close */
        }
        pthread_mutex_lock(&s->mu);
        int closing = s->closing;
        pthread_mutex_unlock(&s->mu);
        if (closing) {
            close(fd);
            break;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
        conn_arg* ca = (conn_arg*)malloc(sizeof *ca);
        ca->s = s;
        ca->fd = fd;
        pthread_t t;
        if (pthread_create(&t, NULL, serve_conn, ca) != 0) {
            close(fd);
            free(ca);
            continue;
        }
        pthread_detach(t);
    }
    return NULL;
}

static int server_open(tsr_store* s, int connect_timeout_ms) {
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET6;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int fd = -1;
    /* dual-stack [::] first, then 0.0.0.0 */
    if (getaddrinfo(NULL, s->port, &hints, &res) == 0) {
        fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int zero = 0, one = 1;
        if (fd >= 0) {
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            if (bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
                close(fd);
                fd = -1;
            }
        }
        freeaddrinfo(res);
        res = NULL;
    }
    if (fd < 0) {
        hints.ai_family = AF_INET;
        int gai = getaddrinfo(NULL, s->port, &hints, &res);
        if (gai != 0) return tsr_set_error(TSR_ERR_INVALID_ARG, "rank 0: MASTER_PORT=%s: %s", s->port, gai_strerror(gai));
        fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
            int e = errno;
            if (fd >= 0) close(fd);
            freeaddrinfo(res);
            return tsr_set_error(TSR_ERR_DIST, "rank 0 cannot listen on port %s: %s", s->port, strerror(e));
        }
        freeaddrinfo(res);
    }
    if (listen(fd, 128) != 0) {
        int e = errno;
        close(fd);
        return tsr_set_error(TSR_ERR_DIST, "rank 0 cannot listen on port %s: %s", s->port, strerror(e));
    }
    s->listen_fd = fd;
    if (pthread_create(&s->accept_thread, NULL, accept_loop, s) != 0)
        return tsr_set_error(TSR_ERR_INTERNAL, "rank 0: cannot start the rendezvous thread");
    s->has_accept_thread = 1;
    /* wait for every rank's hello */
    double deadline = now_s() + connect_timeout_ms / 1000.0;
    pthread_mutex_lock(&s->mu);
    while (s->hellos < s->world - 1 && !s->refused[0]) {
        double left = deadline - now_s();
        if (left <= 0) break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        double until = ts.tv_sec + ts.tv_nsec * 1e-9 + (left < 0.5 ? left : 0.5);
        ts.tv_sec = (time_t)until;
        ts.tv_nsec = (long)((until - (double)ts.tv_sec) * 1e9);
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    int status = TSR_OK;
    if (s->refused[0]) {
        status = tsr_set_error(TSR_ERR_INVALID_ARG, "rendezvous refused: %s", s->refused);
    } else if (s->hellos < s->world - 1) {
        char missing[512] = "";
        size_t used = 0;
        for (int r = 1; r < s->world && used < sizeof missing - 16; r++)
            if (!s->peers[r].said_hello) used += (size_t)snprintf(missing + used, sizeof missing - used, "%s%d", used ? ", " : "", r);
        status = tsr_set_error(TSR_ERR_DIST, "rank 0: rank(s) %s did not connect to port %s within %d s (WORLD_SIZE=%d)",
                               missing, s->port, connect_timeout_ms / 1000, s->world);
    }
    pthread_mutex_unlock(&s->mu);
    return status;
}

/* ---------------- client (rank > 0) ---------------- */

static int connect_once(const struct addrinfo* ai, int timeout_ms, int* err) {
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        *err = errno;
        return -1;
    }
    int r = connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (r != 0 && errno == EINPROGRESS) {
        struct pollfd p = {fd, POLLOUT, 0};
        r = poll(&p, 1, timeout_ms);
        if (r == 1) {
            int so = 0;
            socklen_t sl = sizeof so;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl);
            r = so ? -1 : 0;
            errno = so;
        } else {
            errno = r == 0 ? ETIMEDOUT : errno;
            r = -1;
        }
    }
    if (r != 0) {
        *err = errno;
        close(fd);
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    return fd;
}

static int client_open(tsr_store* s, int connect_timeout_ms) {
    double deadline = now_s() + connect_timeout_ms / 1000.0;
    int last_err = 0;
    const char* last_what = "no attempt";
    for (;;) {
        struct addrinfo hints, *res = NULL;
        memset(&hints, 0, sizeof hints);
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        int gai = getaddrinfo(s->addr, s->port, &hints, &res);
        if (gai == 0) {
            for (struct addrinfo* ai = res; ai && s->fd < 0; ai = ai->ai_next) s->fd = connect_once(ai, 2000, &last_err);
            freeaddrinfo(res);
            last_what = strerror(last_err);
        } else {
            last_what = gai_strerror(gai); /* e.g. a headless Service name before rank 0's pod exists */
        }
        if (s->fd >= 0) break;
        if (now_s() > deadline)
            return tsr_set_error(TSR_ERR_DIST, "rank %d could not reach rank 0 at MASTER_ADDR=%s MASTER_PORT=%s within %d s (last error: %s)",
                                 s->rank, s->addr, s->port, connect_timeout_ms / 1000, last_what);
        usleep(200 * 1000);
    }
    set_timeouts(s->fd, connect_timeout_ms);
    sock_local_addr(s->fd, s->local_addr, sizeof s->local_addr);
    sock_peer_addr(s->fd, s->master_ip, sizeof s->master_ip);
    char host[64], hello[160];
    if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "?");
    host[sizeof host - 1] = 0;
    for (char* c = host; *c; c++)
        if (*c == ' ') *c = '_';
    snprintf(hello, sizeof hello, "%d %d %ld %s", s->rank, s->world, (long)getpid(), host);
    uint8_t st;
    char* reply = NULL;
    uint32_t n;
    if (send_frame(s->fd, 'H', hello, (uint32_t)strlen(hello), s->fingerprint, (uint32_t)strlen(s->fingerprint)) ||
        read_all(s->fd, &st, 1) || read_blob(s->fd, &reply, &n))
        return tsr_set_error(TSR_ERR_DIST, "rank %d: rank 0 at %s:%s closed the rendezvous connection: %s", s->rank, s->addr,
                             s->port, strerror(errno));
    int status = TSR_OK;
    if (st != 0) status = tsr_set_error(TSR_ERR_INVALID_ARG, "rendezvous refused by rank 0: %s", reply);
    free(reply);
    return status;
}

static int client_call(tsr_store* s, uint8_t op, const char* key, const void* v, size_t vn, uint8_t* st, char** reply,
                       uint32_t* rn) {
    if (send_frame(s->fd, op, key, (uint32_t)strlen(key), v, (uint32_t)vn) || read_all(s->fd, st, 1) ||
        read_blob(s->fd, reply, rn))
        return tsr_set_error(TSR_ERR_DIST, "rank %d: lost the connection to rank 0 (%s:%s): %s", s->rank, s->addr, s->port,
                             strerror(errno));
    return TSR_OK;
}

/* ---------------- API ---------------- */

int tsr_store_open(int rank, int world, const char* addr, const char* port, const char* fingerprint, int connect_timeout_ms,
                   tsr_store** out) {
    tsr_store* s = (tsr_store*)calloc(1, sizeof *s);
    if (!s) return tsr_set_error(TSR_ERR_OOM, "rendezvous: out of memory");
    s->rank = rank;
    s->world = world;
    s->fd = -1;
    s->listen_fd = -1;
    snprintf(s->addr, sizeof s->addr, "%s", addr);
    snprintf(s->port, sizeof s->port, "%s", port);
    snprintf(s->fingerprint, sizeof s->fingerprint, "%s", fingerprint ? fingerprint : "");
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    int st;
    if (rank == 0) {
        s->peers = (peer*)calloc((size_t)world, sizeof(peer));
        for (int r = 0; r < world; r++) s->peers[r].fd = -1;
        st = server_open(s, connect_timeout_ms);
    } else {
        st = client_open(s, connect_timeout_ms);
    }
    if (st != TSR_OK) {
        char keep[1024];
        snprintf(keep, sizeof keep, "%s", tsr_last_error());
        tsr_store_close(s);
        return tsr_set_error(st, "%s", keep);
    }
    *out = s;
    return TSR_OK;
}

int tsr_store_set(tsr_store* s, const char* key, const void* value, size_t n) {
    if (s->rank == 0) {
        void* copy = malloc(n ? n : 1);
        if (!copy) return tsr_set_error(TSR_ERR_OOM, "rendezvous: out of memory");
        memcpy(copy, value, n);
        pthread_mutex_lock(&s->mu);
        put(s, key, copy, n);
        pthread_mutex_unlock(&s->mu);
        return TSR_OK;
    }
    uint8_t st;
    char* reply = NULL;
    uint32_t rn;
    DIST_TRY(client_call(s, 'S', key, value, n, &st, &reply, &rn));
    free(reply);
    return TSR_OK;
}

int tsr_store_get(tsr_store* s, const char* key, void** value, size_t* n, int timeout_ms) {
    double deadline = now_s() + timeout_ms / 1000.0;
    for (;;) {
        if (s->rank == 0) {
            pthread_mutex_lock(&s->mu);
            entry* e = find(s, key);
            if (e) {
                *value = malloc(e->n ? e->n : 1);
                memcpy(*value, e->value, e->n);
                *n = e->n;
            }
            pthread_mutex_unlock(&s->mu);
            if (e) return TSR_OK;
        } else {
            uint8_t st;
            char* reply = NULL;
            uint32_t rn;
            DIST_TRY(client_call(s, 'G', key, "", 0, &st, &reply, &rn));
            if (st == 0) {
                *value = reply;
                *n = rn;
                return TSR_OK;
            }
            free(reply);
        }
        if (now_s() > deadline) {
            char peers[1024];
            tsr_store_describe_peers(s, peers, sizeof peers);
            return tsr_set_error(TSR_ERR_DIST, "rank %d: rendezvous key '%s' did not appear within %d s; %s", s->rank, key,
                                 timeout_ms / 1000, peers);
        }
        usleep(5 * 1000);
    }
}

const char* tsr_store_local_addr(const tsr_store* s) { return s->local_addr; }

void tsr_store_describe_peers(tsr_store* s, char* out, size_t n) {
    if (s->rank == 0) {
        pthread_mutex_lock(&s->mu);
        describe_left_locked(s, out, n);
        pthread_mutex_unlock(&s->mu);
        return;
    }
    set_timeouts(s->fd, 5000);
    uint8_t st = 1;
    char* reply = NULL;
    uint32_t rn;
    if (send_frame(s->fd, 'P', "", 0, "", 0) || read_all(s->fd, &st, 1) || read_blob(s->fd, &reply, &rn)) {
        snprintf(out, n, "rank 0 (MASTER_ADDR=%s, %s:%s) is gone or unreachable (%s)", s->addr, s->master_ip, s->port,
                 strerror(errno));
        return;
    }
    snprintf(out, n, "%s", reply);
    free(reply);
}

void tsr_store_close(tsr_store* s) {
    if (!s) return;
    if (s->fd >= 0) close(s->fd);
    if (s->rank == 0) {
        pthread_mutex_lock(&s->mu);
        s->closing = 1;
        for (int r = 1; r < s->world; r++)
            if (s->peers && s->peers[r].fd >= 0) shutdown(s->peers[r].fd, SHUT_RDWR);
        pthread_mutex_unlock(&s->mu);
        if (s->listen_fd >= 0) shutdown(s->listen_fd, SHUT_RDWR);
        if (s->has_accept_thread) pthread_join(s->accept_thread, NULL);
        if (s->listen_fd >= 0) close(s->listen_fd);
        /* connection threads are detached; wait briefly until they have all let go of the store */
        for (int i = 0; i < 200; i++) {
            pthread_mutex_lock(&s->mu);
            int busy = 0;
            for (int r = 1; r < s->world; r++) busy |= s->peers[r].fd >= 0;
            pthread_mutex_unlock(&s->mu);
            if (!busy) break;
            usleep(10 * 1000);
        }
        /* connections that never said hello may still hold s: leak it rather than free under them */
        return;
    }
    free(s->peers);
    for (entry* e = s->map; e;) {
        entry* nx = e->next;
        free(e->key);
        free(e->value);
        free(e);
        e = nx;
    }
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

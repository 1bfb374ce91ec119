/*
 * libtessera_gloo.so: the CPU collectives of tessera_dist.h on Gloo (Debian's libgloo, the library
 * PyTorch DDP uses on CPUs), behind a small C ABI (tsr_gloo_api in dist_internal.h) so that
 * libtessera loads it with dlopen only when a job has more than one rank. Gloo's TCP transport; the
 * addresses are exchanged through Tessera's rendezvous store (a gloo::rendezvous::Store over it).
 * Gloo reports failures as exceptions (IoException: a peer closed or reset its connection;
 * TimeoutException); they become -1 and the message.
 */
#include <gloo/allreduce.h>
#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/math.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/store.h>
#include <gloo/transport/tcp/device.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "dist_internal.h"

namespace {

/* Gloo's rendezvous over the store of store.c (through callbacks into libtessera). */
class TesseraStore : public gloo::rendezvous::Store {
  public:
    TesseraStore(const tsr_store_ops* ops, int timeout_ms) : ops_(*ops), timeout_ms_(timeout_ms) {}

    void set(const std::string& key, const std::vector<char>& data) override {
        if (ops_.set(ops_.ctx, key.c_str(), data.data(), data.size()) != 0)
            throw std::runtime_error("rendezvous store: set '" + key + "' failed");
    }

    std::vector<char> get(const std::string& key) override {
        void* v = nullptr;
        size_t n = 0;
        if (ops_.get(ops_.ctx, key.c_str(), &v, &n, timeout_ms_) != 0)
            throw std::runtime_error("rendezvous store: '" + key + "' did not arrive");
        std::vector<char> out(static_cast<char*>(v), static_cast<char*>(v) + n);
        free(v);
        return out;
    }

    void wait(const std::vector<std::string>& keys) override { wait(keys, std::chrono::milliseconds(timeout_ms_)); }

    void wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) override {
        for (const auto& k : keys) {
            void* v = nullptr;
            size_t n = 0;
            if (ops_.get(ops_.ctx, k.c_str(), &v, &n, static_cast<int>(timeout.count())) != 0)
                throw std::runtime_error("rendezvous store: '" + k + "' did not arrive within " +
                                         std::to_string(timeout.count() / 1000) + " s");
            free(v);
        }
    }

  private:
    tsr_store_ops ops_;
    int timeout_ms_;
};

struct Handle {
    std::shared_ptr<gloo::rendezvous::Context> ctx;
    std::shared_ptr<gloo::transport::Device> dev;
    uint32_t tag = 0;
};

void put_err(char* err, size_t n, const char* what, const std::exception& e) {
    if (err && n) snprintf(err, n, "%s: %s", what, e.what());
}

std::chrono::milliseconds ms(int timeout_ms) { return std::chrono::milliseconds(timeout_ms); }

void* g_connect(int rank, int world, const char* bind_addr, const char* iface, int timeout_ms, const tsr_store_ops* store,
                char* err, size_t errlen) {
    try {
        gloo::transport::tcp::attr attr;
        if (iface && *iface) attr.iface = iface;
        else attr.hostname = bind_addr && *bind_addr ? bind_addr : "127.0.0.1";
        auto h = std::make_unique<Handle>();
        h->dev = gloo::transport::tcp::CreateDevice(attr);
        h->ctx = std::make_shared<gloo::rendezvous::Context>(rank, world);
        h->ctx->setTimeout(ms(timeout_ms));
        TesseraStore st(store, timeout_ms);
        h->ctx->connectFullMesh(st, h->dev);
        return h.release();
    } catch (const std::exception& e) {
        put_err(err, errlen, "Gloo connect", e);
        return nullptr;
    }
}

template <typename T>
int g_allreduce(void* hp, T* p, size_t n, int timeout_ms, char* err, size_t errlen) {
    auto* h = static_cast<Handle*>(hp);
    try {
        gloo::AllreduceOptions o(h->ctx);
        o.setOutput(p, n);
        o.setReduceFunction(static_cast<void (*)(void*, const void*, const void*, size_t)>(&gloo::sum<T>));
        o.setTag(h->tag++);
        o.setTimeout(ms(timeout_ms));
        gloo::allreduce(o);
        return 0;
    } catch (const std::exception& e) {
        put_err(err, errlen, "Gloo all-reduce", e);
        return -1;
    }
}

int g_allreduce_f32(void* h, float* p, size_t n, int t, char* err, size_t errlen) { return g_allreduce(h, p, n, t, err, errlen); }
int g_allreduce_f64(void* h, double* p, size_t n, int t, char* err, size_t errlen) { return g_allreduce(h, p, n, t, err, errlen); }

int g_broadcast(void* hp, void* p, size_t bytes, int root, int timeout_ms, char* err, size_t errlen) {
    auto* h = static_cast<Handle*>(hp);
    try {
        /* in chunks of 64 MiB: UnboundBuffer sizes are plain size_t, but keep single sends moderate */
        const size_t chunk = size_t(64) << 20;
        for (size_t off = 0; off < bytes || (bytes == 0 && off == 0); off += chunk) {
            size_t len = bytes - off < chunk ? bytes - off : chunk;
            if (len == 0) break;
            gloo::BroadcastOptions o(h->ctx);
            o.setOutput(static_cast<char*>(p) + off, len);
            o.setRoot(root);
            o.setTag(h->tag++);
            o.setTimeout(ms(timeout_ms));
            gloo::broadcast(o);
        }
        return 0;
    } catch (const std::exception& e) {
        put_err(err, errlen, "Gloo broadcast", e);
        return -1;
    }
}

int g_barrier(void* hp, int timeout_ms, char* err, size_t errlen) {
    auto* h = static_cast<Handle*>(hp);
    try {
        gloo::BarrierOptions o(h->ctx);
        o.setTag(h->tag++);
        o.setTimeout(ms(timeout_ms));
        gloo::barrier(o);
        return 0;
    } catch (const std::exception& e) {
        put_err(err, errlen, "Gloo barrier", e);
        return -1;
    }
}

void g_destroy(void* hp) { delete static_cast<Handle*>(hp); }

const tsr_gloo_api kApi = {TSR_GLOO_ABI, g_connect, g_allreduce_f32, g_allreduce_f64, g_broadcast, g_barrier, g_destroy};

} // namespace

extern "C" __attribute__((visibility("default"))) const tsr_gloo_api* tsr_gloo_api_v1(void) { return &kApi; }

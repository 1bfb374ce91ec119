/*
 * TSR_BACKEND_CUDA: the model on one GPU, one stream.
 *
 * Storage: the four fp32 blocks (params, grads, Adam m, v) live on the device in the API's layout;
 * a bf16 working copy of the parameters (each tensor 256-byte aligned) feeds the tensor-core GEMMs
 * and is refreshed by the AdamW kernel itself. Activations are bf16, except LayerNorm inputs,
 * statistics, the attention LSE and the residual-stream gradients, which are fp32.
 *
 * Synchronisation: tsr_forward waits for its loss (the API returns it); backward, zero_grad,
 * scale and AdamW are asynchronous; grad_sumsq / check_finite / buffer_read read back.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <vector>

#include "backend.cuh"
#include "kernels.cuh"

namespace {

struct layer_act {
    bf16 *x, *qkv, *att, *h, *u, *a;
    float *lse, *z1, *mean1, *rstd1, *z2, *mean2, *rstd2;
};

struct cuda_model {
    cudaStream_t st = nullptr;
    std::vector<void*> allocs;
    float *params = nullptr, *grads = nullptr, *am = nullptr, *av = nullptr;
    bf16* wbf = nullptr;
    int64_t* d_off = nullptr;
    int64_t* d_aoff = nullptr;
    std::vector<int64_t> aoff; /* per tensor, into wbf */
    bool wbf_dirty = true, ptr_exported = false;
    float* slopes = nullptr; /* device, MosaicBERT */
    float* d_lrs = nullptr;  /* device [num_tensors]: learning-rate scales (tsr_set_lr_scales), allocated on first use */
    bool lrs_on = false;     /* d_lrs holds the model's current scales */

    /* batch on the device: ids | types | pos | cu | mlm_rows | mlm_tgt | cls_rows | cls_lab, then targets, then
     * (classification head) the soft targets of distillation [max_seqs, num_labels] */
    int32_t* h_stage = nullptr;
    int32_t* d_stage = nullptr;
    cudaEvent_t staged = nullptr; /* the last host->device copy of h_stage has completed */
    int64_t stage_ints = 0;
    int32_t *ids, *types, *pos, *cu, *mlm_rows, *mlm_tgt, *cls_rows, *cls_lab;
    float* targets;
    float* soft;

    /* activations */
    float *e, *mean0, *rstd0;
    std::vector<layer_act> L;
    bf16* xfinal;
    bf16* scratch; /* [T, H] branch outputs */
    float* attn_ws;
    /* MLM head */
    bf16 *hg, *tb, *n, *logits;
    float *gl, *mmean, *mrstd, *loss_rows, *dn;
    bf16* dtb;
    /* classifier head */
    bf16 *cc, *pooled, *pd, *dlog_bf, *dpre;
    float *clog, *dpd;
    float* d_loss;
    float* h_loss;
    float* logits_f32; /* chunk buffer for logits copies to the host */
    int64_t logits_chunk;
    /* gradients of activations */
    float *g_a, *g_h;
    bf16 *gbH, *gbI, *gbW;
    double* d_sumsq;
    unsigned long long* d_first;
    void* h_misc; /* pinned: 16 bytes for read-backs */

    /* state of the last forward */
    int T = 0, S = 0, max_seqlen = 0, M = 0;
    bool has_fwd = false, mlm_all = false;
    uint64_t seed = 0, step = 0;
};

cuda_model* CM(const tsr_model* m) { return static_cast<cuda_model*>(m->impl); }

int cuda_available(void) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        cudaGetLastError();
        return tsr_set_error(TSR_ERR_NO_BACKEND, "no CUDA device: %s (%s)", cudaGetErrorName(e), cudaGetErrorString(e));
    }
    if (n == 0) return tsr_set_error(TSR_ERR_NO_BACKEND, "no CUDA device: cudaGetDeviceCount returned 0");
    int dev = 0, major = 0;
    cudaGetDevice(&dev);
    if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess || major < 8) {
        cudaGetLastError();
        return tsr_set_error(TSR_ERR_NO_BACKEND, "CUDA device %d has compute capability %d.x; Tessera needs 8.0+ (bf16 tensor cores)",
                             dev, major);
    }
    return TSR_OK;
}

template <typename T>
int dalloc(cuda_model* c, T** p, int64_t count) {
    *p = nullptr;
    if (count <= 0) count = 1;
    void* v = nullptr;
    cudaError_t e = cudaMalloc(&v, (size_t)count * sizeof(T));
    if (e != cudaSuccess) {
        cudaGetLastError();
        return tsr_set_error(TSR_ERR_OOM, "CUDA backend: cudaMalloc of %lld bytes failed: %s", (long long)(count * sizeof(T)),
                             cudaGetErrorString(e));
    }
    c->allocs.push_back(v);
    *p = static_cast<T*>(v);
    return TSR_OK;
}

void free_all(cuda_model* c) {
    if (c->st) {
        cudaStreamSynchronize(c->st);
        tsr_gemm_release_stream(c->st);
    }
    for (void* p : c->allocs) cudaFree(p);
    if (c->h_stage) cudaFreeHost(c->h_stage);
    if (c->h_misc) cudaFreeHost(c->h_misc);
    if (c->staged) cudaEventDestroy(c->staged);
    if (c->st) cudaStreamDestroy(c->st);
    cudaGetLastError();
    delete c;
}

int model_init_impl(tsr_model* m, cuda_model* c) {
    const tsr_config& cf = m->cfg;
    const int H = cf.hidden_size, I = cf.intermediate_size, NH = cf.num_heads, D = H / NH, V = cf.vocab_size;
    const int64_t T = cf.max_tokens, S = cf.max_seqs, M = cf.max_mlm_targets > 0 ? cf.max_mlm_targets : cf.max_tokens;
    const bool mosaic = cf.variant == TSR_VARIANT_MOSAIC_BERT;
    TSR_TRY(tsr_attn_supported(D));
    CU_TRY(cudaStreamCreateWithFlags(&c->st, cudaStreamNonBlocking));
    const int64_t P = m->num_params;
    TSR_TRY(dalloc(c, &c->params, P));
    TSR_TRY(dalloc(c, &c->grads, P));
    TSR_TRY(dalloc(c, &c->am, P));
    TSR_TRY(dalloc(c, &c->av, P));
    for (float* b : {c->params, c->grads, c->am, c->av}) CU_TRY(cudaMemsetAsync(b, 0, sizeof(float) * (size_t)P, c->st));
    /* bf16 working copy: tensors 128-element (256-byte) aligned */
    std::vector<int64_t> off(m->num_tensors);
    c->aoff.resize(m->num_tensors);
    int64_t acc = 0;
    for (int t = 0; t < m->num_tensors; t++) {
        off[t] = m->tensors[t].offset;
        /* BERT's key/value weights follow the query weight without padding: the three form the
         * fused [3H, H] QKV matrix that the GEMM reads from the query's offset */
        const char* nm = m->tensors[t].name;
        bool joined = t > 0 && (strstr(nm, ".attention.self.key.weight") || strstr(nm, ".attention.self.value.weight"));
        if (joined) acc = c->aoff[t - 1] + m->tensors[t - 1].numel;
        else acc = (acc + 127) / 128 * 128;
        c->aoff[t] = acc;
        acc += m->tensors[t].numel;
    }
    acc = (acc + 127) / 128 * 128;
    TSR_TRY(dalloc(c, &c->wbf, acc));
    CU_TRY(cudaMemsetAsync(c->wbf, 0, sizeof(bf16) * (size_t)acc, c->st));
    TSR_TRY(dalloc(c, &c->d_off, m->num_tensors));
    TSR_TRY(dalloc(c, &c->d_aoff, m->num_tensors));
    CU_TRY(cudaMemcpy(c->d_off, off.data(), sizeof(int64_t) * off.size(), cudaMemcpyHostToDevice));
    CU_TRY(cudaMemcpy(c->d_aoff, c->aoff.data(), sizeof(int64_t) * off.size(), cudaMemcpyHostToDevice));
    if (mosaic) {
        TSR_TRY(dalloc(c, &c->slopes, NH));
        CU_TRY(cudaMemcpy(c->slopes, m->alibi_slopes, sizeof(float) * NH, cudaMemcpyHostToDevice));
    }
    /* batch staging */
    c->stage_ints = 3 * T + (S + 1) + 2 * M + 2 * S + S + (cf.head == TSR_HEAD_CLASSIFICATION ? S * cf.num_labels : 0);
    CU_TRY(cudaMallocHost(&c->h_stage, sizeof(int32_t) * (size_t)c->stage_ints));
    CU_TRY(cudaEventCreateWithFlags(&c->staged, cudaEventDisableTiming));
    TSR_TRY(dalloc(c, &c->d_stage, c->stage_ints));
    c->ids = c->d_stage;
    c->types = c->ids + T;
    c->pos = c->types + T;
    c->cu = c->pos + T;
    c->mlm_rows = c->cu + S + 1;
    c->mlm_tgt = c->mlm_rows + M;
    c->cls_rows = c->mlm_tgt + M;
    c->cls_lab = c->cls_rows + S;
    c->targets = reinterpret_cast<float*>(c->cls_lab + S);
    c->soft = c->targets + S;
    CU_TRY(cudaMallocHost(&c->h_misc, 64));
    c->h_loss = static_cast<float*>(c->h_misc);
    /* activations */
    TSR_TRY(dalloc(c, &c->e, T * H));
    TSR_TRY(dalloc(c, &c->mean0, T));
    TSR_TRY(dalloc(c, &c->rstd0, T));
    c->L.resize(cf.num_layers);
    const int64_t uW = mosaic ? 2 * (int64_t)I : I;
    for (int l = 0; l < cf.num_layers; l++) {
        layer_act& a = c->L[l];
        TSR_TRY(dalloc(c, &a.x, T * H));
        TSR_TRY(dalloc(c, &a.qkv, T * 3 * H));
        TSR_TRY(dalloc(c, &a.att, T * H));
        TSR_TRY(dalloc(c, &a.lse, T * NH));
        TSR_TRY(dalloc(c, &a.z1, T * H));
        TSR_TRY(dalloc(c, &a.mean1, T));
        TSR_TRY(dalloc(c, &a.rstd1, T));
        TSR_TRY(dalloc(c, &a.h, T * H));
        TSR_TRY(dalloc(c, &a.u, T * uW));
        TSR_TRY(dalloc(c, &a.a, T * I));
        TSR_TRY(dalloc(c, &a.z2, T * H));
        TSR_TRY(dalloc(c, &a.mean2, T));
        TSR_TRY(dalloc(c, &a.rstd2, T));
    }
    TSR_TRY(dalloc(c, &c->xfinal, T * H));
    TSR_TRY(dalloc(c, &c->scratch, T * H));
    TSR_TRY(dalloc(c, &c->attn_ws, tsr_attn_bwd_ws_floats((int)T, NH, D)));
    if (cf.head == TSR_HEAD_MLM) {
        TSR_TRY(dalloc(c, &c->hg, M * H));
        TSR_TRY(dalloc(c, &c->tb, M * H));
        TSR_TRY(dalloc(c, &c->n, M * H));
        TSR_TRY(dalloc(c, &c->logits, M * V));
        TSR_TRY(dalloc(c, &c->gl, M * H));
        TSR_TRY(dalloc(c, &c->mmean, M));
        TSR_TRY(dalloc(c, &c->mrstd, M));
        TSR_TRY(dalloc(c, &c->loss_rows, M));
        TSR_TRY(dalloc(c, &c->dn, M * H));
        TSR_TRY(dalloc(c, &c->dtb, M * H));
    } else if (cf.head == TSR_HEAD_CLASSIFICATION || cf.head == TSR_HEAD_REGRESSION) {
        const int Lb = cf.num_labels;
        TSR_TRY(dalloc(c, &c->cc, S * H));
        TSR_TRY(dalloc(c, &c->pooled, S * H));
        TSR_TRY(dalloc(c, &c->pd, S * H));
        TSR_TRY(dalloc(c, &c->clog, S * Lb));
        TSR_TRY(dalloc(c, &c->dlog_bf, S * Lb));
        TSR_TRY(dalloc(c, &c->loss_rows, S));
        TSR_TRY(dalloc(c, &c->dpd, S * H));
        TSR_TRY(dalloc(c, &c->dpre, S * H));
    }
    c->logits_chunk = (int64_t)1 << 22; /* floats */
    TSR_TRY(dalloc(c, &c->logits_f32, c->logits_chunk));
    TSR_TRY(dalloc(c, &c->d_loss, 4));
    TSR_TRY(dalloc(c, &c->g_a, T * H));
    TSR_TRY(dalloc(c, &c->g_h, T * H));
    TSR_TRY(dalloc(c, &c->gbH, T * H));
    TSR_TRY(dalloc(c, &c->gbI, T * (I > H ? I : H)));
    TSR_TRY(dalloc(c, &c->gbW, T * (uW > 3 * H ? uW : 3 * H)));
    TSR_TRY(dalloc(c, &c->d_sumsq, 1));
    TSR_TRY(dalloc(c, &c->d_first, 1));
    tsr_gemm_prepare_stream(c->st); /* load cuBLASLt and its workspace now, not inside a step */
    CU_TRY(cudaStreamSynchronize(c->st));
    return TSR_OK;
}

int cuda_model_init(tsr_model* m) {
    cuda_model* c = new (std::nothrow) cuda_model();
    if (!c) return tsr_set_error(TSR_ERR_OOM, "CUDA backend: out of host memory");
    int s = model_init_impl(m, c);
    if (s != TSR_OK) {
        free_all(c);
        m->impl = nullptr;
        return s;
    }
    m->impl = c;
    return TSR_OK;
}

void cuda_model_free(tsr_model* m) {
    if (m->impl) free_all(CM(m));
    m->impl = nullptr;
}

float* block_of(cuda_model* c, int which) {
    switch (which) {
    case TSR_BUF_PARAMS: return c->params;
    case TSR_BUF_GRADS: return c->grads;
    case TSR_BUF_ADAM_M: return c->am;
    default: return c->av;
    }
}

int cuda_buffer_ptr(tsr_model* m, int which, float** out) {
    cuda_model* c = CM(m);
    if (which == TSR_BUF_PARAMS) c->ptr_exported = true; /* the caller may write: refresh bf16 every forward */
    *out = block_of(c, which);
    return TSR_OK;
}
int cuda_buffer_read(const tsr_model* m, int which, int64_t off, int64_t n, float* dst) {
    cuda_model* c = CM(m);
    CU_TRY(cudaMemcpyAsync(dst, block_of(c, which) + off, sizeof(float) * (size_t)n, cudaMemcpyDeviceToHost, c->st));
    CU_TRY(cudaStreamSynchronize(c->st));
    return TSR_OK;
}
int cuda_buffer_write(tsr_model* m, int which, int64_t off, int64_t n, const float* src) {
    cuda_model* c = CM(m);
    CU_TRY(cudaMemcpyAsync(block_of(c, which) + off, src, sizeof(float) * (size_t)n, cudaMemcpyHostToDevice, c->st));
    CU_TRY(cudaStreamSynchronize(c->st)); /* src is the caller's pageable memory */
    if (which == TSR_BUF_PARAMS) c->wbf_dirty = true;
    return TSR_OK;
}
int cuda_check_finite(const tsr_model* m, int which, int64_t* first_bad) {
    cuda_model* c = CM(m);
    CU_TRY(cudaMemsetAsync(c->d_first, 0xff, sizeof(unsigned long long), c->st));
    TSR_TRY(k_first_nonfinite(c->st, c->d_first, block_of(c, which), m->num_params));
    unsigned long long* h = static_cast<unsigned long long*>(c->h_misc) + 1;
    CU_TRY(cudaMemcpyAsync(h, c->d_first, sizeof *h, cudaMemcpyDeviceToHost, c->st));
    CU_TRY(cudaStreamSynchronize(c->st));
    if (*h == ULLONG_MAX) {
        if (first_bad) *first_bad = -1;
        return TSR_OK;
    }
    if (first_bad) *first_bad = (int64_t)*h;
    return tsr_set_error(TSR_ERR_NONFINITE, "non-finite value at element %llu of buffer %d", *h, which);
}

/* pointers into the blocks */
const float* P32(tsr_model* m, int64_t off) { return CM(m)->params + off; }
float* G32(tsr_model* m, int64_t off) { return off < 0 ? nullptr : CM(m)->grads + off; }
const bf16* W16(tsr_model* m, int64_t off) {
    /* the tensor starting at `off` */
    cuda_model* c = CM(m);
    for (int t = 0; t < m->num_tensors; t++)
        if (m->tensors[t].offset == off) return c->wbf + c->aoff[t];
    return nullptr;
}

tsr_drop mkdrop(float p, uint64_t seed, uint64_t step, int layer, int kind) {
    tsr_drop d;
    d.p = p;
    d.seed = seed;
    d.step = step;
    d.site = TSR_DROPOUT_SITE(layer, kind);
    return d;
}

/* Opt-in checked synchronisation (TSR_CUDA_SYNC_CHECK=1, gpu_check sets it): waits for the stream
 * at the end of a phase so that an asynchronous device fault is reported by the phase that caused
 * it (forward / backward / optimizer) instead of by the next synchronising call. Off by default:
 * backward and AdamW stay asynchronous. */
static bool sync_check_on() {
    const char* e = getenv("TSR_CUDA_SYNC_CHECK");
    return e && *e && strcmp(e, "0") != 0;
}
static int sync_check(cudaStream_t st, const char* phase) {
    if (!sync_check_on()) return TSR_OK;
    cudaError_t e = cudaStreamSynchronize(st);
    if (e == cudaSuccess) e = cudaGetLastError();
    if (e != cudaSuccess)
        return tsr_set_error(e == cudaErrorMemoryAllocation ? TSR_ERR_OOM : TSR_ERR_DEVICE,
                             "CUDA fault in %s (TSR_CUDA_SYNC_CHECK): %s: %s", phase, cudaGetErrorName(e),
                             cudaGetErrorString(e));
    return TSR_OK;
}

int cuda_forward(tsr_model* m, const tsr_batch* b, float* loss, float* logits_out, uint64_t seed, uint64_t step,
                 int training) {
    cuda_model* c = CM(m);
    const tsr_config& cf = m->cfg;
    const tsr_layout& Lo = m->layout;
    const int H = cf.hidden_size, I = cf.intermediate_size, NH = cf.num_heads, D = H / NH, V = cf.vocab_size;
    const int T = b->num_tokens, S = b->num_seqs, NL = cf.num_layers;
    const bool mosaic = cf.variant == TSR_VARIANT_MOSAIC_BERT;
    const float hp = training ? cf.hidden_dropout : 0.0f, ap = training ? cf.attention_dropout : 0.0f;
    cudaStream_t st = c->st;
    c->has_fwd = false;

    /* ---- stage the batch (one copy) ---- */
    const int64_t Tm = cf.max_tokens, Sm = cf.max_seqs, Mm = cf.max_mlm_targets > 0 ? cf.max_mlm_targets : cf.max_tokens;
    int32_t* h = c->h_stage;
    CU_TRY(cudaEventSynchronize(c->staged)); /* normally long done: forward ends with a sync */
    int32_t *hids = h, *htypes = h + Tm, *hpos = htypes + Tm, *hcu = hpos + Tm, *hrows = hcu + Sm + 1,
            *htgt = hrows + Mm, *hcls = htgt + Mm, *hlab = hcls + Sm;
    float* htargets = reinterpret_cast<float*>(hlab + Sm);
    float* hsoft = htargets + Sm;
    memcpy(hids, b->input_ids, sizeof(int32_t) * T);
    if (b->token_type_ids) memcpy(htypes, b->token_type_ids, sizeof(int32_t) * T);
    else memset(htypes, 0, sizeof(int32_t) * T);
    memcpy(hcu, b->cu_seqlens, sizeof(int32_t) * (S + 1));
    for (int s = 0; s < S; s++) {
        hcls[s] = b->cu_seqlens[s];
        for (int t = b->cu_seqlens[s]; t < b->cu_seqlens[s + 1]; t++) hpos[t] = t - b->cu_seqlens[s];
    }
    int M = 0;
    bool has_labels = false;
    if (cf.head == TSR_HEAD_MLM) {
        if (b->mlm_labels) {
            has_labels = true;
            for (int t = 0; t < T; t++)
                if (b->mlm_labels[t] >= 0) {
                    hrows[M] = t;
                    htgt[M] = b->mlm_labels[t];
                    M++;
                }
        } else {
            for (int t = 0; t < T; t++) hrows[t] = t;
            M = T;
        }
    } else if (cf.head == TSR_HEAD_CLASSIFICATION && (b->class_labels || b->soft_targets)) {
        has_labels = true;
        if (b->class_labels) memcpy(hlab, b->class_labels, sizeof(int32_t) * S);
        else
            for (int s = 0; s < S; s++) hlab[s] = -1; /* soft targets only: no row has a hard label */
        if (b->soft_targets) memcpy(hsoft, b->soft_targets, sizeof(float) * (size_t)S * cf.num_labels);
    } else if (cf.head == TSR_HEAD_REGRESSION && b->targets) {
        has_labels = true;
        memcpy(htargets, b->targets, sizeof(float) * S);
    }
    CU_TRY(cudaMemcpyAsync(c->d_stage, h, sizeof(int32_t) * (size_t)c->stage_ints, cudaMemcpyHostToDevice, st));
    CU_TRY(cudaEventRecord(c->staged, st));

    if (c->wbf_dirty || c->ptr_exported) {
        TSR_TRY(k_params_to_bf16(st, c->wbf, c->params, c->d_off, c->d_aoff, m->num_tensors, m->num_params));
        c->wbf_dirty = false;
    }

    /* ---- embeddings ---- */
    TSR_TRY(k_embed_fwd(st, c->e, c->ids, c->types, mosaic ? nullptr : c->pos, P32(m, Lo.wte), P32(m, Lo.wtt),
                        mosaic ? nullptr : P32(m, Lo.wpe), T, H));
    bf16* x = NL > 0 ? c->L[0].x : c->xfinal;
    {
        ln_fwd_args a{};
        a.x = c->e;
        a.w = P32(m, Lo.emb_ln_w);
        a.b = P32(m, Lo.emb_ln_b);
        a.out = x;
        a.out_f32 = false;
        a.odrop = mkdrop(hp, seed, step, -1, TSR_DROP_EMBEDDINGS);
        a.mean = c->mean0;
        a.rstd = c->rstd0;
        a.N = T;
        a.C = H;
        a.eps = cf.layer_norm_eps;
        TSR_TRY(k_layernorm_fwd(st, a));
    }

    /* ---- encoder ---- */
    for (int l = 0; l < NL; l++) {
        const tsr_layer_offsets& o = Lo.layers[l];
        layer_act& A = c->L[l];
        bf16* xnext = l + 1 < NL ? c->L[l + 1].x : c->xfinal;
        TSR_TRY(tsr_linear_fwd(st, A.qkv, false, A.x, W16(m, o.qkv_w), T, H, 3 * H));
        TSR_TRY(k_bias_add<bf16>(st, A.qkv, P32(m, o.qkv_b), T, 3 * H));
        TSR_TRY(tsr_attn_fwd(st, A.att, A.lse, A.qkv, c->cu, S, b->max_seqlen, T, NH, D, mosaic ? c->slopes : nullptr,
                             ap, seed, step, TSR_DROPOUT_SITE(l, TSR_DROP_ATTN_PROBS)));
        TSR_TRY(tsr_linear_fwd(st, c->scratch, false, A.att, W16(m, o.ao_w), T, H, H));
        ln_fwd_args a{};
        a.x = A.z1;
        a.res = A.x;
        a.y = c->scratch;
        a.ybias = P32(m, o.ao_b);
        a.ydrop = mkdrop(hp, seed, step, l, TSR_DROP_ATTN_OUT);
        a.w = P32(m, o.ln1_w);
        a.b = P32(m, o.ln1_b);
        a.out = A.h;
        a.out_f32 = false;
        a.odrop = mkdrop(0.0f, seed, step, l, 0);
        a.mean = A.mean1;
        a.rstd = A.rstd1;
        a.N = T;
        a.C = H;
        a.eps = cf.layer_norm_eps;
        TSR_TRY(k_layernorm_fwd(st, a));
        if (mosaic) {
            TSR_TRY(tsr_linear_fwd(st, A.u, false, A.h, W16(m, o.ff1_w), T, H, 2 * I));
            TSR_TRY(k_geglu_fwd<bf16>(st, A.a, A.u, T, I, mkdrop(hp, seed, step, l, TSR_DROP_FFN)));
        } else {
            TSR_TRY(tsr_linear_fwd(st, A.u, false, A.h, W16(m, o.ff1_w), T, H, I));
            TSR_TRY(k_bias_gelu_fwd<bf16>(st, A.a, A.u, P32(m, o.ff1_b), T, I));
        }
        TSR_TRY(tsr_linear_fwd(st, c->scratch, false, A.a, W16(m, o.ff2_w), T, I, H));
        a.x = A.z2;
        a.res = A.h;
        a.y = c->scratch;
        a.ybias = P32(m, o.ff2_b);
        a.ydrop = mkdrop(mosaic ? 0.0f : hp, seed, step, l, TSR_DROP_FFN);
        a.w = P32(m, o.ln2_w);
        a.b = P32(m, o.ln2_b);
        a.out = xnext;
        a.mean = A.mean2;
        a.rstd = A.rstd2;
        TSR_TRY(k_layernorm_fwd(st, a));
    }

    /* ---- head ---- */
    CU_TRY(cudaMemsetAsync(c->d_loss, 0, sizeof(float), st));
    if (cf.head == TSR_HEAD_MLM) {
        if (M > 0) {
            TSR_TRY(k_gather_rows(st, c->hg, c->xfinal, c->mlm_rows, M, H));
            TSR_TRY(tsr_linear_fwd(st, c->tb, false, c->hg, W16(m, Lo.mlm_w), M, H, H));
            TSR_TRY(k_bias_gelu_fwd<bf16>(st, c->n, c->tb, P32(m, Lo.mlm_b), M, H)); /* n = gelu(tb) for now */
            TSR_TRY(k_bf16_to_f32(st, c->gl, c->n, (int64_t)M * H));
            ln_fwd_args a{};
            a.x = c->gl;
            a.w = P32(m, Lo.mlm_ln_w);
            a.b = P32(m, Lo.mlm_ln_b);
            a.out = c->n;
            a.out_f32 = false;
            a.mean = c->mmean;
            a.rstd = c->mrstd;
            a.N = M;
            a.C = H;
            a.eps = cf.layer_norm_eps;
            TSR_TRY(k_layernorm_fwd(st, a));
            TSR_TRY(tsr_linear_fwd(st, c->logits, false, c->n, W16(m, Lo.wte), M, H, V));
            TSR_TRY(k_bias_add<bf16>(st, c->logits, P32(m, Lo.mlm_dec_b), M, V));
            if (logits_out) {
                int64_t rows_per = c->logits_chunk / V;
                if (rows_per < 1) return tsr_set_error(TSR_ERR_INTERNAL, "vocab too large for the logits buffer");
                for (int64_t r0 = 0; r0 < M; r0 += rows_per) {
                    int64_t nr = M - r0 < rows_per ? M - r0 : rows_per;
                    TSR_TRY(k_bf16_to_f32(st, c->logits_f32, c->logits + r0 * V, nr * V));
                    CU_TRY(cudaMemcpyAsync(logits_out + r0 * V, c->logits_f32, sizeof(float) * (size_t)(nr * V),
                                           cudaMemcpyDeviceToHost, st));
                    CU_TRY(cudaStreamSynchronize(st)); /* the chunk buffer is reused */
                }
            }
            if (has_labels) {
                /* dlogits (÷M) overwrite the logits in place when training */
                TSR_TRY(k_softmax_ce<bf16>(st, c->loss_rows, training ? c->logits : nullptr, c->logits, c->mlm_tgt, M, V,
                                           1.0f / M, false));
                TSR_TRY(k_sum(st, c->d_loss, c->loss_rows, M, 1.0f / M));
            }
        }
    } else if (cf.head == TSR_HEAD_CLASSIFICATION || cf.head == TSR_HEAD_REGRESSION) {
        const int Lb = cf.num_labels;
        if (cf.pooling == TSR_POOLING_MEAN) TSR_TRY(k_mean_rows_fwd(st, c->cc, c->xfinal, c->cu, S, H));
        else TSR_TRY(k_gather_rows(st, c->cc, c->xfinal, c->cls_rows, S, H));
        TSR_TRY(tsr_linear_fwd(st, c->pooled, false, c->cc, W16(m, Lo.pool_w), S, H, H));
        TSR_TRY(k_bias_tanh(st, c->pooled, P32(m, Lo.pool_b), S, H));
        TSR_TRY(k_dropout<bf16>(st, c->pd, c->pooled, (int64_t)S * H, mkdrop(hp, seed, step, NL, TSR_DROP_CLASSIFIER), 0,
                                false));
        TSR_TRY(tsr_linear_fwd(st, c->clog, true, c->pd, W16(m, Lo.cls_w), S, H, Lb));
        TSR_TRY(k_bias_add<float>(st, c->clog, P32(m, Lo.cls_b), S, Lb));
        if (logits_out) {
            CU_TRY(cudaMemcpyAsync(logits_out, c->clog, sizeof(float) * (size_t)S * Lb, cudaMemcpyDeviceToHost, st));
        }
        if (has_labels) {
            if (cf.head == TSR_HEAD_CLASSIFICATION && b->soft_targets) { /* distillation (tessera.h): mean over all S rows */
                TSR_TRY(k_distill_ce(st, c->loss_rows, training ? c->clog : nullptr, c->clog, c->cls_lab, c->soft, S, Lb,
                                     b->distill_alpha, b->distill_temperature, 1.0f / S, false));
                TSR_TRY(k_sum(st, c->d_loss, c->loss_rows, S, 1.0f / S));
            } else if (cf.head == TSR_HEAD_CLASSIFICATION) {
                TSR_TRY(k_softmax_ce<float>(st, c->loss_rows, training ? c->clog : nullptr, c->clog, c->cls_lab, S, Lb,
                                            1.0f / S, false));
                TSR_TRY(k_sum(st, c->d_loss, c->loss_rows, S, 1.0f / S));
            } else {
                TSR_TRY(k_mse(st, c->d_loss, training ? c->clog : nullptr, c->clog, c->targets, S));
            }
        }
    } else if (logits_out) {
        for (int64_t r0 = 0; r0 < T; r0 += c->logits_chunk / H) {
            int64_t nr = T - r0 < c->logits_chunk / H ? T - r0 : c->logits_chunk / H;
            TSR_TRY(k_bf16_to_f32(st, c->logits_f32, c->xfinal + r0 * H, nr * H));
            CU_TRY(cudaMemcpyAsync(logits_out + r0 * H, c->logits_f32, sizeof(float) * (size_t)(nr * H),
                                   cudaMemcpyDeviceToHost, st));
            CU_TRY(cudaStreamSynchronize(st));
        }
    }
    TSR_TRY(sync_check(st, "forward"));
    CU_TRY(cudaMemcpyAsync(c->h_loss, c->d_loss, sizeof(float), cudaMemcpyDeviceToHost, st));
    CU_TRY(cudaStreamSynchronize(st)); /* the API returns the loss */
    *loss = *c->h_loss;
    c->T = T;
    c->S = S;
    c->M = M;
    c->max_seqlen = b->max_seqlen;
    c->seed = seed;
    c->step = step;
    c->has_fwd = training && has_labels;
    return TSR_OK;
}

int cuda_backward(tsr_model* m, float ls) {
    cuda_model* c = CM(m);
    if (!c->has_fwd)
        return tsr_set_error(TSR_ERR_STATE, "tsr_backward: no training forward with labels to differentiate (or backward already ran)");
    c->has_fwd = false;
    const tsr_config& cf = m->cfg;
    const tsr_layout& Lo = m->layout;
    const int H = cf.hidden_size, I = cf.intermediate_size, NH = cf.num_heads, D = H / NH, V = cf.vocab_size;
    const int T = c->T, S = c->S, M = c->M, NL = cf.num_layers;
    const bool mosaic = cf.variant == TSR_VARIANT_MOSAIC_BERT;
    const float hp = cf.hidden_dropout, ap = cf.attention_dropout;
    const uint64_t seed = c->seed, step = c->step;
    cudaStream_t st = c->st;

    CU_TRY(cudaMemsetAsync(c->g_a, 0, sizeof(float) * (size_t)T * H, st));
    /* ---- head ---- */
    if (cf.head == TSR_HEAD_MLM && M > 0) {
        TSR_TRY(k_colsum<bf16>(st, G32(m, Lo.mlm_dec_b), c->logits, M, V, ls));
        TSR_TRY(tsr_linear_bwd_weight(st, G32(m, Lo.wte), ls, c->logits, c->n, M, H, V));
        TSR_TRY(tsr_linear_bwd_data(st, c->dn, true, ls, 0.0f, c->logits, W16(m, Lo.wte), M, H, V));
        ln_bwd_args a{};
        a.dy = c->dn;
        a.x = c->gl;
        a.w = P32(m, Lo.mlm_ln_w);
        a.mean = c->mmean;
        a.rstd = c->mrstd;
        a.dw = G32(m, Lo.mlm_ln_w);
        a.db = G32(m, Lo.mlm_ln_b);
        a.dx_f32 = c->dn; /* in place: each row's dy is read before its dx is written */
        a.N = M;
        a.C = H;
        TSR_TRY(k_layernorm_bwd(st, a));
        TSR_TRY(k_gelu_bwd_mixed(st, c->dtb, c->tb, c->dn, (int64_t)M * H));
        TSR_TRY(k_colsum<bf16>(st, G32(m, Lo.mlm_b), c->dtb, M, H, 1.0f));
        TSR_TRY(tsr_linear_bwd_weight(st, G32(m, Lo.mlm_w), 1.0f, c->dtb, c->hg, M, H, H));
        TSR_TRY(tsr_linear_bwd_data(st, c->dn, true, 1.0f, 0.0f, c->dtb, W16(m, Lo.mlm_w), M, H, H));
        TSR_TRY(k_scatter_add_rows(st, c->g_a, c->dn, c->mlm_rows, M, H));
    } else if (cf.head == TSR_HEAD_CLASSIFICATION || cf.head == TSR_HEAD_REGRESSION) {
        const int Lb = cf.num_labels;
        TSR_TRY(k_colsum<float>(st, G32(m, Lo.cls_b), c->clog, S, Lb, ls));
        TSR_TRY(k_f32_to_bf16(st, c->dlog_bf, c->clog, (int64_t)S * Lb));
        TSR_TRY(tsr_linear_bwd_weight(st, G32(m, Lo.cls_w), ls, c->dlog_bf, c->pd, S, H, Lb));
        TSR_TRY(tsr_linear_bwd_data(st, c->dpd, true, ls, 0.0f, c->dlog_bf, W16(m, Lo.cls_w), S, H, Lb));
        TSR_TRY(k_dropout<float>(st, c->dpd, c->dpd, (int64_t)S * H, mkdrop(hp, seed, step, NL, TSR_DROP_CLASSIFIER), 0,
                                 false));
        TSR_TRY(k_tanh_bwd(st, c->dpre, c->dpd, c->pooled, (int64_t)S * H));
        TSR_TRY(k_colsum<bf16>(st, G32(m, Lo.pool_b), c->dpre, S, H, 1.0f));
        TSR_TRY(tsr_linear_bwd_weight(st, G32(m, Lo.pool_w), 1.0f, c->dpre, c->cc, S, H, H));
        TSR_TRY(tsr_linear_bwd_data(st, c->dpd, true, 1.0f, 0.0f, c->dpre, W16(m, Lo.pool_w), S, H, H));
        if (cf.pooling == TSR_POOLING_MEAN) TSR_TRY(k_mean_rows_bwd(st, c->g_a, c->dpd, c->cu, S, H));
        else TSR_TRY(k_scatter_add_rows(st, c->g_a, c->dpd, c->cls_rows, S, H));
    }

    /* ---- encoder, last layer first. g_a: gradient of the layer's output, then of its input ---- */
    for (int l = NL - 1; l >= 0; l--) {
        const tsr_layer_offsets& o = Lo.layers[l];
        layer_act& A = c->L[l];
        ln_bwd_args a{};
        a.dy = c->g_a;
        a.x = A.z2;
        a.w = P32(m, o.ln2_w);
        a.mean = A.mean2;
        a.rstd = A.rstd2;
        a.dw = G32(m, o.ln2_w);
        a.db = G32(m, o.ln2_b);
        a.dx_f32 = c->g_h; /* residual into h */
        a.dx_acc = false;
        a.dx_bf16 = c->gbH; /* into the FFN output */
        a.xdrop = mkdrop(mosaic ? 0.0f : hp, seed, step, l, TSR_DROP_FFN);
        a.dbias = G32(m, o.ff2_b);
        a.N = T;
        a.C = H;
        TSR_TRY(k_layernorm_bwd(st, a));
        TSR_TRY(tsr_linear_bwd_weight(st, G32(m, o.ff2_w), 1.0f, c->gbH, A.a, T, I, H));
        TSR_TRY(tsr_linear_bwd_data(st, c->gbI, false, 1.0f, 0.0f, c->gbH, W16(m, o.ff2_w), T, I, H));
        if (mosaic) {
            TSR_TRY(k_geglu_bwd<bf16>(st, c->gbW, A.u, c->gbI, T, I, mkdrop(hp, seed, step, l, TSR_DROP_FFN), false));
            TSR_TRY(tsr_linear_bwd_weight(st, G32(m, o.ff1_w), 1.0f, c->gbW, A.h, T, H, 2 * I));
            TSR_TRY(tsr_linear_bwd_data(st, c->g_h, true, 1.0f, 1.0f, c->gbW, W16(m, o.ff1_w), T, H, 2 * I));
        } else {
            TSR_TRY(k_gelu_bwd<bf16>(st, c->gbW, A.u, c->gbI, (int64_t)T * I, false));
            TSR_TRY(k_colsum<bf16>(st, G32(m, o.ff1_b), c->gbW, T, I, 1.0f));
            TSR_TRY(tsr_linear_bwd_weight(st, G32(m, o.ff1_w), 1.0f, c->gbW, A.h, T, H, I));
            TSR_TRY(tsr_linear_bwd_data(st, c->g_h, true, 1.0f, 1.0f, c->gbW, W16(m, o.ff1_w), T, H, I));
        }
        a = ln_bwd_args{};
        a.dy = c->g_h;
        a.x = A.z1;
        a.w = P32(m, o.ln1_w);
        a.mean = A.mean1;
        a.rstd = A.rstd1;
        a.dw = G32(m, o.ln1_w);
        a.db = G32(m, o.ln1_b);
        a.dx_f32 = c->g_a; /* residual into x */
        a.dx_acc = false;
        a.dx_bf16 = c->gbH; /* into the attention output projection */
        a.xdrop = mkdrop(hp, seed, step, l, TSR_DROP_ATTN_OUT);
        a.dbias = G32(m, o.ao_b);
        a.N = T;
        a.C = H;
        TSR_TRY(k_layernorm_bwd(st, a));
        TSR_TRY(tsr_linear_bwd_weight(st, G32(m, o.ao_w), 1.0f, c->gbH, A.att, T, H, H));
        TSR_TRY(tsr_linear_bwd_data(st, c->gbI, false, 1.0f, 0.0f, c->gbH, W16(m, o.ao_w), T, H, H));
        TSR_TRY(tsr_attn_bwd(st, c->gbW, c->gbI, A.qkv, A.att, A.lse, c->cu, S, c->max_seqlen, T, NH, D,
                             mosaic ? c->slopes : nullptr, ap, seed, step, TSR_DROPOUT_SITE(l, TSR_DROP_ATTN_PROBS),
                             c->attn_ws));
        TSR_TRY(k_colsum<bf16>(st, G32(m, o.qkv_b), c->gbW, T, 3 * H, 1.0f));
        TSR_TRY(tsr_linear_bwd_weight(st, G32(m, o.qkv_w), 1.0f, c->gbW, A.x, T, H, 3 * H));
        TSR_TRY(tsr_linear_bwd_data(st, c->g_a, true, 1.0f, 1.0f, c->gbW, W16(m, o.qkv_w), T, H, 3 * H));
    }

    /* ---- embeddings ---- */
    ln_bwd_args a{};
    a.dy = c->g_a;
    a.idrop = mkdrop(hp, seed, step, -1, TSR_DROP_EMBEDDINGS);
    a.x = c->e;
    a.w = P32(m, Lo.emb_ln_w);
    a.mean = c->mean0;
    a.rstd = c->rstd0;
    a.dw = G32(m, Lo.emb_ln_w);
    a.db = G32(m, Lo.emb_ln_b);
    a.dx_f32 = c->g_h;
    a.N = T;
    a.C = H;
    TSR_TRY(k_layernorm_bwd(st, a));
    TSR_TRY(k_embed_bwd(st, G32(m, Lo.wte), G32(m, Lo.wtt), mosaic ? nullptr : G32(m, Lo.wpe), c->g_h, c->ids, c->types,
                        mosaic ? nullptr : c->pos, T, H));
    return sync_check(st, "backward");
}

int cuda_zero_grad(tsr_model* m) {
    CU_TRY(cudaMemsetAsync(CM(m)->grads, 0, sizeof(float) * (size_t)m->num_params, CM(m)->st));
    return TSR_OK;
}
int cuda_grad_sumsq(tsr_model* m, double* out) {
    cuda_model* c = CM(m);
    CU_TRY(cudaMemsetAsync(c->d_sumsq, 0, sizeof(double), c->st));
    TSR_TRY(k_sumsq(c->st, c->d_sumsq, c->grads, m->num_params));
    double* h = static_cast<double*>(c->h_misc) + 2;
    CU_TRY(cudaMemcpyAsync(h, c->d_sumsq, sizeof(double), cudaMemcpyDeviceToHost, c->st));
    CU_TRY(cudaStreamSynchronize(c->st));
    *out = *h;
    return TSR_OK;
}
int cuda_scale_grads(tsr_model* m, float s) { return k_scale(CM(m)->st, CM(m)->grads, s, m->num_params); }
int cuda_adamw(tsr_model* m, float lr, float initial_lr, float b1, float b2, float eps, float wd, int64_t step) {
    cuda_model* c = CM(m);
    bf16* wbf = c->wbf_dirty ? nullptr : c->wbf; /* a dirty copy is rebuilt whole at the next forward */
    TSR_TRY(k_adamw(c->st, c->params, c->grads, c->am, c->av, m->num_params, lr, initial_lr, b1, b2, eps, wd, step, wbf,
                    c->d_off, c->d_aoff, m->num_tensors, c->lrs_on ? c->d_lrs : nullptr));
    return sync_check(c->st, "optimizer");
}
/* the scales (already validated by the API layer) go to the device once; the next optimizer step reads them there */
int cuda_set_lr_scales(tsr_model* m, const float* scales) {
    cuda_model* c = CM(m);
    if (!scales) {
        c->lrs_on = false;
        return TSR_OK;
    }
    if (!c->d_lrs) TSR_TRY(dalloc(c, &c->d_lrs, m->num_tensors));
    /* in stream order: a step already queued keeps the scales it was launched with */
    CU_TRY(cudaMemcpyAsync(c->d_lrs, scales, sizeof(float) * (size_t)m->num_tensors, cudaMemcpyHostToDevice, c->st));
    CU_TRY(cudaStreamSynchronize(c->st)); /* the host array may be freed when this returns */
    c->lrs_on = true;
    return TSR_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Per-op entry points: host in, device kernels, host out (synchronous, default stream).       */
/* ------------------------------------------------------------------------------------------ */
struct scope {
    std::vector<void*> ptrs;
    ~scope() {
        cudaDeviceSynchronize();
        for (void* p : ptrs) cudaFree(p);
        cudaGetLastError();
    }
    template <typename T>
    int alloc(T** p, int64_t n) {
        *p = nullptr;
        if (n <= 0) n = 1;
        void* v = nullptr;
        cudaError_t e = cudaMalloc(&v, sizeof(T) * (size_t)n);
        *p = static_cast<T*>(v);
        if (e != cudaSuccess) {
            cudaGetLastError();
            return tsr_set_error(TSR_ERR_OOM, "CUDA op: cudaMalloc failed: %s", cudaGetErrorString(e));
        }
        ptrs.push_back(v);
        return TSR_OK;
    }
    /* device copy of n host elements (NULL host -> NULL device) */
    template <typename T, typename U>
    int up(T** d, const U* h, int64_t n) {
        static_assert(sizeof(T) == sizeof(U), "same element type");
        if (!h) {
            *d = nullptr;
            return TSR_OK;
        }
        TSR_TRY(alloc(d, n));
        CU_TRY(cudaMemcpy((void*)*d, (const void*)h, sizeof(T) * (size_t)n, cudaMemcpyHostToDevice));
        return TSR_OK;
    }
    int up_bf16(bf16** d, const float* h, int64_t n) {
        float* tmp;
        TSR_TRY(up(&tmp, h, n));
        TSR_TRY(alloc(d, n));
        return k_f32_to_bf16(0, *d, tmp, n);
    }
};
template <typename T>
int down(T* h, const T* d, int64_t n) {
    if (!h) return TSR_OK;
    CU_TRY(cudaMemcpy(h, d, sizeof(T) * (size_t)n, cudaMemcpyDeviceToHost));
    return TSR_OK;
}
#define SYNC_CHECK() CU_TRY(cudaDeviceSynchronize())

int op_matmul_fwd(float* out, const float* inp, const float* w, const float* bias, int N, int C, int OC) {
    scope s;
    bf16 *di, *dw;
    float *dout, *db;
    TSR_TRY(s.up_bf16(&di, inp, (int64_t)N * C));
    TSR_TRY(s.up_bf16(&dw, w, (int64_t)OC * C));
    TSR_TRY(s.up(&db, bias, OC));
    TSR_TRY(s.alloc(&dout, (int64_t)N * OC));
    TSR_TRY(tsr_linear_fwd(0, dout, true, di, dw, N, C, OC));
    if (db) TSR_TRY(k_bias_add<float>(0, dout, db, N, OC));
    SYNC_CHECK();
    return down(out, dout, (int64_t)N * OC);
}
int op_matmul_bwd(float* dinp, float* dw, float* dbias, const float* dout, const float* inp, const float* w, int N,
                  int C, int OC) {
    scope s;
    bf16 *ddo, *di, *dwt;
    float *gi, *gw, *gb;
    TSR_TRY(s.up_bf16(&ddo, dout, (int64_t)N * OC));
    TSR_TRY(s.up_bf16(&di, inp, (int64_t)N * C));
    TSR_TRY(s.up_bf16(&dwt, w, (int64_t)OC * C));
    TSR_TRY(s.up(&gi, (const float*)dinp, (int64_t)N * C));
    TSR_TRY(s.up(&gw, (const float*)dw, (int64_t)OC * C));
    TSR_TRY(s.up(&gb, (const float*)dbias, OC));
    if (gi) TSR_TRY(tsr_linear_bwd_data(0, gi, true, 1.0f, 1.0f, ddo, dwt, N, C, OC));
    if (gw) TSR_TRY(tsr_linear_bwd_weight(0, gw, 1.0f, ddo, di, N, C, OC));
    if (gb) {
        float* f;
        TSR_TRY(s.up(&f, dout, (int64_t)N * OC));
        TSR_TRY(k_colsum<float>(0, gb, f, N, OC, 1.0f));
    }
    SYNC_CHECK();
    TSR_TRY(down(dinp, gi, (int64_t)N * C));
    TSR_TRY(down(dw, gw, (int64_t)OC * C));
    return down(dbias, gb, OC);
}
int op_layernorm_fwd(float* out, float* mean, float* rstd, const float* inp, const float* w, const float* b, int N,
                     int C, float eps) {
    scope s;
    ln_fwd_args a{};
    float *x, *o, *mu, *rs;
    TSR_TRY(s.up(&x, inp, (int64_t)N * C));
    TSR_TRY(s.up(&a.w, w, C));
    TSR_TRY(s.up(&a.b, b, C));
    TSR_TRY(s.alloc(&o, (int64_t)N * C));
    TSR_TRY(s.alloc(&mu, N));
    TSR_TRY(s.alloc(&rs, N));
    a.x = x;
    a.out = o;
    a.out_f32 = true;
    a.mean = mu;
    a.rstd = rs;
    a.N = N;
    a.C = C;
    a.eps = eps;
    TSR_TRY(k_layernorm_fwd(0, a));
    SYNC_CHECK();
    TSR_TRY(down(out, o, (int64_t)N * C));
    TSR_TRY(down(mean, mu, N));
    return down(rstd, rs, N);
}
int op_layernorm_bwd(float* dinp, float* dw, float* db, const float* dout, const float* inp, const float* w,
                     const float* mean, const float* rstd, int N, int C) {
    scope s;
    ln_bwd_args a{};
    float *gi, *gw, *gb;
    TSR_TRY(s.up(&a.dy, dout, (int64_t)N * C));
    TSR_TRY(s.up(&a.x, inp, (int64_t)N * C));
    TSR_TRY(s.up(&a.w, w, C));
    TSR_TRY(s.up(&a.mean, mean, N));
    TSR_TRY(s.up(&a.rstd, rstd, N));
    TSR_TRY(s.up(&gi, (const float*)dinp, (int64_t)N * C));
    TSR_TRY(s.up(&gw, (const float*)dw, C));
    TSR_TRY(s.up(&gb, (const float*)db, C));
    a.dw = gw;
    a.db = gb;
    a.dx_f32 = gi;
    a.dx_acc = true;
    a.N = N;
    a.C = C;
    TSR_TRY(k_layernorm_bwd(0, a));
    SYNC_CHECK();
    TSR_TRY(down(dinp, gi, (int64_t)N * C));
    TSR_TRY(down(dw, gw, C));
    return down(db, gb, C);
}
int op_gelu_fwd(float* out, const float* inp, int64_t n) {
    scope s;
    float *u, *o;
    TSR_TRY(s.up(&u, inp, n));
    TSR_TRY(s.alloc(&o, n));
    /* n rows of one column (n may exceed int) */
    TSR_TRY(k_bias_gelu_fwd<float>(0, o, u, nullptr, n, 1));
    SYNC_CHECK();
    return down(out, o, n);
}
int op_gelu_bwd(float* dinp, const float* inp, const float* dout, int64_t n) {
    scope s;
    float *u, *d, *g;
    TSR_TRY(s.up(&u, inp, n));
    TSR_TRY(s.up(&d, dout, n));
    TSR_TRY(s.up(&g, (const float*)dinp, n));
    TSR_TRY(k_gelu_bwd<float>(0, g, u, d, n, true));
    SYNC_CHECK();
    return down(dinp, g, n);
}
int op_geglu_fwd(float* out, const float* inp, int N, int I) {
    scope s;
    float *u, *o;
    TSR_TRY(s.up(&u, inp, (int64_t)N * 2 * I));
    TSR_TRY(s.alloc(&o, (int64_t)N * I));
    TSR_TRY(k_geglu_fwd<float>(0, o, u, N, I, mkdrop(0.0f, 0, 0, 0, 0)));
    SYNC_CHECK();
    return down(out, o, (int64_t)N * I);
}
int op_geglu_bwd(float* dinp, const float* inp, const float* dout, int N, int I) {
    scope s;
    float *u, *d, *g;
    TSR_TRY(s.up(&u, inp, (int64_t)N * 2 * I));
    TSR_TRY(s.up(&d, dout, (int64_t)N * I));
    TSR_TRY(s.up(&g, (const float*)dinp, (int64_t)N * 2 * I));
    TSR_TRY(k_geglu_bwd<float>(0, g, u, d, N, I, mkdrop(0.0f, 0, 0, 0, 0), true));
    SYNC_CHECK();
    return down(dinp, g, (int64_t)N * 2 * I);
}
int op_attention_fwd(float* out, float* lse, const float* qkv, const int32_t* cu, int S, int max_seqlen, int NH, int D,
                     const float* slopes, float p, uint64_t seed, uint64_t step, uint32_t site) {
    scope s;
    const int T = cu[S];
    bf16 *dq, *dout;
    int32_t* dcu;
    float *dsl, *dlse, *of;
    TSR_TRY(s.up_bf16(&dq, qkv, (int64_t)T * 3 * NH * D));
    TSR_TRY(s.up(&dcu, cu, S + 1));
    TSR_TRY(s.up(&dsl, slopes, NH));
    TSR_TRY(s.alloc(&dout, (int64_t)T * NH * D));
    TSR_TRY(s.alloc(&dlse, (int64_t)T * NH));
    TSR_TRY(s.alloc(&of, (int64_t)T * NH * D));
    TSR_TRY(tsr_attn_fwd(0, dout, dlse, dq, dcu, S, max_seqlen, T, NH, D, dsl, p, seed, step, site));
    TSR_TRY(k_bf16_to_f32(0, of, dout, (int64_t)T * NH * D));
    SYNC_CHECK();
    TSR_TRY(down(out, of, (int64_t)T * NH * D));
    return down(lse, dlse, (int64_t)T * NH);
}
int op_attention_bwd(float* dqkv, const float* dout, const float* qkv, const float* out, const float* lse,
                     const int32_t* cu, int S, int max_seqlen, int NH, int D, const float* slopes, float p, uint64_t seed,
                     uint64_t step, uint32_t site) {
    scope s;
    const int T = cu[S];
    const int64_t nq = (int64_t)T * 3 * NH * D, no = (int64_t)T * NH * D;
    bf16 *dq, *ddo, *dO, *dg;
    int32_t* dcu;
    float *dsl, *dlse, *ws, *gf;
    TSR_TRY(s.up_bf16(&dq, qkv, nq));
    TSR_TRY(s.up_bf16(&ddo, dout, no));
    TSR_TRY(s.up_bf16(&dO, out, no));
    TSR_TRY(s.up(&dlse, lse, (int64_t)T * NH));
    TSR_TRY(s.up(&dcu, cu, S + 1));
    TSR_TRY(s.up(&dsl, slopes, NH));
    TSR_TRY(s.alloc(&dg, nq));
    TSR_TRY(s.alloc(&ws, tsr_attn_bwd_ws_floats(T, NH, D)));
    TSR_TRY(s.alloc(&gf, nq));
    TSR_TRY(tsr_attn_bwd(0, dg, ddo, dq, dO, dlse, dcu, S, max_seqlen, T, NH, D, dsl, p, seed, step, site, ws));
    TSR_TRY(k_bf16_to_f32(0, gf, dg, nq));
    SYNC_CHECK();
    std::vector<float> tmp((size_t)nq);
    TSR_TRY(down(tmp.data(), gf, nq));
    for (int64_t i = 0; i < nq; i++) dqkv[i] += tmp[(size_t)i];
    return TSR_OK;
}
int op_dropout_fwd(float* out, const float* inp, int64_t n, float p, uint64_t seed, uint64_t step, uint32_t site,
                   uint64_t off) {
    scope s;
    float *i, *o;
    TSR_TRY(s.up(&i, inp, n));
    TSR_TRY(s.alloc(&o, n));
    tsr_drop d = {p, seed, step, site};
    TSR_TRY(k_dropout<float>(0, o, i, n, d, off, false));
    SYNC_CHECK();
    return down(out, o, n);
}
int op_dropout_bwd(float* dinp, const float* dout, int64_t n, float p, uint64_t seed, uint64_t step, uint32_t site,
                   uint64_t off) {
    scope s;
    float *i, *o;
    TSR_TRY(s.up(&i, dout, n));
    TSR_TRY(s.up(&o, (const float*)dinp, n));
    tsr_drop d = {p, seed, step, site};
    TSR_TRY(k_dropout<float>(0, o, i, n, d, off, true));
    SYNC_CHECK();
    return down(dinp, o, n);
}
int op_softmax_ce(float* loss_rows, float* dlogits, const float* logits, const int32_t* targets, int N, int V,
                  float scale) {
    scope s;
    float *x, *lr, *g;
    int32_t* t;
    TSR_TRY(s.up(&x, logits, (int64_t)N * V));
    TSR_TRY(s.up(&t, targets, N));
    TSR_TRY(s.alloc(&lr, N));
    TSR_TRY(s.up(&g, (const float*)dlogits, (int64_t)N * V));
    TSR_TRY(k_softmax_ce<float>(0, lr, g, x, t, N, V, scale, true));
    SYNC_CHECK();
    TSR_TRY(down(loss_rows, lr, N));
    return down(dlogits, g, (int64_t)N * V);
}
int op_distill_ce(float* loss_rows, float* dlogits, const float* logits, const int32_t* targets, const float* soft, int N,
                  int V, float alpha, float temperature, float scale) {
    scope s;
    float *x, *q, *lr, *g;
    int32_t* t;
    TSR_TRY(s.up(&x, logits, (int64_t)N * V));
    TSR_TRY(s.up(&t, targets, N));
    TSR_TRY(s.up(&q, soft, (int64_t)N * V));
    TSR_TRY(s.alloc(&lr, N));
    TSR_TRY(s.up(&g, (const float*)dlogits, (int64_t)N * V));
    TSR_TRY(k_distill_ce(0, lr, g, x, t, q, N, V, alpha, temperature, scale, true));
    SYNC_CHECK();
    TSR_TRY(down(loss_rows, lr, N));
    return down(dlogits, g, (int64_t)N * V);
}
/* The embedding ops get no table sizes: the largest index used bounds the rows to copy up. */
static void max_indices(const int32_t* ids, const int32_t* types, const int32_t* pos, int T, int* maxid,
                        int* maxt, int* maxp) {
    *maxid = *maxt = *maxp = 0;
    for (int i = 0; i < T; i++) {
        if (ids[i] > *maxid) *maxid = ids[i];
        if (types && types[i] > *maxt) *maxt = types[i];
        if (pos && pos[i] > *maxp) *maxp = pos[i];
    }
}
int op_embed_fwd(float* out, const int32_t* ids, const int32_t* types, const int32_t* pos, const float* wte,
                 const float* wtt, const float* wpe, int T, int C) {
    scope s;
    int32_t *di, *dt, *dp;
    float *a, *b, *c, *o;
    int maxid, maxt, maxp;
    max_indices(ids, types, pos, T, &maxid, &maxt, &maxp);
    TSR_TRY(s.up(&di, ids, T));
    TSR_TRY(s.up(&dt, types, T));
    TSR_TRY(s.up(&dp, wpe ? pos : nullptr, T));
    TSR_TRY(s.up(&a, wte, (int64_t)(maxid + 1) * C));
    TSR_TRY(s.up(&b, wtt, (int64_t)(maxt + 1) * C));
    TSR_TRY(s.up(&c, wpe, (int64_t)(maxp + 1) * C));
    TSR_TRY(s.alloc(&o, (int64_t)T * C));
    TSR_TRY(k_embed_fwd(0, o, di, dt, dp, a, b, c, T, C));
    SYNC_CHECK();
    return down(out, o, (int64_t)T * C);
}
int op_embed_bwd(float* dwte, float* dwtt, float* dwpe, const float* dout, const int32_t* ids, const int32_t* types,
                 const int32_t* pos, int T, int C) {
    scope s;
    int32_t *di, *dt, *dp;
    float *a, *b, *c, *g;
    int maxid, maxt, maxp;
    max_indices(ids, types, pos, T, &maxid, &maxt, &maxp);
    TSR_TRY(s.up(&di, ids, T));
    TSR_TRY(s.up(&dt, types, T));
    TSR_TRY(s.up(&dp, dwpe ? pos : nullptr, T));
    TSR_TRY(s.up(&g, dout, (int64_t)T * C));
    TSR_TRY(s.up(&a, (const float*)dwte, (int64_t)(maxid + 1) * C));
    TSR_TRY(s.up(&b, (const float*)dwtt, (int64_t)(maxt + 1) * C));
    TSR_TRY(s.up(&c, (const float*)dwpe, (int64_t)(maxp + 1) * C));
    TSR_TRY(k_embed_bwd(0, a, b, c, g, di, dt, dp, T, C));
    SYNC_CHECK();
    TSR_TRY(down(dwte, a, (int64_t)(maxid + 1) * C));
    TSR_TRY(down(dwtt, b, (int64_t)(maxt + 1) * C));
    return down(dwpe, c, (int64_t)(maxp + 1) * C);
}
int op_adamw(float* p, const float* g, float* mm, float* v, int64_t n, float lr, float initial_lr, float b1, float b2,
             float eps, float wd, int64_t step) {
    scope s;
    float *dp, *dg, *dm, *dv;
    TSR_TRY(s.up(&dp, (const float*)p, n));
    TSR_TRY(s.up(&dg, g, n));
    TSR_TRY(s.up(&dm, (const float*)mm, n));
    TSR_TRY(s.up(&dv, (const float*)v, n));
    TSR_TRY(k_adamw(0, dp, dg, dm, dv, n, lr, initial_lr, b1, b2, eps, wd, step, nullptr, nullptr, nullptr, 0, nullptr));
    SYNC_CHECK();
    TSR_TRY(down(p, dp, n));
    TSR_TRY(down(mm, dm, n));
    return down(v, dv, n);
}

const tsr_backend_ops g_ops = {
    "cuda",
    cuda_available,
    cuda_model_init,
    cuda_model_free,
    cuda_buffer_ptr,
    cuda_buffer_read,
    cuda_buffer_write,
    cuda_check_finite,
    cuda_forward,
    cuda_backward,
    cuda_zero_grad,
    cuda_grad_sumsq,
    cuda_scale_grads,
    cuda_adamw,
    op_matmul_fwd,
    op_matmul_bwd,
    op_layernorm_fwd,
    op_layernorm_bwd,
    op_gelu_fwd,
    op_gelu_bwd,
    op_geglu_fwd,
    op_geglu_bwd,
    op_attention_fwd,
    op_attention_bwd,
    op_dropout_fwd,
    op_dropout_bwd,
    op_softmax_ce,
    op_distill_ce,
    op_embed_fwd,
    op_embed_bwd,
    op_adamw,
    nullptr, /* set_precision: the products are always bf16 */
    cuda_set_lr_scales,
};

} // namespace

extern "C" const tsr_backend_ops* tsr_cuda_backend(void) { return &g_ops; }

int tsr_cuda_model_handles(tsr_model* m, cudaStream_t* stream, float** grads, int64_t* n) {
    if (!m || m->backend != TSR_BACKEND_CUDA || !m->impl)
        return tsr_set_error(TSR_ERR_INVALID_ARG, "not a CUDA model");
    *stream = CM(m)->st;
    *grads = CM(m)->grads;
    *n = m->num_params;
    return TSR_OK;
}

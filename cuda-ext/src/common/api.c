/*
 * The public API layer: argument and batch validation, the parameter table, error messages and
 * dispatch to a backend. Compiled for the baseline ISA (no AVX), so it can refuse politely on a
 * CPU that lacks what the CPU backend was compiled for.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alibi.h"
#include "model.h"
#include "philox.h"

static _Thread_local char g_err[1024];

int tsr_set_error(int status, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_err, sizeof g_err, fmt, ap);
    va_end(ap);
    return status;
}

const char* tsr_last_error(void) { return g_err; }
int tsr_api_version(void) { return TSR_API_VERSION; }

const char* tsr_status_name(int s) {
    switch (s) {
    case TSR_OK: return "TSR_OK";
    case TSR_ERR_INVALID_ARG: return "TSR_ERR_INVALID_ARG";
    case TSR_ERR_BUDGET: return "TSR_ERR_BUDGET";
    case TSR_ERR_TOKEN_RANGE: return "TSR_ERR_TOKEN_RANGE";
    case TSR_ERR_LABEL_RANGE: return "TSR_ERR_LABEL_RANGE";
    case TSR_ERR_NONFINITE: return "TSR_ERR_NONFINITE";
    case TSR_ERR_OOM: return "TSR_ERR_OOM";
    case TSR_ERR_NO_BACKEND: return "TSR_ERR_NO_BACKEND";
    case TSR_ERR_STATE: return "TSR_ERR_STATE";
    case TSR_ERR_DEVICE: return "TSR_ERR_DEVICE";
    case TSR_ERR_DIST: return "TSR_ERR_DIST";
    case TSR_ERR_INTERNAL: return "TSR_ERR_INTERNAL";
    default: return "TSR_ERR_UNKNOWN";
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Backends                                                                                 */
/* ---------------------------------------------------------------------------------------- */

static int cpu_supported(void) {
    /* the CPU backend is compiled for x86-64-v3 (AVX2 + FMA); AVX-512 is dispatched at run time */
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
        return tsr_set_error(TSR_ERR_NO_BACKEND, "CPU backend needs AVX2 and FMA (x86-64-v3); this CPU lacks them");
#endif
    return TSR_OK;
}

static int get_ops(int backend, const tsr_backend_ops** out) {
    if (backend == TSR_BACKEND_CPU) {
        int st = cpu_supported();
        if (st) return st;
        *out = tsr_cpu_backend();
        return TSR_OK;
    }
    if (backend == TSR_BACKEND_CUDA) {
#ifdef TSR_HAVE_CUDA
        const tsr_backend_ops* ops = tsr_cuda_backend();
        int st = ops->available();
        if (st) return st;
        *out = ops;
        return TSR_OK;
#else
        return tsr_set_error(TSR_ERR_NO_BACKEND, "TSR_BACKEND_CUDA: this libtessera was built without CUDA (no nvcc at build time)");
#endif
    }
    return tsr_set_error(TSR_ERR_INVALID_ARG, "unknown backend %d (TSR_BACKEND_CPU=0, TSR_BACKEND_CUDA=1)", backend);
}

int tsr_backend_available(int backend) {
    const tsr_backend_ops* ops = NULL;
    return get_ops(backend, &ops);
}

/* ---------------------------------------------------------------------------------------- */
/* ALiBi slopes (DESIGN.md §3)                                                              */
/* ---------------------------------------------------------------------------------------- */

int tsr_alibi_slopes(int n, float* out) {
    if (n <= 0 || !out) return tsr_set_error(TSR_ERR_INVALID_ARG, "tsr_alibi_slopes: num_heads must be > 0 and out non-NULL");
    tsr_alibi_slopes_fill(n, out);
    return TSR_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Parameter table                                                                          */
/* ---------------------------------------------------------------------------------------- */

typedef struct { tsr_model* m; int cap; } table_builder;

static int64_t add_tensor(table_builder* tb, const char* name, int ndim, int d0, int d1) {
    tsr_model* m = tb->m;
    if (m->num_tensors == tb->cap) {
        tb->cap = tb->cap ? tb->cap * 2 : 64;
        tsr_tensor_desc* t = realloc(m->tensors, (size_t)tb->cap * sizeof *t);
        if (!t) return -2;
        m->tensors = t;
    }
    tsr_tensor_desc* d = &m->tensors[m->num_tensors++];
    memset(d, 0, sizeof *d);
    snprintf(d->name, sizeof d->name, "%s", name);
    d->ndim = ndim;
    d->shape[0] = d0;
    d->shape[1] = ndim > 1 ? d1 : 0;
    d->numel = (int64_t)d0 * (ndim > 1 ? d1 : 1);
    d->offset = m->num_params;
    m->num_params += d->numel;
    return d->offset;
}

static int build_layout(tsr_model* m) {
    const tsr_config* c = &m->cfg;
    table_builder tb = {m, 0};
    tsr_layout* L = &m->layout;
    int H = c->hidden_size, I = c->intermediate_size;
    char nm[TSR_MAX_NAME];
    memset(L, 0xff, sizeof *L); /* all offsets -1 */
    L->layers = calloc((size_t)c->num_layers, sizeof *L->layers);
    if (!L->layers) return TSR_ERR_OOM;
    L->wte = add_tensor(&tb, "bert.embeddings.word_embeddings.weight", 2, c->vocab_size, H);
    L->wtt = add_tensor(&tb, "bert.embeddings.token_type_embeddings.weight", 2, c->type_vocab_size, H);
    if (c->variant == TSR_VARIANT_BERT)
        L->wpe = add_tensor(&tb, "bert.embeddings.position_embeddings.weight", 2, c->max_position_embeddings, H);
    L->emb_ln_w = add_tensor(&tb, "bert.embeddings.LayerNorm.weight", 1, H, 0);
    L->emb_ln_b = add_tensor(&tb, "bert.embeddings.LayerNorm.bias", 1, H, 0);
    for (int l = 0; l < c->num_layers; l++) {
        tsr_layer_offsets* o = &L->layers[l];
        memset(o, 0xff, sizeof *o);
#define T1(field, suffix, n) (snprintf(nm, sizeof nm, "bert.encoder.layer.%d.%s", l, suffix), o->field = add_tensor(&tb, nm, 1, n, 0))
#define T2(field, suffix, a, b) (snprintf(nm, sizeof nm, "bert.encoder.layer.%d.%s", l, suffix), o->field = add_tensor(&tb, nm, 2, a, b))
        if (c->variant == TSR_VARIANT_MOSAIC_BERT) {
            T2(qkv_w, "attention.self.Wqkv.weight", 3 * H, H);
            T1(qkv_b, "attention.self.Wqkv.bias", 3 * H);
        } else {
            int64_t dummy;
            T2(qkv_w, "attention.self.query.weight", H, H);
            snprintf(nm, sizeof nm, "bert.encoder.layer.%d.attention.self.key.weight", l);
            dummy = add_tensor(&tb, nm, 2, H, H);
            snprintf(nm, sizeof nm, "bert.encoder.layer.%d.attention.self.value.weight", l);
            dummy = add_tensor(&tb, nm, 2, H, H);
            T1(qkv_b, "attention.self.query.bias", H);
            snprintf(nm, sizeof nm, "bert.encoder.layer.%d.attention.self.key.bias", l);
            dummy = add_tensor(&tb, nm, 1, H, 0);
            snprintf(nm, sizeof nm, "bert.encoder.layer.%d.attention.self.value.bias", l);
            dummy = add_tensor(&tb, nm, 1, H, 0);
            (void)dummy;
        }
        T2(ao_w, "attention.output.dense.weight", H, H);
        T1(ao_b, "attention.output.dense.bias", H);
        T1(ln1_w, "attention.output.LayerNorm.weight", H);
        T1(ln1_b, "attention.output.LayerNorm.bias", H);
        if (c->variant == TSR_VARIANT_MOSAIC_BERT) {
            T2(ff1_w, "mlp.gated_layers.weight", 2 * I, H);
            T2(ff2_w, "mlp.wo.weight", H, I);
            T1(ff2_b, "mlp.wo.bias", H);
            T1(ln2_w, "mlp.layernorm.weight", H);
            T1(ln2_b, "mlp.layernorm.bias", H);
        } else {
            T2(ff1_w, "intermediate.dense.weight", I, H);
            T1(ff1_b, "intermediate.dense.bias", I);
            T2(ff2_w, "output.dense.weight", H, I);
            T1(ff2_b, "output.dense.bias", H);
            T1(ln2_w, "output.LayerNorm.weight", H);
            T1(ln2_b, "output.LayerNorm.bias", H);
        }
#undef T1
#undef T2
    }
    if (c->head == TSR_HEAD_CLASSIFICATION || c->head == TSR_HEAD_REGRESSION) {
        L->pool_w = add_tensor(&tb, "bert.pooler.dense.weight", 2, H, H);
        L->pool_b = add_tensor(&tb, "bert.pooler.dense.bias", 1, H, 0);
        L->cls_w = add_tensor(&tb, "classifier.weight", 2, c->num_labels, H);
        L->cls_b = add_tensor(&tb, "classifier.bias", 1, c->num_labels, 0);
    } else if (c->head == TSR_HEAD_MLM) {
        L->mlm_w = add_tensor(&tb, "cls.predictions.transform.dense.weight", 2, H, H);
        L->mlm_b = add_tensor(&tb, "cls.predictions.transform.dense.bias", 1, H, 0);
        L->mlm_ln_w = add_tensor(&tb, "cls.predictions.transform.LayerNorm.weight", 1, H, 0);
        L->mlm_ln_b = add_tensor(&tb, "cls.predictions.transform.LayerNorm.bias", 1, H, 0);
        L->mlm_dec_b = add_tensor(&tb, "cls.predictions.decoder.bias", 1, c->vocab_size, 0);
    }
    for (int i = 0; i < m->num_tensors; i++)
        if (m->tensors[i].offset < 0) return TSR_ERR_OOM;
    return TSR_OK;
}

static int validate_config(const tsr_config* c) {
#define REQ(cond, ...) do { if (!(cond)) return tsr_set_error(TSR_ERR_INVALID_ARG, __VA_ARGS__); } while (0)
    REQ(c->variant == TSR_VARIANT_MOSAIC_BERT || c->variant == TSR_VARIANT_BERT, "config: unknown variant %d", c->variant);
    REQ(c->head >= TSR_HEAD_NONE && c->head <= TSR_HEAD_MLM, "config: unknown head %d", c->head);
    REQ(c->vocab_size > 0, "config: vocab_size must be > 0 (got %d)", c->vocab_size);
    REQ(c->hidden_size > 0 && c->num_layers >= 0 && c->num_heads > 0 && c->intermediate_size > 0,
        "config: hidden_size, num_heads, intermediate_size must be > 0 and num_layers >= 0");
    REQ(c->num_heads <= 256, "config: at most 256 attention heads (got %d)", c->num_heads);
    REQ(c->hidden_size % c->num_heads == 0, "config: hidden_size %d is not a multiple of num_heads %d", c->hidden_size, c->num_heads);
    REQ(c->type_vocab_size > 0, "config: type_vocab_size must be > 0");
    REQ(c->variant != TSR_VARIANT_BERT || c->max_position_embeddings > 0, "config: BERT needs max_position_embeddings > 0");
    REQ(c->head != TSR_HEAD_CLASSIFICATION || c->num_labels >= 2, "config: CLASSIFICATION needs num_labels >= 2 (got %d)", c->num_labels);
    REQ(c->head != TSR_HEAD_REGRESSION || c->num_labels == 1, "config: REGRESSION needs num_labels == 1 (got %d)", c->num_labels);
    REQ(c->layer_norm_eps > 0 && isfinite(c->layer_norm_eps), "config: layer_norm_eps must be > 0");
    REQ(c->hidden_dropout >= 0 && c->hidden_dropout < 1, "config: hidden_dropout must be in [0, 1)");
    REQ(c->attention_dropout >= 0 && c->attention_dropout < 1, "config: attention_dropout must be in [0, 1)");
    REQ(c->max_tokens > 0 && c->max_seqs > 0, "config: max_tokens and max_seqs must be > 0");
    REQ(c->max_seqs <= c->max_tokens, "config: max_seqs %d > max_tokens %d", c->max_seqs, c->max_tokens);
    REQ(c->max_mlm_targets >= 0, "config: max_mlm_targets must be >= 0");
    REQ(c->pooling == TSR_POOLING_CLS || c->pooling == TSR_POOLING_MEAN, "config: unknown pooling %d (0 = CLS, 1 = MEAN)", c->pooling);
#undef REQ
    return TSR_OK;
}

int tsr_model_create(const tsr_config* config, int backend, tsr_model** out) {
    if (!config || !out) return tsr_set_error(TSR_ERR_INVALID_ARG, "tsr_model_create: NULL argument");
    *out = NULL;
    int st = validate_config(config);
    if (st) return st;
    const tsr_backend_ops* ops = NULL;
    if ((st = get_ops(backend, &ops))) return st;
    tsr_model* m = calloc(1, sizeof *m);
    if (!m) return tsr_set_error(TSR_ERR_OOM, "tsr_model_create: out of memory");
    m->cfg = *config;
    if (m->cfg.max_mlm_targets == 0 || m->cfg.max_mlm_targets > m->cfg.max_tokens) m->cfg.max_mlm_targets = m->cfg.max_tokens;
    m->backend = backend;
    m->ops = ops;
    m->precision = ops->set_precision ? TSR_PRECISION_FP32 : TSR_PRECISION_BF16;
    if (build_layout(m)) {
        tsr_model_destroy(m);
        return tsr_set_error(TSR_ERR_OOM, "tsr_model_create: out of memory (parameter table)");
    }
    tsr_alibi_slopes(m->cfg.num_heads, m->alibi_slopes);
    if ((st = ops->model_init(m))) {
        m->ops = NULL; /* model_init cleaned up after itself */
        tsr_model_destroy(m);
        return st;
    }
    *out = m;
    return TSR_OK;
}

void tsr_model_destroy(tsr_model* m) {
    if (!m) return;
    if (m->ops && m->impl) m->ops->model_free(m);
    free(m->layout.layers);
    free(m->tensors);
    free(m->lr_scales);
    free(m);
}

#define CHECK_MODEL(m) do { if (!(m)) return tsr_set_error(TSR_ERR_INVALID_ARG, "%s: model is NULL", __func__); } while (0)

int tsr_model_config(const tsr_model* m, tsr_config* out) {
    CHECK_MODEL(m);
    if (!out) return tsr_set_error(TSR_ERR_INVALID_ARG, "tsr_model_config: out is NULL");
    *out = m->cfg;
    return TSR_OK;
}

int tsr_model_backend(const tsr_model* m) { return m ? m->backend : -1; }

int tsr_set_precision(tsr_model* m, int precision) {
    CHECK_MODEL(m);
    if (precision != TSR_PRECISION_FP32 && precision != TSR_PRECISION_BF16)
        return tsr_set_error(TSR_ERR_INVALID_ARG, "tsr_set_precision: unknown precision %d (0 fp32, 1 bf16)", precision);
    if (!m->ops->set_precision) {
        if (precision != TSR_PRECISION_BF16)
            return tsr_set_error(TSR_ERR_INVALID_ARG, "tsr_set_precision: the %s backend computes matrix products in bf16 only",
                                 m->ops->name);
        return TSR_OK;
    }
    int st = m->ops->set_precision(m, precision);
    if (st == TSR_OK) m->precision = precision;
    return st;
}

int tsr_get_precision(const tsr_model* m, int* out) {
    CHECK_MODEL(m);
    if (!out) return tsr_set_error(TSR_ERR_INVALID_ARG, "tsr_get_precision: out is NULL");
    *out = m->precision;
    return TSR_OK;
}
int64_t tsr_num_params(const tsr_model* m) { return m ? m->num_params : -1; }
int tsr_num_tensors(const tsr_model* m) { return m ? m->num_tensors : -1; }

int tsr_tensor_info(const tsr_model* m, int i, const char** name, int64_t* offset, int64_t* numel,
                    int32_t* ndim, int32_t shape[4]) {
    CHECK_MODEL(m);
    if (i < 0 || i >= m->num_tensors)
        return tsr_set_error(TSR_ERR_INVALID_ARG, "tsr_tensor_info: index %d outside [0, %d)", i, m->num_tensors);
    const tsr_tensor_desc* d = &m->tensors[i];
    if (name) *name = d->name;
    if (offset) *offset = d->offset;
    if (numel) *numel = d->numel;
    if (ndim) *ndim = d->ndim;
    if (shape) memcpy(shape, d->shape, sizeof d->shape);
    return TSR_OK;
}

int tsr_tensor_index(const tsr_model* m, const char* name, int* index_out) {
    CHECK_MODEL(m);
    if (!name) return tsr_set_error(TSR_ERR_INVALID_ARG, "tsr_tensor_index: name is NULL");
    for (int i = 0; i < m->num_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) {
            if (index_out) *index_out = i;
            return TSR_OK;
        }
    if (index_out) *index_out = -1;
    return tsr_set_error(TSR_ERR_INVALID_ARG, "no parameter named '%s' in this model", name);
}

/* ---------------------------------------------------------------------------------------- */
/* Buffers                                                                                  */
/* ---------------------------------------------------------------------------------------- */

static int check_range(const tsr_model* m, int which, int64_t off, int64_t n, const void* p, const char* fn) {
    if (which < TSR_BUF_PARAMS || which > TSR_BUF_ADAM_V) return tsr_set_error(TSR_ERR_INVALID_ARG, "%s: unknown buffer %d", fn, which);
    if (!p && n > 0) return tsr_set_error(TSR_ERR_INVALID_ARG, "%s: NULL host pointer", fn);
    if (off < 0 || n < 0 || off > m->num_params || n > m->num_params - off)
        return tsr_set_error(TSR_ERR_INVALID_ARG, "%s: range [%lld, %lld) outside the block of %lld floats", fn,
                             (long long)off, (long long)(off + n), (long long)m->num_params);
    return TSR_OK;
}

int tsr_buffer_ptr(tsr_model* m, int which, float** out) {
    CHECK_MODEL(m);
    int st = check_range(m, which, 0, 0, out, __func__);
    if (st) return st;
    if (!out) return tsr_set_error(TSR_ERR_INVALID_ARG, "tsr_buffer_ptr: out is NULL");
    return m->ops->buffer_ptr(m, which, out);
}

int tsr_buffer_read(const tsr_model* m, int which, int64_t off, int64_t n, float* dst) {
    CHECK_MODEL(m);
    int st = check_range(m, which, off, n, dst, __func__);
    if (st) return st;
    return n ? m->ops->buffer_read(m, which, off, n, dst) : TSR_OK;
}

int tsr_buffer_write(tsr_model* m, int which, int64_t off, int64_t n, const float* src) {
    CHECK_MODEL(m);
    int st = check_range(m, which, off, n, src, __func__);
    if (st) return st;
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(src[i])) {
            /* name the tensor so the caller sees which weight is broken */
            const char* name = "?";
            for (int t = 0; t < m->num_tensors; t++)
                if (off + i >= m->tensors[t].offset && off + i < m->tensors[t].offset + m->tensors[t].numel) name = m->tensors[t].name;
            return tsr_set_error(TSR_ERR_NONFINITE, "tsr_buffer_write: non-finite value %g at element %lld (tensor %s); nothing written",
                                 (double)src[i], (long long)(off + i), name);
        }
    if (which == TSR_BUF_PARAMS) m->can_backward = 0; /* saved activations are stale */
    return n ? m->ops->buffer_write(m, which, off, n, src) : TSR_OK;
}

int tsr_check_finite(const tsr_model* m, int which, int64_t* first_bad) {
    CHECK_MODEL(m);
    int st = check_range(m, which, 0, 0, &st, __func__);
    if (st) return st;
    return m->ops->check_finite(m, which, first_bad);
}

int tsr_init_params(tsr_model* m, uint64_t seed, float std) {
    CHECK_MODEL(m);
    if (!(std >= 0) || !isfinite(std)) return tsr_set_error(TSR_ERR_INVALID_ARG, "tsr_init_params: std must be finite and >= 0");
    float* host = malloc((size_t)m->num_params * sizeof(float));
    if (!host) return tsr_set_error(TSR_ERR_OOM, "tsr_init_params: out of memory");
    for (int t = 0; t < m->num_tensors; t++) {
        const tsr_tensor_desc* d = &m->tensors[t];
        size_t len = strlen(d->name);
        int is_ln = strstr(d->name, "LayerNorm") || strstr(d->name, "layernorm");
        int is_bias = len > 5 && strcmp(d->name + len - 5, ".bias") == 0;
        float* p = host + d->offset;
        const int64_t n = d->numel;
        if (is_ln || is_bias) {
            const float v = is_ln && !is_bias ? 1.0f : 0.0f;
            for (int64_t i = 0; i < n; i++) p[i] = v;
            continue;
        }
        /* Each value is a pure function of (seed, tensor, element): the result is bit-identical for
         * any thread count and schedule. Threads only for tensors big enough to pay for the fork. */
#pragma omp parallel for schedule(static) if (n >= (1 << 16))
        for (int64_t i = 0; i < n; i++) p[i] = std * tsr_rng_normal(seed, (uint32_t)t, (uint64_t)i);
    }
    m->can_backward = 0;
    int st = m->ops->buffer_write(m, TSR_BUF_PARAMS, 0, m->num_params, host);
    free(host);
    return st;
}

/* ---------------------------------------------------------------------------------------- */
/* Batches                                                                                  */
/* ---------------------------------------------------------------------------------------- */

/* Distillation arguments (tsr_batch, tsr_op_distill_ce): alpha in [0, 1], temperature > 0, q[N, V] rows of
 * probabilities (finite, in [0, 1], summing to 1 within 1e-3). */
static int validate_soft_targets(const float* q, int N, int V, float alpha, float temperature) {
    if (!(alpha >= 0.0f && alpha <= 1.0f))
        return tsr_set_error(TSR_ERR_INVALID_ARG, "distillation: alpha=%g outside [0, 1]", (double)alpha);
    if (!(temperature > 0.0f) || !isfinite(temperature))
        return tsr_set_error(TSR_ERR_INVALID_ARG, "distillation: temperature=%g must be finite and > 0", (double)temperature);
    for (int r = 0; r < N; r++) {
        double sum = 0;
        for (int j = 0; j < V; j++) {
            float v = q[(size_t)r * V + j];
            if (!(v >= 0.0f && v <= 1.0f))
                return tsr_set_error(TSR_ERR_LABEL_RANGE, "distillation: soft_targets[%d][%d]=%g is not a probability", r, j, (double)v);
            sum += v;
        }
        if (fabs(sum - 1.0) > 1e-3)
            return tsr_set_error(TSR_ERR_LABEL_RANGE, "distillation: soft_targets row %d sums to %.6f, not 1", r, sum);
    }
    return TSR_OK;
}

static int validate_batch(const tsr_model* m, const tsr_batch* b, tsr_batch* norm, int64_t* num_targets) {
    const tsr_config* c = &m->cfg;
    if (!b) return tsr_set_error(TSR_ERR_INVALID_ARG, "batch is NULL");
    if (b->soft_targets && c->head != TSR_HEAD_CLASSIFICATION)
        return tsr_set_error(TSR_ERR_INVALID_ARG, "batch: soft_targets (distillation) need a classification head");
    if (!b->input_ids || !b->cu_seqlens) return tsr_set_error(TSR_ERR_INVALID_ARG, "batch: input_ids and cu_seqlens are required");
    if (b->num_tokens <= 0 || b->num_seqs <= 0)
        return tsr_set_error(TSR_ERR_INVALID_ARG, "batch: num_tokens (%d) and num_seqs (%d) must be > 0", b->num_tokens, b->num_seqs);
    if (b->num_tokens > c->max_tokens)
        return tsr_set_error(TSR_ERR_BUDGET, "batch has %d tokens, over the model's token budget max_tokens=%d", b->num_tokens, c->max_tokens);
    if (b->num_seqs > c->max_seqs)
        return tsr_set_error(TSR_ERR_BUDGET, "batch has %d sequences, over max_seqs=%d", b->num_seqs, c->max_seqs);
    if (b->cu_seqlens[0] != 0) return tsr_set_error(TSR_ERR_INVALID_ARG, "batch: cu_seqlens[0] must be 0 (got %d)", b->cu_seqlens[0]);
    int maxlen = 0;
    for (int s = 0; s < b->num_seqs; s++) {
        int len = b->cu_seqlens[s + 1] - b->cu_seqlens[s];
        if (len <= 0) return tsr_set_error(TSR_ERR_INVALID_ARG, "batch: sequence %d has length %d (cu_seqlens must increase strictly)", s, len);
        if (len > maxlen) maxlen = len;
    }
    if (b->cu_seqlens[b->num_seqs] != b->num_tokens)
        return tsr_set_error(TSR_ERR_INVALID_ARG, "batch: cu_seqlens[num_seqs]=%d but num_tokens=%d", b->cu_seqlens[b->num_seqs], b->num_tokens);
    if (b->max_seqlen != 0 && b->max_seqlen != maxlen)
        return tsr_set_error(TSR_ERR_INVALID_ARG, "batch: max_seqlen=%d but the longest sequence has %d tokens (pass 0 to compute it)", b->max_seqlen, maxlen);
    if (c->variant == TSR_VARIANT_BERT && maxlen > c->max_position_embeddings)
        return tsr_set_error(TSR_ERR_BUDGET, "batch: a sequence of %d tokens exceeds BERT's max_position_embeddings=%d", maxlen, c->max_position_embeddings);
    for (int i = 0; i < b->num_tokens; i++) {
        if (b->input_ids[i] < 0 || b->input_ids[i] >= c->vocab_size)
            return tsr_set_error(TSR_ERR_TOKEN_RANGE, "batch: input_ids[%d]=%d outside [0, vocab_size=%d)", i, b->input_ids[i], c->vocab_size);
        if (b->token_type_ids && (b->token_type_ids[i] < 0 || b->token_type_ids[i] >= c->type_vocab_size))
            return tsr_set_error(TSR_ERR_TOKEN_RANGE, "batch: token_type_ids[%d]=%d outside [0, type_vocab_size=%d)", i, b->token_type_ids[i], c->type_vocab_size);
    }
    int64_t nt = 0;
    if (c->head == TSR_HEAD_MLM) {
        if (b->mlm_labels) {
            for (int i = 0; i < b->num_tokens; i++) {
                if (b->mlm_labels[i] >= c->vocab_size)
                    return tsr_set_error(TSR_ERR_LABEL_RANGE, "batch: mlm_labels[%d]=%d >= vocab_size=%d", i, b->mlm_labels[i], c->vocab_size);
                if (b->mlm_labels[i] >= 0) nt++;
            }
        } else {
            nt = b->num_tokens;
        }
        if (nt > c->max_mlm_targets)
            return tsr_set_error(TSR_ERR_BUDGET, "batch: %lld MLM targets, over max_mlm_targets=%d", (long long)nt, c->max_mlm_targets);
    } else if (c->head == TSR_HEAD_CLASSIFICATION && (b->class_labels || b->soft_targets)) {
        const int soft = b->soft_targets != NULL;
        if (b->class_labels)
            for (int s = 0; s < b->num_seqs; s++)
                if ((b->class_labels[s] < 0 && !soft) || b->class_labels[s] >= c->num_labels)
                    return tsr_set_error(TSR_ERR_LABEL_RANGE, "batch: class_labels[%d]=%d outside [0, num_labels=%d)%s", s,
                                         b->class_labels[s], c->num_labels, soft ? "" : " (a negative label needs soft_targets)");
        if (soft) {
            int st = validate_soft_targets(b->soft_targets, b->num_seqs, c->num_labels, b->distill_alpha, b->distill_temperature);
            if (st) return st;
        }
    } else if (c->head == TSR_HEAD_REGRESSION && b->targets) {
        for (int s = 0; s < b->num_seqs; s++)
            if (!isfinite(b->targets[s])) return tsr_set_error(TSR_ERR_LABEL_RANGE, "batch: targets[%d] is not finite", s);
    }
    if (norm) {
        *norm = *b;
        norm->max_seqlen = maxlen;
    }
    if (num_targets) *num_targets = nt;
    return TSR_OK;
}

int tsr_validate_batch(const tsr_model* m, const tsr_batch* b) {
    CHECK_MODEL(m);
    return validate_batch(m, b, NULL, NULL);
}

int tsr_logits_count(const tsr_model* m, const tsr_batch* b, int64_t* count) {
    CHECK_MODEL(m);
    if (!count) return tsr_set_error(TSR_ERR_INVALID_ARG, "tsr_logits_count: count_out is NULL");
    int64_t nt;
    int st = validate_batch(m, b, NULL, &nt);
    if (st) return st;
    switch (m->cfg.head) {
    case TSR_HEAD_MLM: *count = nt * m->cfg.vocab_size; break;
    case TSR_HEAD_CLASSIFICATION: *count = (int64_t)b->num_seqs * m->cfg.num_labels; break;
    case TSR_HEAD_REGRESSION: *count = b->num_seqs; break;
    default: *count = (int64_t)b->num_tokens * m->cfg.hidden_size;
    }
    return TSR_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Training step                                                                            */
/* ---------------------------------------------------------------------------------------- */

int tsr_forward(tsr_model* m, const tsr_batch* b, float* loss, float* logits, uint64_t seed, uint64_t step, int training) {
    CHECK_MODEL(m);
    tsr_batch nb;
    m->can_backward = 0;
    int st = validate_batch(m, b, &nb, NULL);
    if (st) return st;
    float l = 0;
    st = m->ops->forward(m, &nb, &l, logits, seed, step, training);
    if (loss) *loss = l;
    if (st) return st;
    int h = m->cfg.head;
    m->can_backward = training && ((h == TSR_HEAD_MLM && b->mlm_labels) ||
                                   (h == TSR_HEAD_CLASSIFICATION && (b->class_labels || b->soft_targets)) ||
                                   (h == TSR_HEAD_REGRESSION && b->targets));
    if (!isfinite(l)) return tsr_set_error(TSR_ERR_NONFINITE, "tsr_forward: loss is %g (check the parameters with tsr_check_finite)", (double)l);
    return TSR_OK;
}

int tsr_backward(tsr_model* m, float loss_scale) {
    CHECK_MODEL(m);
    if (!isfinite(loss_scale)) return tsr_set_error(TSR_ERR_INVALID_ARG, "tsr_backward: loss_scale is not finite");
    if (!m->can_backward)
        return tsr_set_error(TSR_ERR_STATE, "tsr_backward: needs a preceding successful tsr_forward with training=1 and labels "
                                            "(no parameter write or optimizer step in between, one backward per forward)");
    m->can_backward = 0;
    return m->ops->backward(m, loss_scale);
}

int tsr_zero_grad(tsr_model* m) {
    CHECK_MODEL(m);
    return m->ops->zero_grad(m);
}

int tsr_clip_grad_norm(tsr_model* m, float max_norm, float* norm_out) {
    CHECK_MODEL(m);
    double ss;
    int st = m->ops->grad_sumsq(m, &ss);
    if (st) return st;
    double norm = sqrt(ss);
    if (norm_out) *norm_out = (float)norm;
    if (!isfinite(norm)) return tsr_set_error(TSR_ERR_NONFINITE, "tsr_clip_grad_norm: gradient norm is %g; gradients left untouched", norm);
    if (max_norm > 0 && norm > max_norm) return m->ops->scale_grads(m, (float)(max_norm / (norm + 1e-6)));
    return TSR_OK;
}

static int check_adam_args(float lr, float initial_lr, float b1, float b2, float eps, float wd, int64_t step) {
    if (!isfinite(lr) || lr < 0 || !isfinite(initial_lr) || !(b1 >= 0 && b1 < 1) || !(b2 >= 0 && b2 < 1) ||
        !(eps >= 0) || !isfinite(eps) || !isfinite(wd) || wd < 0 || step < 1)
        return tsr_set_error(TSR_ERR_INVALID_ARG,
                             "adamw: need finite lr >= 0, betas in [0, 1), eps >= 0, weight_decay >= 0, step >= 1 "
                             "(got lr=%g b1=%g b2=%g eps=%g wd=%g step=%lld)",
                             (double)lr, (double)b1, (double)b2, (double)eps, (double)wd, (long long)step);
    return TSR_OK;
}

int tsr_adamw_step(tsr_model* m, float lr, float initial_lr, float b1, float b2, float eps, float wd, int64_t step) {
    CHECK_MODEL(m);
    int st = check_adam_args(lr, initial_lr, b1, b2, eps, wd, step);
    if (st) return st;
    int64_t bad;
    if (m->ops->check_finite(m, TSR_BUF_GRADS, &bad))
        return tsr_set_error(TSR_ERR_NONFINITE, "tsr_adamw_step: non-finite gradient at element %lld; parameters not updated", (long long)bad);
    m->can_backward = 0;
    return m->ops->adamw(m, lr, initial_lr, b1, b2, eps, wd, step);
}

int tsr_set_lr_scales(tsr_model* m, const float* scales) {
    CHECK_MODEL(m);
    float* copy = NULL;
    if (scales) {
        for (int i = 0; i < m->num_tensors; i++)
            if (!isfinite(scales[i]) || scales[i] < 0)
                return tsr_set_error(TSR_ERR_INVALID_ARG, "tsr_set_lr_scales: the scale of tensor %d (%s) is %g; scales must be finite and >= 0",
                                     i, m->tensors[i].name, (double)scales[i]);
        copy = malloc((size_t)m->num_tensors * sizeof *copy + 1);
        if (!copy) return tsr_set_error(TSR_ERR_OOM, "tsr_set_lr_scales: out of memory");
        memcpy(copy, scales, (size_t)m->num_tensors * sizeof *copy);
    }
    if (m->ops->set_lr_scales) {
        int st = m->ops->set_lr_scales(m, copy);
        if (st) {
            free(copy);
            return st;
        }
    }
    free(m->lr_scales);
    m->lr_scales = copy;
    return TSR_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Per-op entry points                                                                      */
/* ---------------------------------------------------------------------------------------- */

#define OPS_OR_FAIL(backend) \
    const tsr_backend_ops* ops = NULL; \
    do { int st_ = get_ops(backend, &ops); if (st_) return st_; } while (0)
#define NONNULL(...) do { const void* ps_[] = {__VA_ARGS__}; \
    for (size_t i_ = 0; i_ < sizeof ps_ / sizeof ps_[0]; i_++) \
        if (!ps_[i_]) return tsr_set_error(TSR_ERR_INVALID_ARG, "%s: required pointer argument %zu is NULL", __func__, i_); } while (0)
#define POSITIVE(...) do { const int64_t vs_[] = {__VA_ARGS__}; \
    for (size_t i_ = 0; i_ < sizeof vs_ / sizeof vs_[0]; i_++) \
        if (vs_[i_] <= 0) return tsr_set_error(TSR_ERR_INVALID_ARG, "%s: size argument %zu must be > 0", __func__, i_); } while (0)

int tsr_op_matmul_fwd(int be, float* out, const float* inp, const float* w, const float* bias, int N, int C, int OC) {
    OPS_OR_FAIL(be); NONNULL(out, inp, w); POSITIVE(N, C, OC);
    return ops->matmul_fwd(out, inp, w, bias, N, C, OC);
}
int tsr_op_matmul_bwd(int be, float* dinp, float* dw, float* dbias, const float* dout, const float* inp, const float* w, int N, int C, int OC) {
    OPS_OR_FAIL(be); NONNULL(dout, inp, w); POSITIVE(N, C, OC);
    return ops->matmul_bwd(dinp, dw, dbias, dout, inp, w, N, C, OC);
}
int tsr_op_layernorm_fwd(int be, float* out, float* mean, float* rstd, const float* inp, const float* w, const float* b, int N, int C, float eps) {
    OPS_OR_FAIL(be); NONNULL(out, inp, w, b); POSITIVE(N, C);
    if (!(eps > 0)) return tsr_set_error(TSR_ERR_INVALID_ARG, "tsr_op_layernorm_fwd: eps must be > 0");
    return ops->layernorm_fwd(out, mean, rstd, inp, w, b, N, C, eps);
}
int tsr_op_layernorm_bwd(int be, float* dinp, float* dw, float* db, const float* dout, const float* inp, const float* w,
                         const float* mean, const float* rstd, int N, int C) {
    OPS_OR_FAIL(be); NONNULL(dinp, dw, db, dout, inp, w, mean, rstd); POSITIVE(N, C);
    return ops->layernorm_bwd(dinp, dw, db, dout, inp, w, mean, rstd, N, C);
}
int tsr_op_gelu_fwd(int be, float* out, const float* inp, int64_t n) {
    OPS_OR_FAIL(be); NONNULL(out, inp); POSITIVE(n);
    return ops->gelu_fwd(out, inp, n);
}
int tsr_op_gelu_bwd(int be, float* dinp, const float* inp, const float* dout, int64_t n) {
    OPS_OR_FAIL(be); NONNULL(dinp, inp, dout); POSITIVE(n);
    return ops->gelu_bwd(dinp, inp, dout, n);
}
int tsr_op_geglu_fwd(int be, float* out, const float* inp, int N, int I) {
    OPS_OR_FAIL(be); NONNULL(out, inp); POSITIVE(N, I);
    return ops->geglu_fwd(out, inp, N, I);
}
int tsr_op_geglu_bwd(int be, float* dinp, const float* inp, const float* dout, int N, int I) {
    OPS_OR_FAIL(be); NONNULL(dinp, inp, dout); POSITIVE(N, I);
    return ops->geglu_bwd(dinp, inp, dout, N, I);
}

static int check_seqs(const int32_t* cu, int S, int max_seqlen, const char* fn) {
    int maxlen = 0;
    if (cu[0] != 0) return tsr_set_error(TSR_ERR_INVALID_ARG, "%s: cu_seqlens[0] must be 0", fn);
    for (int s = 0; s < S; s++) {
        int len = cu[s + 1] - cu[s];
        if (len <= 0) return tsr_set_error(TSR_ERR_INVALID_ARG, "%s: sequence %d has length %d", fn, s, len);
        if (len > maxlen) maxlen = len;
    }
    if (maxlen != max_seqlen) return tsr_set_error(TSR_ERR_INVALID_ARG, "%s: max_seqlen %d != longest sequence %d", fn, max_seqlen, maxlen);
    return TSR_OK;
}

int tsr_op_attention_fwd(int be, float* out, float* lse, const float* qkv, const int32_t* cu, int S, int max_seqlen, int NH, int D,
                         const float* slopes, float p, uint64_t seed, uint64_t step, uint32_t site) {
    OPS_OR_FAIL(be); NONNULL(out, lse, qkv, cu); POSITIVE(S, max_seqlen, NH, D);
    if (!(p >= 0 && p < 1)) return tsr_set_error(TSR_ERR_INVALID_ARG, "tsr_op_attention_fwd: dropout_p must be in [0, 1)");
    int st = check_seqs(cu, S, max_seqlen, __func__);
    if (st) return st;
    return ops->attention_fwd(out, lse, qkv, cu, S, max_seqlen, NH, D, slopes, p, seed, step, site);
}
int tsr_op_attention_bwd(int be, float* dqkv, const float* dout, const float* qkv, const float* out, const float* lse, const int32_t* cu,
                         int S, int max_seqlen, int NH, int D, const float* slopes, float p, uint64_t seed, uint64_t step, uint32_t site) {
    OPS_OR_FAIL(be); NONNULL(dqkv, dout, qkv, out, lse, cu); POSITIVE(S, max_seqlen, NH, D);
    if (!(p >= 0 && p < 1)) return tsr_set_error(TSR_ERR_INVALID_ARG, "tsr_op_attention_bwd: dropout_p must be in [0, 1)");
    int st = check_seqs(cu, S, max_seqlen, __func__);
    if (st) return st;
    return ops->attention_bwd(dqkv, dout, qkv, out, lse, cu, S, max_seqlen, NH, D, slopes, p, seed, step, site);
}
int tsr_op_dropout_fwd(int be, float* out, const float* inp, int64_t n, float p, uint64_t seed, uint64_t step, uint32_t site, uint64_t off) {
    OPS_OR_FAIL(be); NONNULL(out, inp); POSITIVE(n);
    if (!(p >= 0 && p < 1)) return tsr_set_error(TSR_ERR_INVALID_ARG, "tsr_op_dropout_fwd: p must be in [0, 1)");
    return ops->dropout_fwd(out, inp, n, p, seed, step, site, off);
}
int tsr_op_dropout_bwd(int be, float* dinp, const float* dout, int64_t n, float p, uint64_t seed, uint64_t step, uint32_t site, uint64_t off) {
    OPS_OR_FAIL(be); NONNULL(dinp, dout); POSITIVE(n);
    if (!(p >= 0 && p < 1)) return tsr_set_error(TSR_ERR_INVALID_ARG, "tsr_op_dropout_bwd: p must be in [0, 1)");
    return ops->dropout_bwd(dinp, dout, n, p, seed, step, site, off);
}
int tsr_op_softmax_ce(int be, float* loss_rows, float* dlogits, const float* logits, const int32_t* targets, int N, int V, float scale) {
    OPS_OR_FAIL(be); NONNULL(loss_rows, logits, targets); POSITIVE(N, V);
    for (int i = 0; i < N; i++)
        if (targets[i] >= V) return tsr_set_error(TSR_ERR_LABEL_RANGE, "tsr_op_softmax_ce: targets[%d]=%d >= %d", i, targets[i], V);
    return ops->softmax_ce(loss_rows, dlogits, logits, targets, N, V, scale);
}
int tsr_op_distill_ce(int be, float* loss_rows, float* dlogits, const float* logits, const int32_t* targets,
                      const float* soft_targets, int N, int V, float alpha, float temperature, float scale) {
    OPS_OR_FAIL(be); NONNULL(loss_rows, logits, soft_targets); POSITIVE(N, V);
    if (targets)
        for (int i = 0; i < N; i++)
            if (targets[i] >= V) return tsr_set_error(TSR_ERR_LABEL_RANGE, "tsr_op_distill_ce: targets[%d]=%d >= %d", i, targets[i], V);
    int st = validate_soft_targets(soft_targets, N, V, alpha, temperature);
    if (st) return st;
    return ops->distill_ce(loss_rows, dlogits, logits, targets, soft_targets, N, V, alpha, temperature, scale);
}
int tsr_op_embed_fwd(int be, float* out, const int32_t* ids, const int32_t* types, const int32_t* pos, const float* wte,
                     const float* wtt, const float* wpe, int T, int C) {
    OPS_OR_FAIL(be); NONNULL(out, ids, wte, wtt); POSITIVE(T, C);
    if (wpe && !pos) return tsr_set_error(TSR_ERR_INVALID_ARG, "tsr_op_embed_fwd: wpe given without positions");
    return ops->embed_fwd(out, ids, types, pos, wte, wtt, wpe, T, C);
}
int tsr_op_embed_bwd(int be, float* dwte, float* dwtt, float* dwpe, const float* dout, const int32_t* ids, const int32_t* types,
                     const int32_t* pos, int T, int C) {
    OPS_OR_FAIL(be); NONNULL(dout, ids); POSITIVE(T, C);
    if (dwpe && !pos) return tsr_set_error(TSR_ERR_INVALID_ARG, "tsr_op_embed_bwd: dwpe given without positions");
    return ops->embed_bwd(dwte, dwtt, dwpe, dout, ids, types, pos, T, C);
}
int tsr_op_adamw(int be, float* p, const float* g, float* mm, float* v, int64_t n, float lr, float initial_lr, float b1, float b2,
                 float eps, float wd, int64_t step) {
    OPS_OR_FAIL(be); NONNULL(p, g, mm, v); POSITIVE(n);
    int st = check_adam_args(lr, initial_lr, b1, b2, eps, wd, step);
    if (st) return st;
    return ops->adamw_raw(p, g, mm, v, n, lr, initial_lr, b1, b2, eps, wd, step);
}

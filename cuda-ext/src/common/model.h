/*
 * Internal model structure shared by the API layer (src/common/api.c) and the backends.
 * Backends: src/cpu/ (always) and src/cuda/ (when built with TSR_HAVE_CUDA).
 */
#ifndef TSR_MODEL_H
#define TSR_MODEL_H

#include "../../include/tessera.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TSR_MAX_NAME 96

typedef struct tsr_tensor_desc {
    char name[TSR_MAX_NAME];
    int64_t offset;
    int64_t numel;
    int32_t ndim;
    int32_t shape[4];
} tsr_tensor_desc;

/* Offsets (in floats) into the parameter block; -1 = absent. Same offsets index the gradient block. */
typedef struct tsr_layer_offsets {
    int64_t qkv_w, qkv_b;     /* [3H, H], [3H]   (BERT: query|key|value stacked) */
    int64_t ao_w, ao_b;       /* attention.output.dense [H, H], [H] */
    int64_t ln1_w, ln1_b;     /* attention.output.LayerNorm */
    int64_t ff1_w, ff1_b;     /* Mosaic: gated_layers [2I, H], no bias (-1); BERT: intermediate [I, H], [I] */
    int64_t ff2_w, ff2_b;     /* Mosaic: mlp.wo [H, I]; BERT: output.dense [H, I]; bias [H] */
    int64_t ln2_w, ln2_b;     /* Mosaic: mlp.layernorm; BERT: output.LayerNorm */
} tsr_layer_offsets;

typedef struct tsr_layout {
    int64_t wte, wtt, wpe;    /* word [V,H], token type [T,H], position [P,H] (BERT; -1 for Mosaic) */
    int64_t emb_ln_w, emb_ln_b;
    tsr_layer_offsets* layers; /* [num_layers] */
    int64_t pool_w, pool_b, cls_w, cls_b;                  /* classification / regression */
    int64_t mlm_w, mlm_b, mlm_ln_w, mlm_ln_b, mlm_dec_b;   /* MLM (decoder weight tied to wte) */
} tsr_layout;

struct tsr_backend_ops;

struct tsr_model {
    tsr_config cfg;
    int backend;
    const struct tsr_backend_ops* ops;
    int num_tensors;
    tsr_tensor_desc* tensors;
    int64_t num_params;
    tsr_layout layout;
    int can_backward;          /* set by a successful training forward with labels; API layer */
    float alibi_slopes[256];   /* MosaicBERT; num_heads <= 256 */
    int precision;             /* TSR_PRECISION_* of the matrix products */
    float* lr_scales;          /* [num_tensors] learning-rate multipliers (tsr_set_lr_scales), or NULL = all 1 */
    void* impl;                /* backend state */
};

/*
 * What a backend implements. The API layer validates arguments (pointers, ranges, batch contents
 * and budget, finiteness of written params) before calling, so backends may assume valid input.
 * Every function returns a TSR status; on failure it calls tsr_set_error() first.
 */
typedef struct tsr_backend_ops {
    const char* name;
    int (*available)(void);
    int (*model_init)(tsr_model* m);            /* allocate blocks (zeroed) + activations into m->impl */
    void (*model_free)(tsr_model* m);
    int (*buffer_ptr)(tsr_model* m, int which, float** out);
    int (*buffer_read)(const tsr_model* m, int which, int64_t off, int64_t n, float* dst);
    int (*buffer_write)(tsr_model* m, int which, int64_t off, int64_t n, const float* src);
    int (*check_finite)(const tsr_model* m, int which, int64_t* first_bad);
    /* batch already validated; loss/logits may be NULL */
    int (*forward)(tsr_model* m, const tsr_batch* b, float* loss, float* logits, uint64_t seed,
                   uint64_t step, int training);
    int (*backward)(tsr_model* m, float loss_scale);   /* only called after a successful training forward with labels */
    int (*zero_grad)(tsr_model* m);
    int (*grad_sumsq)(tsr_model* m, double* out);   /* Σ g² over the gradient block */
    int (*scale_grads)(tsr_model* m, float s);
    int (*adamw)(tsr_model* m, float lr, float initial_lr, float beta1, float beta2, float eps,
                 float wd, int64_t step);
    /* per-op entry points, host pointers, same meaning as the public tsr_op_* (without backend) */
    int (*matmul_fwd)(float*, const float*, const float*, const float*, int, int, int);
    int (*matmul_bwd)(float*, float*, float*, const float*, const float*, const float*, int, int, int);
    int (*layernorm_fwd)(float*, float*, float*, const float*, const float*, const float*, int, int, float);
    int (*layernorm_bwd)(float*, float*, float*, const float*, const float*, const float*, const float*,
                         const float*, int, int);
    int (*gelu_fwd)(float*, const float*, int64_t);
    int (*gelu_bwd)(float*, const float*, const float*, int64_t);
    int (*geglu_fwd)(float*, const float*, int, int);
    int (*geglu_bwd)(float*, const float*, const float*, int, int);
    int (*attention_fwd)(float*, float*, const float*, const int32_t*, int, int, int, int, const float*,
                         float, uint64_t, uint64_t, uint32_t);
    int (*attention_bwd)(float*, const float*, const float*, const float*, const float*, const int32_t*,
                         int, int, int, int, const float*, float, uint64_t, uint64_t, uint32_t);
    int (*dropout_fwd)(float*, const float*, int64_t, float, uint64_t, uint64_t, uint32_t, uint64_t);
    int (*dropout_bwd)(float*, const float*, int64_t, float, uint64_t, uint64_t, uint32_t, uint64_t);
    int (*softmax_ce)(float*, float*, const float*, const int32_t*, int, int, float);
    /* tsr_op_distill_ce: loss_rows, dlogits, logits, targets (may be NULL), soft targets, N, V, alpha, T, scale */
    int (*distill_ce)(float*, float*, const float*, const int32_t*, const float*, int, int, float, float, float);
    int (*embed_fwd)(float*, const int32_t*, const int32_t*, const int32_t*, const float*, const float*,
                     const float*, int, int);
    int (*embed_bwd)(float*, float*, float*, const float*, const int32_t*, const int32_t*, const int32_t*,
                     int, int);
    int (*adamw_raw)(float*, const float*, float*, float*, int64_t, float, float, float, float, float,
                     float, int64_t);
    /* TSR_PRECISION_* of the model's matrix products; NULL: the backend's products are always bf16 */
    int (*set_precision)(tsr_model* m, int precision);
    /* called by tsr_set_lr_scales with the validated scales (NULL = none) before it stores them in
     * m->lr_scales, e.g. to copy them to the device; NULL: the backend reads m->lr_scales itself */
    int (*set_lr_scales)(tsr_model* m, const float* scales);
} tsr_backend_ops;

/* Thread-local error message; returns status for `return tsr_set_error(TSR_ERR_X, "...", ...)`. */
int tsr_set_error(int status, const char* fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

const tsr_backend_ops* tsr_cpu_backend(void);
#ifdef TSR_HAVE_CUDA
const tsr_backend_ops* tsr_cuda_backend(void);  /* implemented in src/cuda/ */
#endif

#ifdef __cplusplus
}
#endif
#endif /* TSR_MODEL_H */

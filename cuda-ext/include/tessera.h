/*
 * tessera.h — the public C API of Tessera's native training module (cuda-ext).
 *
 * llm.c style: one contiguous float32 parameter block, one gradient block of the same layout,
 * AdamW moments (m, v) in two more blocks of that layout, activations sized once for a token
 * budget, explicit forward / backward / optimizer step. Sequences are unpadded: the tokens of a
 * batch are concatenated and delimited by cu_seqlens.
 *
 * Conventions
 *  - Every function returns int status: TSR_OK (0) or a TSR_ERR_* code. Nothing aborts or exits;
 *    tsr_last_error() gives a human-readable message for the last failure ON THE CALLING THREAD.
 *  - All floats are IEEE float32, row-major. Linear weights are stored in the Hugging Face layout
 *    [out_features, in_features]; a linear layer computes y = x · Wᵀ + b.
 *  - All gradient outputs ACCUMULATE (+=), for the model and for the per-op entry points alike,
 *    so micro-batches can be accumulated; tsr_zero_grad() clears the gradient block.
 *  - Host pointers everywhere, except what tsr_buffer_ptr() returns (backend memory: device
 *    memory for TSR_BACKEND_CUDA, e.g. for an NCCL all-reduce).
 *  - The library is thread-compatible, not thread-safe: one model must not be used from two
 *    threads at the same time. Different models may be used concurrently.
 *  - Structs contain only int32/float fields and pointers, laid out without implicit padding,
 *    so they map directly to java.lang.foreign StructLayouts.
 */
#ifndef TESSERA_H
#define TESSERA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define TSR_API __declspec(dllexport)
#else
#define TSR_API __attribute__((visibility("default")))
#endif

#define TSR_API_VERSION 1

/* ------------------------------------------------------------------------------------------ */
/* Status codes                                                                               */
/* ------------------------------------------------------------------------------------------ */
enum {
    TSR_OK = 0,
    TSR_ERR_INVALID_ARG = 1,  /* NULL pointer, bad size, bad enum value, inconsistent config */
    TSR_ERR_BUDGET = 2,       /* batch exceeds max_tokens / max_seqs / max_mlm_targets, or a BERT
                                 sequence is longer than max_position_embeddings */
    TSR_ERR_TOKEN_RANGE = 3,  /* input id outside [0, vocab_size) or token type outside
                                 [0, type_vocab_size) */
    TSR_ERR_LABEL_RANGE = 4,  /* MLM label >= vocab_size, class label outside [0, num_labels),
                                 non-finite regression target */
    TSR_ERR_NONFINITE = 5,    /* NaN/Inf in parameters, gradients or the loss */
    TSR_ERR_OOM = 6,          /* host or device allocation failed */
    TSR_ERR_NO_BACKEND = 7,   /* backend not compiled in, or no usable device (e.g. no GPU) */
    TSR_ERR_STATE = 8,        /* call out of order: backward without a training forward, no labels */
    TSR_ERR_DEVICE = 9,       /* CUDA / cuBLAS runtime error (message has the details) */
    TSR_ERR_INTERNAL = 10,
    TSR_ERR_DIST = 11         /* data-parallel: a peer rank died, is unreachable or timed out (tessera_dist.h) */
};

/* Message describing the last error on the calling thread ("" if none). Valid until the next
 * failing call on the same thread. */
TSR_API const char* tsr_last_error(void);
/* Short constant name of a status code, e.g. "TSR_ERR_BUDGET". */
TSR_API const char* tsr_status_name(int status);
TSR_API int tsr_api_version(void);

/* ------------------------------------------------------------------------------------------ */
/* Backends                                                                                   */
/* ------------------------------------------------------------------------------------------ */
enum {
    TSR_BACKEND_CPU = 0,  /* fp32, OpenMP, AVX-512/AVX2 — the reference backend */
    TSR_BACKEND_CUDA = 1  /* present only when the library was built with nvcc (TSR_HAVE_CUDA) */
};

/* TSR_OK if the backend can be used on this machine; otherwise TSR_ERR_NO_BACKEND with a message
 * ("built without CUDA", "no CUDA device: cudaErrorInsufficientDriver", ...). */
TSR_API int tsr_backend_available(int backend);
/* OpenMP threads used by the CPU backend (n <= 0: the OpenMP default). */
TSR_API int tsr_set_num_threads(int n);
TSR_API int tsr_get_num_threads(void);
/* "avx512", "avx2" or "scalar": the sgemm kernel the CPU backend dispatched to at run time. */
TSR_API const char* tsr_cpu_isa(void);
/* 1 if this CPU runs TSR_PRECISION_BF16 matrix products on AVX512-BF16 (vdpbf16ps), else 0 (then bf16
 * precision computes them in fp32). Environment TSR_NO_BF16=1 (or TSR_NO_AVX512=1) forces 0. */
TSR_API int tsr_cpu_bf16(void);

/* ------------------------------------------------------------------------------------------ */
/* Model configuration                                                                        */
/* ------------------------------------------------------------------------------------------ */
/* Values equal the ordinals of dev.tessera.model.Variant / dev.tessera.model.Head. */
enum { TSR_VARIANT_MOSAIC_BERT = 0, TSR_VARIANT_BERT = 1 };
enum { TSR_HEAD_NONE = 0, TSR_HEAD_CLASSIFICATION = 1, TSR_HEAD_REGRESSION = 2, TSR_HEAD_MLM = 3 };
/* What feeds the pooler of a CLASSIFICATION/REGRESSION head (values equal the ordinals of
 * dev.tessera.model.ClassifierPooling; config.json's classifier_pooling "cls" / "mean"):
 *   CLS:  the first token of each sequence, h[cu_seqlens[s]] (BERT's pooler; the default, 0);
 *   MEAN: the mean of the sequence's final hidden states, (1/L_s) Σ_{t=cu_seqlens[s]}^{cu_seqlens[s+1]-1} h[t]. */
enum { TSR_POOLING_CLS = 0, TSR_POOLING_MEAN = 1 };

typedef struct tsr_config {
    int32_t variant;                 /* TSR_VARIANT_* */
    int32_t head;                    /* TSR_HEAD_* */
    int32_t vocab_size;              /* e.g. 30528 (MosaicBERT pads 30522 to a multiple of 64) */
    int32_t hidden_size;             /* H */
    int32_t num_layers;
    int32_t num_heads;               /* H % num_heads == 0; head_dim = H / num_heads */
    int32_t intermediate_size;       /* I (GeGLU: gated_layers has 2·I output rows) */
    int32_t type_vocab_size;         /* usually 2 */
    int32_t max_position_embeddings; /* BERT: learned positions (512); MosaicBERT: ignored (ALiBi) */
    int32_t num_labels;              /* CLASSIFICATION: >= 2; REGRESSION: must be 1; else ignored */
    float layer_norm_eps;            /* 1e-12 for BERT/MosaicBERT */
    float hidden_dropout;            /* hidden_dropout_prob, in [0, 1) */
    float attention_dropout;         /* attention_probs_dropout_prob, in [0, 1) */
    int32_t max_tokens;              /* token budget: most tokens in one batch (sizes activations) */
    int32_t max_seqs;                /* most sequences in one batch */
    int32_t max_mlm_targets;         /* MLM head: most labelled tokens per batch (0 = max_tokens) */
    int32_t pooling;                 /* TSR_POOLING_*: the pooler's input (CLASSIFICATION/REGRESSION; else
                                        ignored). 0 = CLS, so a zero-initialised config keeps BERT's pooler */
} tsr_config;

/* ------------------------------------------------------------------------------------------ */
/* Model                                                                                      */
/* ------------------------------------------------------------------------------------------ */
typedef struct tsr_model tsr_model;

/* Creates a model with ZERO parameters (load them with tsr_buffer_write, or call tsr_init_params)
 * and zero gradients / AdamW moments. Allocates every activation for the token budget once. */
TSR_API int tsr_model_create(const tsr_config* config, int backend, tsr_model** out);
/* NULL is accepted. */
TSR_API void tsr_model_destroy(tsr_model* model);
TSR_API int tsr_model_config(const tsr_model* model, tsr_config* out);
TSR_API int tsr_model_backend(const tsr_model* model);

/* BERT-style initialisation: Linear and embedding weights ~ N(0, std) (truncation-free), biases 0,
 * LayerNorm weight 1 / bias 0. Drawn with Philox from `seed`, so identical on every backend. */
TSR_API int tsr_init_params(tsr_model* model, uint64_t seed, float std);

/*
 * Precision of the model's matrix products (every linear layer and the MLM decoder: forward and both
 * backward products). TSR_PRECISION_BF16 is mixed precision as in the MosaicBERT recipe: the operands
 * are rounded to bf16 (nearest even) and the products summed in fp32; parameters, gradients, AdamW
 * moments, LayerNorm statistics, softmax, attention and every elementwise op stay fp32.
 * CPU backend: default FP32; BF16 runs on AVX512-BF16 (tsr_cpu_bf16()), and on a CPU without it the
 * products stay fp32 (the results are then those of FP32). CUDA backend: its matrix products are
 * always bf16; asking it for FP32 is TSR_ERR_INVALID_ARG.
 */
enum { TSR_PRECISION_FP32 = 0, TSR_PRECISION_BF16 = 1 };
TSR_API int tsr_set_precision(tsr_model* model, int precision);
TSR_API int tsr_get_precision(const tsr_model* model, int* precision_out);

/* Total number of float32 parameters (= length of every block below). */
TSR_API int64_t tsr_num_params(const tsr_model* model);

/*
 * Parameter table. Tensors are listed in block order, each contiguous at its offset.
 * Names are the canonical Hugging Face names with the `bert.` prefix:
 *   bert.embeddings.word_embeddings.weight                [V, H]
 *   bert.embeddings.token_type_embeddings.weight          [T, H]
 *   bert.embeddings.position_embeddings.weight            [P, H]   (BERT only)
 *   bert.embeddings.LayerNorm.{weight,bias}               [H]
 *   per layer N, prefix bert.encoder.layer.N.:
 *     MosaicBERT: attention.self.Wqkv.weight [3H, H] (rows Q, K, V; head-major), .bias [3H],
 *                 attention.output.dense.{weight [H, H], bias [H]}, attention.output.LayerNorm.*,
 *                 mlp.gated_layers.weight [2I, H] (no bias; rows 0..I-1 = gate, I..2I-1 = value),
 *                 mlp.wo.{weight [H, I], bias [H]}, mlp.layernorm.{weight,bias} [H]
 *     BERT:       attention.self.{query,key,value}.weight [H, H] — stored back to back, so they
 *                 form one [3H, H] fused QKV matrix — then the three biases [H] back to back;
 *                 attention.output.dense.*, attention.output.LayerNorm.*,
 *                 intermediate.dense.{weight [I, H], bias [I]}, output.dense.{weight [H, I], bias},
 *                 output.LayerNorm.*
 *   CLASSIFICATION/REGRESSION: bert.pooler.dense.{weight [H, H], bias [H]},
 *                              classifier.{weight [L, H], bias [L]}
 *                              (logits = classifier(dropout(tanh(pooler(p_s)))), p_s the first token of
 *                              sequence s, or the mean of its tokens: tsr_config.pooling)
 *   MLM: cls.predictions.transform.dense.{weight [H, H], bias}, cls.predictions.transform.LayerNorm.*,
 *        cls.predictions.decoder.bias [V]. The decoder weight is TIED to the word embeddings and has
 *        no entry of its own (its gradient is added into the word-embedding gradient).
 *   NONE: encoder only (no pooler).
 * Every tensor is decayed by tsr_adamw_step (see there); tsr_set_lr_scales gives each its own learning rate.
 */
TSR_API int tsr_num_tensors(const tsr_model* model);
/* index in [0, tsr_num_tensors). name: static for the model's lifetime. shape: up to 4 dims,
 * unused dims set to 0. Any out pointer may be NULL. */
TSR_API int tsr_tensor_info(const tsr_model* model, int index, const char** name, int64_t* offset,
                            int64_t* numel, int32_t* ndim, int32_t shape[4]);
/* Index of the tensor with this name, or -1 (with TSR_ERR_INVALID_ARG as status). */
TSR_API int tsr_tensor_index(const tsr_model* model, const char* name, int* index_out);

/* The four blocks, each tsr_num_params floats in the table's layout. */
enum { TSR_BUF_PARAMS = 0, TSR_BUF_GRADS = 1, TSR_BUF_ADAM_M = 2, TSR_BUF_ADAM_V = 3 };

/* Backend pointer to a block (host for CPU, device for CUDA). */
TSR_API int tsr_buffer_ptr(tsr_model* model, int which, float** out);
/* Copy `count` floats starting at element `offset` of a block to / from host memory.
 * tsr_buffer_write checks the values: NaN/Inf -> TSR_ERR_NONFINITE, nothing written. */
TSR_API int tsr_buffer_read(const tsr_model* model, int which, int64_t offset, int64_t count, float* dst);
TSR_API int tsr_buffer_write(tsr_model* model, int which, int64_t offset, int64_t count, const float* src);
/* TSR_ERR_NONFINITE if a block holds NaN/Inf; *first_bad (may be NULL) = its element index or -1. */
TSR_API int tsr_check_finite(const tsr_model* model, int which, int64_t* first_bad);

/* ------------------------------------------------------------------------------------------ */
/* Batch                                                                                      */
/* ------------------------------------------------------------------------------------------ */
/*
 * An unpadded batch (all host pointers; the model copies what it needs during tsr_forward).
 * Sequence s owns tokens [cu_seqlens[s], cu_seqlens[s+1]); cu_seqlens[0] = 0,
 * cu_seqlens[num_seqs] = num_tokens, lengths >= 1. Token i's position (BERT) is i - cu_seqlens[s].
 * The first token of each sequence ([CLS]) feeds the pooler, or with TSR_POOLING_MEAN the mean of its tokens.
 * Labels (only the ones the head uses are read; all may be NULL for inference — then no loss):
 *   MLM:            mlm_labels[num_tokens]; label < 0 (conventionally -100) = not a target,
 *                   0 <= label < vocab_size = target id; the loss is the mean cross-entropy over
 *                   targets (0 when there are none, with zero gradient — torch would give NaN).
 *   CLASSIFICATION: class_labels[num_seqs] in [0, num_labels); mean cross-entropy over sequences.
 *   REGRESSION:     targets[num_seqs]; mean squared error over sequences.
 *
 * Knowledge distillation (CLASSIFICATION only; soft_targets NULL = none, and then the two distill_* fields
 * are not read: the loss is the plain cross-entropy above, bit for bit). soft_targets[num_seqs · num_labels]
 * holds each sequence's target distribution, row-major — a teacher's softmax(teacher_logits / T): every entry
 * finite and in [0, 1], each row summing to 1 within 1e-3 (else TSR_ERR_LABEL_RANGE). With z the logits of
 * sequence s, p = softmax(z), r = softmax(z / T), q its soft-target row, α = distill_alpha in [0, 1] and
 * T = distill_temperature > 0 (else TSR_ERR_INVALID_ARG), the loss of the row is (Hinton et al. 2015)
 *     loss_s = (1 − α)·CE(y_s, p) + α·T²·KL(q ‖ r),     KL(q ‖ r) = Σ_j q_j (log q_j − log r_j)  (0·log 0 = 0),
 * and its gradient  ∂loss_s/∂z = (1 − α)(p − onehot(y_s)) + α·T·(r − q).
 * A row may have no hard label: class_labels[s] < 0 (conventionally −1), or class_labels NULL for all rows;
 * such a row has only the soft term α·T²·KL. The batch loss is the mean of loss_s over ALL num_seqs rows,
 * labelled or not (each row weighs 1/num_seqs), so a row's gradient does not depend on its neighbours.
 * With α = 0 a labelled row's loss and gradient are exactly those of plain cross-entropy.
 * Negative class labels without soft_targets remain TSR_ERR_LABEL_RANGE.
 */
typedef struct tsr_batch {
    int32_t num_tokens;
    int32_t num_seqs;
    int32_t max_seqlen;              /* max over s of (cu_seqlens[s+1] - cu_seqlens[s]) */
    int32_t reserved;                /* 0 (keeps the pointers 8-byte aligned) */
    const int32_t* input_ids;        /* [num_tokens] */
    const int32_t* token_type_ids;   /* [num_tokens], or NULL = all 0 */
    const int32_t* cu_seqlens;       /* [num_seqs + 1] */
    const int32_t* mlm_labels;       /* [num_tokens] or NULL */
    const int32_t* class_labels;     /* [num_seqs] or NULL */
    const float* targets;            /* [num_seqs] or NULL */
    const float* soft_targets;       /* CLASSIFICATION distillation: [num_seqs × num_labels] probabilities, or NULL */
    float distill_alpha;             /* weight of the soft term, in [0, 1] (read only with soft_targets) */
    float distill_temperature;       /* T > 0 (read only with soft_targets) */
} tsr_batch;

/* Validates a batch against a model (budget, id and label ranges, cu_seqlens consistency)
 * without running anything. tsr_forward performs the same checks. */
TSR_API int tsr_validate_batch(const tsr_model* model, const tsr_batch* batch);

/* Number of floats tsr_forward writes to logits_out for this batch:
 *   MLM: num_targets · vocab_size (rows = labelled tokens in token order; if mlm_labels is NULL,
 *        every token: num_tokens · vocab_size),
 *   CLASSIFICATION: num_seqs · num_labels, REGRESSION: num_seqs,
 *   NONE: num_tokens · hidden_size (the final hidden states). */
TSR_API int tsr_logits_count(const tsr_model* model, const tsr_batch* batch, int64_t* count_out);

/* ------------------------------------------------------------------------------------------ */
/* Training step                                                                              */
/* ------------------------------------------------------------------------------------------ */
/*
 * Forward pass. loss_out (may be NULL): mean loss as described at tsr_batch (0 without labels).
 * logits_out: NULL, or tsr_logits_count floats. training != 0 enables dropout and keeps what
 * tsr_backward needs; training == 0 is inference (no dropout).
 * Dropout masks are drawn from Philox4x32-10 keyed by (seed, step, site, element); see
 * src/common/philox.h and TSR_DROPOUT_SITE below — every backend draws the same masks.
 * A non-finite loss returns TSR_ERR_NONFINITE (the loss is still written).
 */
TSR_API int tsr_forward(tsr_model* model, const tsr_batch* batch, float* loss_out, float* logits_out,
                        uint64_t seed, uint64_t step, int training);
/* Backward of the last training forward (same batch, still alive in the model), scaled by
 * loss_scale (1 for a single batch; 1/k to average k accumulated micro-batches).
 * Gradients accumulate into the gradient block. One backward per forward: TSR_ERR_STATE unless a
 * successful tsr_forward with training=1 and labels came after the last tsr_backward, failed
 * tsr_forward, parameter write (tsr_buffer_write of TSR_BUF_PARAMS, tsr_init_params) or
 * tsr_adamw_step. */
TSR_API int tsr_backward(tsr_model* model, float loss_scale);
/* Clears the gradient block. (CPU: most of the zeros are written by the next tsr_backward, whose weight
 * products then overwrite instead of accumulating; every read of the block through this API sees zeros.
 * A pointer from tsr_buffer_ptr(TSR_BUF_GRADS) taken before must be taken again to see them.) */
TSR_API int tsr_zero_grad(tsr_model* model);
/* norm_out (may be NULL) = global L2 norm of the gradient block (computed in double).
 * If max_norm > 0 and norm > max_norm, grads *= max_norm / (norm + 1e-6) (torch's clip_grad_norm_).
 * Non-finite norm: TSR_ERR_NONFINITE, grads untouched. */
TSR_API int tsr_clip_grad_norm(tsr_model* model, float max_norm, float* norm_out);
/*
 * Fused decoupled AdamW, Composer's DecoupledAdamW (the MosaicBERT reference optimizer), for every
 * parameter (weights, biases, LayerNorm and embeddings alike, as Composer applies it to
 * model.parameters()):
 *   p  *= 1 - weight_decay · (lr / initial_lr)        (if initial_lr <= 0: 1 - weight_decay)
 *   m   = beta1·m + (1-beta1)·g
 *   v   = beta2·v + (1-beta2)·g²
 *   p  -= (lr / (1 - beta1^step)) · m / (sqrt(v) / sqrt(1 - beta2^step) + eps)
 * Note the decay is NOT multiplied by lr itself, only by the schedule ratio lr/initial_lr.
 * step is the 1-based count of optimizer steps taken including this one.
 * With learning-rate scales (tsr_set_lr_scales), tensor i takes the Adam update with lr·scales[i] in
 * place of lr; its decay factor stays 1 - weight_decay · (lr / initial_lr), NOT multiplied by the scale.
 * That is Composer's DecoupledAdamW with one parameter group per scale: a group's factor is
 * 1 - wd · (lr_group / initial_lr_group), and lr_group = s·lr, initial_lr_group = s·initial_lr scale
 * together, so s cancels. (For s = 0 the tensor still decays; its Adam update is 0.)
 * Gradients are checked first: NaN/Inf -> TSR_ERR_NONFINITE, nothing updated.
 */
TSR_API int tsr_adamw_step(tsr_model* model, float lr, float initial_lr, float beta1, float beta2,
                           float eps, float weight_decay, int64_t step);
/*
 * Per-tensor learning-rate multipliers for tsr_adamw_step, e.g. layer-wise learning-rate decay:
 * scales[tsr_num_tensors], in parameter-table order, each finite and >= 0 (else TSR_ERR_INVALID_ARG and
 * the previous scales stay). The array is copied and kept with the model until the next call; NULL
 * removes them (every tensor at 1, the single-pass update of the whole block). A scale of exactly 1
 * gives bit-for-bit the unscaled update of that tensor. The scales are optimizer configuration, not
 * model state: they are not part of any buffer, so whoever restores a checkpoint sets them again.
 */
TSR_API int tsr_set_lr_scales(tsr_model* model, const float* scales);

/* ------------------------------------------------------------------------------------------ */
/* Dropout sites (the Philox "tensor id"), identical on every backend                         */
/* ------------------------------------------------------------------------------------------ */
/* site id = TSR_DROPOUT_SITE(layer, kind); embeddings use layer -1, the classifier head layer
 * num_layers. Element index of a hidden-state dropout = token · width + column; of the attention
 * probabilities = ((token_i · num_heads + head) · max_seqlen + j) with token_i the global index of
 * the query token and j the key position within the sequence. */
enum {
    TSR_DROP_EMBEDDINGS = 0,   /* after the embedding LayerNorm              [T, H] */
    TSR_DROP_ATTN_PROBS = 1,   /* attention probabilities                    see above */
    TSR_DROP_ATTN_OUT = 2,     /* after attention.output.dense, before +res  [T, H] */
    TSR_DROP_FFN = 3,          /* MosaicBERT: on gelu(gate)⊙value before wo   [T, I];
                                  BERT: after output.dense, before +res     [T, H] */
    TSR_DROP_CLASSIFIER = 4    /* pooled output before classifier            [S, H] */
};
#define TSR_DROPOUT_SITE(layer, kind) ((uint32_t)(((layer) + 1) * 8 + (kind)))

/* ------------------------------------------------------------------------------------------ */
/* Per-op entry points (host pointers; backend = TSR_BACKEND_CPU or TSR_BACKEND_CUDA — the CUDA  */
/* backend copies in, runs its kernel, copies out). Used by the tests to check ops one at a time. */
/* Gradient outputs accumulate (+=).                                                          */
/* ------------------------------------------------------------------------------------------ */

/* out[N,OC] = inp[N,C] · w[OC,C]ᵀ + bias[OC] (bias may be NULL). Overwrites out. */
TSR_API int tsr_op_matmul_fwd(int backend, float* out, const float* inp, const float* w,
                              const float* bias, int N, int C, int OC);
/* dinp[N,C] += dout·w ; dw[OC,C] += doutᵀ·inp ; dbias[OC] += Σ_rows dout. Any of dinp, dw, dbias
 * may be NULL (not computed). */
TSR_API int tsr_op_matmul_bwd(int backend, float* dinp, float* dw, float* dbias, const float* dout,
                              const float* inp, const float* w, int N, int C, int OC);

/* out = (inp - mean)·rstd·w + b per row; mean[N], rstd[N] saved for backward (may be NULL). */
TSR_API int tsr_op_layernorm_fwd(int backend, float* out, float* mean, float* rstd, const float* inp,
                                 const float* w, const float* b, int N, int C, float eps);
TSR_API int tsr_op_layernorm_bwd(int backend, float* dinp, float* dw, float* db, const float* dout,
                                 const float* inp, const float* w, const float* mean, const float* rstd,
                                 int N, int C);

/* Exact GELU: x · Φ(x) = 0.5·x·(1 + erf(x/√2)). */
TSR_API int tsr_op_gelu_fwd(int backend, float* out, const float* inp, int64_t n);
TSR_API int tsr_op_gelu_bwd(int backend, float* dinp, const float* inp, const float* dout, int64_t n);

/* GeGLU: inp[N, 2I] -> out[N, I] = gelu(inp[:, :I]) ⊙ inp[:, I:] (gate = first half). */
TSR_API int tsr_op_geglu_fwd(int backend, float* out, const float* inp, int N, int I);
TSR_API int tsr_op_geglu_bwd(int backend, float* dinp, const float* inp, const float* dout, int N, int I);

/* ALiBi slopes of DESIGN.md §3 (symmetric bias -slope_h·|i-j|), out[num_heads]. Host only. */
TSR_API int tsr_alibi_slopes(int num_heads, float* out);

/*
 * Attention over unpadded sequences. qkv[T, 3·NH·D]: row t = [q (head-major) | k | v].
 * out[T, NH·D] (head-major); lse[NH, T] = per query row log-sum-exp of the biased, scaled scores
 * (saved for backward). Scores: q·k/√D + alibi (if slopes != NULL: -slopes[h]·|i-j|), softmax over
 * the keys of the same sequence. Dropout on the probabilities with probability dropout_p, mask from
 * Philox (seed, step, site, element index as at TSR_DROPOUT_SITE), scale 1/(1-p).
 */
TSR_API int tsr_op_attention_fwd(int backend, float* out, float* lse, const float* qkv,
                                 const int32_t* cu_seqlens, int num_seqs, int max_seqlen, int num_heads,
                                 int head_dim, const float* slopes, float dropout_p, uint64_t seed,
                                 uint64_t step, uint32_t site);
/* dqkv[T, 3·NH·D] += gradient; out and lse from the forward. */
TSR_API int tsr_op_attention_bwd(int backend, float* dqkv, const float* dout, const float* qkv,
                                 const float* out, const float* lse, const int32_t* cu_seqlens,
                                 int num_seqs, int max_seqlen, int num_heads, int head_dim,
                                 const float* slopes, float dropout_p, uint64_t seed, uint64_t step,
                                 uint32_t site);

/* Inverted dropout: out[i] = keep(i) ? inp[i]/(1-p) : 0 with keep(i) from Philox(seed, step, site,
 * index_offset + i). Backward: dinp[i] += keep(i) ? dout[i]/(1-p) : 0. p == 0: identity. */
TSR_API int tsr_op_dropout_fwd(int backend, float* out, const float* inp, int64_t n, float p,
                               uint64_t seed, uint64_t step, uint32_t site, uint64_t index_offset);
TSR_API int tsr_op_dropout_bwd(int backend, float* dinp, const float* dout, int64_t n, float p,
                               uint64_t seed, uint64_t step, uint32_t site, uint64_t index_offset);

/* Softmax cross-entropy, fused forward + backward. loss_rows[N] = -log softmax(logits)[target]
 * (0 for target < 0); if dlogits != NULL: dlogits[N,V] += grad_scale·(softmax - onehot) (rows with
 * target < 0 get nothing). targets >= V -> TSR_ERR_LABEL_RANGE. */
TSR_API int tsr_op_softmax_ce(int backend, float* loss_rows, float* dlogits, const float* logits,
                              const int32_t* targets, int N, int V, float grad_scale);

/* Distillation loss of tsr_batch (soft targets), fused forward + backward, per row r of logits[N,V]:
 * loss_rows[r] = (targets[r] >= 0 ? (1-alpha)·(-log softmax(x_r)[t_r]) : 0) + alpha·T²·KL(q_r ‖ softmax(x_r/T));
 * if dlogits != NULL: dlogits[r] += grad_scale·((1-alpha)(softmax(x_r) - onehot(t_r)) [labelled rows only]
 * + alpha·T·(softmax(x_r/T) - q_r)). q = soft_targets[N,V] (rows of probabilities, as at tsr_batch).
 * targets may be NULL (no row labelled); targets >= V -> TSR_ERR_LABEL_RANGE; alpha outside [0, 1] or
 * temperature not > 0 -> TSR_ERR_INVALID_ARG. */
TSR_API int tsr_op_distill_ce(int backend, float* loss_rows, float* dlogits, const float* logits,
                              const int32_t* targets, const float* soft_targets, int N, int V, float alpha,
                              float temperature, float grad_scale);

/* Embeddings: out[T,C] = wte[ids] + wtt[types] (+ wpe[positions] if wpe != NULL). types may be
 * NULL (all 0). Backward scatter-adds dout into dwte/dwtt/dwpe (any may be NULL). */
TSR_API int tsr_op_embed_fwd(int backend, float* out, const int32_t* ids, const int32_t* types,
                             const int32_t* positions, const float* wte, const float* wtt,
                             const float* wpe, int T, int C);
TSR_API int tsr_op_embed_bwd(int backend, float* dwte, float* dwtt, float* dwpe, const float* dout,
                             const int32_t* ids, const int32_t* types, const int32_t* positions,
                             int T, int C);

/* The AdamW update of tsr_adamw_step on raw arrays of n floats (no finiteness check). */
TSR_API int tsr_op_adamw(int backend, float* params, const float* grads, float* m, float* v, int64_t n,
                         float lr, float initial_lr, float beta1, float beta2, float eps,
                         float weight_decay, int64_t step);

#ifdef __cplusplus
}
#endif
#endif /* TESSERA_H */

/* tsr_init_params runs its Philox draws on several threads; every value must equal the serial
 * formula bit for bit (the model fixtures and the CPU/CUDA comparisons rely on it). Run by ctest
 * with OMP_NUM_THREADS=3 and =1. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../include/tessera.h"
#include "common/philox.h"

int main(void) {
    /* MosaicBERT MLM, hidden 64, GeGLU 256, vocab 3000: word embeddings 192000 (threaded), small
     * tensors serial, LayerNorms and biases constant */
    tsr_config c;
    memset(&c, 0, sizeof c);
    c.variant = TSR_VARIANT_MOSAIC_BERT;
    c.head = TSR_HEAD_MLM;
    c.vocab_size = 3000;
    c.hidden_size = 64;
    c.num_layers = 2;
    c.num_heads = 2;
    c.intermediate_size = 256;
    c.type_vocab_size = 2;
    c.max_position_embeddings = 512;
    c.layer_norm_eps = 1e-12f;
    c.max_tokens = 16;
    c.max_seqs = 2;
    tsr_model* m = NULL;
    int st = tsr_model_create(&c, TSR_BACKEND_CPU, &m);
    if (st == TSR_ERR_NO_BACKEND) { printf("SKIP: %s\n", tsr_last_error()); return 77; }
    if (st) { printf("FAIL create: %s\n", tsr_last_error()); return 1; }
    const uint64_t seed = 0x1234567890abcdefull;
    const float std = 0.02f;
    if (tsr_init_params(m, seed, std)) { printf("FAIL init: %s\n", tsr_last_error()); return 1; }
    int64_t P = tsr_num_params(m);
    float* got = malloc(sizeof(float) * (size_t)P);
    if (!got || tsr_buffer_read(m, TSR_BUF_PARAMS, 0, P, got)) { printf("FAIL read\n"); return 1; }
    long long bad = 0, big = 0;
    for (int t = 0; t < tsr_num_tensors(m); t++) {
        const char* name;
        int64_t off, n;
        tsr_tensor_info(m, t, &name, &off, &n, NULL, NULL);
        size_t len = strlen(name);
        int is_ln = strstr(name, "LayerNorm") || strstr(name, "layernorm");
        int is_bias = len > 5 && strcmp(name + len - 5, ".bias") == 0;
        if (n >= (1 << 16)) big++;
        for (int64_t i = 0; i < n; i++) {
            float want = is_ln ? (is_bias ? 0.0f : 1.0f) : is_bias ? 0.0f : std * tsr_rng_normal(seed, (uint32_t)t, (uint64_t)i);
            if (memcmp(&want, &got[off + i], sizeof want) != 0) {
                if (bad < 5) printf("FAIL %s[%lld]: %.9g, serial formula %.9g\n", name, (long long)i, got[off + i], want);
                bad++;
            }
        }
    }
    printf("%lld params (%lld tensors threaded), %lld differ from the serial formula\n", (long long)P, big, bad);
    free(got);
    tsr_model_destroy(m);
    return bad || !big ? 1 : 0;
}

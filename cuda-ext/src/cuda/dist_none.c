/*
 * tessera_dist.h for a library built without CUDA: the same symbols, so bindings need not care
 * how the library was built. A single process works (world size 1); anything else is refused.
 */
#include <stdlib.h>

#include "../../include/tessera_dist.h"
#include "../common/model.h"

int tsr_dist_init(void) {
    const char* w = getenv("WORLD_SIZE");
    if (w && atoi(w) > 1)
        return tsr_set_error(TSR_ERR_NO_BACKEND, "tsr_dist_init: WORLD_SIZE=%s needs the CUDA backend; this libtessera was built without CUDA", w);
    return TSR_OK;
}
int tsr_dist_rank(void) { return 0; }
int tsr_dist_world_size(void) { return 1; }
int tsr_dist_allreduce_grads(tsr_model* model, int64_t bucket_floats) {
    (void)model;
    (void)bucket_floats;
    return TSR_OK;
}
int tsr_dist_finalize(void) { return TSR_OK; }
const char* tsr_cuda_gemm_engine(void) { return "none (built without CUDA)"; }
long long tsr_cuda_gemm_fallbacks(long long* failed_plans, long long* failed_matmuls, const char** last) {
    if (failed_plans) *failed_plans = 0;
    if (failed_matmuls) *failed_matmuls = 0;
    if (last) *last = "";
    return 0;
}

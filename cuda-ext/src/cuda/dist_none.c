/*
 * The CUDA diagnostics of tessera_dist.h for a library built without CUDA (the data-parallel API
 * itself is src/dist/, built always).
 */
#include "../../include/tessera_dist.h"

const char* tsr_cuda_gemm_engine(void) { return "none (built without CUDA)"; }
long long tsr_cuda_gemm_fallbacks(long long* failed_plans, long long* failed_matmuls, const char** last) {
    if (failed_plans) *failed_plans = 0;
    if (failed_matmuls) *failed_matmuls = 0;
    if (last) *last = "";
    return 0;
}

/**
 * Serving: the model registry, one dynamic batcher per model (a packed {@link dev.tessera.serving.Batch}), the
 * {@link dev.tessera.serving.Engine} seam, and the inference service (tokenize, batch, then the model's heads in
 * {@code serving.heads} post-process). Knows no HTTP; its failures are {@link dev.tessera.serving.ServingException}s
 * that {@code api} maps. Post-processing (softmax, pooling, scores) lives in the heads, not in the service.
 */
package dev.tessera.serving;

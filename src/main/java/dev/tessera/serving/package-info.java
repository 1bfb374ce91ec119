/**
 * Serving: the model registry, one dynamic batcher per model (a packed {@link dev.tessera.serving.Batch}), the
 * {@link dev.tessera.serving.Engine} seam, and the inference service (tokenize, batch, post-process). Knows no
 * HTTP; its failures are {@link dev.tessera.serving.ServingException}s that {@code api} maps.
 */
package dev.tessera.serving;

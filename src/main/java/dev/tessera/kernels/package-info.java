/**
 * The only bindings to the native module built from {@code cuda-ext/} (FFM downcalls): model config, flat
 * parameter/gradient blocks, forward/backward/step on the data pipeline's {@link dev.tessera.data.Batch}, data-parallel
 * collectives. Nothing else calls native code.
 */
package dev.tessera.kernels;

/**
 * Heads: what turns an engine's rows into answers, one small type per kind (DJL's {@code processOutput}). The
 * {@link dev.tessera.serving.heads.OutputHead} of a model (classifier, regressor, masked LM or a bare encoder) is
 * decided once, when it is loaded, and says what the model can answer; {@link dev.tessera.serving.heads.Pooling} is
 * the encoder side every model has. Heads know no engine, batcher, tokenizer or HTTP.
 */
package dev.tessera.serving.heads;

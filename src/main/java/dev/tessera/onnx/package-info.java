/**
 * ONNX graph export in three dialects (portable, ort, tessera) and two precisions, and import of ONNX BERTs.
 * Builds protobuf graphs from {@code model}; never runs them (that is {@code serving.ort}).
 */
package dev.tessera.onnx;

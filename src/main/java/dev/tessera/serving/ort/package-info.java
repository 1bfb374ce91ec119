/**
 * The engines: one per ONNX dialect and execution provider, and the only place that touches ONNX Runtime
 * ({@code ai.onnxruntime}).
 */
package dev.tessera.serving.ort;

/**
 * The {@code tessera} command line (picocli): pretrain, finetune, eval, export, import, vocab, study, plot, serve.
 * Thin commands over {@code train}, {@code onnx}, {@code study}; no HTTP. Nothing imports it.
 */
package dev.tessera.cli;

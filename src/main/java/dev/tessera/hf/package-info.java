/**
 * The Hugging Face bridge: config.json, safetensors (read and write), pytorch_model.bin through a restricted
 * unpickler that never executes code, sharded indexes, and the file names of a checkpoint directory
 * ({@link dev.tessera.hf.CheckpointFiles}). Produces and consumes {@code model} types; no training.
 */
package dev.tessera.hf;

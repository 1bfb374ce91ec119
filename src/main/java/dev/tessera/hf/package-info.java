/**
 * The Hugging Face bridge: config.json, safetensors (read and write), pytorch_model.bin through a restricted
 * unpickler that never executes code, sharded indexes. Produces and consumes {@code model} types; no training.
 */
package dev.tessera.hf;

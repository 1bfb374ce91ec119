/**
 * Training: recipes (YAML, with every path key marked for confinement), the one training loop, MLM pretraining
 * and finetuning on the native backend, schedules, checkpoints, evaluation. Used by {@code cli}, {@code jobs} and
 * {@code study}; no HTTP.
 */
package dev.tessera.train;

/**
 * Training: recipes (YAML, with every path key marked for confinement), the one training loop, MLM pretraining
 * and finetuning on the native backend ({@link dev.tessera.train.Trainer}: one start, one
 * {@link dev.tessera.train.TrainingOutcome}), schedules, checkpoints (saved and restored by
 * {@link dev.tessera.train.Checkpointer}), evaluation of a saved checkpoint ({@link dev.tessera.train.CheckpointEvaluator}).
 * Used by {@code cli}, {@code jobs} and {@code study}; no HTTP.
 */
package dev.tessera.train;

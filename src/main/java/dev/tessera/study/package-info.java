/**
 * The study runner ({@code tessera study --spec FILE.yaml}): a resumable grid of pretraining runs on
 * wall-clock budgets, finetuning at label budgets, and the TF-IDF baseline, written to one results file
 * with plots. It drives {@code train} (Pretrainer, Finetuner) and {@code plot}; nothing imports it but the CLI.
 */
package dev.tessera.study;

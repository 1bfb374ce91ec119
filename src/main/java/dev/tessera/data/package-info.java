/**
 * Corpora and labelled datasets: reading (lines, paragraphs, jsonl, tsv, csv), token shards on disk, the
 * pretraining loader (packing, data order, position for resume), MLM masking, the training {@code Batch}. No model,
 * no native code beyond mapped shard files.
 */
package dev.tessera.data;

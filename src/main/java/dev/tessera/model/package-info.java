/**
 * What a BERT is, independent of where it runs: config (MosaicBERT or classic BERT), named tensors, heads, ALiBi
 * slopes. Depends on nothing else of Tessera.
 */
package dev.tessera.model;

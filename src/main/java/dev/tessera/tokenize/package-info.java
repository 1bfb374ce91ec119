/**
 * Tokenizers: Hugging Face tokenizer.json through DJL, a synthesised one for vocab.txt-only checkpoints, and
 * WordPiece vocabulary training for custom vocabularies.
 */
package dev.tessera.tokenize;

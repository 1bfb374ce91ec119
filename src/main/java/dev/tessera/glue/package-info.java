/**
 * GLUE task definitions (columns, labels, reference learning rates and epochs) and their metrics (accuracy, F1,
 * MCC, Pearson, Spearman). Pure data and arithmetic.
 */
package dev.tessera.glue;

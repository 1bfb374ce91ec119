package dev.tessera.model;

import java.util.List;

/**
 * The architecture of a checkpoint: what config.json says, completed by what the weights say
 * (variant and head are decided by the weights).
 *
 * @param labels     id2label in id order; size = num_labels (1 for regression, empty without a classifier)
 * @param maxPositionEmbeddings learned positions for BERT; for MosaicBERT only {@code alibi_starting_size}
 *                   (a cache size, not a limit)
 * @param classifierPooling what feeds the pooler of a classification or regression head ({@code classifier_pooling});
 *                   kept whatever the head, so a checkpoint that says "mean" keeps saying it
 */
public record ModelConfig(
        Variant variant,
        Head head,
        int vocabSize,
        int hiddenSize,
        int numLayers,
        int numHeads,
        int intermediateSize,
        int typeVocabSize,
        int maxPositionEmbeddings,
        double layerNormEps,
        int padTokenId,
        List<String> labels,
        String problemType,
        String hiddenAct,
        ClassifierPooling classifierPooling) {

    public ModelConfig {
        labels = List.copyOf(labels);
        java.util.Objects.requireNonNull(classifierPooling, "classifierPooling");
        if (hiddenSize % numHeads != 0) {
            throw new IllegalArgumentException("hidden_size " + hiddenSize + " is not a multiple of num_attention_heads " + numHeads);
        }
    }

    public int headDim() { return hiddenSize / numHeads; }

    public int numLabels() { return labels.size(); }

    public boolean isRegression() { return head == Head.REGRESSION; }

    public ModelConfig withHead(Head newHead, List<String> newLabels, String newProblemType) {
        return new ModelConfig(variant, newHead, vocabSize, hiddenSize, numLayers, numHeads, intermediateSize,
                typeVocabSize, maxPositionEmbeddings, layerNormEps, padTokenId, newLabels, newProblemType, hiddenAct,
                classifierPooling);
    }

    public ModelConfig withClassifierPooling(ClassifierPooling pooling) {
        return new ModelConfig(variant, head, vocabSize, hiddenSize, numLayers, numHeads, intermediateSize,
                typeVocabSize, maxPositionEmbeddings, layerNormEps, padTokenId, labels, problemType, hiddenAct, pooling);
    }
}

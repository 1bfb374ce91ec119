package dev.tessera.kernels;

import dev.tessera.model.ClassifierPooling;
import dev.tessera.model.Head;
import dev.tessera.model.ModelConfig;
import dev.tessera.model.Variant;

/**
 * {@code tsr_config} of cuda-ext/include/tessera.h: the architecture plus the dropout rates and the
 * token budget the native model sizes its activations for.
 *
 * @param maxMlmTargets most MLM-labelled tokens per batch (0 = maxTokens)
 * @param pooling what feeds the pooler of a classification or regression head (ignored by the other heads)
 */
public record NativeConfig(
        Variant variant, Head head, int vocabSize, int hiddenSize, int numLayers, int numHeads,
        int intermediateSize, int typeVocabSize, int maxPositionEmbeddings, int numLabels,
        float layerNormEps, float hiddenDropout, float attentionDropout,
        int maxTokens, int maxSeqs, int maxMlmTargets, ClassifierPooling pooling) {

    public NativeConfig {
        java.util.Objects.requireNonNull(pooling, "pooling");
    }

    /** From a serving-path config (the head decides num_labels: 1 for regression). */
    public static NativeConfig of(ModelConfig c, float hiddenDropout, float attentionDropout, int maxTokens, int maxSeqs) {
        int labels = switch (c.head()) {
            case REGRESSION -> 1;
            case CLASSIFICATION -> c.numLabels();
            default -> 0;
        };
        return new NativeConfig(c.variant(), c.head(), c.vocabSize(), c.hiddenSize(), c.numLayers(), c.numHeads(),
                c.intermediateSize(), c.typeVocabSize(), c.variant() == Variant.BERT ? c.maxPositionEmbeddings() : 0,
                labels, (float) c.layerNormEps(), hiddenDropout, attentionDropout, maxTokens, maxSeqs, 0,
                c.classifierPooling());
    }

    /** Native head codes equal the ordinals of {@link Head} / {@link Variant} / {@link ClassifierPooling} (checked in a test). */
    int variantCode() { return variant.ordinal(); }

    int headCode() { return head.ordinal(); }

    int poolingCode() { return pooling.ordinal(); }
}

package dev.tessera.serving.heads;

import dev.tessera.model.ModelConfig;
import dev.tessera.serving.ServingException;

/**
 * What sits on top of a served model's encoder, decided once from its config when the model is loaded: the one place
 * that says what kind of model it is ({@link #kind()}) and which routes it can answer. A route asks for the head it
 * needs ({@link #forPredict}, {@link #forRerank}, {@link #forSparse}) and is refused with the reason when the model
 * has none. Every model also embeds, whatever its head ({@link Pooling}).
 */
public sealed interface OutputHead permits LabelHead, Encoder, MaskedLm {

    /** What TEI calls the model ({@code model_type} of /info, gRPC's {@code ModelType}). */
    enum Kind { CLASSIFIER, RERANKER, EMBEDDING }

    static OutputHead of(ModelConfig config) {
        return switch (config.head()) {
            case CLASSIFICATION -> new Classifier(config.labels(), Classifier.MULTI_LABEL.equals(config.problemType()));
            case REGRESSION -> new Regressor(config.labels());
            case MLM -> new MaskedLm();
            case NONE -> new Encoder();
        };
    }

    /** The head's name as /info spells it: {@code classification}, {@code regression}, {@code mlm} or {@code none}. */
    String name();

    Kind kind();

    /** The head /predict reads: a classifier's or a regressor's. */
    default LabelHead forPredict(String model) {
        if (this instanceof LabelHead h) return h;
        throw new ServingException.Incapable("model '" + model + "' has no classification or regression head (" + name()
                + "); use /embed or a finetuned model");
    }

    /** The head /rerank reads: a regressor (one output) or a classifier with one or two labels. */
    default LabelHead forRerank(String model) {
        if (this instanceof LabelHead h && h.ranks()) return h;
        throw new ServingException.Incapable("model '" + model + "' cannot rerank: it needs a pair head with one output "
                + "(a cross-encoder or a regression head) or two labels; it has " + (this instanceof Classifier c
                ? c.labels().size() + " labels" : "a " + name() + " head"));
    }

    /** The head /embed_sparse reads: the masked-language-model head. */
    default MaskedLm forSparse(String model) {
        if (this instanceof MaskedLm m) return m;
        throw new ServingException.Incapable("model '" + model + "' has no MLM head (it has "
                + (this instanceof Encoder ? "none" : "a " + name() + " head")
                + "); sparse (SPLADE) vectors need the masked-language-model logits");
    }
}

package dev.tessera.serving;

import dev.tessera.model.ModelConfig;
import dev.tessera.model.Variant;
import dev.tessera.serving.heads.OutputHead;
import dev.tessera.serving.heads.Pooling;
import dev.tessera.tokenize.TextTokenizer;
import java.nio.file.Path;

/**
 * A model ready to serve: its config, its heads (what sits on top of the encoder, and the pooling every model has,
 * both decided from the config when it is loaded), tokenizer, engine and batcher.
 */
public record ServedModel(String name, Path dir, ModelConfig config, OutputHead head, Pooling pooling, TextTokenizer tokenizer,
                          Engine engine, InferenceBatcher batcher, int maxInputLength)
        implements AutoCloseable {

    public ServedModel(String name, Path dir, ModelConfig config, TextTokenizer tokenizer, Engine engine,
                       InferenceBatcher batcher, int maxInputLength) {
        this(name, dir, config, OutputHead.of(config), new Pooling(config.hiddenSize()), tokenizer, engine, batcher,
                maxInputLength);
    }

    /**
     * MosaicBERT has no position embeddings (ALiBi), so any configured length is served; classic BERT
     * cannot go past its learned positions.
     */
    public static int maxInputLength(ModelConfig config, int configured) {
        return config.variant() == Variant.BERT ? Math.min(configured, config.maxPositionEmbeddings()) : configured;
    }

    @Override
    public void close() {
        batcher.close(); // drains, then waits out the run in progress: the engine is idle after this
        engine.close();
        tokenizer.close(); // native memory of the DJL tokenizer
    }
}

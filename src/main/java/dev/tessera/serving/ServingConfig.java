package dev.tessera.serving;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import io.smallrye.config.WithName;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The {@code tessera.*} configuration keys of serving (API keys: {@code api/AuthConfig}; jobs: {@code jobs/JobsConfig}); documented in the README. */
@ConfigMapping(prefix = "tessera")
public interface ServingConfig {

    Models models();

    Serving serving();

    /** Per-model overrides, keyed by the model's directory name: {@code tessera.model."sst2".max-input-length}. */
    Map<String, ModelOverrides> model();

    interface Models {
        /** Root directory; every sub-directory holding a config.json is served under its directory name. */
        @WithDefault("checkpoints")
        String dir();

        /** Model served by the routes without a name (/predict, /embed, /tokenize, /info); default: the first by name. */
        @WithName("default")
        Optional<String> defaultModel();
    }

    interface Serving {
        /**
         * Token budget of one engine run: concurrent requests are coalesced up to this many tokens (padded for the
         * padded dialects). 8192 keeps the matmuls as efficient as larger runs while bounding activation memory
         * (peak RSS serving MiniLM under load: 671 MB at 8192, 801 MB at 16384, same throughput).
         */
        @WithDefault("8192")
        int maxBatchTokens();

        /**
         * How long the batcher waits for more requests before it runs what it has. 0 = continuous
         * batching: requests that queued during the previous run form the next batch.
         */
        @WithDefault("0ms")
        Duration maxBatchDelay();

        /** Most inputs one request may carry (413 beyond). */
        @WithDefault("64")
        int maxClientBatchSize();

        /** Inputs waiting per model before requests are refused with 429. */
        @WithDefault("1024")
        int queueCapacity();

        /** Default max_input_length in tokens; for classic BERT capped by its position embeddings. */
        @WithDefault("512")
        int maxInputLength();

        /**
         * What {@code /embed} and {@code /v1/embeddings} do with an input longer than a classic BERT's max_input_length
         * when {@code truncate} is false: {@code windows} embeds overlapping windows of max_input_length tokens and
         * pools them (the token-count-weighted mean of the windows' mean-pooled vectors, then normalised if asked);
         * {@code error} refuses it with 422 as TEI does. MosaicBERT (ALiBi, no learned positions) never needs windows:
         * its max_input_length is a budget, raised per model with {@code tessera.model."NAME".max-input-length}.
         */
        @WithDefault("windows")
        String longInputs();

        /** Tokens two consecutive windows share (at most half a window). */
        @WithDefault("64")
        int windowOverlap();

        /** Most windows one input may be split into (422 beyond). */
        @WithDefault("64")
        int maxWindows();

        /** A request waiting longer than this for its results gets a 503. */
        @WithDefault("30s")
        Duration requestTimeout();

        /** ORT intra-op threads; 0 = number of cores. */
        @WithDefault("0")
        int threads();

        /** auto | cpu | cuda. auto: CUDA when the build has it (-Pgpu) and it starts. CUDA falls back to CPU with one log line. */
        @WithDefault("auto")
        String device();

        /** Default ONNX dialect of every model: auto (the fastest that loads here) | portable | ort | tessera. */
        @WithDefault("auto")
        String dialect();

        /** Default precision of every model's encoder matmuls: fp32 | int8 (dynamic, per-channel weights). */
        @WithDefault("fp32")
        String precision();
    }

    interface ModelOverrides {
        /** Longer than the training length is fine for MosaicBERT (ALiBi extrapolates). */
        Optional<Integer> maxInputLength();

        /** auto | portable | ort | tessera; default {@code tessera.serving.dialect}. */
        Optional<String> dialect();

        /** fp32 | int8; default {@code tessera.serving.precision}. */
        Optional<String> precision();
    }
}

package dev.tessera.api;

import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.jackson.ObjectMapperCustomizer;
import jakarta.inject.Singleton;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * Limits on every JSON body the API reads, enforced by the parser while it reads: a body within the byte limit can
 * still ask for millions of tree nodes ({@code [{},{},…]}), each far larger in the heap than on the wire. The largest
 * legitimate body (64 inputs of a few thousand token ids) needs about a tenth of the default token budget.
 */
@Singleton
public class JsonLimits implements ObjectMapperCustomizer {
    /** Deep enough for every request shape (the deepest is a batch of id arrays: 3 levels). */
    static final int MAX_NESTING = 16;

    private final long maxTokens;

    public JsonLimits(@ConfigProperty(name = "tessera.serving.max-json-tokens", defaultValue = "262144") long maxTokens) {
        this.maxTokens = maxTokens;
    }

    @Override
    public void customize(ObjectMapper mapper) {
        mapper.getFactory().setStreamReadConstraints(StreamReadConstraints.builder()
                .maxNestingDepth(MAX_NESTING)
                .maxTokenCount(maxTokens)
                .maxNumberLength(64)
                .build());
    }
}

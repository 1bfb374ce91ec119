package dev.tessera.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The contract tests' validator refuses what TEI's schemas refuse (else TeiContractTest could not fail). */
class TeiSchemaTest {
    static JsonNode json(String s) throws Exception { return new ObjectMapper().readTree(s); }

    @Test
    void errorResponses() throws Exception {
        assertEquals(List.of(), TeiSchema.ERROR_RESPONSE.check(json("{\"error\":\"x\",\"error_type\":\"Empty\",\"status\":400}")));
        assertFalse(TeiSchema.ERROR_RESPONSE.check(json("{\"error\":\"x\",\"error_type\":\"validation\"}")).isEmpty(), "TEI's spelling");
        assertFalse(TeiSchema.ERROR_RESPONSE.check(json("{\"error\":\"x\"}")).isEmpty(), "error_type is required");
        assertFalse(TeiSchema.ERROR_RESPONSE.check(json("{\"error\":{\"message\":\"x\"},\"error_type\":\"Empty\"}")).isEmpty());
    }

    @Test
    void responses() throws Exception {
        assertEquals(List.of(), TeiSchema.TOKENIZE_RESPONSE.check(json("[[{\"id\":1,\"text\":\"[CLS]\",\"special\":true,\"start\":null,\"stop\":null}]]")));
        assertFalse(TeiSchema.TOKENIZE_RESPONSE.check(json("[[{\"id\":1,\"text\":\"a\",\"special\":false,\"start\":-1,\"stop\":1}]]")).isEmpty());
        assertFalse(TeiSchema.TOKENIZE_RESPONSE.check(json("[{\"id\":1,\"text\":\"a\",\"special\":false}]")).isEmpty(), "a list per input");
        assertEquals(List.of(), TeiSchema.PREDICT_RESPONSE.check(json("[{\"label\":\"a\",\"score\":0.5}]")));
        assertEquals(List.of(), TeiSchema.PREDICT_RESPONSE.check(json("[[{\"label\":\"a\",\"score\":0.5}]]")));
        assertFalse(TeiSchema.PREDICT_RESPONSE.check(json("[{\"label\":\"a\"}]")).isEmpty());
        assertFalse(TeiSchema.EMBED_RESPONSE.check(json("[0.1, 0.2]")).isEmpty(), "a list of vectors, even for one input");
        assertFalse(TeiSchema.EMBED_SPARSE_RESPONSE.check(json("[[{\"index\":-3,\"value\":1.0}]]")).isEmpty());
        assertFalse(TeiSchema.INFO.check(json("{\"model_id\":\"m\"}")).isEmpty());
        assertFalse(TeiSchema.MODEL_TYPE.check(json("{\"embedding\":{\"pooling\":\"mean\"},\"reranker\":{\"id2label\":{},\"label2id\":{}}}")).isEmpty(),
                "oneOf: exactly one");
        assertFalse(TeiSchema.OPENAI_RESPONSE.check(json("{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,\"embedding\":7}],"
                + "\"model\":\"m\",\"usage\":{\"prompt_tokens\":1,\"total_tokens\":1}}")).isEmpty());
    }
}

package dev.tessera.api;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.path.json.JsonPath;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Long inputs with "truncate": false. Classic BERT (bert-mlm-bin: 64 learned positions, fp32) reads them in windows:
 * /info names the window and overlap; the served vector must equal the documented pooling of the windows' vectors,
 * rebuilt here from /tokenize and /embed of each window as token ids: windows of [CLS] + (window - 2) text tokens +
 * [SEP], each starting (window - 2 - overlap) text tokens after the previous one, the last ending at the text's end;
 * their unnormalised vectors averaged with weights = tokens per window; normalised when asked. MosaicBERT (ALiBi)
 * needs no windows: /info says so and past its budget it refuses (422) unless truncating.
 */
@QuarkusTest
class LongInputTest {
    static final String MODEL = "bert-mlm-bin";

    @BeforeEach
    void waitUntilReady() {
        Awaitility.await().atMost(java.time.Duration.ofSeconds(60)).until(() -> given().get("/health/ready").statusCode() == 200);
    }

    static JsonPath post(String path, Object body) {
        return given().contentType(ContentType.JSON).body(body).post(path).then().statusCode(200).extract().jsonPath();
    }

    static float[] vector(List<? extends Number> xs) {
        float[] out = new float[xs.size()];
        for (int i = 0; i < out.length; i++) out[i] = xs.get(i).floatValue();
        return out;
    }

    @Test
    void aLongBertInputIsTheWeightedMeanOfItsWindows() {
        JsonPath info = given().get("/v1/models/" + MODEL).then().statusCode(200)
                .body("long_inputs.strategy", equalTo("windows")).extract().jsonPath();
        int window = info.getInt("long_inputs.window"), overlap = info.getInt("long_inputs.overlap");
        assertEquals(64, window);
        assertTrue(overlap > 0 && overlap <= (window - 2) / 2, "overlap " + overlap);
        String text = "the movie was good and the plot was not bad at all , the end was good ".repeat(9).trim();
        List<Integer> ids = post("/v1/models/" + MODEL + "/tokenize", Map.of("inputs", text)).getList("[0].id");
        int n = ids.size();
        assertTrue(n > 2 * window, "long enough for three windows or more: " + n);

        List<Integer> body = ids.subList(1, n - 1);
        int width = window - 2, stride = width - overlap;
        List<List<Integer>> windows = new ArrayList<>();
        for (int from = 0; ; from += stride) {
            int to = Math.min(body.size(), from + width);
            List<Integer> w = new ArrayList<>();
            w.add(ids.get(0));
            w.addAll(body.subList(from, to));
            w.add(ids.get(n - 1));
            windows.add(w);
            if (to == body.size()) break;
        }
        assertTrue(windows.size() >= 3);
        float[] want = new float[info.getInt("architecture.hidden_size")];
        int total = windows.stream().mapToInt(List::size).sum();
        for (List<Integer> w : windows) {
            float[] v = vector(post("/v1/models/" + MODEL + "/embed", Map.of("inputs", w, "normalize", false)).getList("[0]"));
            for (int k = 0; k < want.length; k++) want[k] += v[k] * w.size() / (float) total;
        }
        float[] raw = vector(post("/v1/models/" + MODEL + "/embed", Map.of("inputs", text, "normalize", false)).getList("[0]"));
        assertArrayEquals(want, raw, 1e-5f, "the long input's vector = token-weighted mean of its windows' vectors");

        double norm = 0;
        for (float x : want) norm += x * x;
        for (int k = 0; k < want.length; k++) want[k] /= (float) Math.sqrt(norm);
        float[] normalised = vector(post("/v1/models/" + MODEL + "/embed", Map.of("inputs", List.of(text, "short one"))).getList("[0]"));
        assertArrayEquals(want, normalised, 1e-5f);
        float[] openAi = vector(post("/v1/embeddings", Map.of("model", MODEL, "input", text)).getList("data[0].embedding"));
        assertArrayEquals(want, openAi, 1e-5f, "/v1/embeddings windows the same way");
        int usage = post("/v1/embeddings", Map.of("model", MODEL, "input", text)).getInt("usage.prompt_tokens");
        assertEquals(total, usage, "usage counts the tokens the windows ran");

        // truncation still cuts instead: the first window's vector
        float[] cut = vector(post("/v1/models/" + MODEL + "/embed", Map.of("inputs", text, "truncate", true, "normalize", false)).getList("[0]"));
        float[] first = vector(post("/v1/models/" + MODEL + "/embed", Map.of("inputs", windows.get(0), "normalize", false)).getList("[0]"));
        assertArrayEquals(first, cut, 1e-5f);
        // a request may ask for TEI's refusal instead ("long_inputs": "error"; the server default is windows)
        given().contentType(ContentType.JSON).body(Map.of("inputs", text, "long_inputs", "error")).post("/v1/models/" + MODEL + "/embed")
                .then().statusCode(422).body("error_type", equalTo("Validation"));
        given().contentType(ContentType.JSON).body(Map.of("input", text, "model", MODEL, "long_inputs", "sideways")).post("/v1/embeddings")
                .then().statusCode(422);
        // SPLADE reads the same windows: the long input's sparse vector is the element-wise max of the windows' ones
        Map<Integer, Float> wantSparse = new java.util.TreeMap<>();
        for (List<Integer> w : windows) {
            List<Map<String, Number>> sv = post("/v1/models/" + MODEL + "/embed_sparse", Map.of("inputs", w)).getList("[0]");
            for (Map<String, Number> e : sv) wantSparse.merge(e.get("index").intValue(), e.get("value").floatValue(), Math::max);
        }
        List<Map<String, Number>> gotSparse = post("/v1/models/" + MODEL + "/embed_sparse", Map.of("inputs", text)).getList("[0]");
        assertEquals(wantSparse.size(), gotSparse.size());
        for (Map<String, Number> e : gotSparse) {
            assertEquals(wantSparse.get(e.get("index").intValue()), e.get("value").floatValue(), 1e-5f, "index " + e.get("index"));
        }
        // routes other than /embed, /embed_sparse and /v1/embeddings keep TEI's refusal
        given().contentType(ContentType.JSON).body(Map.of("inputs", text)).post("/v1/models/" + MODEL + "/embed_all")
                .then().statusCode(422).body("error_type", equalTo("Validation"));
    }

    @Test
    void mosaicBertNeedsNoWindows() {
        given().get("/v1/models/mosaic-cls12").then().statusCode(200).body("long_inputs.strategy", equalTo("single_pass"))
                .body("long_inputs.why", containsString("ALiBi"));
        String text = "good ".repeat(60).trim();
        for (Map<String, Object> body : List.of(Map.<String, Object>of("inputs", text), Map.<String, Object>of("inputs", text, "long_inputs", "windows"))) {
            given().contentType(ContentType.JSON).body(body).post("/embed").then().statusCode(422)
                    .body("detail", containsString("max-input-length"));
        }
    }
}

package dev.tessera.api;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import java.io.IOException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * The {@code cohere-ai} npm package (src/test/node/cohere-client, installed by .ci/run with npm), v1 and v2 rerank,
 * against the running app: it must parse Tessera's answers and rank as TEI /rerank does. Skips, saying why, where
 * node or the package is absent.
 */
@QuarkusTest
class CohereNodeClientTest {
    static final Path DIR = Path.of("src/test/node/cohere-client");

    @TestHTTPResource("/")
    URL base;

    @Test
    void cohereNpmClientRanksAsTeiRerank() throws IOException, InterruptedException {
        assumeTrue(Files.isDirectory(DIR.resolve("node_modules/cohere-ai")),
                "cohere-ai npm package not installed: run 'npm ci --prefix " + DIR + "' (.ci/run does)");
        Awaitility.await().atMost(java.time.Duration.ofSeconds(60)).until(() -> given().get("/health/ready").statusCode() == 200);
        String url = base.toString().replaceFirst("/$", "");
        Process p;
        try {
            p = new ProcessBuilder("node", "check.mjs", url, "bert-cls-f16").directory(DIR.toFile()).redirectErrorStream(true).start();
        } catch (IOException e) {
            assumeTrue(false, "node is not installed: " + e.getMessage());
            return;
        }
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "node client finished");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("\"ok\":true"), out);
    }
}

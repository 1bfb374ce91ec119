package dev.tessera.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.train.Recipe;
import dev.tessera.train.TinyFixtures;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.RestAssured;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The server as a hostile client sees it, over raw sockets (no client normalises a path, encodes it or drops a
 * {@code ;param}): every write route under every path variant without a key and with a user key; every recipe path
 * key escaping its roots four ways; JSON and YAML amplification; body, recipe, override and text limits; slow clients
 * and open event streams beside inference. Every reply and every log line of the run is kept, and none may carry a
 * key, a host directory the client did not name, or a Java class name.
 */
@QuarkusTest
@TestProfile(HostileClientTest.Profile.class)
class HostileClientTest {
    static final String USER = "hostile-user-key-3141", ADMIN = "hostile-admin-key-2718";

    public static class Profile implements QuarkusTestProfile {
        static final Path ROOT;
        static {
            try {
                ROOT = Files.createTempDirectory("tessera-hostile");
                for (String m : List.of("m1", "m2")) {
                    Path src = Path.of("src/test/resources/fixtures/mosaic-cls12"), dst = ROOT.resolve("models").resolve(m);
                    Files.createDirectories(dst);
                    try (var files = Files.list(src)) {
                        for (Path f : files.toList()) Files.copy(f, dst.resolve(f.getFileName()));
                    }
                }
                TinyFixtures.write(ROOT.resolve("data"));
                Files.createDirectories(ROOT.resolve("outside"));
                Files.writeString(ROOT.resolve("outside/secret.txt"), "SECRET-CONTENT\tSECRET-LABEL\n");
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("tessera.auth.api-keys", USER, "tessera.auth.admin-keys", ADMIN,
                    "tessera.models.dir", ROOT.resolve("models").toString(), "tessera.models.default", "m1",
                    "tessera.jobs.dir", ROOT.resolve("jobs").toString(), "tessera.jobs.threads", "1",
                    "tessera.jobs.data-roots", ROOT.resolve("data").toString());
        }
    }

    static final Path DATA = Profile.ROOT.resolve("data"), OUTSIDE = Profile.ROOT.resolve("outside");
    static final List<RawHttp.Reply> REPLIES = new CopyOnWriteArrayList<>();
    static final List<LogRecord> LOG = new CopyOnWriteArrayList<>();
    static final Handler CAPTURE = new Handler() {
        @Override public void publish(LogRecord r) { LOG.add(r); }
        @Override public void flush() {}
        @Override public void close() {}
    };

    RawHttp http;

    @BeforeAll
    static void captureLogs() {
        CAPTURE.setLevel(Level.ALL);
        java.util.logging.Logger.getLogger("").addHandler(CAPTURE);
    }

    @BeforeEach
    void ready() throws InterruptedException {
        http = new RawHttp(RestAssured.port);
        for (int i = 0; i < 600 && send("GET", "/health/ready", null, null).status() != 200; i++) Thread.sleep(100);
    }

    RawHttp.Reply send(String method, String target, String key, String body) {
        RawHttp.Reply r = http.send(method, target, key, body);
        REPLIES.add(r);
        return r;
    }

    static String job(String kind, String recipe) {
        return "{\"kind\": \"" + kind + "\", \"recipe\": " + quote(recipe) + "}";
    }

    static String jobWith(String kind, String recipe, String overrideKey, String value) {
        return "{\"kind\": \"" + kind + "\", \"recipe\": " + quote(recipe) + ", \"overrides\": {" + quote(overrideKey) + ": " + quote(value) + "}}";
    }

    static String quote(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n").replace("\t", "\\t") + "\"";
    }

    /** Path variants a router might normalise differently from a string check. */
    static List<String> variants(String path) {
        List<String> out = new ArrayList<>(List.of(path, path + ";x=1", path + "/", "/" + path, path + "?x=1",
                path.replaceFirst("^/v1/", "/v1/./"), path.replaceFirst("^/v1/", "/V1/"), path.replaceFirst("^/v1/", "/%76%31/"),
                path.replaceFirst("^/v1/", "/v1/x/../"), path + "%3Bx", path.replaceFirst("^/v1/", "/v1%2F")));
        String[] segments = path.substring(1).split("/");
        for (int i = 0; i < segments.length; i++) {
            String[] s = segments.clone();
            s[i] = s[i] + ";x";
            out.add("/" + String.join("/", s));
            s = segments.clone();
            s[i] = "%" + Integer.toHexString(s[i].charAt(0)) + s[i].substring(1);
            out.add("/" + String.join("/", s));
        }
        return out;
    }

    @Test
    void everyWriteRouteRefusesEveryPathVariantWithoutAnAdminKey() {
        String body = job("pretrain", "kind: pretrain\n");
        List<String[]> writes = List.of(new String[] {"POST", "/v1/jobs", body}, new String[] {"DELETE", "/v1/jobs/job-x", null},
                new String[] {"POST", "/v1/jobs/job-x/cancel", null}, new String[] {"POST", "/v1/models/m2/reload", null},
                new String[] {"DELETE", "/v1/models/m2", null});
        int tried = 0;
        for (String[] w : writes) {
            for (String target : variants(w[1])) {
                for (String key : new String[] {null, USER}) {
                    RawHttp.Reply r = send(w[0], target, key, w[2]);
                    tried++;
                    assertTrue(Set.of(400, 401, 403, 404, 405).contains(r.status()), w[0] + " " + target + " key=" + key + " -> " + r);
                    if (r.status() == 401 || r.status() == 403) assertEquals("application/problem+json", r.header("content-type"), target);
                }
            }
            // the control: an admin key on the ;param variant reaches the route, so the refusals above are real
            RawHttp.Reply admin = send(w[0], w[1] + ";x=1", ADMIN, w[2]);
            assertTrue(Set.of(204, 404, 422, 200, 202, 409).contains(admin.status()), "admin " + w[1] + ";x=1 -> " + admin);
        }
        assertTrue(tried > 150, "variants tried: " + tried);
        assertEquals(200, send("GET", "/v1/models/m1", USER, null).status(), "m1 still served");
    }

    @Test
    void readRoutesNeedAKeyOnEveryVariant() {
        for (String path : List.of("/v1/models", "/v1/jobs", "/v1/recipes", "/v1/models/m1")) {
            for (String target : variants(path)) {
                RawHttp.Reply r = send("GET", target, null, null);
                assertTrue(Set.of(400, 401, 404, 405).contains(r.status()), target + " -> " + r);
            }
        }
        for (String target : List.of("/info;x", "/info/", "/q/openapi", "/q/openapi;x", "/q/openapi/", "//q/openapi")) {
            RawHttp.Reply r = send("GET", target, null, null);
            assertTrue(Set.of(400, 401, 404).contains(r.status()), target + " -> " + r);
        }
        for (String target : List.of("/predict", "/predict;x=1", "/v1/models/m1/predict;x", "/v1/embeddings;x")) {
            assertEquals(401, send("POST", target, null, "{\"inputs\": \"fine\"}").status(), target);
            assertEquals(401, send("POST", target, "not-a-key", "{\"inputs\": \"fine\"}").status(), target);
        }
        assertEquals(200, send("POST", "/predict;x=1", USER, "{\"inputs\": \"fine\"}").status());
    }

    /** Every path key of a pretraining and a finetuning recipe (from {@link Recipe#paths()}) escaping four ways. */
    @Test
    void everyRecipePathKeyIsConfined() throws Exception {
        Path pre = Files.createDirectories(DATA.resolve("pre-ckpt"));
        Files.copy(DATA.resolve("tok/tokenizer.json"), pre.resolve("tokenizer.json"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        String pretrain = TinyFixtures.pretrainYaml(DATA, 5, 100), finetune = TinyFixtures.finetuneYaml(DATA, pre, 1, Profile.ROOT.resolve("jobs/ft"));
        // finetuning with knowledge distillation: a teacher checkpoint and unlabelled files are paths too
        String distill = finetune + "distill: {teacher: " + pre + ", unlabelled: [" + DATA.resolve("train.tsv") + "]}\n";
        Map<String, String> recipes = Map.of("pretrain", pretrain, "finetune", finetune, "distill", distill);
        Set<String> keys = new TreeSet<>();
        for (var e : recipes.entrySet()) {
            for (Recipe.PathUse u : Recipe.parse(e.getValue(), "t").paths()) keys.add(e.getKey() + " " + u.key());
        }
        // a path key added to Recipe without being listed here fails this test: list it, and it is tried below
        assertEquals(new TreeSet<>(List.of("pretrain data.train", "pretrain data.eval", "pretrain data.tokenizer",
                "pretrain data.shard_dir", "pretrain training.output_dir", "finetune data.train", "finetune data.eval",
                "finetune data.tokenizer", "finetune model.init_from", "finetune training.output_dir", "distill data.train",
                "distill data.eval", "distill data.tokenizer", "distill model.init_from", "distill training.output_dir",
                "distill distill.teacher", "distill distill.unlabelled")), keys);
        Path outLink = DATA.resolve("link-out"), dangling = DATA.resolve("dangling");
        Files.deleteIfExists(outLink);
        Files.deleteIfExists(dangling);
        Files.createSymbolicLink(outLink, OUTSIDE);
        Files.createSymbolicLink(dangling, Profile.ROOT.resolve("nowhere"));
        try {
            for (String k : keys) {
                String which = k.split(" ")[0], key = k.split(" ")[1];
                String kind = which.equals("pretrain") ? "pretrain" : "finetune";
                boolean list = key.equals("data.train") || key.equals("data.eval") || key.equals("distill.unlabelled");
                for (String escape : List.of(OUTSIDE + "/secret.txt", DATA + "/../outside/secret.txt", outLink + "/secret.txt", dangling.toString())) {
                    String value = list ? "[" + escape + "]" : escape;
                    RawHttp.Reply r = send("POST", "/v1/jobs", ADMIN, jobWith(kind, recipes.get(which), key, value));
                    assertEquals(403, r.status(), k + " = " + escape + " -> " + r);
                    assertTrue(r.body().contains(key + ": "), r.body());
                }
            }
        } finally {
            Files.delete(outLink);
            Files.delete(dangling);
        }
        try (var files = Files.list(OUTSIDE)) {
            assertEquals(1, files.count(), "nothing written outside");
        }
        assertEquals(0, RestAssured.given().header("Authorization", "Bearer " + USER).get("/v1/jobs").jsonPath().getInt("total"));
    }

    @Test
    void jsonAndYamlAmplificationIsRefusedAndTheBatcherSurvives() throws Exception {
        StringBuilder nodes = new StringBuilder("{\"inputs\": [");
        while (nodes.length() < 8_000_000) nodes.append("{},");
        nodes.setLength(nodes.length() - 1);
        String flood = nodes.append("]}").toString();
        AtomicBoolean attacking = new AtomicBoolean(true);
        List<Integer> readiness = new CopyOnWriteArrayList<>();
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            Future<?> probe = pool.submit(() -> {
                while (attacking.get()) readiness.add(http.send("GET", "/health/ready", null, null).status());
            });
            List<Future<RawHttp.Reply>> attacks = new ArrayList<>();
            for (int i = 0; i < 6; i++) attacks.add(pool.submit(() -> send("POST", "/predict", USER, flood)));
            for (Future<RawHttp.Reply> a : attacks) {
                RawHttp.Reply r = a.get();
                assertEquals(413, r.status(), r.body());
                assertEquals("application/problem+json", r.header("content-type"));
            }
            attacking.set(false);
            probe.get();
        } finally {
            pool.shutdownNow();
        }
        assertFalse(readiness.isEmpty());
        assertTrue(readiness.stream().allMatch(s -> s == 200), "readiness during the attack: " + readiness);
        long t0 = System.nanoTime();
        RawHttp.Reply ok = send("POST", "/predict", USER, "{\"inputs\": \"the movie was good\"}");
        assertEquals(200, ok.status(), ok.body());
        assertTrue(System.nanoTime() - t0 < 5_000_000_000L, "predict after the attack answered in time");

        String deep = "{\"inputs\": " + "[".repeat(5000) + "]".repeat(5000) + "}";
        assertEquals(413, send("POST", "/predict", USER, deep).status());
        String laughs = "kind: pretrain\na: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
                + "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
                + "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n";
        t0 = System.nanoTime();
        assertEquals(422, send("POST", "/v1/jobs", ADMIN, job("pretrain", laughs)).status());
        assertEquals(422, send("POST", "/v1/jobs", ADMIN, job("pretrain", "kind: !!java.net.URL [\"http://x\"]\n")).status());
        assertTrue(System.nanoTime() - t0 < 5_000_000_000L, "YAML bombs are refused fast");
    }

    @Test
    void bodiesRecipesOverridesAndTextsHaveLimits() throws Exception {
        // a text far over max_input_length is refused before it is tokenized; with truncate it is cut, not tokenized whole
        String words = "good ".repeat(1_600_000);
        long t0 = System.nanoTime();
        RawHttp.Reply big = send("POST", "/predict", USER, "{\"inputs\": \"" + words + "\"}");
        assertEquals(422, big.status(), big.body()); // TEI's Validation error for an over-long input
        assertTrue(System.nanoTime() - t0 < 3_000_000_000L, "8 MB text refused in " + (System.nanoTime() - t0) / 1_000_000 + " ms");
        t0 = System.nanoTime();
        assertEquals(200, send("POST", "/predict", USER, "{\"inputs\": \"" + words + "\", \"truncate\": true}").status());
        assertTrue(System.nanoTime() - t0 < 3_000_000_000L, "8 MB text truncated in " + (System.nanoTime() - t0) / 1_000_000 + " ms");

        String recipe = "kind: pretrain\n# " + "x".repeat(300_000) + "\n";
        RawHttp.Reply r = send("POST", "/v1/jobs", ADMIN, job("pretrain", recipe));
        assertEquals(422, r.status());
        assertTrue(r.body().contains("limited to 256 KiB"), r.body());

        int errorsBefore = errors();
        String key = "a" + ".a".repeat(1500);
        r = send("POST", "/v1/jobs", ADMIN, jobWith("pretrain", TinyFixtures.pretrainYaml(DATA, 5, 100), key, "1"));
        assertEquals(422, r.status(), r.body());
        assertTrue(r.body().contains("override key"), r.body());
        assertEquals(errorsBefore, errors(), "a refused override logs no error");

        // a declared length over the limit is refused before the body is read; so is a chunked one as it streams
        try (Socket s = new Socket("localhost", RestAssured.port)) {
            s.getOutputStream().write(("POST /predict HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + USER
                    + "\r\nContent-Type: application/json\r\nContent-Length: 9000000\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
            RawHttp.Reply declared = RawHttp.read(s.getInputStream());
            REPLIES.add(declared);
            assertEquals(413, declared.status());
        }
        try (Socket s = new Socket("localhost", RestAssured.port)) {
            // read while writing: the server answers and closes before the body ends
            Future<RawHttp.Reply> reply = Executors.newSingleThreadExecutor().submit(() -> RawHttp.read(s.getInputStream()));
            OutputStream out = s.getOutputStream();
            out.write(("POST /predict HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + USER
                    + "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
            byte[] chunk = "x".repeat(1 << 20).getBytes(StandardCharsets.ISO_8859_1);
            try {
                out.write("c\r\n{\"inputs\": \"\r\n".getBytes(StandardCharsets.ISO_8859_1)); // valid JSON so far: read on
                for (int i = 0; i < 10 && !reply.isDone(); i++) {
                    out.write((Integer.toHexString(chunk.length) + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
                    out.write(chunk);
                    out.write("\r\n".getBytes(StandardCharsets.ISO_8859_1));
                }
                out.write("0\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
                out.flush();
            } catch (IOException closedByServer) {
                // the server may answer and close before all of it is sent
            }
            assertEquals(413, reply.get(30, java.util.concurrent.TimeUnit.SECONDS).status());
        }
    }

    @Test
    void slowClientsDoNotStallInference() throws Exception {
        List<Socket> slow = new ArrayList<>();
        try {
            for (int i = 0; i < 20; i++) {
                Socket s = new Socket("localhost", RestAssured.port);
                s.getOutputStream().write(("POST /predict HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + USER
                        + "\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"inputs\": \"").getBytes(StandardCharsets.ISO_8859_1));
                slow.add(s);
            }
            for (int i = 0; i < 5; i++) {
                long t0 = System.nanoTime();
                assertEquals(200, send("POST", "/predict", USER, "{\"inputs\": \"a fine film\"}").status());
                assertTrue(System.nanoTime() - t0 < 2_000_000_000L);
            }
        } finally {
            for (Socket s : slow) s.close();
        }
    }

    /** Runs after the others (JUnit's default order is deterministic but not declared order): checks what they left. */
    @AfterAll
    static void nothingInternalLeaked() {
        java.util.logging.Logger.getLogger("").removeHandler(CAPTURE);
        String jobsDir = Profile.ROOT.resolve("jobs").toString(), modelsDir = Profile.ROOT.resolve("models").toString();
        assertFalse(REPLIES.isEmpty());
        for (RawHttp.Reply r : REPLIES) {
            for (String secret : List.of(USER, ADMIN, jobsDir, modelsDir, "SECRET-CONTENT", "SECRET-LABEL", "dev.tessera", "java.lang",
                    "Exception", "StreamReadConstraints")) {
                assertFalse(r.body().contains(secret), "'" + secret + "' in a reply: " + r);
            }
        }
        for (LogRecord l : LOG) {
            String text = l.getMessage() + " " + java.util.Arrays.toString(l.getParameters());
            assertFalse(text.contains(USER) || text.contains(ADMIN), "a key in the log: " + text);
        }
    }

    private static int errors() {
        return (int) LOG.stream().filter(l -> l.getLevel().intValue() >= Level.SEVERE.intValue()).count();
    }
}

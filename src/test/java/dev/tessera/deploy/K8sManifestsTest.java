package dev.tessera.deploy;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HTTPGetAction;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.KubernetesResource;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscalerBehavior;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.ConfigMappings;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.eclipse.microprofile.config.ConfigProvider;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Every kustomization under k8s/ (base and each overlay) renders with {@code kubectl kustomize}, binds to the
 * Kubernetes typed models (fabric8; a field the schema does not have fails, not only a wrong type) or, for KEDA's
 * ScaledObject, to {@link ScaledObject}, and agrees with this app: probe paths answer, ports are the app's,
 * the autoscaler's PromQL names metrics that /metrics exposes, env names are config keys (or what the native
 * module reads), the drain timings add up, the pretraining Job's rendezvous is consistent.
 * kubectl is required in CI ({@code -Dkubectl.required=true}); elsewhere the test is skipped without it.
 */
@QuarkusTest
class K8sManifestsTest {
    private static final Path K8S = Path.of("k8s");
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    private static final ObjectMapper STRICT = JsonMapper.builder().enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES).build();
    /** Environment the native module (cuda-ext) reads for multi-node training: checked against its sources below. */
    private static final Set<String> NATIVE_ENV = Set.of("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "TSR_NCCL");

    private static Map<String, List<KubernetesResource>> rendered;

    @BeforeAll
    static void render() throws Exception {
        boolean kubectl = kubectlAvailable();
        if (!kubectl && Boolean.getBoolean("kubectl.required")) fail("kubectl is not on PATH");
        Assumptions.assumeTrue(kubectl, "kubectl not on PATH");
        rendered = new LinkedHashMap<>();
        List<Path> dirs = new ArrayList<>(List.of(K8S.resolve("base")));
        try (Stream<Path> s = Files.list(K8S.resolve("overlays"))) {
            s.filter(d -> Files.exists(d.resolve("kustomization.yaml"))).sorted().forEach(dirs::add);
        }
        assertTrue(dirs.size() >= 3, "expected base and overlays, found " + dirs);
        for (Path d : dirs) rendered.put(K8S.relativize(d).toString(), parse(kustomize(d), d.toString()));
    }

    private static boolean kubectlAvailable() {
        try {
            Process p = new ProcessBuilder("kubectl", "version", "--client").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    private static String kustomize(Path dir) throws Exception {
        Process p = new ProcessBuilder("kubectl", "kustomize", dir.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "kubectl kustomize " + dir + " timed out");
        assertEquals(0, p.exitValue(), "kubectl kustomize " + dir + " failed:\n" + out);
        return out;
    }

    /** Each YAML document bound to its fabric8 type (by apiVersion/kind); unknown fields are errors. */
    private static List<KubernetesResource> parse(String yaml, String where) throws IOException {
        List<KubernetesResource> out = new ArrayList<>();
        try (YAMLParser parser = new YAMLFactory().createParser(yaml)) {
            for (JsonNode doc : YAML.readValues(parser, JsonNode.class).readAll()) {
                if (doc == null || doc.isEmpty()) continue;
                String kind = doc.path("kind").asText();
                String id = where + ": " + kind + "/" + doc.path("metadata").path("name").asText();
                KubernetesResource r = YAML.treeToValue(doc, KubernetesResource.class);
                if (r instanceof GenericKubernetesResource) {
                    assertEquals("keda.sh/v1alpha1/ScaledObject", doc.path("apiVersion").asText() + "/" + kind,
                            id + ": no schema to validate this kind against");
                    ScaledObject so = STRICT.treeToValue(doc, ScaledObject.class); // unknown fields fail here
                    JsonNode behavior = so.spec().advanced() == null ? null : so.spec().advanced().horizontalPodAutoscalerConfig().behavior();
                    if (behavior != null) noUnknownFields(YAML.treeToValue(behavior, HorizontalPodAutoscalerBehavior.class), id + " behavior");
                } else {
                    noUnknownFields(r, id);
                }
                out.add(r);
            }
        }
        assertFalse(out.isEmpty(), where + " rendered nothing");
        return out;
    }

    /** fabric8 keeps fields its schema lacks in additionalProperties: any there is a misspelt or misplaced key. */
    private static void noUnknownFields(Object o, String path) {
        walk(o, path, new IdentityHashMap<>());
    }

    private static void walk(Object o, String path, IdentityHashMap<Object, Boolean> seen) {
        if (o == null || seen.put(o, true) != null) return;
        if (o instanceof Collection<?> c) {
            int i = 0;
            for (Object e : c) walk(e, path + "[" + i++ + "]", seen);
            return;
        }
        if (o instanceof Map<?, ?> m) {
            m.forEach((k, v) -> walk(v, path + "." + k, seen));
            return;
        }
        if (!o.getClass().getName().startsWith("io.fabric8.kubernetes.api.model")) return;
        for (Method g : o.getClass().getMethods()) {
            if (g.getParameterCount() != 0 || Modifier.isStatic(g.getModifiers()) || g.getDeclaringClass() == Object.class) continue;
            String n = g.getName();
            if (!n.startsWith("get") || n.equals("getClass")) continue;
            Object v;
            try {
                v = g.invoke(o);
            } catch (IllegalAccessException | InvocationTargetException | RuntimeException e) {
                continue;
            }
            if (n.equals("getAdditionalProperties")) {
                if (v instanceof Map<?, ?> extra && !extra.isEmpty()) fail(path + ": fields not in the Kubernetes schema: " + extra.keySet());
            } else {
                walk(v, path + "." + Character.toLowerCase(n.charAt(3)) + n.substring(4), seen);
            }
        }
    }

    private static <T> List<T> all(List<KubernetesResource> rs, Class<T> type) {
        return rs.stream().filter(type::isInstance).map(type::cast).toList();
    }

    private static List<ScaledObject> scaledObjects(List<KubernetesResource> rs) {
        return all(rs, GenericKubernetesResource.class).stream()
                .map(g -> STRICT.convertValue(YAML.valueToTree(g), ScaledObject.class)).toList();
    }

    private static String appProperty(String key) throws IOException {
        Properties p = new Properties();
        try (InputStream in = Files.newInputStream(Path.of("src/main/resources/application.properties"))) {
            p.load(in);
        }
        return Objects.requireNonNull(p.getProperty(key), key + " not in application.properties");
    }

    @Test
    void allNamespacedResourcesShareOneNamespace() {
        rendered.forEach((overlay, rs) -> {
            Set<String> ns = new TreeSet<>();
            for (KubernetesResource r : rs) if (r instanceof HasMetadata h) ns.add(String.valueOf(h.getMetadata().getNamespace()));
            assertEquals(1, ns.size(), overlay + ": resources in namespaces " + ns);
        });
    }

    @Test
    void probesPortsAndScrapeAnnotationsMatchTheApp() throws IOException {
        // the production port: under test Quarkus listens on a random one
        int port = Integer.parseInt(appProperty("quarkus.http.port"));
        // ${TESSERA_GRPC_PORT:9000}: the default (tests run gRPC on their own test port)
        int grpcPort = Integer.parseInt(appProperty("quarkus.grpc.server.port").replaceAll("^.*?(\\d+)\\}?$", "$1"));
        String metricsPath = ConfigProvider.getConfig().getValue("quarkus.micrometer.export.prometheus.path", String.class);
        rendered.forEach((overlay, rs) -> {
            List<Deployment> deployments = all(rs, Deployment.class);
            assertFalse(deployments.isEmpty(), overlay + " has no Deployment");
            for (Deployment d : deployments) {
                Map<String, String> ann = d.getSpec().getTemplate().getMetadata().getAnnotations();
                assertEquals(metricsPath, ann.get("prometheus.io/path"), overlay + ": scrape path");
                assertEquals(String.valueOf(port), ann.get("prometheus.io/port"), overlay + ": scrape port");
                for (Container c : d.getSpec().getTemplate().getSpec().getContainers()) {
                    Map<String, Integer> ports = new LinkedHashMap<>();
                    for (ContainerPort p : c.getPorts()) ports.put(p.getName(), p.getContainerPort());
                    assertEquals(port, ports.get("http"), overlay + ": container port http must be quarkus.http.port");
                    assertEquals(grpcPort, ports.get("grpc"),
                            overlay + ": container port grpc must be quarkus.grpc.server.port (TEI's gRPC services)");
                    Probe[] probes = {c.getReadinessProbe(), c.getLivenessProbe(), c.getStartupProbe()};
                    for (Probe p : probes) {
                        assertNotNull(p, overlay + ": " + c.getName() + " lacks a probe");
                        HTTPGetAction get = p.getHttpGet();
                        String pp = get.getPort().getStrVal() != null ? get.getPort().getStrVal() : String.valueOf(get.getPort().getIntVal());
                        assertTrue(ports.containsKey(pp) || pp.equals(String.valueOf(port)), overlay + ": probe port " + pp);
                        // the app answers the probe path (readiness once the test models are loaded)
                        await().atMost(Duration.ofSeconds(60)).untilAsserted(() ->
                                RestAssured.given().get(get.getPath()).then().statusCode(200));
                    }
                }
                for (Service s : all(rs, Service.class)) {
                    if (!s.getSpec().getSelector().equals(d.getSpec().getSelector().getMatchLabels())) continue;
                    s.getSpec().getPorts().forEach(sp -> assertTrue(Set.of("http", "grpc").contains(sp.getTargetPort().getStrVal()),
                            overlay + ": service target " + sp.getTargetPort()));
                }
            }
        });
    }

    @Test
    void drainTimingsAddUp() throws IOException {
        long delay = Duration.parse("PT" + appProperty("quarkus.shutdown.delay").toUpperCase()).toSeconds();
        long timeout = Duration.parse("PT" + appProperty("quarkus.shutdown.timeout").toUpperCase()).toSeconds();
        assertEquals("true", appProperty("quarkus.shutdown.delay-enabled"), "readiness must go DOWN on SIGTERM");
        rendered.forEach((overlay, rs) -> {
            for (Deployment d : all(rs, Deployment.class)) {
                PodSpec pod = d.getSpec().getTemplate().getSpec();
                Container c = pod.getContainers().getFirst();
                List<String> preStop = c.getLifecycle().getPreStop().getExec().getCommand();
                assertEquals("sleep", preStop.getFirst(), overlay + ": preStop");
                long sleep = Long.parseLong(preStop.get(1));
                Probe ready = c.getReadinessProbe();
                long seenDown = (long) ready.getPeriodSeconds() * ready.getFailureThreshold();
                assertTrue(seenDown <= delay, overlay + ": readiness (" + seenDown + " s to notice) must fail within the shutdown delay " + delay + " s");
                assertTrue(sleep + delay + timeout < pod.getTerminationGracePeriodSeconds(),
                        overlay + ": preStop " + sleep + " + delay " + delay + " + timeout " + timeout + " s must fit the grace period");
            }
        });
    }

    @Test
    void oneAutoscalerPerDeploymentAndTheScaledObjectTargetsIt() {
        rendered.forEach((overlay, rs) -> {
            List<String> targets = new ArrayList<>();
            for (HorizontalPodAutoscaler h : all(rs, HorizontalPodAutoscaler.class)) targets.add(h.getSpec().getScaleTargetRef().getName());
            for (ScaledObject so : scaledObjects(rs)) {
                targets.add(so.spec().scaleTargetRef().name());
                Deployment d = all(rs, Deployment.class).stream()
                        .filter(x -> x.getMetadata().getName().equals(so.spec().scaleTargetRef().name())).findFirst()
                        .orElseThrow(() -> new AssertionError(overlay + ": ScaledObject targets no Deployment"));
                // KEDA rejects cpu triggers on pods without CPU requests
                Quantity cpu = d.getSpec().getTemplate().getSpec().getContainers().getFirst().getResources().getRequests().get("cpu");
                assertNotNull(cpu, overlay + ": cpu trigger needs a CPU request");
                assertTrue(so.spec().triggers().stream().anyMatch(t -> t.type().equals("cpu")), overlay + ": CPU fallback trigger");
                assertTrue(so.spec().minReplicaCount() >= 2 && so.spec().maxReplicaCount() > so.spec().minReplicaCount(), overlay);
            }
            assertEquals(1, targets.size(), overlay + ": exactly one autoscaler, found for " + targets);
            assertEquals(new HashSet<>(targets).size(), targets.size(), overlay + ": two autoscalers on one Deployment");
        });
    }

    @Test
    void theAutoscalersMetricsExistInMetrics() {
        // one request, so every per-route meter exists too
        RestAssured.given().contentType("application/json").body("{\"inputs\": \"a test\"}").post("/predict").then().statusCode(200);
        String metrics = RestAssured.given().get(ConfigProvider.getConfig().getValue("quarkus.micrometer.export.prometheus.path", String.class))
                .then().statusCode(200).extract().asString();
        Set<String> exposed = new TreeSet<>();
        for (String line : metrics.split("\n")) {
            if (line.isBlank() || line.startsWith("#")) continue;
            exposed.add(line.split("[{ ]", 2)[0]);
        }
        assertTrue(exposed.contains("tessera_queue_size"), "the queue gauge is not exposed: " + exposed);
        int queries = 0;
        for (var e : rendered.entrySet()) {
            String namespace = all(e.getValue(), Deployment.class).getFirst().getMetadata().getNamespace();
            for (ScaledObject so : scaledObjects(e.getValue())) {
                for (ScaledObject.Trigger t : so.spec().triggers()) {
                    if (!t.type().equals("prometheus")) continue;
                    queries++;
                    String q = t.metadata().get("query");
                    assertEquals("AverageValue", t.metricType(), "per-pod target: the HPA divides the sum by the replicas");
                    assertTrue(Double.parseDouble(t.metadata().get("threshold")) > 0, e.getKey() + ": threshold");
                    Matcher m = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)\\{([^}]*)}").matcher(q);
                    int names = 0;
                    while (m.find()) {
                        names++;
                        assertTrue(exposed.contains(m.group(1)), e.getKey() + ": " + m.group(1) + " is not in /metrics " + exposed);
                        Matcher ns = Pattern.compile("namespace=\"([^\"]+)\"").matcher(m.group(2));
                        if (ns.find()) assertEquals(namespace, ns.group(1), e.getKey() + ": the query selects another namespace");
                    }
                    assertTrue(names > 0, e.getKey() + ": no metric selector in " + q);
                }
            }
        }
        assertTrue(queries >= 2, "expected a Prometheus trigger in base and gpu");
    }

    @Test
    void envNamesAreConfigKeysOrWhatTheNativeModuleReads() throws Exception {
        List<Pattern> configEnv = configKeysAsEnv();
        Set<String> nativeReads = nativeModuleEnv();
        assertTrue(nativeReads.containsAll(NATIVE_ENV), "cuda-ext no longer reads " + NATIVE_ENV + " (it reads " + nativeReads + ")");
        rendered.forEach((overlay, rs) -> {
            Map<String, Secret> secrets = new LinkedHashMap<>();
            for (Secret s : all(rs, Secret.class)) secrets.put(s.getMetadata().getName(), s);
            List<PodSpec> pods = new ArrayList<>();
            for (Deployment d : all(rs, Deployment.class)) pods.add(d.getSpec().getTemplate().getSpec());
            for (Job j : all(rs, Job.class)) pods.add(j.getSpec().getTemplate().getSpec());
            for (PodSpec pod : pods) for (Container c : pod.getContainers()) for (EnvVar v : c.getEnv()) {
                String n = v.getName();
                assertTrue(nativeReads.contains(n) || configEnv.stream().anyMatch(p -> p.matcher(n).matches()),
                        overlay + ": env " + n + " is neither a config key of the app nor read by cuda-ext");
                if (v.getValueFrom() != null && v.getValueFrom().getSecretKeyRef() != null) {
                    var ref = v.getValueFrom().getSecretKeyRef();
                    Secret s = secrets.get(ref.getName());
                    assertNotNull(s, overlay + ": env " + n + " refers to missing Secret " + ref.getName());
                    Set<String> keys = new HashSet<>();
                    if (s.getStringData() != null) keys.addAll(s.getStringData().keySet());
                    if (s.getData() != null) keys.addAll(s.getData().keySet());
                    assertTrue(keys.contains(ref.getKey()), overlay + ": Secret " + ref.getName() + " lacks " + ref.getKey());
                }
            }
        });
    }

    /** Every config key the app declares, as the environment variable SmallRye maps to it. */
    private static List<Pattern> configKeysAsEnv() throws Exception {
        Set<String> keys = new TreeSet<>();
        try (Stream<Path> files = Files.walk(Path.of("target/classes/dev/tessera"))) {
            for (Path f : files.filter(p -> p.toString().endsWith(".class")).toList()) {
                String name = Path.of("target/classes").relativize(f).toString().replace('/', '.').replaceAll("\\.class$", "");
                Class<?> c = Class.forName(name, false, Thread.currentThread().getContextClassLoader());
                ConfigMapping cm = c.getAnnotation(ConfigMapping.class);
                if (cm != null) keys.addAll(ConfigMappings.getProperties(ConfigMappings.ConfigClass.configClass(c, cm.prefix())).keySet());
                for (var field : c.getDeclaredFields()) addConfigProperty(field.getAnnotation(ConfigProperty.class), keys);
                for (var ctor : c.getDeclaredConstructors())
                    for (var params : ctor.getParameterAnnotations())
                        for (var a : params) if (a instanceof ConfigProperty cp) addConfigProperty(cp, keys);
            }
        }
        assertTrue(keys.contains("tessera.serving.threads"), "config key scan found " + keys);
        assertTrue(keys.contains("tessera.auth.api-keys"), "the API key setting the manifests use is gone: " + keys);
        List<Pattern> out = new ArrayList<>();
        for (String k : keys) {
            // SmallRye's mapping: every non-alphanumeric character becomes _, upper case; a map key (*) any name
            List<String> parts = new ArrayList<>();
            for (String lit : k.split("\\*", -1)) parts.add(Pattern.quote(lit.replaceAll("[^A-Za-z0-9]", "_").toUpperCase()));
            out.add(Pattern.compile(String.join("[A-Z0-9_]+", parts)));
        }
        // keys read through ${ENV:default} expressions in application.properties
        Matcher m = Pattern.compile("\\$\\{([A-Z][A-Z0-9_]*):").matcher(Files.readString(Path.of("src/main/resources/application.properties")));
        while (m.find()) out.add(Pattern.compile(Pattern.quote(m.group(1))));
        return out;
    }

    private static void addConfigProperty(ConfigProperty cp, Set<String> keys) {
        if (cp != null) keys.add(cp.name());
    }

    /** Names cuda-ext passes to getenv(). */
    private static Set<String> nativeModuleEnv() throws IOException {
        Set<String> out = new TreeSet<>();
        try (Stream<Path> files = Files.walk(Path.of("cuda-ext/src"))) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                Matcher m = Pattern.compile("(?:getenv|env_int)\\(\"([A-Z_][A-Z0-9_]*)\"").matcher(Files.readString(f));
                while (m.find()) out.add(m.group(1));
            }
        }
        return out;
    }

    @Test
    void gpuWorkloadsLandOnGpuNodes() {
        int gpuPods = 0;
        for (var e : rendered.entrySet()) {
            List<PodSpec> pods = new ArrayList<>();
            for (Deployment d : all(e.getValue(), Deployment.class)) pods.add(d.getSpec().getTemplate().getSpec());
            for (Job j : all(e.getValue(), Job.class)) pods.add(j.getSpec().getTemplate().getSpec());
            for (PodSpec pod : pods) {
                Container c = pod.getContainers().getFirst();
                boolean gpu = c.getResources().getLimits() != null && c.getResources().getLimits().containsKey("nvidia.com/gpu");
                if (!gpu) continue;
                gpuPods++;
                assertTrue(pod.getNodeSelector() != null && !pod.getNodeSelector().isEmpty(), e.getKey() + ": GPU pod without a node selector");
                assertTrue(pod.getTolerations().stream().anyMatch(t -> "nvidia.com/gpu".equals(t.getKey())), e.getKey() + ": no GPU toleration");
                assertTrue(c.getImage().endsWith(":gpu"), e.getKey() + ": GPU pod runs " + c.getImage() + ", not the -Pgpu image");
            }
        }
        assertTrue(gpuPods >= 2, "the gpu overlay should have GPU serving and GPU pretraining pods");
    }

    @Test
    void pretrainingRendezvousIsConsistent() {
        int jobs = 0;
        for (var e : rendered.entrySet()) {
            for (Job j : all(e.getValue(), Job.class)) {
                jobs++;
                String where = e.getKey() + ": Job " + j.getMetadata().getName();
                assertEquals("Indexed", j.getSpec().getCompletionMode(), where);
                PodSpec pod = j.getSpec().getTemplate().getSpec();
                Container c = pod.getContainers().getFirst();
                Map<String, EnvVar> env = new LinkedHashMap<>();
                c.getEnv().forEach(v -> env.put(v.getName(), v));
                int world = Integer.parseInt(env.get("WORLD_SIZE").getValue());
                assertEquals(world, j.getSpec().getCompletions(), where + ": WORLD_SIZE vs completions");
                assertEquals(world, j.getSpec().getParallelism(), where + ": every rank must run at once");
                assertTrue(env.get("RANK").getValueFrom().getFieldRef().getFieldPath().contains("job-completion-index"), where + ": RANK");
                String master = env.get("MASTER_ADDR").getValue();
                assertEquals(j.getMetadata().getName() + "-0." + pod.getSubdomain(), master, where + ": MASTER_ADDR is rank 0's pod");
                int masterPort = Integer.parseInt(env.get("MASTER_PORT").getValue());
                assertTrue(c.getPorts().stream().anyMatch(p -> p.getContainerPort() == masterPort), where + ": MASTER_PORT not a container port");
                Service headless = all(e.getValue(), Service.class).stream()
                        .filter(s -> s.getMetadata().getName().equals(pod.getSubdomain())).findFirst()
                        .orElseThrow(() -> new AssertionError(where + ": no Service named like the subdomain"));
                assertEquals("None", headless.getSpec().getClusterIP(), where + ": the rendezvous Service must be headless");
                assertEquals(j.getMetadata().getName(), headless.getSpec().getSelector().get("job-name"), where + ": Service selector");
            }
        }
        assertTrue(jobs >= 1, "no pretraining Job in any overlay");
    }
}

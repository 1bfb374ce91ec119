package dev.tessera;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Enumeration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Runs after Quarkus's native *sources* build ({@code mvn -DskipNative -Pnative-sources verify}): what
 * native-image would be given carries the configuration Tessera needs. No GraalVM is involved.
 */
class NativeSourcesIT {
    private static final Path DIR = Path.of(System.getProperty("native.sources.dir", "target/native-sources"));

    private static List<String> args() throws IOException {
        Path file = DIR.resolve("native-image.args");
        assertTrue(Files.isRegularFile(file), file + " missing: run with -Pnative-sources");
        return Arrays.asList(Files.readString(file).strip().split("\\s+"));
    }

    private static Path runner() throws IOException {
        try (Stream<Path> s = Files.list(DIR)) {
            return s.filter(p -> p.getFileName().toString().endsWith("-runner.jar")).findFirst()
                    .orElseThrow(() -> new AssertionError("no *-runner.jar in " + DIR));
        }
    }

    @Test
    void argsEnableNativeAccessAndInitialiseTheNativeLoadersAtRunTime() throws IOException {
        List<String> args = args();
        assertTrue(args.contains("--enable-native-access=ALL-UNNAMED"), "FFM needs native access: " + args);
        assertTrue(args.contains("--no-fallback"), "a fallback image would silently need a JVM");
        Set<String> runtime = new HashSet<>();
        for (String a : args)
            if (a.startsWith("--initialize-at-run-time=")) runtime.addAll(Arrays.asList(a.substring(25).split(",")));
        for (String loader : List.of("ai.onnxruntime", "ai.djl.huggingface.tokenizers.jni",
                "dev.tessera.kernels.NativeLibrary", "dev.tessera.serving.ort.OrtOpsLibrary"))
            assertTrue(runtime.contains(loader), loader + " must initialise at run time; args have " + runtime);
    }

    @Test
    void runnerJarCarriesTheMetadataAndTheReflectionRegistrations() throws IOException {
        try (ZipFile jar = new ZipFile(runner().toFile())) {
            ZipEntry meta = jar.getEntry(NativeImageMetadata.RESOURCE);
            assertNotNull(meta, NativeImageMetadata.RESOURCE + " not in the runner jar");
            try (InputStream in = jar.getInputStream(meta)) {
                assertArrayEquals(Files.readAllBytes(Path.of("src/main/resources").resolve(NativeImageMetadata.RESOURCE)),
                        in.readAllBytes());
            }
            JsonNode reflect;
            try (InputStream in = jar.getInputStream(jar.getEntry("META-INF/native-image/reflect-config.json"))) {
                reflect = new ObjectMapper().readTree(in);
            }
            Set<String> names = new HashSet<>();
            reflect.forEach(e -> names.add(e.path("name").asText()));
            for (String c : List.of("dev.tessera.cli.Cli", "dev.tessera.cli.TrainCommandBase", "dev.tessera.train.Recipe$Model",
                    "dev.tessera.train.TrainingState", "dev.tessera.jobs.Job"))
                assertTrue(names.contains(c), c + " not in the generated reflect-config.json");
        }
    }

    /** Every linux-x86_64 native library in the runner jar and lib/ jars matches a generated resource include. */
    @Test
    void everyNativeLibraryIsAnIncludedResource() throws IOException {
        List<Pattern> includes = new ArrayList<>();
        try (ZipFile jar = new ZipFile(runner().toFile());
             InputStream in = jar.getInputStream(jar.getEntry("META-INF/native-image/resource-config.json"))) {
            new ObjectMapper().readTree(in).path("resources").path("includes")
                    .forEach(p -> includes.add(Pattern.compile(p.path("pattern").asText())));
        }
        List<Path> jars = new ArrayList<>(List.of(runner()));
        try (Stream<Path> s = Files.walk(DIR.resolve("lib"))) {
            s.filter(p -> p.toString().endsWith(".jar")).forEach(jars::add);
        }
        List<String> libs = new ArrayList<>();
        for (Path j : jars) {
            try (ZipFile z = new ZipFile(j.toFile())) {
                for (Enumeration<? extends ZipEntry> e = z.entries(); e.hasMoreElements(); ) {
                    String n = e.nextElement().getName();
                    if (n.endsWith(".so") && (n.contains("linux-x86_64") || n.contains("linux-x64"))
                            && (n.startsWith("native/") || n.startsWith("ai/onnxruntime/"))) libs.add(n);
                }
            }
        }
        assertTrue(libs.containsAll(List.of("native/linux-x86_64/libtessera.so", "ai/onnxruntime/native/linux-x64/libonnxruntime.so",
                "native/lib/linux-x86_64/cpu/libtokenizers.so")), "found " + libs);
        List<String> missing = libs.stream().filter(l -> includes.stream().noneMatch(p -> p.matcher(l).matches())).toList();
        assertFalse(!missing.isEmpty(), "native libraries the image would not contain: " + missing);
    }
}

package dev.tessera;

import io.quarkus.runtime.annotations.RegisterForReflection;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.ValueLayout;
import java.lang.reflect.Field;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The native-image configuration follows the code: a new FFM downcall shape, a class the JNI libraries of ONNX
 * Runtime / DJL name (after an upgrade), a new CLI command or Jackson-bound type, or a native library resource
 * that the resource includes miss, fails here (no GraalVM needed).
 */
class NativeImageMetadataTest {
    private static final Pattern DESCRIPTOR = Pattern.compile("FunctionDescriptor\\.(ofVoid|of)\\(([^()]*)\\)");

    @Test
    void everyFfmDescriptorInTheSourcesIsRegistered() throws IOException {
        Set<String> used = new TreeSet<>();
        try (Stream<Path> files = Files.walk(Path.of("src/main/java"))) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                Matcher m = DESCRIPTOR.matcher(Files.readString(f));
                while (m.find()) used.add(NativeImageMetadata.signature(descriptor(m.group(1), m.group(2), f)));
            }
        }
        assertTrue(used.size() >= 10, "found only " + used + " in src/main/java: is the scan broken?");
        Set<String> registered = NativeImageMetadata.registeredDowncalls();
        Set<String> missing = new TreeSet<>(used);
        missing.removeAll(registered);
        assertTrue(missing.isEmpty(), "FFM downcall shapes not in " + NativeImageMetadata.RESOURCE + " foreign.downcalls: "
                + missing + " (add {\"returnType\", \"parameterTypes\"} entries)");
        Set<String> stale = new TreeSet<>(registered);
        stale.removeAll(used);
        assertTrue(stale.isEmpty(), "registered downcall shapes no code uses: " + stale);
    }

    @Test
    void registeredLayoutNamesAreCanonical() {
        Set<String> canonical = Linker.nativeLinker().canonicalLayouts().keySet();
        NativeImageMetadata.read().path("foreign").path("downcalls").forEach(d -> {
            String ret = d.path("returnType").asText();
            assertTrue(ret.equals("void") || canonical.contains(ret), "returnType " + ret + " is not a canonical layout " + canonical);
            d.path("parameterTypes").forEach(p -> assertTrue(canonical.contains(p.asText()),
                    "parameter type " + p.asText() + " is not a canonical layout"));
        });
    }

    /** A ValueLayout constant list as in the source, e.g. {@code JAVA_INT, ADDRESS}. */
    private static FunctionDescriptor descriptor(String kind, String args, Path file) {
        List<MemoryLayout> layouts = new ArrayList<>();
        for (String a : args.split(",")) {
            String name = a.strip();
            if (name.isEmpty()) continue;
            name = name.substring(name.lastIndexOf('.') + 1); // ValueLayout.JAVA_INT or a static import
            try {
                layouts.add((ValueLayout) ValueLayout.class.getField(name).get(null));
            } catch (ReflectiveOperationException e) {
                fail(file + ": FunctionDescriptor argument '" + a.strip() + "' is not a ValueLayout constant; "
                        + "this test reads descriptors written with ValueLayout constants");
            }
        }
        if (kind.equals("ofVoid")) return FunctionDescriptor.ofVoid(layouts.toArray(MemoryLayout[]::new));
        return FunctionDescriptor.of(layouts.getFirst(), layouts.subList(1, layouts.size()).toArray(MemoryLayout[]::new));
    }

    @Test
    void everyClassTheJniLibrariesNameIsJniAccessible() throws IOException {
        Set<String> named = new TreeSet<>();
        named.addAll(classesNamedIn("ai/onnxruntime/native/linux-x64/libonnxruntime4j_jni.so"));
        named.addAll(classesNamedIn("native/lib/linux-x86_64/cpu/libtokenizers.so"));
        // the scan must see what we know these libraries use, or it proves nothing
        assertTrue(named.containsAll(List.of("ai.onnxruntime.OnnxTensor", "ai.onnxruntime.OrtException",
                "ai.djl.huggingface.tokenizers.jni.CharSpan", "java.lang.String")), "scan found " + named);
        Set<String> missing = new TreeSet<>(named);
        missing.removeAll(NativeImageMetadata.jniTypes());
        assertTrue(missing.isEmpty(), "classes the JNI code looks up, not registered jniAccessible in "
                + NativeImageMetadata.RESOURCE + ": " + missing);
    }

    /**
     * Class names in a JNI library's read-only data ({@code FindClass("ai/onnxruntime/OnnxTensor")}, signatures
     * {@code Lai/onnxruntime/TensorInfo;}). Rust does not NUL-terminate strings, so a name may run into the next
     * string: the longest prefix that is a loadable class wins.
     */
    private static Set<String> classesNamedIn(String resource) throws IOException {
        byte[] bytes;
        try (InputStream in = getClass0().getClassLoader().getResourceAsStream(resource)) {
            if (in == null) throw new IllegalStateException(resource + " not on the test classpath");
            bytes = in.readAllBytes();
        }
        String text = new String(bytes, StandardCharsets.ISO_8859_1);
        Matcher m = Pattern.compile("(?:ai|java)/[A-Za-z0-9_/$]+").matcher(text);
        Set<String> out = new TreeSet<>();
        while (m.find()) {
            String s = m.group().replace('/', '.');
            for (int end = s.length(); end > 0; end--) {
                if (loadable(s.substring(0, end))) {
                    out.add(s.substring(0, end));
                    break;
                }
            }
        }
        return out;
    }

    private static Class<?> getClass0() { return NativeImageMetadataTest.class; }

    private static boolean loadable(String name) {
        if (name.endsWith(".") || name.isEmpty()) return false;
        try {
            Class.forName(name, false, NativeImageMetadataTest.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException | LinkageError e) {
            return false;
        }
    }

    @Test
    void commandsAndJacksonBoundTypesAreRegisteredForReflection() throws Exception {
        RegisterForReflection reg = NativeImageReflection.class.getAnnotation(RegisterForReflection.class);
        Set<String> registered = new TreeSet<>(Arrays.asList(reg.classNames()));
        for (Class<?> c : reg.targets()) registered.add(c.getName());

        Set<String> needed = new TreeSet<>();
        for (Class<?> c : classesOf("dev/tessera/cli")) if (usesPicocli(c)) needed.add(c.getName());
        assertTrue(needed.contains("dev.tessera.cli.Cli") && needed.contains("dev.tessera.cli.PretrainCommand"),
                "scan found " + needed);
        List<String> roots = List.of("dev.tessera.train.Recipe", "dev.tessera.train.TrainingState", "dev.tessera.jobs.Job",
                "dev.tessera.study.StudySpec");
        // every type the code binds with Jackson must be one of these roots (a new one must be added here)
        Pattern bind = Pattern.compile("(?:readValue|treeToValue|convertValue)\\([^;]*?,\\s*([A-Z][A-Za-z0-9_.]*)\\.class\\)");
        int binds = 0;
        try (Stream<Path> files = Files.walk(Path.of("src/main/java"))) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                Matcher m = bind.matcher(Files.readString(f));
                while (m.find()) {
                    binds++;
                    String simple = m.group(1);
                    if (simple.equals("JsonNode")) continue;
                    assertTrue(roots.stream().anyMatch(r -> r.endsWith("." + simple)), f + " binds " + simple + ": add it to the roots here and to NativeImageReflection");
                }
            }
        }
        assertTrue(binds >= roots.size(), "found only " + binds + " Jackson binds: is the scan broken?");
        for (String root : roots) needed.addAll(boundTypes(Class.forName(root)));

        Set<String> missing = new TreeSet<>(needed);
        missing.removeAll(registered);
        assertTrue(missing.isEmpty(), "add to NativeImageReflection: " + missing);
    }

    private static boolean usesPicocli(Class<?> c) {
        if (c.isAnnotationPresent(CommandLine.Command.class)) return true;
        for (Field f : c.getDeclaredFields())
            if (f.isAnnotationPresent(CommandLine.Option.class) || f.isAnnotationPresent(CommandLine.Parameters.class)
                    || f.isAnnotationPresent(CommandLine.Mixin.class) || f.isAnnotationPresent(CommandLine.Spec.class)) return true;
        return false;
    }

    private static List<Class<?>> classesOf(String dir) throws Exception {
        List<Class<?>> out = new ArrayList<>();
        try (Stream<Path> files = Files.list(Path.of("target/classes").resolve(dir))) {
            for (Path p : files.filter(f -> f.toString().endsWith(".class")).toList()) {
                String name = dir.replace('/', '.') + "." + p.getFileName().toString().replace(".class", "");
                out.add(Class.forName(name, false, NativeImageMetadataTest.class.getClassLoader()));
            }
        }
        return out;
    }

    /** dev.tessera types Jackson reaches from a root: record components and fields, generic arguments included. */
    private static Set<String> boundTypes(Class<?> root) {
        Set<String> out = new LinkedHashSet<>();
        Deque<Type> todo = new ArrayDeque<>(List.of(root));
        while (!todo.isEmpty()) {
            Type t = todo.pop();
            if (t instanceof ParameterizedType p) {
                todo.addAll(Arrays.asList(p.getActualTypeArguments()));
                t = p.getRawType();
            }
            if (!(t instanceof Class<?> c) || !c.getName().startsWith("dev.tessera.") || !out.add(c.getName())) continue;
            if (c.isRecord()) for (RecordComponent rc : c.getRecordComponents()) todo.add(rc.getGenericType());
            else if (!c.isEnum())
                for (Field f : c.getDeclaredFields()) if (!java.lang.reflect.Modifier.isStatic(f.getModifiers())) todo.add(f.getGenericType());
        }
        return out;
    }

    @Test
    void everyNativeLibraryResourceIsIncluded() throws IOException {
        Properties props = new Properties();
        try (InputStream in = Files.newInputStream(Path.of("src/main/resources/application.properties"))) {
            props.load(in);
        }
        String includes = props.getProperty("quarkus.native.resources.includes");
        assertTrue(includes != null, "quarkus.native.resources.includes is not set");
        List<Pattern> globs = Arrays.stream(includes.split(",")).map(String::strip).map(NativeImageMetadataTest::glob).toList();
        List<String> libs = List.of("native/linux-x86_64/libtessera.so", "native/linux-x86_64/libtessera_ortops.so",
                "ai/onnxruntime/native/linux-x64/libonnxruntime.so", "ai/onnxruntime/native/linux-x64/libonnxruntime4j_jni.so",
                "native/lib/tokenizers.properties", "native/lib/linux-x86_64/cpu/libtokenizers.so");
        for (String lib : libs) {
            assertTrue(getClass0().getClassLoader().getResource(lib) != null, lib + " is not on the classpath: list out of date?");
            assertTrue(globs.stream().anyMatch(g -> g.matcher(lib).matches()), lib + " matches none of " + includes);
        }
        assertEquals(libs.size(), libs.stream().distinct().count());
    }

    /** Quarkus's resource glob: * within a path segment, ** across segments. */
    static Pattern glob(String g) {
        StringBuilder re = new StringBuilder();
        for (int i = 0; i < g.length(); i++) {
            char ch = g.charAt(i);
            if (ch == '*' && i + 1 < g.length() && g.charAt(i + 1) == '*') {
                re.append(".*");
                i++;
            } else if (ch == '*') re.append("[^/]*");
            else re.append(Pattern.quote(String.valueOf(ch)));
        }
        return Pattern.compile(re.toString());
    }
}

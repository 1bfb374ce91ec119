package dev.tessera;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodType;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Reads Tessera's native-image metadata (src/main/resources/META-INF/native-image/dev.tessera/tessera/
 * reachability-metadata.json) and spells FFM shapes the way that file does: canonical layout names
 * ({@code jint}, {@code void*}...) as in {@code (jint,void*)jint}.
 */
public final class NativeImageMetadata {
    public static final String RESOURCE = "META-INF/native-image/dev.tessera/tessera/reachability-metadata.json";

    private static final Map<Class<?>, String> CANONICAL = Map.of(
            int.class, "jint", long.class, "jlong", float.class, "jfloat", double.class, "jdouble",
            byte.class, "jbyte", short.class, "jshort", char.class, "jchar", boolean.class, "jboolean",
            MemorySegment.class, "void*");

    private NativeImageMetadata() {}

    public static JsonNode read() {
        try (InputStream in = NativeImageMetadata.class.getClassLoader().getResourceAsStream(RESOURCE)) {
            if (in == null) throw new IllegalStateException(RESOURCE + " is not on the classpath");
            return new ObjectMapper().readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Every foreign.downcalls entry as {@code (params)ret}. */
    public static Set<String> registeredDowncalls() {
        Set<String> out = new TreeSet<>();
        for (JsonNode d : read().path("foreign").path("downcalls")) {
            List<String> params = new ArrayList<>();
            d.path("parameterTypes").forEach(p -> params.add(p.asText()));
            out.add(signature(params, d.path("returnType").asText()));
        }
        return out;
    }

    /** Types registered with {@code jniAccessible: true}. */
    public static Set<String> jniTypes() {
        Set<String> out = new LinkedHashSet<>();
        for (JsonNode r : read().path("reflection"))
            if (r.path("jniAccessible").asBoolean(false)) out.add(r.path("type").asText());
        return out;
    }

    public static String signature(List<String> params, String ret) {
        return "(" + String.join(",", params) + ")" + ret;
    }

    public static String signature(FunctionDescriptor d) {
        List<String> params = d.argumentLayouts().stream().map(NativeImageMetadata::name).toList();
        return signature(params, d.returnLayout().map(NativeImageMetadata::name).orElse("void"));
    }

    /** The shape of a downcall handle: its Java types mirror the descriptor's carriers one to one. */
    public static String signature(MethodType t) {
        List<String> params = t.parameterList().stream().map(NativeImageMetadata::name).toList();
        return signature(params, t.returnType() == void.class ? "void" : name(t.returnType()));
    }

    private static String name(MemoryLayout l) {
        if (!(l instanceof java.lang.foreign.ValueLayout v)) throw new IllegalArgumentException("not a value layout: " + l);
        return name(v.carrier());
    }

    private static String name(Class<?> carrier) {
        String n = CANONICAL.get(carrier);
        if (n == null) throw new IllegalArgumentException("no canonical layout for " + carrier);
        return n;
    }
}

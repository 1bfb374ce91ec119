package dev.tessera.kernels;

import dev.tessera.NativeImageMetadata;
import java.lang.invoke.MethodHandle;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every downcall handle libtessera's binding actually holds has a registered shape in the native-image metadata
 * (complements the source scan in NativeImageMetadataTest: this sees handles however their descriptor was built).
 */
class NativeDowncallRegistrationTest {
    @Test
    void everyBoundHandleHasARegisteredShape() throws Exception {
        NativeLibrary lib = NativeLibrary.get();
        Set<String> registered = NativeImageMetadata.registeredDowncalls();
        Set<String> missing = new TreeSet<>();
        int handles = 0;
        for (Field f : NativeLibrary.class.getDeclaredFields()) {
            if (f.getType() != MethodHandle.class || Modifier.isStatic(f.getModifiers())) continue;
            String shape = NativeImageMetadata.signature(((MethodHandle) f.get(lib)).type());
            handles++;
            if (!registered.contains(shape)) missing.add(f.getName() + " " + shape);
        }
        assertTrue(handles >= 20, "only " + handles + " handles found");
        assertTrue(missing.isEmpty(), "downcall handles whose shape is not registered: " + missing);
    }
}

package dev.tessera.hf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.model.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsReaderTest {

    /** A file with the given header and data section. */
    private static Path file(Path dir, String header, byte[] data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(data);
        Path f = dir.resolve("model.safetensors");
        Files.write(f, b.array());
        return f;
    }

    private static String message(Path f) {
        return assertThrows(CheckpointFormatException.class, () -> SafetensorsReader.read(f)).getMessage();
    }

    @Test
    void halfAndBfloatDecodeExactly(@TempDir Path tmp) throws IOException {
        // f16: 1.0 = 0x3c00, -2.5 = 0xc100, 65504 = 0x7bff, smallest subnormal 2^-24 = 0x0001
        // bf16: 1.0 = 0x3f80, -0.15625 = 0xbe20, 3.3895314e38 = 0x7f7f
        ByteBuffer d = ByteBuffer.allocate(14).order(ByteOrder.LITTLE_ENDIAN);
        for (int s : new int[] {0x3c00, 0xc100, 0x7bff, 0x0001, 0x3f80, 0xbe20, 0x7f7f}) d.putShort((short) s);
        Path f = file(tmp, "{\"h\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[8,14]}}", d.array());
        Map<String, Tensor> t = SafetensorsReader.read(f);
        assertArrayEquals(new float[] {1f, -2.5f, 65504f, 0x1p-24f}, t.get("h").data());
        assertArrayEquals(new int[] {2, 2}, t.get("h").shape());
        assertArrayEquals(new float[] {1f, -0.15625f, Float.intBitsToFloat(0x7f7f0000)}, t.get("b").data());
    }

    @Test
    void f64IsTolerated(@TempDir Path tmp) throws IOException {
        ByteBuffer d = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putDouble(0.1).putDouble(-3);
        Path f = file(tmp, "{\"x\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]}}", d.array());
        assertArrayEquals(new float[] {0.1f, -3f}, SafetensorsReader.read(f).get("x").data());
    }

    @Test
    void truncatedData(@TempDir Path tmp) throws IOException {
        Path f = file(tmp, "{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", new byte[12]);
        String m = message(f);
        assertTrue(m.contains("tensor 'x' data_offsets [0,16] exceed the data section (12 bytes)"), m);
    }

    @Test
    void truncatedHeader(@TempDir Path tmp) throws IOException {
        Path f = tmp.resolve("model.safetensors");
        Files.write(f, ByteBuffer.allocate(20).order(ByteOrder.LITTLE_ENDIAN).putLong(100).array());
        assertTrue(message(f).contains("header length 100 exceeds the file size 20"), message(f));
        Files.write(f, new byte[5]);
        assertTrue(message(f).contains("truncated: 5 bytes"), message(f));
    }

    @Test
    void realFixtureCutShort(@TempDir Path tmp) throws IOException {
        byte[] whole = Files.readAllBytes(Fixtures.dir("mosaic-cls12").resolve("model.safetensors"));
        Path f = tmp.resolve("model.safetensors");
        Files.write(f, Arrays.copyOf(whole, whole.length - 100));
        String m = message(f);
        assertTrue(m.contains("the file is truncated or the header lies"), m);
    }

    @Test
    void offsetsThatLieAboutTheSize(@TempDir Path tmp) throws IOException {
        Path f = file(tmp, "{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,12]}}", new byte[16]);
        String m = message(f);
        assertTrue(m.contains("tensor 'x' F32 [4] needs 16 bytes but data_offsets [0,12] span 12"), m);
    }

    @Test
    void overlappingTensors(@TempDir Path tmp) throws IOException {
        Path f = file(tmp, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", new byte[12]);
        assertTrue(message(f).contains("tensors 'a' and 'b' overlap"), message(f));
    }

    @Test
    void reversedOffsets(@TempDir Path tmp) throws IOException {
        Path f = file(tmp, "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", new byte[12]);
        assertTrue(message(f).contains("tensor 'a' has bad data_offsets [8,0]"), message(f));
    }

    @Test
    void unknownDtype(@TempDir Path tmp) throws IOException {
        Path f = file(tmp, "{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", new byte[2]);
        assertEquals("unsupported dtype F8_E4M3 for tensor 'a' (supported: F32, F16, BF16, F64 and integer buffers)", message(f));
    }

    @Test
    void headerNotJson(@TempDir Path tmp) throws IOException {
        Path f = file(tmp, "{\"a\": [1, 2", new byte[0]);
        assertTrue(message(f).contains("header is not valid JSON"), message(f));
    }

    @Test
    void shardIndexEscapingItsDirectory(@TempDir Path tmp) throws IOException {
        Path idx = tmp.resolve("model.safetensors.index.json");
        Files.writeString(idx, "{\"weight_map\":{\"a\":\"../secret.safetensors\"}}");
        var e = assertThrows(CheckpointFormatException.class, () -> SafetensorsReader.readSharded(idx));
        assertTrue(e.getMessage().contains("names a file outside its directory"), e.getMessage());
    }

    @Test
    void shardIndexListingATensorTheShardLacks(@TempDir Path tmp) throws IOException {
        Path src = Fixtures.dir("mosaic-mlm-sharded-bf16");
        try (var files = Files.list(src)) {
            for (Path p : files.toList()) Files.copy(p, tmp.resolve(p.getFileName()));
        }
        Path idx = tmp.resolve("model.safetensors.index.json");
        Files.writeString(idx, Files.readString(idx).replace("\"weight_map\": {",
                "\"weight_map\": {\"model.extra.weight\": \"model-00001-of-00002.safetensors\","));
        var e = assertThrows(CheckpointFormatException.class, () -> SafetensorsReader.readSharded(idx));
        assertEquals("tensor 'model.extra.weight' listed in model.safetensors.index.json is not in shard "
                + "model-00001-of-00002.safetensors", e.getMessage());
    }

    @Test
    void writerOutputReadsBack(@TempDir Path tmp) {
        Tensor a = new Tensor(new int[] {2, 3}, new float[] {1, 2, 3, 4, 5, Float.MIN_VALUE});
        Tensor s = new Tensor(new int[] {}, new float[] {-7.25f});
        Path f = tmp.resolve("x.safetensors");
        SafetensorsWriter.write(f, Map.of("a", a, "scalar", s), Map.of("format", "pt"));
        Map<String, Tensor> back = SafetensorsReader.read(f);
        assertArrayEquals(a.data(), back.get("a").data());
        assertArrayEquals(new int[] {2, 3}, back.get("a").shape());
        assertArrayEquals(new int[] {}, back.get("scalar").shape());
        assertArrayEquals(s.data(), back.get("scalar").data());
    }
}

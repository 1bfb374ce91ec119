package dev.tessera.hf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.model.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads the safetensors format: an unsigned 64-bit little-endian header length, a JSON header
 * {@code {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}}, then the raw little-endian
 * data; offsets are relative to the end of the header. Every tensor is memory-mapped on its own (so files beyond
 * 2 GiB work) and widened to float32. Headers are checked before any data is touched.
 */
public final class SafetensorsReader {
    /** A header larger than this is not a safetensors header (the reference implementation caps it at 100 MB). */
    static final long MAX_HEADER = 100L << 20;

    private static final ObjectMapper JSON = new ObjectMapper();

    private SafetensorsReader() {}

    private record Entry(String name, Dtype dtype, int[] shape, long begin, long end) {}

    /** All tensors of one {@code .safetensors} file, by their stored names. */
    public static Map<String, Tensor> read(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            JsonNode header = header(file, ch, size);
            long dataStart = ch.position(), dataSize = size - dataStart;
            List<Entry> entries = parseHeader(file, header, dataSize);
            Map<String, Tensor> out = new LinkedHashMap<>();
            for (Entry e : entries) {
                float[] data = new float[Math.toIntExact(Tensor.numel(e.shape))];
                if (data.length > 0) {
                    ByteBuffer mapped = ch.map(FileChannel.MapMode.READ_ONLY, dataStart + e.begin, e.end - e.begin);
                    e.dtype.decode(mapped, data);
                }
                out.put(e.name, new Tensor(e.shape, data));
            }
            return out;
        } catch (NoSuchFileException e) {
            throw new CheckpointFormatException("no such file: " + file);
        } catch (IOException e) {
            throw new CheckpointFormatException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * The file's JSON header, checked (length plausible and inside the file, a JSON object); leaves the channel's
     * position at the first byte of the data.
     */
    private static JsonNode header(Path file, FileChannel ch, long size) throws IOException {
        if (size < 8) throw bad(file, "truncated: " + size + " bytes, shorter than the 8-byte header length");
        ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, lenBuf, 0);
        long headerLen = lenBuf.getLong(0);
        if (headerLen <= 0 || headerLen > MAX_HEADER) {
            throw bad(file, "header length " + Long.toUnsignedString(headerLen) + " is not plausible");
        }
        if (8 + headerLen > size) {
            throw bad(file, "truncated: header length " + headerLen + " exceeds the file size " + size);
        }
        ByteBuffer hb = ByteBuffer.allocate((int) headerLen);
        readFully(ch, hb, 8);
        ch.position(8 + headerLen);
        JsonNode header;
        try {
            header = JSON.readTree(new String(hb.array(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw bad(file, "header is not valid JSON: " + e.getMessage());
        }
        if (header == null || !header.isObject()) throw bad(file, "header is not a JSON object");
        return header;
    }

    /** The {@code __metadata__} string map of a {@code .safetensors} file (empty when it has none). */
    public static Map<String, String> metadata(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            JsonNode meta = header(file, ch, ch.size()).get("__metadata__");
            Map<String, String> out = new LinkedHashMap<>();
            if (meta != null && meta.isObject()) meta.properties().forEach(e -> out.put(e.getKey(), e.getValue().asText()));
            return out;
        } catch (NoSuchFileException e) {
            throw new CheckpointFormatException("no such file: " + file);
        } catch (IOException e) {
            throw new CheckpointFormatException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    private static List<Entry> parseHeader(Path file, JsonNode header, long dataSize) {
        List<Entry> entries = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
            var f = it.next();
            String name = f.getKey();
            if (name.equals("__metadata__")) continue;
            JsonNode n = f.getValue();
            JsonNode dt = n.get("dtype"), shp = n.get("shape"), off = n.get("data_offsets");
            if (dt == null || !dt.isTextual() || shp == null || !shp.isArray() || off == null || !off.isArray()
                    || off.size() != 2) {
                throw bad(file, "tensor '" + name + "' needs dtype, shape and data_offsets [begin, end]");
            }
            Dtype dtype = Dtype.ofSafetensors(dt.asText(), name);
            int[] shape = new int[shp.size()];
            for (int i = 0; i < shape.length; i++) {
                if (!shp.get(i).canConvertToInt() || shp.get(i).asInt() < 0) {
                    throw bad(file, "tensor '" + name + "' has a bad shape " + shp);
                }
                shape[i] = shp.get(i).asInt();
            }
            if (!off.get(0).canConvertToLong() || !off.get(1).canConvertToLong()) {
                throw bad(file, "tensor '" + name + "' has bad data_offsets " + off);
            }
            long begin = off.get(0).asLong(), end = off.get(1).asLong();
            if (begin < 0 || end < begin) throw bad(file, "tensor '" + name + "' has bad data_offsets " + off);
            if (end > dataSize) {
                throw bad(file, "tensor '" + name + "' data_offsets " + off + " exceed the data section ("
                        + dataSize + " bytes): the file is truncated or the header lies");
            }
            long numel = Tensor.numel(shape);
            if (numel > Integer.MAX_VALUE - 8) throw bad(file, "tensor '" + name + "' is too large for one array");
            if (end - begin != numel * dtype.bytes) {
                throw bad(file, "tensor '" + name + "' " + dtype + " " + shp + " needs " + numel * dtype.bytes
                        + " bytes but data_offsets " + off + " span " + (end - begin));
            }
            entries.add(new Entry(name, dtype, shape, begin, end));
        }
        List<Entry> sorted = new ArrayList<>(entries);
        sorted.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        for (int i = 1; i < sorted.size(); i++) {
            Entry a = sorted.get(i - 1), b = sorted.get(i);
            if (b.begin < a.end) {
                throw bad(file, "tensors '" + a.name + "' and '" + b.name + "' overlap in the data section");
            }
        }
        return entries;
    }

    /**
     * A sharded checkpoint: {@code model.safetensors.index.json} with a {@code weight_map} from tensor name
     * to shard file (in the same directory).
     */
    public static Map<String, Tensor> readSharded(Path indexJson) {
        return ShardIndex.readAll(indexJson, SafetensorsReader::read);
    }

    static void readFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos + buf.position());
            if (n < 0) throw new IOException("unexpected end of file");
        }
    }

    private static CheckpointFormatException bad(Path file, String why) {
        return new CheckpointFormatException("invalid safetensors file " + file.getFileName() + ": " + why);
    }
}

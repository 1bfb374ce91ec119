package dev.tessera.hf;

import dev.tessera.hf.RestrictedUnpickler.StorageRef;
import dev.tessera.hf.RestrictedUnpickler.TensorRef;
import dev.tessera.model.Tensor;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * Reads {@code pytorch_model.bin} as written by {@code torch.save} (zip format, torch &ge; 1.6): {@code <dir>/data.pkl}
 * is a pickle of the state dict whose tensors point (persistent ids) at raw little-endian storages
 * {@code <dir>/data/<key>}. The pickle is read by {@link RestrictedUnpickler}, which runs no code. Tensors that share
 * a storage, offset and layout (tied weights) come back as the same {@link Tensor} instance.
 */
public final class TorchCheckpointReader {
    private TorchCheckpointReader() {}

    private record Layout(String key, long offset, List<Integer> size, List<Long> stride) {}

    public static Map<String, Tensor> read(Path file) {
        if (!Files.isRegularFile(file)) throw new CheckpointFormatException("no such file: " + file);
        String src = file.getFileName().toString();
        try (ZipFile zip = new ZipFile(file.toFile())) {
            ZipEntry pkl = zip.stream().filter(e -> e.getName().endsWith("data.pkl")
                    && e.getName().indexOf('/') == e.getName().length() - "data.pkl".length() - 1).findFirst()
                    .orElseThrow(() -> new CheckpointFormatException(src + ": zip has no <archive>/data.pkl: "
                            + "not a torch.save checkpoint"));
            String prefix = pkl.getName().substring(0, pkl.getName().length() - "data.pkl".length());
            ZipEntry order = zip.getEntry(prefix + "byteorder");
            if (order != null && !new String(readEntry(zip, order, src, 16), StandardCharsets.US_ASCII).trim().equals("little")) {
                throw new CheckpointFormatException(src + ": big-endian torch checkpoints are not supported");
            }
            Object root = RestrictedUnpickler.load(readEntry(zip, pkl, src, 1L << 30), src);
            Map<?, ?> dict = stateDict(root, src);
            Map<String, byte[]> storages = new HashMap<>();
            Map<Layout, Tensor> built = new HashMap<>();
            Map<String, Tensor> out = new TreeMap<>();
            for (var e : dict.entrySet()) {
                if (!(e.getKey() instanceof String name)) throw new CheckpointFormatException(src + ": non-string key " + e.getKey());
                if (!(e.getValue() instanceof TensorRef t)) continue; // e.g. a version number next to the tensors
                StorageRef s = t.storage();
                byte[] bytes = storages.get(s.key());
                if (bytes == null) {
                    ZipEntry data = zip.getEntry(prefix + "data/" + s.key());
                    if (data == null) throw new CheckpointFormatException(src + ": storage " + s.key() + " of tensor '" + name + "' is missing");
                    bytes = readEntry(zip, data, src, Long.MAX_VALUE);
                    if (bytes.length < s.numel() * s.dtype().bytes) {
                        throw new CheckpointFormatException(src + ": storage " + s.key() + " has " + bytes.length
                                + " bytes, needs " + s.numel() * s.dtype().bytes + " (truncated)");
                    }
                    storages.put(s.key(), bytes);
                }
                Layout layout = new Layout(s.key(), t.offset(), Arrays.stream(t.size()).boxed().toList(),
                        Arrays.stream(t.stride()).boxed().toList());
                byte[] b = bytes;
                out.put(name, built.computeIfAbsent(layout, l -> materialise(name, t, b, src)));
            }
            return out;
        } catch (ZipException e) {
            if (startsWithZipMagic(file)) {
                throw new CheckpointFormatException(src + " is a corrupt or truncated zip: " + e.getMessage());
            }
            throw new CheckpointFormatException(src + " is not a zip-format torch checkpoint (" + e.getMessage()
                    + "); legacy pre-1.6 torch.save files are not supported: re-save with a newer torch or use safetensors");
        } catch (IOException e) {
            throw new CheckpointFormatException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    /** A sharded {@code pytorch_model.bin.index.json}: every shard read as {@link #read} reads one file. */
    public static Map<String, Tensor> readSharded(Path indexJson) {
        return ShardIndex.readAll(indexJson, TorchCheckpointReader::read);
    }

    /** The state dict itself, also when it is wrapped as {@code {"state_dict": {...}}}. */
    private static Map<?, ?> stateDict(Object root, String src) {
        if (root instanceof Map<?, ?> m) {
            if (m.get("state_dict") instanceof Map<?, ?> inner) return inner;
            return m;
        }
        throw new CheckpointFormatException(src + ": the pickle holds a " + (root == null ? "None" : root.getClass().getSimpleName())
                + ", not a state dict");
    }

    /** Gathers a (possibly strided, offset) view of a storage into a dense row-major float32 tensor. */
    private static Tensor materialise(String name, TensorRef t, byte[] storage, String src) {
        int[] size = t.size();
        long[] stride = t.stride();
        long numel = Tensor.numel(size);
        if (numel > Integer.MAX_VALUE - 8) throw new CheckpointFormatException(src + ": tensor '" + name + "' is too large");
        long storageNumel = t.storage().numel();
        if (numel > 0) {
            long last = t.offset();
            for (int i = 0; i < size.length; i++) {
                if (stride[i] < 0) throw new CheckpointFormatException(src + ": tensor '" + name + "' has a negative stride");
                last += (size[i] - 1L) * stride[i];
            }
            if (t.offset() < 0 || last >= storageNumel) {
                throw new CheckpointFormatException(src + ": tensor '" + name + "' " + Arrays.toString(size) + " at offset "
                        + t.offset() + " with stride " + Arrays.toString(stride) + " reaches past its storage of "
                        + storageNumel + " elements");
            }
        }
        float[] out = new float[(int) numel];
        Dtype dtype = t.storage().dtype();
        ByteBuffer buf = ByteBuffer.wrap(storage).order(ByteOrder.LITTLE_ENDIAN);
        if (isContiguous(size, stride)) {
            dtype.decode(buf.position((int) (t.offset() * dtype.bytes)).slice(), out);
        } else {
            int[] idx = new int[size.length];
            for (int i = 0; i < out.length; i++) {
                long at = t.offset();
                for (int k = 0; k < size.length; k++) at += idx[k] * stride[k];
                out[i] = dtype.get(buf, at);
                for (int k = size.length - 1; k >= 0 && ++idx[k] == size[k]; k--) idx[k] = 0;
            }
        }
        return new Tensor(size.clone(), out);
    }

    private static boolean isContiguous(int[] size, long[] stride) {
        long expect = 1;
        for (int i = size.length - 1; i >= 0; i--) {
            if (size[i] != 1 && stride[i] != expect) return false;
            expect *= size[i];
        }
        return true;
    }

    private static boolean startsWithZipMagic(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            byte[] b = in.readNBytes(2);
            return b.length == 2 && b[0] == 'P' && b[1] == 'K';
        } catch (IOException e) {
            return false;
        }
    }

    private static byte[] readEntry(ZipFile zip, ZipEntry e, String src, long max) throws IOException {
        if (e.getSize() > max) throw new CheckpointFormatException(src + ": " + e.getName() + " is implausibly large");
        try (InputStream in = zip.getInputStream(e)) {
            return in.readAllBytes();
        }
    }
}

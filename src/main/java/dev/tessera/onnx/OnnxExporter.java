package dev.tessera.onnx;

import ai.onnx.proto.OnnxMl;
import dev.tessera.io.AtomicFiles;
import dev.tessera.model.BertModel;
import java.nio.file.Path;

/**
 * Exports a {@link BertModel} to ONNX. Dialect {@code portable}: standard opset-17 operators only.
 *
 * <p>Inputs {@code input_ids}, {@code attention_mask}, {@code token_type_ids} (int64 [batch, sequence]);
 * outputs {@code last_hidden_state} [batch, sequence, hidden], {@code sentence_embedding} [batch, hidden]
 * (mean over the attention mask) and, with a head, {@code logits} ([batch, labels] or
 * [batch, sequence, vocab] for MLM).
 */
public final class OnnxExporter {
    /** Dialects this exporter writes; the others of DESIGN.md §4 are not implemented yet. */
    public static final String PORTABLE = "portable";

    private OnnxExporter() {}

    /** Protobuf messages (and so ONNX files without external data) cannot exceed 2 GiB. */
    static final long MAX_PROTO_BYTES = Integer.MAX_VALUE;

    public static OnnxMl.ModelProto portableGraph(BertModel model) {
        long bytes = 0;
        for (var t : model.weights().values()) bytes += 4L * t.data().length;
        if (bytes > MAX_PROTO_BYTES - (64L << 20)) {
            throw new IllegalArgumentException("model weights take " + (bytes >> 20) + " MiB; ONNX files over 2 GiB "
                    + "need external data, which the portable export does not write yet");
        }
        return PortableBertGraph.build(model);
    }

    /** The graph of {@code model} in the given dialect and precision. */
    public static OnnxMl.ModelProto graph(BertModel model, Dialect dialect, Precision precision) {
        if (dialect == Dialect.TESSERA && precision == Precision.FP32) return TesseraBertGraph.build(model);
        if (dialect != Dialect.PORTABLE || precision != Precision.FP32) {
            throw new UnsupportedOperationException(dialect.id() + "/" + precision.id() + " export is not implemented yet");
        }
        return portableGraph(model);
    }

    public static byte[] exportPortable(BertModel model) {
        return portableGraph(model).toByteArray();
    }

    /** Writes the portable export atomically (temp file beside {@code out}, fsync, rename). */
    public static void write(BertModel model, Path out) {
        OnnxMl.ModelProto proto = portableGraph(model);
        AtomicFiles.writeStream(out, proto::writeTo);
    }
}

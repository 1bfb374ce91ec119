package dev.tessera.onnx;

import ai.onnx.proto.OnnxMl;
import dev.tessera.io.AtomicFiles;
import dev.tessera.model.BertModel;
import java.nio.file.Path;

/**
 * Exports a {@link BertModel} to ONNX in a {@link Dialect} and {@link Precision}.
 *
 * <p>Inputs {@code input_ids}, {@code attention_mask}, {@code token_type_ids} (int64 [batch, sequence]);
 * outputs {@code last_hidden_state} [batch, sequence, hidden], {@code sentence_embedding} [batch, hidden]
 * (mean over the attention mask) and, with a head, {@code logits} ([batch, labels] or
 * [batch, sequence, vocab] for MLM). The same for {@code portable} and {@code ort}; {@code tessera} runs on
 * packed tokens and declares its own inputs ({@link TesseraBertGraph}).
 */
public final class OnnxExporter {
    /** The portable dialect's name (kept for callers that predate {@link Dialect}). */
    public static final String PORTABLE = Dialect.PORTABLE.id();

    private OnnxExporter() {}

    /** Protobuf messages (and so ONNX files without external data) cannot exceed 2 GiB. */
    static final long MAX_PROTO_BYTES = Integer.MAX_VALUE;

    /** The graph of {@code model} in {@code dialect}, quantized per {@code precision}. */
    public static OnnxMl.ModelProto graph(BertModel model, Dialect dialect, Precision precision) {
        long bytes = 0;
        for (var t : model.weights().values()) bytes += 4L * t.data().length;
        if (bytes > MAX_PROTO_BYTES - (64L << 20)) {
            throw new IllegalArgumentException("model weights take " + (bytes >> 20) + " MiB; ONNX files over 2 GiB "
                    + "need external data, which the ONNX export does not write yet");
        }
        OnnxMl.ModelProto fp32 = switch (dialect) {
            case PORTABLE -> PortableBertGraph.build(model);
            case ORT -> OrtBertGraph.build(model);
            case TESSERA -> TesseraBertGraph.build(model);
        };
        return switch (precision) {
            case FP32 -> fp32;
            // the portable dialect stays standard-only (DynamicQuantizeLinear + MatMulInteger, which ORT fuses
            // into DynamicQuantizeMatMul itself); ort uses ORT's fused kernel directly; tessera quantizes
            // activations per row with its own ops around the same integer GEMM
            case INT8 -> DynamicQuantization.apply(fp32, switch (dialect) {
                case PORTABLE -> DynamicQuantization.Form.STANDARD;
                case ORT -> DynamicQuantization.Form.ORT_FUSED;
                case TESSERA -> DynamicQuantization.Form.PER_ROW;
            });
        };
    }

    public static byte[] export(BertModel model, Dialect dialect, Precision precision) {
        return graph(model, dialect, precision).toByteArray();
    }

    /** Writes the export atomically (temp file beside {@code out}, fsync, rename); builds it before touching {@code out}. */
    public static void write(BertModel model, Dialect dialect, Precision precision, Path out) {
        OnnxMl.ModelProto proto = graph(model, dialect, precision);
        AtomicFiles.writeStream(out, proto::writeTo);
    }

    public static OnnxMl.ModelProto portableGraph(BertModel model) {
        return graph(model, Dialect.PORTABLE, Precision.FP32);
    }

    public static byte[] exportPortable(BertModel model) {
        return portableGraph(model).toByteArray();
    }

    /** Writes the portable fp32 export atomically. */
    public static void write(BertModel model, Path out) {
        write(model, Dialect.PORTABLE, Precision.FP32, out);
    }
}

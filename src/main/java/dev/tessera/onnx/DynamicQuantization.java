package dev.tessera.onnx;

import ai.onnx.proto.OnnxMl;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * Dynamic int8 quantization as a pass over a built fp32 graph of any dialect: every {@code MatMul} whose
 * second input is a rank-2 float initializer of the encoder (name starting {@value #ENCODER_PREFIX}; every
 * dialect names initializers after their checkpoint keys, see {@link BertGraph}) gets symmetric
 * per-output-channel int8 weights, and the fp32 copy leaves the file. Activations are quantized at run
 * time to uint8 (asymmetric): per tensor with ORT's ops ({@link Form#ORT_FUSED}, {@link Form#STANDARD}), per row
 * with the tessera ops ({@link Form#PER_ROW}). u8 × s8 is the operand pair of x86's VNNI {@code vpdpbusd} and
 * of MLAS's fastest int8 GEMM kernels.
 *
 * <p>Weights: for column n of W [K,N], scale_n = max_k |W[k,n]| / 127, q = round(W / scale_n) in [-127, 127],
 * zero point 0 (so omitted). Full 8-bit range: on AVX-512 VNNI (this machine) int32 accumulation cannot
 * saturate; on AVX2 without VNNI MLAS's u8s8 path sums pairs in int16 and can saturate, which is why ORT's
 * Python quantizer offers 7-bit "reduce_range" weights for such CPUs.
 *
 * <p>What stays float32, and why: embeddings are Gathers (table lookups, no matmul; int8 tables would only save
 * disk); the pooler, classifier and MLM decoder are a sliver of the compute (one [H,H] and one [H,labels]
 * product per sequence; the decoder is tied to the embedding table, which must stay exact for the lookup)
 * and sit right at the output, where quantization error is not damped by a following LayerNorm; attention's
 * QK^T and PV products have no constant operand to quantize ahead of time.
 */
final class DynamicQuantization {
    static final String ENCODER_PREFIX = "bert.encoder.layer.";

    enum Form {
        /** {@code com.microsoft.DynamicQuantizeMatMul(A, W_int8, scale[N], , bias?)}: one fused kernel; folds a following bias Add. */
        ORT_FUSED,
        /**
         * Standard opset only: {@code DynamicQuantizeLinear} → {@code MatMulInteger} → Cast → Mul(a_scale · w_scale);
         * ORT's optimizer fuses the chain into DynamicQuantizeMatMul itself, other runtimes run it as written.
         */
        STANDARD,
        /**
         * The tessera dialect: {@code tessera.QuantizeRows} → {@code MatMulInteger} → {@code tessera.DequantizeRows}
         * (folds the bias): activations quantized per row (token) instead of per tensor, so one outlier token does
         * not coarsen the grid of every other. MiniLM-L6 embeddings: min cosine to fp32 0.9975 against 0.989 per
         * tensor (MiniLmRealWeightsTest). The GEMM is the same MLAS u8s8 kernel.
         */
        PER_ROW
    }

    private DynamicQuantization() {}

    /** Per-column symmetric int8 weights: {@code q} [K,N] row-major, {@code scale} [N]. */
    record QuantizedWeight(byte[] q, float[] scale, int k, int n) {}

    static QuantizedWeight quantize(float[] w, int k, int n) {
        float[] scale = new float[n];
        for (int r = 0; r < k; r++) for (int c = 0; c < n; c++) scale[c] = Math.max(scale[c], Math.abs(w[r * n + c]));
        for (int c = 0; c < n; c++) scale[c] = scale[c] > 0 ? scale[c] / 127f : 1f;
        byte[] q = new byte[k * n];
        for (int r = 0; r < k; r++) {
            for (int c = 0; c < n; c++) {
                long v = Math.round(w[r * n + c] / scale[c]);
                q[r * n + c] = (byte) Math.max(-127, Math.min(127, v));
            }
        }
        return new QuantizedWeight(q, scale, k, n);
    }

    static OnnxMl.ModelProto apply(OnnxMl.ModelProto model, Form form) {
        return apply(model, form, name -> true);
    }

    /** Quantizes only the encoder weights whose initializer name {@code select} accepts. */
    static OnnxMl.ModelProto apply(OnnxMl.ModelProto model, Form form, Predicate<String> select) {
        OnnxMl.GraphProto graph = model.getGraph();
        Map<String, TensorProto> inits = new HashMap<>();
        for (TensorProto t : graph.getInitializerList()) inits.put(t.getName(), t);
        Map<String, Integer> consumers = new HashMap<>();
        for (NodeProto n : graph.getNodeList()) for (String in : n.getInputList()) consumers.merge(in, 1, Integer::sum);
        Set<String> graphOutputs = new HashSet<>();
        for (var o : graph.getOutputList()) graphOutputs.add(o.getName());
        Map<String, NodeProto> consumerOf = new HashMap<>(); // value → a node reading it (the only one where consumers says 1)
        for (NodeProto n : graph.getNodeList()) for (String in : n.getInputList()) consumerOf.put(in, n);

        List<NodeProto> nodes = new ArrayList<>();
        List<TensorProto> added = new ArrayList<>();
        Set<String> quantized = new HashSet<>(), folded = new HashSet<>(); // folded: outputs of Adds absorbed as bias
        Map<String, QuantizedWeight> done = new HashMap<>();
        Set<String> withColumnSums = new HashSet<>(); // PER_ROW: weights whose column sums are in the file
        for (NodeProto node : graph.getNodeList()) {
            if (node.getOutputCount() == 1 && folded.contains(node.getOutput(0))) continue; // an Add folded into a kernel
            TensorProto w = node.getInputCount() == 2 ? inits.get(node.getInput(1)) : null;
            if (!isEncoderWeightMatMul(node, w) || !select.test(w.getName())) {
                nodes.add(node);
                continue;
            }
            String wName = w.getName();
            // new names derive from the MatMul's output, which SSA makes unique (node names may be empty)
            String a = node.getInput(0), y = node.getOutput(0), name = y;
            QuantizedWeight qw = done.get(wName);
            if (qw == null) {
                qw = quantize(floats(w), (int) w.getDims(0), (int) w.getDims(1));
                done.put(wName, qw);
                added.add(int8Tensor(wName + ".int8", qw));
                added.add(floatTensor(wName + ".scale", qw.scale()));
                quantized.add(wName);
            }
            if (form == Form.ORT_FUSED || form == Form.PER_ROW) {
                // fold "MatMul → Add(bias[N])" into the kernel's bias input
                String bias = "";
                NodeProto add = consumers.getOrDefault(y, 0) == 1 && !graphOutputs.contains(y) ? consumerOf.get(y) : null;
                if (add != null && add.getOpType().equals("Add") && add.getDomain().isEmpty() && add.getInputCount() == 2) {
                    String other = add.getInput(0).equals(y) ? add.getInput(1) : add.getInput(0);
                    TensorProto b = inits.get(other);
                    if (b != null && b.getDataType() == TensorProto.DataType.FLOAT_VALUE && b.getDimsCount() == 1
                            && b.getDims(0) == qw.n()) {
                        bias = other;
                        y = add.getOutput(0);
                        folded.add(y);
                    }
                }
                if (form == Form.PER_ROW) {
                    if (withColumnSums.add(wName)) added.add(int32Tensor(wName + ".colsum", columnSums(qw)));
                    String p = name + "/rows";
                    nodes.add(NodeProto.newBuilder().setName(p + "/QuantizeRows").setOpType("QuantizeRows").setDomain(TesseraBertGraph.TESSERA)
                            .addInput(a).addOutput(p + "/q").addOutput(p + "/scale").addOutput(p + "/zero_point").build());
                    nodes.add(NodeProto.newBuilder().setName(p + "/MatMulInteger").setOpType("MatMulInteger")
                            .addInput(p + "/q").addInput(wName + ".int8").addOutput(p + "/y_i32").build());
                    NodeProto.Builder dq = NodeProto.newBuilder().setName(p + "/DequantizeRows").setOpType("DequantizeRows")
                            .setDomain(TesseraBertGraph.TESSERA).addInput(p + "/y_i32").addInput(p + "/scale").addInput(p + "/zero_point")
                            .addInput(wName + ".colsum").addInput(wName + ".scale");
                    if (!bias.isEmpty()) dq.addInput(bias);
                    nodes.add(dq.addOutput(y).build());
                    continue;
                }
                List<String> in = new ArrayList<>(List.of(a, wName + ".int8", wName + ".scale"));
                if (!bias.isEmpty()) in.addAll(List.of("", bias));
                nodes.add(NodeProto.newBuilder().setName(name + "/DynamicQuantizeMatMul").setOpType("DynamicQuantizeMatMul")
                        .setDomain(GraphBuilder.MS_DOMAIN).addAllInput(in).addOutput(y).build());
            } else {
                String p = name + "/quant";
                nodes.add(NodeProto.newBuilder().setName(p + "/DynamicQuantizeLinear").setOpType("DynamicQuantizeLinear")
                        .addInput(a).addOutput(p + "/A_u8").addOutput(p + "/A_scale").addOutput(p + "/A_zero_point").build());
                nodes.add(NodeProto.newBuilder().setName(p + "/MatMulInteger").setOpType("MatMulInteger")
                        .addInput(p + "/A_u8").addInput(wName + ".int8").addInput(p + "/A_zero_point")
                        .addOutput(p + "/Y_i32").build());
                nodes.add(NodeProto.newBuilder().setName(p + "/Cast").setOpType("Cast").addInput(p + "/Y_i32")
                        .addOutput(p + "/Y_f32").addAttribute(GraphBuilder.intAttr("to", TensorProto.DataType.FLOAT_VALUE)).build());
                nodes.add(NodeProto.newBuilder().setName(p + "/Scale").setOpType("Mul").addInput(p + "/A_scale")
                        .addInput(wName + ".scale").addOutput(p + "/scale").build());
                nodes.add(NodeProto.newBuilder().setName(p + "/Dequantize").setOpType("Mul").addInput(p + "/Y_f32")
                        .addInput(p + "/scale").addOutput(y).build());
            }
        }
        if (done.isEmpty()) return model;

        // drop the fp32 weights that nothing reads any more
        Set<String> read = new HashSet<>();
        for (NodeProto n : nodes) read.addAll(n.getInputList());
        OnnxMl.GraphProto.Builder g = graph.toBuilder().clearNode().addAllNode(nodes).clearInitializer();
        for (TensorProto t : graph.getInitializerList()) if (!quantized.contains(t.getName()) || read.contains(t.getName())) g.addInitializer(t);
        g.addAllInitializer(added);

        OnnxMl.ModelProto.Builder m = model.toBuilder().setGraph(g);
        if (form == Form.ORT_FUSED && m.getOpsetImportList().stream().noneMatch(o -> o.getDomain().equals(GraphBuilder.MS_DOMAIN))) {
            m.addOpsetImport(OnnxMl.OperatorSetIdProto.newBuilder().setDomain(GraphBuilder.MS_DOMAIN).setVersion(1));
        }
        return m.setDocString(model.getDocString() + "; int8: " + done.size() + " encoder weight matrices, dynamic "
                + switch (form) {
                    case ORT_FUSED -> "DynamicQuantizeMatMul (per-tensor uint8 activations)";
                    case STANDARD -> "DynamicQuantizeLinear + MatMulInteger (per-tensor uint8 activations)";
                    case PER_ROW -> "tessera.QuantizeRows + MatMulInteger + tessera.DequantizeRows (per-row uint8 activations)";
                } + ", per-output-channel symmetric int8 weights").build();
    }

    private static boolean isEncoderWeightMatMul(NodeProto node, TensorProto w) {
        return node.getOpType().equals("MatMul") && node.getDomain().isEmpty() && w != null
                && w.getName().startsWith(ENCODER_PREFIX) && w.getDataType() == TensorProto.DataType.FLOAT_VALUE
                && w.getDimsCount() == 2;
    }

    static float[] floats(TensorProto t) {
        if (!t.getRawData().isEmpty()) {
            float[] out = new float[t.getRawData().size() / Float.BYTES];
            t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
            return out;
        }
        float[] out = new float[t.getFloatDataCount()];
        for (int i = 0; i < out.length; i++) out[i] = t.getFloatData(i);
        return out;
    }

    private static TensorProto int8Tensor(String name, QuantizedWeight qw) {
        return TensorProto.newBuilder().setName(name).setDataType(TensorProto.DataType.INT8_VALUE)
                .addDims(qw.k()).addDims(qw.n()).setRawData(ByteString.copyFrom(qw.q())).build();
    }

    /** Σ_k q[k,n] per column: the zero-point correction of per-row activations (exact in int32). */
    static int[] columnSums(QuantizedWeight qw) {
        int[] cs = new int[qw.n()];
        for (int r = 0; r < qw.k(); r++) for (int c = 0; c < qw.n(); c++) cs[c] += qw.q()[r * qw.n() + c];
        return cs;
    }

    private static TensorProto int32Tensor(String name, int[] v) {
        ByteBuffer buf = ByteBuffer.allocate(v.length * Integer.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        buf.asIntBuffer().put(v);
        return TensorProto.newBuilder().setName(name).setDataType(TensorProto.DataType.INT32_VALUE).addDims(v.length)
                .setRawData(UnsafeByteOperations.unsafeWrap(buf.array())).build();
    }

    private static TensorProto floatTensor(String name, float[] v) {
        ByteBuffer buf = ByteBuffer.allocate(v.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        buf.asFloatBuffer().put(v);
        return TensorProto.newBuilder().setName(name).setDataType(TensorProto.DataType.FLOAT_VALUE).addDims(v.length)
                .setRawData(UnsafeByteOperations.unsafeWrap(buf.array())).build();
    }
}

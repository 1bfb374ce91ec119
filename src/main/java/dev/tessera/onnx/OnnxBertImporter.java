package dev.tessera.onnx;

import ai.onnx.proto.OnnxMl;
import ai.onnx.proto.OnnxMl.TensorProto;
import dev.tessera.model.BertModel;
import dev.tessera.model.ClassifierPooling;
import dev.tessera.model.Head;
import dev.tessera.model.ModelConfig;
import dev.tessera.model.Tensor;
import dev.tessera.model.Variant;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads the weights of a classic BERT encoder exported to ONNX by PyTorch (as Hugging Face Optimum and
 * sentence-transformers ship them, e.g. all-MiniLM-L6-v2) back into a {@link BertModel}: variant BERT,
 * head NONE, canonical {@code bert.}-prefixed HF names, Linear weights [out, in].
 *
 * <p>In such files biases, LayerNorms and embeddings keep their HF names, while MatMul weights are
 * anonymous ({@code onnx::MatMul_N}, [in, out]); their place is read from the consuming node's name
 * ({@code /encoder/layer.0/attention/self/query/MatMul}). The config comes from the tensor shapes;
 * the head count is not in any shape, so it is read from the attention Reshape's constant shape
 * (…, heads, head_dim), else from the 1/√d score scale, else it must be passed in.
 */
public final class OnnxBertImporter {
    private static final Pattern HF_NAME = Pattern.compile("^(?:bert\\.)?((?:embeddings|encoder|pooler)\\..+)$");
    private static final Pattern LAYER = Pattern.compile("^bert\\.encoder\\.layer\\.(\\d+)\\.");
    private static final Pattern MATMUL_NODE = Pattern.compile("^/((?:embeddings|encoder|pooler)/.+)/(MatMul|Gemm)$");

    private OnnxBertImporter() {}

    /** Imports with the head count inferred from the graph. */
    public static BertModel load(Path onnxFile) throws IOException {
        return fromProto(parse(onnxFile), OptionalInt.empty());
    }

    /** Imports with an explicit head count (checked against the graph where it tells). */
    public static BertModel load(Path onnxFile, int numHeads) throws IOException {
        return fromProto(parse(onnxFile), OptionalInt.of(numHeads));
    }

    public static BertModel fromProto(OnnxMl.ModelProto model, OptionalInt numHeads) {
        OnnxMl.GraphProto g = model.getGraph();
        Map<String, TensorProto> inits = new HashMap<>();
        for (TensorProto t : g.getInitializerList()) inits.put(t.getName(), t);

        Set<String> matmulWeights = new HashSet<>();
        for (OnnxMl.NodeProto n : g.getNodeList()) {
            if ((n.getOpType().equals("MatMul") || n.getOpType().equals("Gemm")) && n.getInputCount() >= 2) {
                matmulWeights.add(n.getInput(1));
            }
        }
        Map<String, Tensor> weights = new TreeMap<>();
        // 1. tensors that carry their HF name (biases, LayerNorms, embeddings; int64 buffers skipped).
        //    MatMul operands are taken in step 2 even when named, since their layout is [in, out].
        for (TensorProto t : g.getInitializerList()) {
            Matcher m = HF_NAME.matcher(t.getName());
            if (m.matches() && t.getDataType() != TensorProto.DataType.INT64_VALUE && !matmulWeights.contains(t.getName())) {
                weights.put("bert." + m.group(1), toTensor(t));
            }
        }
        // 2. anonymous MatMul/Gemm weights, named by their node
        for (OnnxMl.NodeProto n : g.getNodeList()) {
            Matcher m = MATMUL_NODE.matcher(n.getName());
            if (!m.matches() || n.getInputCount() < 2 || !inits.containsKey(n.getInput(1))) continue;
            String name = "bert." + m.group(1).replace('/', '.') + ".weight";
            Tensor w = toTensor(inits.get(n.getInput(1)));
            if (w.rank() != 2) throw new IllegalArgumentException("weight of node " + n.getName() + " is not rank 2: " + w);
            boolean storedOutIn = n.getOpType().equals("Gemm") && intAttr(n, "transB", 0) == 1;
            weights.put(name, storedOutIn ? w : w.transpose2d()); // HF Linear layout is [out, in]
        }
        ModelConfig cfg = inferConfig(g, inits, weights, numHeads);
        checkComplete(cfg, weights);
        return new BertModel(cfg, weights);
    }

    private static ModelConfig inferConfig(OnnxMl.GraphProto g, Map<String, TensorProto> inits,
                                           Map<String, Tensor> w, OptionalInt explicitHeads) {
        Tensor word = w.get("bert.embeddings.word_embeddings.weight");
        if (word == null) throw new IllegalArgumentException("not a BERT encoder: no embeddings.word_embeddings.weight initializer");
        int vocab = word.dim(0), hidden = word.dim(1);
        int layers = 0;
        for (String k : w.keySet()) {
            Matcher m = LAYER.matcher(k);
            if (m.find()) layers = Math.max(layers, Integer.parseInt(m.group(1)) + 1);
        }
        if (layers == 0) throw new IllegalArgumentException("no encoder.layer.N tensors found");
        Tensor inter = w.get("bert.encoder.layer.0.intermediate.dense.bias");
        Tensor types = w.get("bert.embeddings.token_type_embeddings.weight");
        Tensor pos = w.get("bert.embeddings.position_embeddings.weight");
        if (inter == null || types == null || pos == null) {
            throw new IllegalArgumentException("not a classic BERT encoder: intermediate.dense, token_type_embeddings "
                    + "or position_embeddings missing");
        }
        OptionalInt graphHeads = headsFromGraph(g, inits, hidden);
        int heads;
        if (explicitHeads.isPresent()) {
            heads = explicitHeads.getAsInt();
            if (heads <= 0 || hidden % heads != 0)
                throw new IllegalArgumentException("num_attention_heads " + heads + " does not divide hidden size " + hidden);
            if (graphHeads.isPresent() && graphHeads.getAsInt() != heads)
                throw new IllegalArgumentException("num_attention_heads " + heads + " contradicts the graph, which uses "
                        + graphHeads.getAsInt());
        } else {
            heads = graphHeads.orElseThrow(() -> new IllegalArgumentException(
                    "cannot infer num_attention_heads from the graph; pass it explicitly"));
        }
        return new ModelConfig(Variant.BERT, Head.NONE, vocab, hidden, layers, heads, inter.dim(0), types.dim(0),
                pos.dim(0), layerNormEps(g, inits), 0, List.of(), null, hasErf(g) ? "gelu" : "gelu_new",
                ClassifierPooling.CLS);
    }

    /**
     * Heads from layer 0's attention: the Reshape target (…, N, D) built by a Concat of constants,
     * or a constant shape tensor; falling back to the score divisor √D.
     */
    private static OptionalInt headsFromGraph(OnnxMl.GraphProto g, Map<String, TensorProto> inits, int hidden) {
        Map<String, OnnxMl.NodeProto> producer = new HashMap<>();
        for (OnnxMl.NodeProto n : g.getNodeList()) for (String o : n.getOutputList()) producer.put(o, n);
        String scope = "/encoder/layer.0/attention/self/";
        for (OnnxMl.NodeProto n : g.getNodeList()) {
            if (!n.getOpType().equals("Reshape") || !n.getName().startsWith(scope) || n.getInputCount() < 2) continue;
            List<Long> dims = new ArrayList<>();
            long[] direct = constantInts(n.getInput(1), producer, inits);
            if (direct != null) {
                for (long d : direct) dims.add(d);
            } else {
                OnnxMl.NodeProto concat = producer.get(n.getInput(1));
                if (concat == null || !concat.getOpType().equals("Concat")) continue;
                for (String in : concat.getInputList()) {
                    long[] c = constantInts(in, producer, inits);
                    if (c == null) dims.add(-1L); // a runtime dim (batch or sequence)
                    else for (long d : c) dims.add(d);
                }
            }
            // a split into heads ends in (N, D) with N·D = hidden; merging back ends in (hidden)
            if (dims.size() >= 2) {
                long nh = dims.get(dims.size() - 2), hd = dims.get(dims.size() - 1);
                if (nh > 0 && hd > 0 && nh * hd == hidden) return OptionalInt.of((int) nh);
            }
        }
        for (OnnxMl.NodeProto n : g.getNodeList()) {
            if (n.getName().equals(scope + "Div") && n.getInputCount() == 2) {
                Float c = constantFloat(n.getInput(1), producer, inits);
                if (c != null) {
                    long d = Math.round((double) c * c);
                    if (d > 0 && hidden % d == 0 && Math.abs(Math.sqrt(d) - c) < 1e-3) return OptionalInt.of((int) (hidden / d));
                }
            }
        }
        return OptionalInt.empty();
    }

    /** The epsilon of the embedding LayerNorm: a LayerNormalization attribute or the constant PyTorch adds. */
    private static double layerNormEps(OnnxMl.GraphProto g, Map<String, TensorProto> inits) {
        Map<String, OnnxMl.NodeProto> producer = new HashMap<>();
        for (OnnxMl.NodeProto n : g.getNodeList()) for (String o : n.getOutputList()) producer.put(o, n);
        for (OnnxMl.NodeProto n : g.getNodeList()) {
            if (n.getOpType().equals("LayerNormalization")) {
                for (OnnxMl.AttributeProto a : n.getAttributeList()) if (a.getName().equals("epsilon")) return a.getF();
                return 1e-5; // the operator's default
            }
            if (n.getName().equals("/embeddings/LayerNorm/Add") && n.getInputCount() == 2) {
                Float c = constantFloat(n.getInput(1), producer, inits);
                if (c != null) return c;
            }
        }
        return 1e-12; // BERT's default
    }

    private static boolean hasErf(OnnxMl.GraphProto g) {
        boolean erf = false, tanhInFfn = false;
        for (OnnxMl.NodeProto n : g.getNodeList()) {
            if (!n.getName().startsWith("/encoder/layer.0/intermediate/")) continue;
            erf |= n.getOpType().equals("Erf");
            tanhInFfn |= n.getOpType().equals("Tanh");
        }
        return erf || !tanhInFfn;
    }

    private static void checkComplete(ModelConfig c, Map<String, Tensor> w) {
        List<String> need = new ArrayList<>();
        String e = "bert.embeddings.";
        need.add(e + "LayerNorm.weight");
        need.add(e + "LayerNorm.bias");
        for (int i = 0; i < c.numLayers(); i++) {
            String p = BertModel.layer(i);
            for (String s : List.of("attention.self.query", "attention.self.key", "attention.self.value",
                    "attention.output.dense", "intermediate.dense", "output.dense", "attention.output.LayerNorm",
                    "output.LayerNorm")) {
                need.add(p + s + ".weight");
                need.add(p + s + ".bias");
            }
        }
        TreeSet<String> missing = new TreeSet<>();
        for (String n : need) if (!w.containsKey(n)) missing.add(n);
        if (!missing.isEmpty()) {
            throw new IllegalArgumentException("ONNX graph lacks BERT weights (or names them in an unknown way): " + missing);
        }
    }

    // ---- protobuf helpers ----

    private static OnnxMl.ModelProto parse(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            com.google.protobuf.CodedInputStream cis = com.google.protobuf.CodedInputStream.newInstance(in);
            cis.setSizeLimit(Integer.MAX_VALUE); // models are larger than protobuf's 64 MiB default
            return OnnxMl.ModelProto.parseFrom(cis);
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
            throw new IllegalArgumentException("not an ONNX model: " + file + " (" + e.getMessage() + ")", e);
        }
    }

    static Tensor toTensor(TensorProto t) {
        if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
            throw new IllegalArgumentException("initializer " + t.getName() + " uses external data, which is not supported");
        }
        int[] shape = new int[t.getDimsCount()];
        for (int i = 0; i < shape.length; i++) shape[i] = Math.toIntExact(t.getDims(i));
        int n = Math.toIntExact(Tensor.numel(shape));
        float[] v = new float[n];
        ByteBuffer raw = t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        boolean hasRaw = !t.getRawData().isEmpty();
        switch (t.getDataType()) {
            case TensorProto.DataType.FLOAT_VALUE -> {
                if (hasRaw) raw.asFloatBuffer().get(v);
                else for (int i = 0; i < n; i++) v[i] = t.getFloatData(i);
            }
            case TensorProto.DataType.FLOAT16_VALUE -> {
                // float16 bits: raw little-endian, or the low 16 bits of each int32_data entry
                for (int i = 0; i < n; i++) v[i] = Float.float16ToFloat(hasRaw ? raw.getShort(2 * i) : (short) t.getInt32Data(i));
            }
            default -> throw new IllegalArgumentException("initializer " + t.getName() + " has unsupported data type "
                    + TensorProto.DataType.forNumber(t.getDataType()));
        }
        return new Tensor(shape, v);
    }

    private static long[] constantInts(String value, Map<String, OnnxMl.NodeProto> producer, Map<String, TensorProto> inits) {
        TensorProto t = constant(value, producer, inits);
        if (t == null || t.getDataType() != TensorProto.DataType.INT64_VALUE) return null;
        if (!t.getRawData().isEmpty()) {
            ByteBuffer b = t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
            long[] out = new long[b.remaining() / Long.BYTES];
            b.asLongBuffer().get(out);
            return out;
        }
        return t.getInt64DataList().stream().mapToLong(Long::longValue).toArray();
    }

    private static Float constantFloat(String value, Map<String, OnnxMl.NodeProto> producer, Map<String, TensorProto> inits) {
        TensorProto t = constant(value, producer, inits);
        if (t == null || t.getDataType() != TensorProto.DataType.FLOAT_VALUE) return null;
        Tensor x = toTensor(t);
        return x.data().length == 1 ? x.data()[0] : null;
    }

    private static TensorProto constant(String value, Map<String, OnnxMl.NodeProto> producer, Map<String, TensorProto> inits) {
        if (inits.containsKey(value)) return inits.get(value);
        OnnxMl.NodeProto n = producer.get(value);
        if (n == null || !n.getOpType().equals("Constant")) return null;
        for (OnnxMl.AttributeProto a : n.getAttributeList()) if (a.getName().equals("value")) return a.getT();
        return null;
    }

    private static long intAttr(OnnxMl.NodeProto n, String name, long dflt) {
        for (OnnxMl.AttributeProto a : n.getAttributeList()) if (a.getName().equals(name)) return a.getI();
        return dflt;
    }
}

package dev.tessera.onnx;

import ai.onnx.proto.OnnxMl;
import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.UnsafeByteOperations;
import dev.tessera.model.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * A thin, model-agnostic helper over the raw ONNX protobuf builders: nodes, initializers, constants,
 * graph inputs and outputs. Every node has exactly one name, which is also the name of its (first) output,
 * so a graph reads like a list of assignments.
 */
final class GraphBuilder {
    static final int FLOAT = TensorProto.DataType.FLOAT_VALUE;
    static final int INT64 = TensorProto.DataType.INT64_VALUE;
    static final int INT32 = TensorProto.DataType.INT32_VALUE;
    /** ONNX Runtime's contrib operator domain. */
    static final String MS_DOMAIN = "com.microsoft";

    private final OnnxMl.GraphProto.Builder graph = OnnxMl.GraphProto.newBuilder();
    /** Every value name in use (node outputs, initializers, inputs): ONNX requires SSA names. */
    private final Set<String> names = new HashSet<>();
    /** Operator domains other than ONNX's that the nodes use; each is imported at version 1. */
    private final Set<String> domains = new java.util.TreeSet<>();

    GraphBuilder(String graphName) {
        graph.setName(graphName);
    }

    /** Adds a node whose single output is named {@code name}; returns that name. */
    String node(String name, String opType, List<String> inputs, AttributeProto... attrs) {
        node(name, opType, inputs, List.of(name), attrs);
        return name;
    }

    /** Adds a node with explicitly named outputs. */
    void node(String name, String opType, List<String> inputs, List<String> outputs, AttributeProto... attrs) {
        node("", name, opType, inputs, outputs, attrs);
    }

    /** A single-output node of ONNX Runtime's {@code com.microsoft} domain; an empty input name skips an optional input. */
    String msNode(String name, String opType, List<String> inputs, AttributeProto... attrs) {
        return node(MS_DOMAIN, name, opType, inputs, attrs);
    }

    /** Adds a node of an operator domain other than ONNX's own (e.g. {@code com.microsoft}, {@code tessera}). */
    String node(String domain, String name, String opType, List<String> inputs, AttributeProto... attrs) {
        node(domain, name, opType, inputs, List.of(name), attrs);
        return name;
    }

    private void node(String domain, String name, String opType, List<String> inputs, List<String> outputs,
                      AttributeProto... attrs) {
        if (!domain.isEmpty()) domains.add(domain);
        OnnxMl.NodeProto.Builder n = OnnxMl.NodeProto.newBuilder().setName(name).setOpType(opType)
                .setDomain(domain).addAllInput(inputs);
        for (String out : outputs) n.addOutput(claim(out));
        for (AttributeProto a : attrs) n.addAttribute(a);
        graph.addNode(n);
    }

    /** A float32 initializer holding {@code t} (raw little-endian data). */
    String initializer(String name, Tensor t) {
        ByteBuffer buf = ByteBuffer.allocate(t.data().length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        buf.asFloatBuffer().put(t.data());
        TensorProto.Builder tp = TensorProto.newBuilder().setName(claim(name)).setDataType(FLOAT)
                .setRawData(UnsafeByteOperations.unsafeWrap(buf.array()));
        for (int d : t.shape()) tp.addDims(d);
        graph.addInitializer(tp);
        return name;
    }

    /** A float32 constant of the given shape. */
    String constFloat(String name, int[] shape, float... values) {
        return initializer(name, new Tensor(shape, values));
    }

    /** A scalar (rank 0) float32 constant. */
    String scalarFloat(String name, float value) {
        return constFloat(name, new int[0], value);
    }

    /** A 1-D int64 constant (shapes, axes, split sizes). */
    String constInt64(String name, long... values) {
        return int64(name, new long[] {values.length}, values);
    }

    /** A scalar (rank 0) int64 constant (indices for Gather, Range bounds). */
    String scalarInt64(String name, long value) {
        return int64(name, new long[0], value);
    }

    private String int64(String name, long[] dims, long... values) {
        ByteBuffer buf = ByteBuffer.allocate(values.length * Long.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        buf.asLongBuffer().put(values);
        TensorProto.Builder tp = TensorProto.newBuilder().setName(claim(name)).setDataType(INT64)
                .setRawData(UnsafeByteOperations.unsafeWrap(buf.array()));
        for (long d : dims) tp.addDims(d);
        graph.addInitializer(tp);
        return name;
    }

    /** A graph input; each dim is an Integer (fixed) or a String (symbolic). */
    String input(String name, int elemType, Object... dims) {
        graph.addInput(valueInfo(claim(name), elemType, dims));
        return name;
    }

    /** Declares an existing value as graph output. */
    void output(String name, int elemType, Object... dims) {
        graph.addOutput(valueInfo(name, elemType, dims));
    }

    OnnxMl.ModelProto model(int opset, String producer, String docString) {
        OnnxMl.ModelProto.Builder m = OnnxMl.ModelProto.newBuilder()
                .setIrVersion(8) // IR 8 is the version that opset 17 shipped with
                .setProducerName(producer)
                .setDocString(docString)
                .addOpsetImport(OnnxMl.OperatorSetIdProto.newBuilder().setDomain("").setVersion(opset));
        for (String d : domains) m.addOpsetImport(OnnxMl.OperatorSetIdProto.newBuilder().setDomain(d).setVersion(1));
        return m.setGraph(graph).build();
    }

    private String claim(String name) {
        if (!names.add(name)) throw new IllegalStateException("duplicate ONNX value name '" + name + "'");
        return name;
    }

    private static OnnxMl.ValueInfoProto valueInfo(String name, int elemType, Object... dims) {
        OnnxMl.TensorShapeProto.Builder shape = OnnxMl.TensorShapeProto.newBuilder();
        for (Object d : dims) {
            OnnxMl.TensorShapeProto.Dimension.Builder dim = OnnxMl.TensorShapeProto.Dimension.newBuilder();
            if (d instanceof String s) dim.setDimParam(s);
            else dim.setDimValue(((Number) d).longValue());
            shape.addDim(dim);
        }
        OnnxMl.TypeProto type = OnnxMl.TypeProto.newBuilder()
                .setTensorType(OnnxMl.TypeProto.Tensor.newBuilder().setElemType(elemType).setShape(shape)).build();
        return OnnxMl.ValueInfoProto.newBuilder().setName(name).setType(type).build();
    }

    static AttributeProto intAttr(String name, long value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(value).build();
    }

    static AttributeProto floatAttr(String name, float value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.FLOAT).setF(value).build();
    }

    static AttributeProto intsAttr(String name, long... values) {
        AttributeProto.Builder a = AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
        for (long v : values) a.addInts(v);
        return a.build();
    }
}

package dev.tessera.kernels;

import dev.tessera.data.Batch;
import dev.tessera.model.BertModel;
import dev.tessera.model.ModelConfig;
import dev.tessera.model.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A model of the native training module: one contiguous parameter block, gradient block and AdamW
 * moments, laid out by the library's parameter table whose names are the canonical Hugging Face names
 * of the serving path ({@link BertModel}). Not thread-safe: use one model from one thread at a time.
 */
public final class NativeModel implements AutoCloseable {

    /** Blocks of {@link #read}/{@link #write}. */
    public enum Buffer { PARAMS, GRADS, ADAM_M, ADAM_V }

    /**
     * Precision of the model's matrix products (tsr_set_precision): BF16 rounds both operands to bf16 and
     * sums in fp32 (mixed precision; parameters, gradients, AdamW and LayerNorm stay fp32). Codes equal
     * TSR_PRECISION_*.
     */
    public enum Precision {
        FP32, BF16;

        /** "fp32" or "bf16" (any case). */
        public static Precision parse(String name) {
            return switch (name.toLowerCase(java.util.Locale.ROOT)) {
                case "fp32" -> FP32;
                case "bf16" -> BF16;
                default -> throw new IllegalArgumentException("unknown precision '" + name + "'; valid: fp32, bf16");
            };
        }
    }

    /** One entry of the parameter table. */
    public record TensorInfo(String name, long offset, int[] shape) {
        public long numel() { return Tensor.numel(shape); }
    }

    static final StructLayout CONFIG = MemoryLayout.structLayout(
            JAVA_INT.withName("variant"), JAVA_INT.withName("head"), JAVA_INT.withName("vocab_size"),
            JAVA_INT.withName("hidden_size"), JAVA_INT.withName("num_layers"), JAVA_INT.withName("num_heads"),
            JAVA_INT.withName("intermediate_size"), JAVA_INT.withName("type_vocab_size"),
            JAVA_INT.withName("max_position_embeddings"), JAVA_INT.withName("num_labels"),
            JAVA_FLOAT.withName("layer_norm_eps"), JAVA_FLOAT.withName("hidden_dropout"),
            JAVA_FLOAT.withName("attention_dropout"), JAVA_INT.withName("max_tokens"), JAVA_INT.withName("max_seqs"),
            JAVA_INT.withName("max_mlm_targets"), JAVA_INT.withName("pooling"));

    static final StructLayout BATCH = MemoryLayout.structLayout(
            JAVA_INT.withName("num_tokens"), JAVA_INT.withName("num_seqs"), JAVA_INT.withName("max_seqlen"),
            JAVA_INT.withName("reserved"), ADDRESS.withName("input_ids"), ADDRESS.withName("token_type_ids"),
            ADDRESS.withName("cu_seqlens"), ADDRESS.withName("mlm_labels"), ADDRESS.withName("class_labels"),
            ADDRESS.withName("targets"), ADDRESS.withName("soft_targets"), JAVA_FLOAT.withName("distill_alpha"),
            JAVA_FLOAT.withName("distill_temperature"));

    private final NativeLibrary lib;
    private final NativeConfig config;
    private final MemorySegment handle;
    private final List<TensorInfo> tensors;
    private final Map<String, TensorInfo> byName;
    private final long numParams;
    private boolean closed;

    private NativeModel(NativeLibrary lib, NativeConfig config, MemorySegment handle) {
        this.lib = lib;
        this.config = config;
        this.handle = handle;
        try {
            this.numParams = (long) lib.numParams.invokeExact(handle);
            int n = (int) lib.numTensors.invokeExact(handle);
            List<TensorInfo> list = new ArrayList<>(n);
            try (Arena a = Arena.ofConfined()) {
                MemorySegment name = a.allocate(ADDRESS), off = a.allocate(JAVA_LONG), ndim = a.allocate(JAVA_INT),
                        shape = a.allocate(JAVA_INT, 4);
                for (int i = 0; i < n; i++) {
                    lib.check((int) lib.tensorInfo.invokeExact(handle, i, name, off, MemorySegment.NULL, ndim, shape));
                    int[] s = new int[ndim.get(JAVA_INT, 0)];
                    for (int d = 0; d < s.length; d++) s[d] = shape.getAtIndex(JAVA_INT, d);
                    list.add(new TensorInfo(NativeLibrary.cstring(name.get(ADDRESS, 0)), off.get(JAVA_LONG, 0), s));
                }
            }
            this.tensors = Collections.unmodifiableList(list);
            Map<String, TensorInfo> m = new LinkedHashMap<>();
            for (TensorInfo t : list) m.put(t.name(), t);
            this.byName = Collections.unmodifiableMap(m);
        } catch (Throwable t) {
            destroy(lib, handle);
            throw NativeLibrary.rethrow(t);
        }
    }

    /** Creates a model with zero parameters on the given backend. */
    public static NativeModel create(NativeConfig c, NativeLibrary.Backend backend) {
        NativeLibrary lib = NativeLibrary.get();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cfg = a.allocate(CONFIG);
            int[] ints = {c.variantCode(), c.headCode(), c.vocabSize(), c.hiddenSize(), c.numLayers(), c.numHeads(),
                    c.intermediateSize(), c.typeVocabSize(), c.maxPositionEmbeddings(), c.numLabels()};
            for (int i = 0; i < ints.length; i++) cfg.setAtIndex(JAVA_INT, i, ints[i]);
            cfg.setAtIndex(JAVA_FLOAT, 10, c.layerNormEps());
            cfg.setAtIndex(JAVA_FLOAT, 11, c.hiddenDropout());
            cfg.setAtIndex(JAVA_FLOAT, 12, c.attentionDropout());
            cfg.setAtIndex(JAVA_INT, 13, c.maxTokens());
            cfg.setAtIndex(JAVA_INT, 14, c.maxSeqs());
            cfg.setAtIndex(JAVA_INT, 15, c.maxMlmTargets());
            cfg.setAtIndex(JAVA_INT, 16, c.poolingCode());
            MemorySegment out = a.allocate(ADDRESS);
            lib.check((int) lib.modelCreate.invokeExact(cfg, backend.code, out));
            return new NativeModel(lib, c, out.get(ADDRESS, 0));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** A model holding the weights of a serving-path checkpoint. */
    public static NativeModel fromBertModel(BertModel model, float hiddenDropout, float attentionDropout, int maxTokens,
                                            int maxSeqs, NativeLibrary.Backend backend) {
        NativeModel m = create(NativeConfig.of(model.config(), hiddenDropout, attentionDropout, maxTokens, maxSeqs), backend);
        try {
            m.loadWeights(model.weights());
            return m;
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    public NativeConfig config() { return config; }

    public long numParams() { return numParams; }

    /** The parameter table in block order. */
    public List<TensorInfo> tensors() { return tensors; }

    /**
     * Writes every tensor of the table from HF-named weights (shapes must match exactly). The tied MLM
     * decoder weight has no entry of its own; an extra {@code cls.predictions.decoder.weight} is ignored.
     */
    public void loadWeights(Map<String, Tensor> weights) {
        for (TensorInfo t : tensors) {
            Tensor w = weights.get(t.name());
            if (w == null) throw new IllegalArgumentException("checkpoint lacks tensor '" + t.name() + "'");
            if (!Arrays.equals(w.shape(), t.shape()))
                throw new IllegalArgumentException("tensor '" + t.name() + "' has shape " + Arrays.toString(w.shape())
                        + ", the native model expects " + Arrays.toString(t.shape()));
            write(Buffer.PARAMS, t.offset(), w.data());
        }
    }

    /** All parameters under their HF names (fresh copies). */
    public Map<String, Tensor> weights() {
        float[] all = read(Buffer.PARAMS);
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (TensorInfo t : tensors) {
            float[] d = Arrays.copyOfRange(all, Math.toIntExact(t.offset()), Math.toIntExact(t.offset() + t.numel()));
            out.put(t.name(), new Tensor(t.shape().clone(), d));
        }
        return out;
    }

    /** The parameters as a serving-path model with the given config. */
    public BertModel toBertModel(ModelConfig modelConfig) { return new BertModel(modelConfig, weights()); }

    /** A whole block (for checkpoints: parameters and AdamW moments). */
    public float[] read(Buffer which) {
        float[] out = new float[Math.toIntExact(numParams)];
        read(which, 0, out);
        return out;
    }

    public void read(Buffer which, long offset, float[] dst) {
        ensureOpen();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment seg = a.allocate(JAVA_FLOAT, Math.max(1, dst.length));
            lib.check((int) lib.bufferRead.invokeExact(handle, which.ordinal(), offset, (long) dst.length, seg));
            MemorySegment.copy(seg, JAVA_FLOAT, 0, dst, 0, dst.length);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** Writes floats at an element offset of a block; NaN/Inf are refused ({@link NativeException#NONFINITE}). */
    public void write(Buffer which, long offset, float[] src) {
        ensureOpen();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment seg = a.allocate(JAVA_FLOAT, Math.max(1, src.length));
            MemorySegment.copy(src, 0, seg, JAVA_FLOAT, 0, src.length);
            lib.check((int) lib.bufferWrite.invokeExact(handle, which.ordinal(), offset, (long) src.length, seg));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** BERT-style random init (normal(0, std) weights, zero biases, unit LayerNorm), identical on every backend. */
    public void initParams(long seed, float std) {
        ensureOpen();
        try {
            lib.check((int) lib.initParams.invokeExact(handle, seed, std));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** Throws {@link NativeException} (NONFINITE, naming the tensor) if a block holds NaN/Inf. */
    public void checkFinite(Buffer which) {
        ensureOpen();
        try {
            lib.check((int) lib.checkFinite.invokeExact(handle, which.ordinal(), MemorySegment.NULL));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** Forward pass; returns the mean loss (0 without labels). */
    public float forward(Batch batch, long seed, long step, boolean training) {
        return forward(batch, seed, step, training, null);
    }

    /**
     * Forward pass that also returns the logits (MLM: [labelled tokens, vocab]; classification: [seqs, labels];
     * regression: [seqs]; no head: final hidden states [tokens, hidden]) in {@code logitsOut[0]}.
     */
    public float forward(Batch batch, long seed, long step, boolean training, float[][] logitsOut) {
        ensureOpen();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment b = batchSegment(a, batch);
            MemorySegment logits = MemorySegment.NULL;
            long n = 0;
            if (logitsOut != null) {
                MemorySegment cnt = a.allocate(JAVA_LONG);
                lib.check((int) lib.logitsCount.invokeExact(handle, b, cnt));
                n = cnt.get(JAVA_LONG, 0);
                logits = a.allocate(JAVA_FLOAT, Math.max(1, n));
            }
            MemorySegment loss = a.allocate(JAVA_FLOAT);
            lib.check((int) lib.forward.invokeExact(handle, b, loss, logits, seed, step, training ? 1 : 0));
            if (logitsOut != null) {
                float[] l = new float[Math.toIntExact(n)];
                MemorySegment.copy(logits, JAVA_FLOAT, 0, l, 0, l.length);
                logitsOut[0] = l;
            }
            return loss.get(JAVA_FLOAT, 0);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** Backward of the last training forward; gradients accumulate, scaled by lossScale. */
    public void backward(float lossScale) {
        ensureOpen();
        try {
            lib.check((int) lib.backward.invokeExact(handle, lossScale));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    public void zeroGrad() {
        ensureOpen();
        try {
            lib.check((int) lib.zeroGrad.invokeExact(handle));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** Returns the global gradient norm, clipping to maxNorm when maxNorm > 0 (torch semantics). */
    public float clipGradNorm(float maxNorm) {
        ensureOpen();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment norm = a.allocate(JAVA_FLOAT);
            lib.check((int) lib.clipGradNorm.invokeExact(handle, maxNorm, norm));
            return norm.get(JAVA_FLOAT, 0);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** Composer's DecoupledAdamW step (see tessera.h): p *= 1 - wd·lr/initialLr, then Adam with bias correction. */
    public void adamwStep(float lr, float initialLr, float beta1, float beta2, float eps, float weightDecay, long step) {
        ensureOpen();
        try {
            lib.check((int) lib.adamwStep.invokeExact(handle, lr, initialLr, beta1, beta2, eps, weightDecay, step));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /**
     * Per-tensor learning-rate multipliers for {@link #adamwStep} (tsr_set_lr_scales), one per entry of
     * {@link #tensors()} in that order, each finite and >= 0; {@code null} removes them (every tensor at 1). Tensor i
     * then takes the Adam update at lr·scales[i]; its decoupled weight decay keeps the factor 1 - wd·lr/initialLr
     * (Composer's per-group rule, where the scale cancels). The scales are optimizer settings, not model state:
     * checkpoints do not hold them.
     */
    public void setLrScales(float[] scales) {
        ensureOpen();
        if (scales != null && scales.length != tensors.size())
            throw new IllegalArgumentException("need one learning-rate scale per tensor (" + tensors.size() + "), got " + scales.length);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment seg = scales == null ? MemorySegment.NULL : a.allocateFrom(JAVA_FLOAT, scales);
            lib.check((int) lib.setLrScales.invokeExact(handle, seg));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /**
     * Sets the precision of the matrix products. On the CPU, BF16 runs on AVX512-BF16 when the CPU has it
     * ({@link NativeLibrary#cpuBf16()}) and computes in fp32 otherwise; the CUDA backend's products are
     * always bf16 (FP32 there is an error).
     */
    public void setPrecision(Precision p) {
        ensureOpen();
        try {
            lib.check((int) lib.setPrecision.invokeExact(handle, p.ordinal()));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    public Precision precision() {
        ensureOpen();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(JAVA_INT);
            lib.check((int) lib.getPrecision.invokeExact(handle, out));
            return Precision.values()[out.get(JAVA_INT, 0)];
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** Validates a batch against the budget and ranges without running the model. */
    public void validate(Batch batch) {
        ensureOpen();
        try (Arena a = Arena.ofConfined()) {
            lib.check((int) lib.validateBatch.invokeExact(handle, batchSegment(a, batch)));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    private static MemorySegment ints(Arena a, int[] v) {
        return v == null ? MemorySegment.NULL : a.allocateFrom(JAVA_INT, v);
    }

    private MemorySegment batchSegment(Arena a, Batch b) {
        if (b.numSequences() < 1) throw new IllegalArgumentException("a batch needs at least one sequence");
        if (b.distillation() != null && b.distillation().softTargets().length != (long) b.numSequences() * config.numLabels()) {
            throw new IllegalArgumentException("soft targets: " + b.distillation().softTargets().length + " entries for "
                    + b.numSequences() + " sequences of " + config.numLabels() + " labels");
        }
        MemorySegment s = a.allocate(BATCH);
        s.set(JAVA_INT, 0, b.numTokens());
        s.set(JAVA_INT, 4, b.numSequences());
        s.set(JAVA_INT, 8, 0); // max_seqlen: computed by the library (it checks cu_seqlens itself)
        s.set(JAVA_INT, 12, 0);
        s.set(ADDRESS, 16, ints(a, b.inputIds()));
        s.set(ADDRESS, 24, ints(a, b.tokenTypeIds()));
        s.set(ADDRESS, 32, ints(a, b.cuSeqlens()));
        s.set(ADDRESS, 40, ints(a, b.mlmLabels()));
        s.set(ADDRESS, 48, ints(a, b.classLabels()));
        s.set(ADDRESS, 56, b.targets() == null ? MemorySegment.NULL : a.allocateFrom(JAVA_FLOAT, b.targets()));
        Batch.Distillation d = b.distillation();
        s.set(ADDRESS, 64, d == null ? MemorySegment.NULL : a.allocateFrom(JAVA_FLOAT, d.softTargets()));
        s.set(JAVA_FLOAT, 72, d == null ? 0f : d.alpha());
        s.set(JAVA_FLOAT, 76, d == null ? 0f : d.temperature());
        return s;
    }

    /** The native handle, for the data-parallel calls of {@link NativeDist}. */
    MemorySegment handle() {
        ensureOpen();
        return handle;
    }

    private void ensureOpen() {
        if (closed) throw new IllegalStateException("native model is closed");
    }

    private static void destroy(NativeLibrary lib, MemorySegment h) {
        try {
            lib.modelDestroy.invokeExact(h);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            destroy(lib, handle);
        }
    }
}

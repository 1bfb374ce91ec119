package dev.tessera.train;

import java.math.BigDecimal;
import java.math.MathContext;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Layer-wise learning-rate decay (recipe key {@code optimizer.layer_decay}), the ELECTRA / BEiT convention: with L
 * encoder layers, the task head (pooler, classifier, MLM head {@code cls.*}) learns at the scheduled rate, encoder
 * layer i (0-based) at decay^(L-i) of it, the embeddings at decay^(L+1). Tensors are assigned by their Hugging Face
 * names (the native parameter table's), so the word embeddings that an MLM decoder shares count as embeddings.
 */
public final class LayerDecay {
    private LayerDecay() {}

    private static final Pattern LAYER = Pattern.compile("bert\\.encoder\\.layer\\.(\\d+)\\..+");
    private static final List<String> HEAD_PREFIXES = List.of("bert.pooler.", "classifier.", "cls.");

    /**
     * The learning-rate multiplier of each tensor, in the order of {@code tensorNames}.
     *
     * @param numLayers the model's encoder layers (L)
     * @param decay     in (0, 1]; 1 gives every tensor 1
     * @throws IllegalArgumentException for a name outside the embeddings, the encoder's L layers and the head
     */
    public static float[] scales(List<String> tensorNames, int numLayers, double decay) {
        if (!(decay > 0 && decay <= 1)) throw new IllegalArgumentException("layer decay must be in (0, 1], got " + decay);
        float[] out = new float[tensorNames.size()];
        for (int t = 0; t < out.length; t++) out[t] = (float) Math.pow(decay, depth(tensorNames.get(t), numLayers));
        return out;
    }

    /** How many decay factors a tensor's rate takes: 0 for the head, L - i for layer i, L + 1 for the embeddings. */
    static int depth(String name, int numLayers) {
        if (name.startsWith("bert.embeddings.")) return numLayers + 1;
        Matcher m = LAYER.matcher(name);
        if (m.matches()) {
            int i = Integer.parseInt(m.group(1));
            if (i >= numLayers) throw new IllegalArgumentException("tensor '" + name + "' is past the model's " + numLayers + " layers");
            return numLayers - i;
        }
        for (String p : HEAD_PREFIXES) if (name.startsWith(p)) return 0;
        throw new IllegalArgumentException("tensor '" + name + "' is neither embeddings, encoder layer nor head: no layer-decay group");
    }

    /**
     * One line for the training log: the multiplier each group of tensors was given ({@code scales} as returned by
     * {@link #scales} for the same names), e.g. {@code lr x 0.59 embeddings, 0.656 layer 0, ..., 1 head}.
     */
    public static String describe(List<String> tensorNames, float[] scales, int numLayers, double decay) {
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "layer-wise lr decay %s:", decay));
        String last = null;
        for (int t = 0; t < scales.length; t++) {
            int d = depth(tensorNames.get(t), numLayers);
            String group = d == 0 ? "head" : d == numLayers + 1 ? "embeddings" : "layer " + (numLayers - d);
            if (group.equals(last)) continue;
            sb.append(last == null ? " lr x " : ", ").append(short4(scales[t])).append(' ').append(group);
            last = group;
        }
        return sb.toString();
    }

    /** 4 significant digits without trailing zeros (0.125, 0.512, 1). */
    private static String short4(float v) {
        return new BigDecimal(v).round(new MathContext(4)).stripTrailingZeros().toPlainString();
    }
}

package dev.tessera.hf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.model.BertModel;
import dev.tessera.model.ClassifierPooling;
import dev.tessera.model.Head;
import dev.tessera.model.ModelConfig;
import dev.tessera.model.Tensor;
import dev.tessera.model.Variant;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A checkpoint directory in the Hugging Face layout: {@code config.json} plus {@code model.safetensors},
 * a sharded {@code model.safetensors.index.json}, or {@code pytorch_model.bin} (optionally sharded).
 * The variant (MosaicBERT or BERT) and the head are decided by the weights, not by {@code model_type}.
 */
public final class HfCheckpoint {
    private static final ObjectMapper JSON = new ObjectMapper();

    private HfCheckpoint() {}

    /** Loads config and weights, canonicalises tensor names and checks every required tensor's shape. */
    public static BertModel load(Path dir) {
        if (!Files.isDirectory(dir)) throw new CheckpointFormatException("checkpoint directory " + dir + " does not exist");
        Path configJson = dir.resolve(CheckpointFiles.CONFIG);
        JsonNode cfg = readJson(configJson);
        Map<String, Tensor> canonical = canonicalNames(readWeights(dir));
        ModelConfig config = configFrom(cfg, canonical, configJson);
        return new BertModel(config, WeightSpec.select(config, canonical));
    }

    /**
     * What config.json alone says. Variant and head are guessed from the config ({@code alibi_starting_size} or a
     * MosaicBERT {@code auto_map}; {@code architectures}); {@link #load} decides them from the weights instead.
     */
    public static ModelConfig readConfig(Path configJson) {
        JsonNode cfg = readJson(configJson);
        boolean mosaic = cfg.has("alibi_starting_size") || cfg.path("auto_map").toString().contains("bert_layers");
        String arch = cfg.path("architectures").path(0).asText("");
        Head head = arch.endsWith("ForMaskedLM") || arch.endsWith("ForPreTraining") ? Head.MLM
                : arch.endsWith("ForSequenceClassification") ? Head.CLASSIFICATION : Head.NONE;
        List<String> labels = head == Head.CLASSIFICATION ? labelsFrom(cfg, -1, configJson) : List.of();
        if (head == Head.CLASSIFICATION && isRegression(cfg, labels.size())) head = Head.REGRESSION;
        return build(cfg, configJson, mosaic ? Variant.MOSAIC_BERT : Variant.BERT, head, labels);
    }

    // ------------------------------------------------------------------------------------------ weights

    /** Weights by stored name, from whichever file layout the directory has. */
    static Map<String, Tensor> readWeights(Path dir) {
        Path st = dir.resolve(CheckpointFiles.SAFETENSORS);
        Path stIndex = dir.resolve(CheckpointFiles.SAFETENSORS_INDEX);
        Path bin = dir.resolve(CheckpointFiles.PYTORCH);
        Path binIndex = dir.resolve(CheckpointFiles.PYTORCH_INDEX);
        if (Files.isRegularFile(st)) return SafetensorsReader.read(st);
        if (Files.isRegularFile(stIndex)) return SafetensorsReader.readSharded(stIndex);
        if (Files.isRegularFile(bin)) return TorchCheckpointReader.read(bin);
        if (Files.isRegularFile(binIndex)) return TorchCheckpointReader.readSharded(binIndex);
        throw new CheckpointFormatException("no weights in " + dir + ": expected " + String.join(", ",
                CheckpointFiles.WEIGHTS.subList(0, CheckpointFiles.WEIGHTS.size() - 1)) + " or " + CheckpointFiles.PYTORCH_INDEX);
    }

    /**
     * Canonical names: a Composer {@code model.} prefix is stripped; a bare encoder (sentence-transformers style:
     * {@code embeddings.*}, {@code encoder.*}, {@code pooler.*}) gets the {@code bert.} prefix.
     */
    static Map<String, Tensor> canonicalNames(Map<String, Tensor> stored) {
        Map<String, Tensor> out = new TreeMap<>();
        for (var e : stored.entrySet()) {
            String n = e.getKey();
            if (n.startsWith("model.")) n = n.substring("model.".length());
            if (n.startsWith("embeddings.") || n.startsWith("encoder.") || n.startsWith("pooler.")) n = "bert." + n;
            // checkpoints converted from TensorFlow (e.g. bert-base-uncased) name LayerNorm parameters gamma/beta
            if (n.endsWith("LayerNorm.gamma")) n = n.substring(0, n.length() - "gamma".length()) + "weight";
            if (n.endsWith("LayerNorm.beta")) n = n.substring(0, n.length() - "beta".length()) + "bias";
            if (out.put(n, e.getValue()) != null) {
                throw new CheckpointFormatException("two stored tensors map to the same name '" + n + "'");
            }
        }
        // HF BERT's MLM bias is cls.predictions.bias, tied to cls.predictions.decoder.bias; either may be stored
        Tensor bias = out.remove("cls.predictions.bias");
        if (bias != null) out.putIfAbsent("cls.predictions.decoder.bias", bias);
        return out;
    }

    // ------------------------------------------------------------------------------------------ config

    private static ModelConfig configFrom(JsonNode cfg, Map<String, Tensor> w, Path configJson) {
        Variant variant;
        if (w.containsKey("bert.encoder.layer.0.attention.self.Wqkv.weight")
                || w.containsKey("bert.encoder.layer.0.mlp.gated_layers.weight")) {
            variant = Variant.MOSAIC_BERT;
        } else if (w.containsKey("bert.encoder.layer.0.attention.self.query.weight")) {
            variant = Variant.BERT;
        } else {
            throw new CheckpointFormatException("cannot tell the architecture: the weights have neither "
                    + "bert.encoder.layer.0.attention.self.Wqkv.weight (MosaicBERT) nor "
                    + "bert.encoder.layer.0.attention.self.query.weight (BERT); found e.g. "
                    + w.keySet().stream().limit(5).toList());
        }
        Head head;
        List<String> labels = List.of();
        Tensor classifier = w.get("classifier.weight");
        if (classifier != null) {
            if (classifier.rank() != 2) {
                throw new CheckpointFormatException("tensor 'classifier.weight' has shape "
                        + Arrays.toString(classifier.shape()) + ", expected [num_labels, hidden_size]");
            }
            int n = classifier.dim(0);
            labels = labelsFrom(cfg, n, configJson);
            head = isRegression(cfg, n) ? Head.REGRESSION : Head.CLASSIFICATION;
        } else if (w.containsKey("cls.predictions.transform.dense.weight")) {
            head = Head.MLM;
        } else {
            head = Head.NONE;
        }
        return build(cfg, configJson, variant, head, labels);
    }

    private static boolean isRegression(JsonNode cfg, int numLabels) {
        return numLabels == 1 || "regression".equals(cfg.path("problem_type").asText(null));
    }

    /**
     * Labels in id order from {@code id2label}; else {@code num_labels} (or the classifier's rows) as LABEL_i.
     * {@code rows} is the classifier's output count, or -1 when unknown.
     */
    private static List<String> labelsFrom(JsonNode cfg, int rows, Path configJson) {
        JsonNode id2label = cfg.get("id2label");
        if (id2label != null && id2label.isObject() && !id2label.isEmpty()) {
            Map<Integer, String> byId = new TreeMap<>();
            id2label.fields().forEachRemaining(e -> {
                try {
                    byId.put(Integer.parseInt(e.getKey()), e.getValue().asText());
                } catch (NumberFormatException ex) {
                    throw new CheckpointFormatException(configJson + ": id2label key '" + e.getKey() + "' is not an integer");
                }
            });
            List<String> out = new ArrayList<>(byId.values());
            for (int i = 0; i < out.size(); i++) {
                if (!byId.containsKey(i)) {
                    throw new CheckpointFormatException(configJson + ": id2label ids must be 0.." + (out.size() - 1)
                            + ", got " + byId.keySet());
                }
            }
            if (rows >= 0 && out.size() != rows) {
                throw new CheckpointFormatException(configJson + ": id2label has " + out.size()
                        + " labels but tensor 'classifier.weight' has " + rows + " rows");
            }
            return out;
        }
        int n = rows >= 0 ? rows : cfg.path("num_labels").asInt(2);
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n; i++) out.add("LABEL_" + i);
        return out;
    }

    private static ModelConfig build(JsonNode cfg, Path configJson, Variant variant, Head head, List<String> labels) {
        int maxPos = variant == Variant.MOSAIC_BERT
                ? cfg.path("alibi_starting_size").asInt(cfg.path("max_position_embeddings").asInt(512))
                : cfg.path("max_position_embeddings").asInt(512);
        String problemType = cfg.hasNonNull("problem_type") ? cfg.get("problem_type").asText()
                : head == Head.REGRESSION ? "regression" : null;
        try {
            return new ModelConfig(variant, head,
                    requiredInt(cfg, "vocab_size", configJson),
                    requiredInt(cfg, "hidden_size", configJson),
                    requiredInt(cfg, "num_hidden_layers", configJson),
                    requiredInt(cfg, "num_attention_heads", configJson),
                    requiredInt(cfg, "intermediate_size", configJson),
                    cfg.path("type_vocab_size").asInt(2),
                    maxPos,
                    cfg.path("layer_norm_eps").asDouble(1e-12),
                    cfg.path("pad_token_id").asInt(0),
                    labels, problemType,
                    cfg.path("hidden_act").asText("gelu"),
                    classifierPooling(cfg, configJson));
        } catch (CheckpointFormatException e) {
            throw e;
        } catch (IllegalArgumentException e) {
            throw new CheckpointFormatException(configJson + ": " + e.getMessage(), e);
        }
    }

    /** {@code classifier_pooling} ("cls" or "mean", ModernBERT's key); absent or null: cls, BERT's pooler. */
    private static ClassifierPooling classifierPooling(JsonNode cfg, Path configJson) {
        JsonNode n = cfg.get("classifier_pooling");
        if (n == null || n.isNull()) return ClassifierPooling.CLS;
        try {
            if (!n.isTextual()) throw new IllegalArgumentException("not a string");
            return ClassifierPooling.parse(n.asText());
        } catch (IllegalArgumentException e) {
            throw new CheckpointFormatException(configJson + ": classifier_pooling must be \"cls\" or \"mean\", got " + n);
        }
    }

    private static int requiredInt(JsonNode cfg, String field, Path configJson) {
        JsonNode n = cfg.get(field);
        if (n == null || !n.canConvertToInt() || n.asInt() <= 0) {
            throw new CheckpointFormatException(configJson + " lacks a positive integer " + field
                    + (n == null ? "" : " (got " + n + ")"));
        }
        return n.asInt();
    }

    private static JsonNode readJson(Path file) {
        if (!Files.isRegularFile(file)) throw new CheckpointFormatException("no " + file.getFileName() + " in " + file.getParent());
        try {
            JsonNode n = JSON.readTree(file.toFile());
            if (n == null || !n.isObject()) throw new CheckpointFormatException(file + " is not a JSON object");
            return n;
        } catch (IOException e) {
            throw new CheckpointFormatException("cannot parse " + file + ": " + e.getMessage(), e);
        }
    }

    // ------------------------------------------------------------------------------------------ save

    /**
     * Writes {@code config.json} and {@code model.safetensors} (F32) into {@code dir}, each atomically.
     * A tied MLM decoder weight is not written (Hugging Face re-ties it on load).
     */
    public static void save(BertModel model, Path dir) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot create " + dir, e);
        }
        Map<String, Tensor> weights = new LinkedHashMap<>(model.weights());
        Tensor dec = weights.get("cls.predictions.decoder.weight");
        if (dec != null && dec.data() == model.weight("bert.embeddings.word_embeddings.weight").data()) {
            weights.remove("cls.predictions.decoder.weight");
        }
        SafetensorsWriter.write(dir.resolve(CheckpointFiles.SAFETENSORS), weights, Map.of("format", "pt"));
        ConfigWriter.write(model.config(), dir.resolve(CheckpointFiles.CONFIG));
    }
}

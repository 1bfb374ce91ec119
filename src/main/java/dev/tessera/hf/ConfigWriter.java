package dev.tessera.hf;

import dev.tessera.io.AtomicFiles;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tessera.model.ClassifierPooling;
import dev.tessera.model.Head;
import dev.tessera.model.ModelConfig;
import dev.tessera.model.Variant;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/** Writes a Hugging Face {@code config.json} for a {@link ModelConfig}. */
public final class ConfigWriter {
    private ConfigWriter() {}

    public static ObjectNode toJson(ModelConfig c) {
        ObjectMapper json = new ObjectMapper();
        ObjectNode n = json.createObjectNode();
        boolean mosaic = c.variant() == Variant.MOSAIC_BERT;
        String arch = switch (c.head()) {
            case CLASSIFICATION, REGRESSION -> "BertForSequenceClassification";
            case MLM -> "BertForMaskedLM";
            case NONE -> "BertModel";
        };
        n.putArray("architectures").add(arch);
        if (mosaic) {
            // MosaicBERT runs as remote code in transformers: point at the reference implementation
            ObjectNode m = n.putObject("auto_map");
            m.put("AutoConfig", "mosaicml/mosaic-bert-base--configuration_bert.BertConfig");
            m.put("AutoModelForMaskedLM", "mosaicml/mosaic-bert-base--bert_layers.BertForMaskedLM");
            m.put("AutoModelForSequenceClassification",
                    "mosaicml/mosaic-bert-base--bert_layers.BertForSequenceClassification");
            n.put("alibi_starting_size", c.maxPositionEmbeddings());
        } else {
            n.put("max_position_embeddings", c.maxPositionEmbeddings());
            n.put("position_embedding_type", "absolute");
        }
        n.put("model_type", "bert");
        n.put("vocab_size", c.vocabSize());
        n.put("hidden_size", c.hiddenSize());
        n.put("num_hidden_layers", c.numLayers());
        n.put("num_attention_heads", c.numHeads());
        n.put("intermediate_size", c.intermediateSize());
        n.put("type_vocab_size", c.typeVocabSize());
        n.put("layer_norm_eps", c.layerNormEps());
        n.put("pad_token_id", c.padTokenId());
        n.put("hidden_act", c.hiddenAct());
        n.put("attention_probs_dropout_prob", 0.0);
        n.put("hidden_dropout_prob", 0.1);
        n.put("torch_dtype", "float32");
        if (c.head() == Head.CLASSIFICATION || c.head() == Head.REGRESSION) {
            ObjectNode id2label = n.putObject("id2label"), label2id = n.putObject("label2id");
            for (int i = 0; i < c.numLabels(); i++) {
                id2label.put(Integer.toString(i), c.labels().get(i));
                label2id.put(c.labels().get(i), i);
            }
            n.put("num_labels", c.numLabels());
            if (c.problemType() != null) n.put("problem_type", c.problemType());
        }
        // only when it differs from BERT's pooler, so a [CLS] checkpoint's config.json is what it always was
        if (c.classifierPooling() != ClassifierPooling.CLS) n.put("classifier_pooling", c.classifierPooling().id());
        return n;
    }

    public static void write(ModelConfig c, Path file) {
        try {
            String text = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(toJson(c));
            AtomicFiles.writeString(file, text + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

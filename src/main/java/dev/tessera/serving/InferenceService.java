package dev.tessera.serving;

import dev.tessera.model.Head;
import dev.tessera.tokenize.Encoding;
import dev.tessera.tokenize.TextTokenizer;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** Tokenize, check limits, hand to the batcher, turn raw outputs into scores. Shared by every route. */
@ApplicationScoped
public class InferenceService {

    public record LabelScore(String label, float score) {}

    private final ServingConfig config;

    public InferenceService(ServingConfig config) {
        this.config = config;
    }

    /** Per input, its labels sorted by descending score (softmax unless raw; regression: the raw value). */
    public List<List<LabelScore>> predict(ServedModel model, List<TextInput> inputs, boolean truncate, boolean rawScores) {
        Head head = model.config().head();
        if (head != Head.CLASSIFICATION && head != Head.REGRESSION) {
            throw new ServingException.Unsupported("model '" + model.name() + "' has no classification or regression head ("
                    + head.name().toLowerCase() + "); use /embed or a finetuned model");
        }
        List<float[]> outputs = run(model, inputs, truncate, Output.LOGITS);
        List<String> labels = model.config().labels();
        List<List<LabelScore>> result = new ArrayList<>(outputs.size());
        for (float[] logits : outputs) {
            float[] scores = (rawScores || head == Head.REGRESSION) ? logits : softmax(logits);
            List<LabelScore> row = new ArrayList<>(scores.length);
            for (int i = 0; i < scores.length; i++) row.add(new LabelScore(labels.get(i), scores[i]));
            row.sort(Comparator.comparingDouble(LabelScore::score).reversed());
            result.add(row);
        }
        return result;
    }

    /** Mean-pooled sentence embeddings, L2-normalised when asked (TEI's default). */
    public List<float[]> embed(ServedModel model, List<TextInput> inputs, boolean truncate, boolean normalize) {
        List<float[]> outputs = run(model, inputs, truncate, Output.EMBEDDING);
        if (normalize) {
            for (float[] v : outputs) {
                double norm = 0;
                for (float x : v) norm += x * x;
                float inv = (float) (1.0 / Math.max(Math.sqrt(norm), 1e-12));
                for (int i = 0; i < v.length; i++) v[i] *= inv;
            }
        }
        return outputs;
    }

    public List<Encoding> tokenize(ServedModel model, List<TextInput> inputs) {
        checkBatchSize(inputs);
        List<Encoding> out = new ArrayList<>(inputs.size());
        for (TextInput in : inputs) out.add(encode(model.tokenizer(), in));
        return out;
    }

    private List<float[]> run(ServedModel model, List<TextInput> inputs, boolean truncate, Output output) {
        checkBatchSize(inputs);
        List<long[]> ids = new ArrayList<>(inputs.size());
        List<long[]> types = new ArrayList<>(inputs.size());
        int limit = model.maxInputLength();
        for (int i = 0; i < inputs.size(); i++) {
            Encoding enc = encode(model.tokenizer(), inputs.get(i));
            if (enc.ids().length > limit) {
                if (!truncate) {
                    throw new ServingException.TooLarge("input " + i + " has " + enc.ids().length + " tokens, more than max_input_length "
                            + limit + " of model '" + model.name() + "'; send \"truncate\": true to cut it");
                }
                enc = TextTokenizer.truncate(enc, limit);
            }
            ids.add(enc.ids());
            types.add(enc.typeIds());
        }
        List<CompletableFuture<float[]>> futures = model.batcher().submit(ids, types, output);
        long deadline = System.nanoTime() + config.serving().requestTimeout().toNanos();
        List<float[]> results = new ArrayList<>(futures.size());
        try {
            for (CompletableFuture<float[]> f : futures) {
                results.add(f.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS));
            }
        } catch (TimeoutException e) {
            throw new ServingException.TimedOut(config.serving().requestTimeout());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ServingException.ShuttingDown(model.name());
        } catch (ExecutionException e) {
            if (e.getCause() instanceof ServingException.ShuttingDown s) throw s; // closed before it ran this request
            throw new IllegalStateException("inference failed: " + e.getCause().getMessage(), e.getCause());
        }
        return results;
    }

    private void checkBatchSize(List<TextInput> inputs) {
        int max = config.serving().maxClientBatchSize();
        if (inputs.size() > max) {
            throw new ServingException.TooLarge("batch of " + inputs.size() + " inputs is larger than max_client_batch_size " + max);
        }
    }

    private static Encoding encode(TextTokenizer tokenizer, TextInput in) {
        return in.isPair() ? tokenizer.encode(in.first(), in.second()) : tokenizer.encode(in.first());
    }

    static float[] softmax(float[] logits) {
        float max = Float.NEGATIVE_INFINITY;
        for (float v : logits) max = Math.max(max, v);
        double sum = 0;
        float[] out = new float[logits.length];
        for (int i = 0; i < logits.length; i++) {
            out[i] = (float) Math.exp(logits[i] - max);
            sum += out[i];
        }
        for (int i = 0; i < out.length; i++) out[i] /= (float) sum;
        return out;
    }
}

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
        List<float[]> outputs = infer(model, encode(model, inputs, truncate), Output.LOGITS);
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
        return embedWithUsage(model, inputs, truncate, normalize).vectors();
    }

    /** Embeddings and the tokens they cost (OpenAI's {@code usage}). */
    public record Embeddings(List<float[]> vectors, int tokens) {}

    public Embeddings embedWithUsage(ServedModel model, List<TextInput> inputs, boolean truncate, boolean normalize) {
        return embedEncoded(model, encode(model, inputs, truncate), normalize);
    }

    /** Embeddings of sequences given as token ids of the model's vocabulary, used as they are (no special tokens added). */
    public Embeddings embedTokenIds(ServedModel model, List<long[]> ids, boolean normalize) {
        checkBatchSize(ids.size());
        int vocab = model.config().vocabSize();
        List<long[]> types = new ArrayList<>(ids.size());
        for (int i = 0; i < ids.size(); i++) {
            long[] seq = ids.get(i);
            if (seq.length == 0) throw new ServingException.Unsupported("input " + i + " has no tokens");
            checkLength(model, i, seq.length, false, "");
            for (long id : seq) {
                if (id < 0 || id >= vocab) {
                    throw new ServingException.Unsupported("input " + i + " has token id " + id + ", outside the vocabulary of model '"
                            + model.name() + "' (0.." + (vocab - 1) + ")");
                }
            }
            types.add(new long[seq.length]);
        }
        return embedEncoded(model, new Encoded(ids, types), normalize);
    }

    private Embeddings embedEncoded(ServedModel model, Encoded enc, boolean normalize) {
        List<float[]> outputs = infer(model, enc, Output.EMBEDDING);
        if (normalize) for (float[] v : outputs) normalize(v);
        return new Embeddings(outputs, enc.tokens());
    }

    /** Per input, each token's last hidden state ({@code [length][hidden]}), special tokens included (TEI /embed_all). */
    public List<float[][]> embedAll(ServedModel model, List<TextInput> inputs, boolean truncate) {
        List<float[]> flat = infer(model, encode(model, inputs, truncate), Output.TOKENS);
        int hidden = model.config().hiddenSize();
        List<float[][]> out = new ArrayList<>(flat.size());
        for (float[] f : flat) {
            float[][] rows = new float[f.length / hidden][];
            for (int t = 0; t < rows.length; t++) rows[t] = java.util.Arrays.copyOfRange(f, t * hidden, (t + 1) * hidden);
            out.add(rows);
        }
        return out;
    }

    /** Cosine similarity of the source sentence to each sentence (TEI /similarity). */
    public float[] similarity(ServedModel model, String source, List<String> sentences, boolean truncate) {
        List<TextInput> all = new ArrayList<>(sentences.size() + 1);
        all.add(TextInput.single(source));
        for (String s : sentences) all.add(TextInput.single(s));
        List<float[]> v = embed(model, all, truncate, true);
        float[] out = new float[sentences.size()];
        for (int i = 0; i < out.length; i++) {
            double dot = 0;
            for (int k = 0; k < v.get(0).length; k++) dot += v.get(0)[k] * v.get(i + 1)[k];
            out[i] = (float) dot;
        }
        return out;
    }

    public record Rank(int index, float score) {}

    /**
     * Scores each text as the second half of a (query, text) pair through the model's pair head, best first
     * (TEI /rerank). One logit (a cross-encoder): sigmoid, or the logit itself when raw; a regression head (e.g.
     * STS-B): its value; two labels: the probability of the second (the positive class by convention: "equivalent",
     * "entailment", "pos"), or its logit when raw.
     */
    public List<Rank> rerank(ServedModel model, String query, List<String> texts, boolean truncate, boolean rawScores) {
        Head head = model.config().head();
        int labels = model.config().labels().size();
        if (!(head == Head.REGRESSION || (head == Head.CLASSIFICATION && labels <= 2))) {
            throw new ServingException.Unsupported("model '" + model.name() + "' cannot rerank: it needs a pair head with one output "
                    + "(a cross-encoder or a regression head) or two labels; it has " + (head == Head.CLASSIFICATION
                    ? labels + " labels" : "a " + head.name().toLowerCase() + " head"));
        }
        List<TextInput> pairs = new ArrayList<>(texts.size());
        for (String t : texts) pairs.add(new TextInput(query, t));
        List<float[]> logits = infer(model, encode(model, pairs, truncate), Output.LOGITS);
        List<Rank> out = new ArrayList<>(texts.size());
        for (int i = 0; i < logits.size(); i++) {
            float[] l = logits.get(i);
            float score;
            if (head == Head.REGRESSION) score = l[0];
            else if (l.length == 1) score = rawScores ? l[0] : (float) (1 / (1 + Math.exp(-l[0])));
            else score = rawScores ? l[1] : softmax(l)[1];
            out.add(new Rank(i, score));
        }
        out.sort(Comparator.comparingDouble(Rank::score).reversed());
        return out;
    }

    /** Token ids back to text (TEI /decode). */
    public List<String> decode(ServedModel model, List<long[]> ids, boolean skipSpecialTokens) {
        checkBatchSize(ids.size());
        int vocab = model.config().vocabSize();
        List<String> out = new ArrayList<>(ids.size());
        for (int i = 0; i < ids.size(); i++) {
            for (long id : ids.get(i)) {
                if (id < 0 || id >= vocab) throw new ServingException.Unsupported("ids[" + i + "] has token id " + id
                        + ", outside the vocabulary (0.." + (vocab - 1) + ")");
            }
            out.add(model.tokenizer().decode(ids.get(i), skipSpecialTokens));
        }
        return out;
    }

    public List<Encoding> tokenize(ServedModel model, List<TextInput> inputs) {
        checkBatchSize(inputs.size());
        List<Encoding> out = new ArrayList<>(inputs.size());
        for (TextInput in : inputs) out.add(encode(model.tokenizer(), in));
        return out;
    }

    /** Token ids and type ids of each sequence of a request. */
    private record Encoded(List<long[]> ids, List<long[]> types) {
        int tokens() { return ids.stream().mapToInt(a -> a.length).sum(); }
    }

    private Encoded encode(ServedModel model, List<TextInput> inputs, boolean truncate) {
        checkBatchSize(inputs.size());
        List<long[]> ids = new ArrayList<>(inputs.size());
        List<long[]> types = new ArrayList<>(inputs.size());
        for (int i = 0; i < inputs.size(); i++) {
            TextInput in = bounded(model, i, inputs.get(i), truncate);
            Encoding enc = encode(model.tokenizer(), in);
            if (checkLength(model, i, enc.ids().length, truncate, "; send \"truncate\": true to cut it")) enc = TextTokenizer.truncate(enc, model.maxInputLength());
            ids.add(enc.ids());
            types.add(enc.typeIds());
        }
        return new Encoded(ids, types);
    }

    /**
     * Before tokenizing: an input that has more words than the model's limit is refused at once when it may not be cut,
     * and a single text that may be cut is cut to a prefix that still holds every token the model will see.
     */
    private static TextInput bounded(ServedModel model, int i, TextInput in, boolean truncate) {
        int limit = model.maxInputLength();
        int words = TextBounds.minTokens(in.first(), limit + 1) + (in.isPair() ? TextBounds.minTokens(in.second(), limit + 1) : 0);
        if (words <= limit) return in;
        if (!truncate) {
            throw new ServingException.TooLarge("input " + i + " is longer than max_input_length " + limit + " tokens of model '"
                    + model.name() + "' (" + words + "+ words); send \"truncate\": true to cut it");
        }
        return in.isPair() ? in : TextInput.single(TextBounds.prefixWithRuns(in.first(), limit + 1));
    }

    /** True when the input must be cut (truncate asked); TooLarge when it is too long and may not be cut. */
    private static boolean checkLength(ServedModel model, int i, int length, boolean truncate, String hint) {
        int limit = model.maxInputLength();
        if (length <= limit) return false;
        if (truncate) return true;
        throw new ServingException.TooLarge("input " + i + " has " + length + " tokens, more than max_input_length "
                + limit + " of model '" + model.name() + "'" + hint);
    }

    private List<float[]> infer(ServedModel model, Encoded enc, Output output) {
        List<CompletableFuture<float[]>> futures = model.batcher().submit(enc.ids(), enc.types(), output);
        // (engine failures are logged and counted by the batcher, which keeps serving)
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
            throw switch (e.getCause()) {
                case ServingException s -> s; // e.g. closed before it ran this request
                case OutOfMemoryError o -> new ServingException.Unavailable("model '" + model.name()
                        + "' ran out of memory on this batch; retry shortly, or send fewer or shorter inputs");
                default -> new ServingException.EngineFailed("model '" + model.name() + "' failed on this batch; the server log has the details");
            };
        }
        return results;
    }

    private void checkBatchSize(int inputs) {
        int max = config.serving().maxClientBatchSize();
        if (inputs > max) {
            throw new ServingException.TooLarge("batch of " + inputs + " inputs is larger than max_client_batch_size " + max);
        }
    }

    /** Scales {@code v} to unit L2 norm in place (a zero vector stays zero). */
    public static void normalize(float[] v) {
        double norm = 0;
        for (float x : v) norm += x * x;
        float inv = (float) (1.0 / Math.max(Math.sqrt(norm), 1e-12));
        for (int i = 0; i < v.length; i++) v[i] *= inv;
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

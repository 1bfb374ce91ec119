package dev.tessera.serving;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.model.Variant;
import dev.tessera.serving.heads.LabelHead;
import dev.tessera.serving.heads.LabelScore;
import dev.tessera.serving.heads.MaskedLm;
import dev.tessera.serving.heads.Pooling;
import dev.tessera.tokenize.Encoding;
import dev.tessera.tokenize.TextTokenizer;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Scope;
import jakarta.enterprise.context.ApplicationScoped;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BiFunction;

/**
 * Tokenize, check limits, hand to the batcher, and let the model's head turn the engine's rows into answers
 * ({@link dev.tessera.serving.heads}). Shared by every route, HTTP and gRPC.
 * Each request gets child spans: {@code tessera.tokenize}, {@code tessera.queue} (waiting for an engine run) and
 * {@code tessera.engine} (the run, with model, dialect, batch size and tokens as attributes).
 */
@ApplicationScoped
public class InferenceService {

    /** Embeddings and the tokens they cost (OpenAI's {@code usage}). */
    public record Embeddings(List<float[]> vectors, int tokens) {}

    public record Rank(int index, float score) {}

    /**
     * Wall-clock epoch nanoseconds minus {@link System#nanoTime()}, read now: our spans are timed with nanoTime and
     * exported in epoch time. Read per request, not once, so that the wall clock's drift (NTP slews it by up to
     * 0.5 ms a second) does not shift our spans against the request span the SDK anchors when the request starts.
     */
    private static long epochOffsetNanos() {
        Instant now = Instant.now();
        return now.getEpochSecond() * 1_000_000_000L + now.getNano() - System.nanoTime();
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    private final ServingConfig config;
    private final Tracer tracer;

    public InferenceService(ServingConfig config, Tracer tracer) {
        this.config = config;
        this.tracer = tracer;
    }

    /** Per input, its labels sorted by descending score, as the model's classifier or regressor scores them. */
    public List<List<LabelScore>> predict(ServedModel model, List<TextInput> inputs, Truncation truncation, boolean rawScores,
                                          RequestStats stats) {
        LabelHead head = model.head().forPredict(model.name());
        List<float[]> outputs = infer(model, encode(model, inputs, truncation, false, stats), Output.LOGITS, stats);
        List<List<LabelScore>> result = new ArrayList<>(outputs.size());
        for (float[] logits : outputs) result.add(head.predict(logits, rawScores));
        return result;
    }

    /**
     * Mean-pooled sentence embeddings. {@code dimensions} (Matryoshka): the first N components, then L2-normalised
     * when {@code normalize} (TEI's order). {@code windows} (see {@link #windows}): an input longer than max_input_length
     * and not truncated is embedded in overlapping windows instead of being refused.
     */
    public Embeddings embed(ServedModel model, List<TextInput> inputs, Truncation truncation, boolean normalize, Integer dimensions,
                            boolean windows, RequestStats stats) {
        Pooling pooling = model.pooling();
        pooling.checkDimensions(dimensions, model.name());
        Encoded enc = encode(model, inputs, truncation, windows, stats);
        List<float[]> rows = infer(model, enc, Output.EMBEDDING, stats);
        List<float[]> out = enc.perInput(rows, (vectors, ids) -> pooling.sentence(vectors, ids, dimensions, normalize));
        return new Embeddings(out, enc.tokens());
    }

    /**
     * Whether long inputs to this model are read in windows: only a classic BERT (learned positions) needs them, MosaicBERT
     * (ALiBi) never does; {@code requested} ({@code "long_inputs"} of the request: true = windows, false = refuse, null =
     * the server's {@code tessera.serving.long-inputs}) decides for a BERT.
     */
    public boolean windows(ServedModel model, Boolean requested) {
        if (model.config().variant() != Variant.BERT) return false;
        return requested != null ? requested : config.serving().longInputs().equalsIgnoreCase("windows");
    }

    /** Tokens two consecutive windows share for this model: the configured overlap, at most half a window's text. */
    public int windowOverlap(ServedModel model) {
        return Math.max(0, Math.min(config.serving().windowOverlap(), (model.maxInputLength() - 2) / 2));
    }

    /** Per input, each token's last hidden state ({@code [length][hidden]}), special tokens included (TEI /embed_all). */
    public List<float[][]> embedAll(ServedModel model, List<TextInput> inputs, Truncation truncation, RequestStats stats) {
        List<float[]> flat = infer(model, encode(model, inputs, truncation, false, stats), Output.TOKENS, stats);
        List<float[][]> out = new ArrayList<>(flat.size());
        for (float[] f : flat) out.add(model.pooling().tokens(f));
        return out;
    }

    /**
     * SPLADE sparse vectors (TEI /embed_sparse) from the model's MLM head: per vocabulary entry, the max over the
     * input's tokens of {@code log(1 + relu(logit))}; dense {@code [vocab]} rows, zero where no token votes. A long
     * input read in {@code windows} gets the max over every window's tokens (the element-wise max of their vectors).
     */
    public List<float[]> embedSparse(ServedModel model, List<TextInput> inputs, Truncation truncation, boolean windows,
                                     RequestStats stats) {
        MaskedLm head = model.head().forSparse(model.name());
        Encoded enc = encode(model, inputs, truncation, windows, stats);
        List<float[]> rows = infer(model, enc, Output.SPARSE, stats);
        return enc.perInput(rows, (vectors, ids) -> head.sparse(vectors));
    }

    /** Cosine similarity of the source sentence to each sentence (TEI /similarity). */
    public float[] similarity(ServedModel model, String source, List<String> sentences, Truncation truncation, RequestStats stats) {
        List<TextInput> all = new ArrayList<>(sentences.size() + 1);
        all.add(TextInput.single(source));
        for (String s : sentences) all.add(TextInput.single(s));
        List<float[]> v = embed(model, all, truncation, true, null, false, stats).vectors();
        float[] out = new float[sentences.size()];
        for (int i = 0; i < out.length; i++) {
            double dot = 0;
            for (int k = 0; k < v.get(0).length; k++) dot += v.get(0)[k] * v.get(i + 1)[k];
            out[i] = (float) dot;
        }
        return out;
    }

    /**
     * Scores each text as the second half of a (query, text) pair through the model's pair head, best first
     * (TEI /rerank; how each head scores a pair: {@link LabelHead#pairScore}).
     */
    public List<Rank> rerank(ServedModel model, String query, List<String> texts, Truncation truncation, boolean rawScores,
                             RequestStats stats) {
        if (texts.isEmpty()) throw new ServingException.Empty("`texts` cannot be empty"); // TEI checks this first
        LabelHead head = model.head().forRerank(model.name());
        List<TextInput> pairs = new ArrayList<>(texts.size());
        for (String t : texts) pairs.add(TextInput.pair(query, t));
        List<float[]> logits = infer(model, encode(model, pairs, truncation, false, stats), Output.LOGITS, stats);
        List<Rank> out = new ArrayList<>(texts.size());
        for (int i = 0; i < logits.size(); i++) {
            float score = head.pairScore(logits.get(i), rawScores);
            if (Float.isNaN(score)) throw new ServingException.Failed("score is NaN", null);
            out.add(new Rank(i, score));
        }
        out.sort(Comparator.comparingDouble(Rank::score).reversed());
        return out;
    }

    /** Token ids back to text (TEI /decode). */
    public List<String> decode(ServedModel model, List<long[]> ids, boolean skipSpecialTokens) {
        checkBatchSize(ids.size());
        List<String> out = new ArrayList<>(ids.size());
        for (int i = 0; i < ids.size(); i++) {
            if (ids.get(i).length == 0) throw new ServingException.Empty("`ids` cannot be empty (ids[" + i + "])");
            checkVocabulary(model, i, ids.get(i));
            out.add(model.tokenizer().decode(ids.get(i), skipSpecialTokens));
        }
        return out;
    }

    /** Tokens of each text (or pair) as the model sees them, with or without special tokens (TEI /tokenize). */
    public List<Encoding> tokenize(ServedModel model, List<TextInput> inputs, boolean addSpecialTokens) {
        checkBatchSize(inputs.size());
        List<Encoding> out = new ArrayList<>(inputs.size());
        for (int i = 0; i < inputs.size(); i++) {
            TextInput in = inputs.get(i);
            checkNotEmpty(in, i);
            out.add(in.isPair() ? model.tokenizer().encode(in.first(), in.second(), addSpecialTokens)
                    : model.tokenizer().encode(in.first(), addSpecialTokens));
        }
        return out;
    }

    /**
     * The text a Sentence Transformers prompt name stands for, from the model's {@code config_sentence_transformers.json}
     * ({@code prompts}); TEI's messages when there is none.
     */
    public String prompt(ServedModel model, String promptName) {
        Path file = model.dir().resolve("config_sentence_transformers.json");
        JsonNode prompts = null;
        if (Files.isRegularFile(file)) {
            try {
                prompts = JSON.readTree(file.toFile()).get("prompts");
            } catch (IOException e) {
                throw new ServingException.Unsupported("the Sentence Transformers configuration of model '" + model.name()
                        + "' cannot be read: " + e.getMessage());
            }
        }
        if (prompts == null || !prompts.isObject() || prompts.isEmpty()) {
            throw new ServingException.Unsupported("`prompt_name` is set to `" + promptName
                    + "` but no prompts were found in the Sentence Transformers configuration of model '" + model.name() + "'");
        }
        JsonNode p = prompts.get(promptName);
        if (p == null || !p.isTextual()) {
            List<String> names = new ArrayList<>();
            prompts.fieldNames().forEachRemaining(names::add);
            throw new ServingException.Unsupported("`prompt_name` is set to `" + promptName
                    + "` but it was not found in the Sentence Transformers prompts. Available prompts: " + names);
        }
        return p.asText();
    }

    /**
     * Token ids and type ids of each sequence of a request; {@code groups[i]} sequences belong to input {@code i}
     * (more than one only when a long input was split into windows).
     */
    private record Encoded(List<long[]> ids, List<long[]> types, int[] groups) {
        int tokens() { return ids.stream().mapToInt(a -> a.length).sum(); }

        /** Per input, {@code answer} of its rows (one per sequence: several when read in windows) and their token ids. */
        <T> List<T> perInput(List<float[]> rows, BiFunction<List<float[]>, List<long[]>, T> answer) {
            List<T> out = new ArrayList<>(groups.length);
            int row = 0;
            for (int n : groups) {
                out.add(answer.apply(rows.subList(row, row + n), ids.subList(row, row + n)));
                row += n;
            }
            return out;
        }
    }

    private Encoded encode(ServedModel model, List<TextInput> inputs, Truncation truncation, boolean windows, RequestStats stats) {
        checkBatchSize(inputs.size());
        long t0 = System.nanoTime(), epochOffset = epochOffsetNanos();
        Span span = tracer.spanBuilder("tessera.tokenize").setStartTimestamp(epochOffset + t0, TimeUnit.NANOSECONDS)
                .setAttribute("tessera.model", model.name()).setAttribute("tessera.inputs", inputs.size()).startSpan();
        try (Scope ignored = span.makeCurrent()) {
            int limit = model.maxInputLength();
            List<long[]> ids = new ArrayList<>(inputs.size());
            List<long[]> types = new ArrayList<>(inputs.size());
            int[] groups = new int[inputs.size()];
            int chars = 0;
            for (int i = 0; i < inputs.size(); i++) {
                TextInput in = inputs.get(i);
                checkNotEmpty(in, i);
                chars += in.chars();
                groups[i] = 1;
                if (in.isIds()) {
                    long[] seq = in.ids();
                    checkVocabulary(model, i, seq);
                    if (seq.length > limit) {
                        if (!truncation.enabled()) throw tooLong(model, i, seq.length);
                        seq = truncation.left() ? Arrays.copyOfRange(seq, seq.length - limit, seq.length) : Arrays.copyOf(seq, limit);
                    }
                    ids.add(seq);
                    types.add(new long[seq.length]);
                    continue;
                }
                in = bounded(model, i, in, truncation, windows);
                Encoding enc = in.isPair() ? model.tokenizer().encode(in.first(), in.second()) : model.tokenizer().encode(in.first());
                if (enc.length() > limit) {
                    if (truncation.enabled()) {
                        enc = TextTokenizer.truncate(enc, limit, truncation.left());
                    } else if (windows && !in.isPair()) {
                        groups[i] = addWindows(model, i, enc, ids, types);
                        continue;
                    } else {
                        throw tooLong(model, i, enc.length());
                    }
                }
                ids.add(enc.ids());
                types.add(enc.typeIds());
            }
            Encoded out = new Encoded(ids, types, groups);
            span.setAttribute("tessera.tokens", out.tokens());
            if (stats != null) stats.tokenized(chars, out.tokens(), System.nanoTime() - t0);
            return out;
        } catch (RuntimeException e) {
            span.recordException(e);
            throw e;
        } finally {
            span.end(epochOffset + System.nanoTime(), TimeUnit.NANOSECONDS);
        }
    }

    /**
     * Before tokenizing: an input with more words than the model's limit is refused at once when it may not be cut (or
     * would need more windows than allowed), and a single text cut at its end is cut to a prefix that still holds every
     * token the model will see. A word is a whitespace-separated run holding a letter or digit: at least one token.
     */
    private TextInput bounded(ServedModel model, int i, TextInput in, Truncation truncation, boolean windows) {
        int limit = model.maxInputLength();
        int cap = windows ? limit * config.serving().maxWindows() + 1 : limit + 1;
        int words = TextBounds.minTokens(in.first(), cap) + (in.isPair() ? TextBounds.minTokens(in.second(), cap) : 0);
        if (words <= limit) return in;
        if (!truncation.enabled()) {
            if (windows && !in.isPair() && words < cap) return in; // may fit in windows: tokenize it all
            throw tooLong(model, i, "at least " + words);
        }
        return in.isPair() || truncation.left() ? in : TextInput.single(TextBounds.prefixWithRuns(in.first(), limit + 1));
    }

    /**
     * Splits a single text's encoding ([CLS] text [SEP]) into windows of max_input_length tokens, each
     * {@code [CLS] part [SEP]}, consecutive parts sharing {@link #windowOverlap} tokens; returns how many.
     */
    private int addWindows(ServedModel model, int i, Encoding enc, List<long[]> ids, List<long[]> types) {
        int n = enc.length();
        if (n < 2 || !enc.isSpecial(0) || !enc.isSpecial(n - 1)) throw tooLong(model, i, n); // not [CLS] … [SEP]: no windows
        long[] text = Arrays.copyOfRange(enc.ids(), 1, n - 1);
        int width = model.maxInputLength() - 2, stride = width - windowOverlap(model);
        if (width < 1) throw tooLong(model, i, n);
        int count = text.length <= width ? 1 : 1 + (text.length - width + stride - 1) / stride;
        if (count > config.serving().maxWindows()) {
            throw new ServingException.Unsupported("input " + i + " has " + n + " tokens: " + count + " windows of "
                    + model.maxInputLength() + ", more than tessera.serving.max-windows " + config.serving().maxWindows());
        }
        for (int w = 0; w < count; w++) {
            int from = w * stride, to = Math.min(text.length, from + width);
            long[] window = new long[to - from + 2];
            window[0] = enc.ids()[0];
            System.arraycopy(text, from, window, 1, to - from);
            window[window.length - 1] = enc.ids()[n - 1];
            ids.add(window);
            types.add(new long[window.length]);
        }
        return count;
    }

    private ServingException tooLong(ServedModel model, int i, int length) {
        return tooLong(model, i, String.valueOf(length));
    }

    private ServingException tooLong(ServedModel model, int i, String length) {
        String hint = model.config().variant() == Variant.BERT
                ? "; send \"truncate\": true to cut it (/embed, /embed_sparse and /v1/embeddings can read it in windows: \"long_inputs\": \"windows\")"
                : "; send \"truncate\": true to cut it, or raise tessera.model.\"" + model.name()
                        + "\".max-input-length (MosaicBERT has no position limit)";
        return new ServingException.Unsupported("input " + i + " has " + length + " tokens, more than max_input_length "
                + model.maxInputLength() + " of model '" + model.name() + "'" + hint);
    }

    private static void checkNotEmpty(TextInput in, int i) {
        boolean empty = in.isIds() ? in.ids().length == 0 : in.isPair() ? in.first().isEmpty() && in.second().isEmpty() : in.first().isEmpty();
        if (empty) throw new ServingException.Empty("`inputs` cannot be empty (input " + i + ")");
    }

    private static void checkVocabulary(ServedModel model, int i, long[] seq) {
        int vocab = model.config().vocabSize();
        for (long id : seq) {
            if (id < 0 || id >= vocab) {
                throw new ServingException.Tokenizer("input " + i + " has token id " + id + ", outside the vocabulary of model '"
                        + model.name() + "' (0.." + (vocab - 1) + ")");
            }
        }
    }

    private List<float[]> infer(ServedModel model, Encoded enc, Output output, RequestStats stats) {
        RunTiming timing = new RunTiming();
        List<CompletableFuture<float[]>> futures = model.batcher().submit(enc.ids(), enc.types(), output, timing);
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
                default -> new ServingException.Failed("inference failed: " + e.getCause().getMessage(), e.getCause());
            };
        } finally {
            trace(model, timing, enc.tokens());
        }
        if (stats != null) stats.ran(timing);
        return results;
    }

    /** The request's queue wait and engine run as child spans of the current one, timed by the batcher. */
    private void trace(ServedModel model, RunTiming timing, int tokens) {
        if (!Span.current().isRecording()) return; // tracing off, or no sampled request span to hang them on
        long enqueued = timing.enqueuedNanos(), start = timing.runStartNanos(), end = timing.runEndNanos();
        long epochOffset = epochOffsetNanos();
        Span queue = tracer.spanBuilder("tessera.queue").setStartTimestamp(epochOffset + enqueued, TimeUnit.NANOSECONDS)
                .setAttribute("tessera.model", model.name()).startSpan();
        queue.end(epochOffset + start, TimeUnit.NANOSECONDS);
        if (!timing.ran()) return;
        Engine.Description d = model.engine().description();
        Span run = tracer.spanBuilder("tessera.engine").setStartTimestamp(epochOffset + start, TimeUnit.NANOSECONDS)
                .setAttribute("tessera.model", model.name()).setAttribute("tessera.dialect", d.dialect())
                .setAttribute("tessera.precision", d.precision()).setAttribute("tessera.device", d.device())
                .setAttribute("tessera.batch_size", timing.batchSize()).setAttribute("tessera.tokens", tokens)
                .setAttribute("tessera.batch_tokens", timing.batchTokens()).setAttribute("tessera.runs", timing.runs())
                .startSpan();
        run.end(epochOffset + end, TimeUnit.NANOSECONDS);
    }

    private void checkBatchSize(int inputs) {
        if (inputs == 0) throw new ServingException.Empty("`inputs` cannot be empty");
        int max = config.serving().maxClientBatchSize();
        if (inputs > max) {
            throw new ServingException.TooLarge("batch size " + inputs + " > maximum allowed batch size " + max
                    + " (max_client_batch_size " + max + ")");
        }
    }
}

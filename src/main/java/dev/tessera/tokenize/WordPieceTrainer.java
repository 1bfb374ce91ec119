package dev.tessera.tokenize;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.tessera.io.AtomicFiles;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * Trains a BERT WordPiece vocabulary from a corpus.
 *
 * <p><b>Method.</b> Lines are split into words exactly as BERT's tokenizer will split them
 * ({@link BertBasicSplitter}) and counted. Each word starts as its characters, the first as is and the
 * others with the {@code ##} continuation prefix ("hug" → h ##u ##g). Then, as in the WordPiece
 * description of the Hugging Face course, the pair with the highest score
 * {@code freq(ab) / (freq(a) · freq(b))} is merged into a new vocabulary entry, again and again, until the
 * vocabulary has the requested size ({@link Scoring#PAIR_SCORE}; {@link Scoring#FREQUENCY} merges the most
 * frequent pair instead, as the HF tokenizers library does). Pairs seen fewer than {@code minFrequency} times are never merged.
 * Pair counts are updated incrementally (only the words that contain the merged pair are touched) and a
 * lazy max-heap picks the best pair, so an 8k vocabulary over a ~12M-word corpus takes a few minutes.
 *
 * <p><b>Vocabulary layout</b> (ids in order): {@code [PAD]=0, [UNK]=1, [CLS]=2, [SEP]=3, [MASK]=4};
 * then the alphabet: the {@code limitAlphabet} most frequent characters sorted by code point, then the
 * same characters with the {@code ##} prefix; then the merged pieces in the order they were learned;
 * finally {@code [unused0]}, {@code [unused1]}, ... when the corpus runs out of pairs before the size is
 * reached. The size is the requested size rounded up to a multiple of 64 (tensor-core friendly, as in
 * MosaicBERT's 30528). Words longer than 100 characters or containing a character outside the kept
 * alphabet are left out of training (the tokenizer maps them to {@code [UNK]}).
 */
public final class WordPieceTrainer {

    /** Special tokens, at ids 0..4 in this order. */
    public static final List<String> SPECIAL_TOKENS = List.of("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]");
    public static final int PAD_ID = 0, UNK_ID = 1, CLS_ID = 2, SEP_ID = 3, MASK_ID = 4;
    public static final String PREFIX = "##";
    public static final int MAX_INPUT_CHARS_PER_WORD = 100;

    /**
     * @param vocabSize      requested size; rounded up to a multiple of 64
     * @param minFrequency   a pair must occur at least this often to be merged
     * @param lowercase      lower-case and strip accents (uncased model)
     * @param limitAlphabet  keep at most this many distinct characters
     * @param modelMaxLength written to tokenizer_config.json
     */
    public record Options(int vocabSize, int minFrequency, boolean lowercase, int limitAlphabet, int modelMaxLength,
                          Scoring scoring) {
        public Options {
            java.util.Objects.requireNonNull(scoring, "scoring");
            if (vocabSize < 1) throw new IllegalArgumentException("vocab size must be positive, got " + vocabSize);
            if (minFrequency < 1) throw new IllegalArgumentException("min frequency must be >= 1, got " + minFrequency);
            if (limitAlphabet < 1) throw new IllegalArgumentException("alphabet limit must be >= 1, got " + limitAlphabet);
            if (modelMaxLength < 1) throw new IllegalArgumentException("model max length must be >= 1, got " + modelMaxLength);
        }

        /** Defaults: min frequency 2, uncased, 1000 characters, {@link Scoring#FREQUENCY} (what HF tokenizers does). */
        public static Options of(int vocabSize) {
            return new Options(vocabSize, 2, true, 1000, 512, Scoring.FREQUENCY);
        }

        public Options withLowercase(boolean lc) { return new Options(vocabSize, minFrequency, lc, limitAlphabet, modelMaxLength, scoring); }
        public Options withMinFrequency(int mf) { return new Options(vocabSize, mf, lowercase, limitAlphabet, modelMaxLength, scoring); }
        public Options withScoring(Scoring sc) { return new Options(vocabSize, minFrequency, lowercase, limitAlphabet, modelMaxLength, sc); }

        /** The size actually produced: {@code vocabSize} rounded up to a multiple of 64. */
        public int roundedVocabSize() { return roundUp64(vocabSize); }
    }

    /** How the next pair to merge is chosen. */
    public enum Scoring {
        /**
         * {@code freq(ab) / (freq(a)·freq(b))}, the WordPiece score of the Hugging Face course. It prefers
         * pairs whose parts rarely occur apart, so on a large corpus it spends the vocabulary on rare
         * words first (frequent words like "the" may stay split); raise {@code minFrequency} to counter it.
         */
        PAIR_SCORE,
        /**
         * {@code freq(ab)}: the most frequent pair, which is what the Hugging Face {@code tokenizers}
         * library's WordPieceTrainer actually does (BPE-style merges, then a WordPiece model). Frequent
         * words become single tokens first.
         */
        FREQUENCY
    }

    private final Options options;
    private final BertBasicSplitter splitter;
    private final ConcurrentHashMap<String, Long> wordCounts = new ConcurrentHashMap<>();

    public WordPieceTrainer(Options options) {
        this.options = options;
        this.splitter = new BertBasicSplitter(options.lowercase());
    }

    public Options options() { return options; }

    /** Counts the words of one line (or document). Safe to call from several threads. */
    public void addText(String text) {
        splitter.forEachWord(text, w -> wordCounts.merge(w, 1L, Long::sum));
    }

    /** Counts the words of every line, in parallel. Does not close the stream. */
    public void addAll(Stream<String> lines) {
        lines.parallel().forEach(this::addText);
    }

    /** Word → count so far (a live view; do not modify). */
    public Map<String, Long> wordCounts() { return wordCounts; }

    /** Trains on {@code lines} and returns the vocabulary in id order. */
    public static List<String> train(Stream<String> lines, Options options) {
        WordPieceTrainer t = new WordPieceTrainer(options);
        t.addAll(lines);
        return t.train();
    }

    /** Learns the vocabulary from the words counted so far; returns it in id order. */
    public List<String> train() {
        if (wordCounts.isEmpty()) {
            throw new IllegalArgumentException("cannot train a WordPiece vocabulary: the corpus has no words");
        }
        return new Merger(wordCounts, options).run();
    }

    /**
     * Writes {@code vocab.txt}, {@code tokenizer.json} (Hugging Face tokenizers format) and
     * {@code tokenizer_config.json} (+ {@code special_tokens_map.json}) into {@code dir}, atomically.
     */
    public static void write(Path dir, List<String> vocab, Options options) {
        for (int i = 0; i < SPECIAL_TOKENS.size(); i++) {
            if (vocab.size() <= i || !vocab.get(i).equals(SPECIAL_TOKENS.get(i))) {
                throw new IllegalArgumentException("vocabulary must start with " + SPECIAL_TOKENS);
            }
        }
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        StringBuilder txt = new StringBuilder();
        for (String t : vocab) txt.append(t).append('\n');
        AtomicFiles.writeString(dir.resolve("vocab.txt"), txt.toString());
        try {
            AtomicFiles.writeString(dir.resolve("tokenizer.json"), json.writeValueAsString(tokenizerJson(vocab, options.lowercase())));
            AtomicFiles.writeString(dir.resolve("tokenizer_config.json"), json.writeValueAsString(tokenizerConfig(options)));
            Map<String, Object> specialMap = new LinkedHashMap<>();
            specialMap.put("unk_token", "[UNK]");
            specialMap.put("sep_token", "[SEP]");
            specialMap.put("pad_token", "[PAD]");
            specialMap.put("cls_token", "[CLS]");
            specialMap.put("mask_token", "[MASK]");
            AtomicFiles.writeString(dir.resolve("special_tokens_map.json"), json.writeValueAsString(specialMap));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The tokenizer.json tree of a vocabulary this trainer made (written by {@link BertTokenizerJson#tree}). */
    static com.fasterxml.jackson.databind.node.ObjectNode tokenizerJson(List<String> vocab, boolean lowercase) {
        Map<String, Integer> ids = new LinkedHashMap<>();
        for (int i = 0; i < vocab.size(); i++) ids.put(vocab.get(i), i);
        return BertTokenizerJson.tree(ids, BertTokenizerJson.Spec.standard(lowercase), "the vocabulary");
    }

    static Map<String, Object> tokenizerConfig(Options o) {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("tokenizer_class", "BertTokenizer");
        c.put("do_lower_case", o.lowercase());
        c.put("strip_accents", null);
        c.put("tokenize_chinese_chars", true);
        c.put("model_max_length", o.modelMaxLength());
        c.put("clean_up_tokenization_spaces", true);
        c.put("unk_token", "[UNK]");
        c.put("sep_token", "[SEP]");
        c.put("pad_token", "[PAD]");
        c.put("cls_token", "[CLS]");
        c.put("mask_token", "[MASK]");
        return c;
    }

    static int roundUp64(int n) {
        return (n + 63) / 64 * 64;
    }

    /** The merge loop. One instance per training run; not thread safe. */
    private static final class Merger {
        private final Options options;
        private final List<String> symbols = new ArrayList<>();       // symbol id -> string
        private final Map<String, Integer> symbolIds = new HashMap<>();
        private long[] symbolFreq = new long[1024];
        private final List<long[]> adjacency = new ArrayList<>();      // symbol id -> pair keys (may hold dead keys)

        private int[][] words;          // current segmentation of each distinct word
        private int[] wordLen;
        private long[] wordCount;
        private int[] stamp;            // last merge that visited a word (dedupes the word lists)

        private final Map<Long, Pair> pairs = new HashMap<>();
        private final PriorityQueue<Candidate> heap = new PriorityQueue<>(
                Comparator.comparingDouble(Candidate::score).reversed()
                        .thenComparing(Comparator.comparingLong(Candidate::freq).reversed())
                        .thenComparingLong(Candidate::key));

        /** Pair statistics: total weighted count and the words it may occur in (append-only, may be stale). */
        private static final class Pair {
            long freq;
            int[] words = new int[4];
            int size;

            void addWord(int w) {
                if (size > 0 && words[size - 1] == w) return;
                if (size == words.length) words = Arrays.copyOf(words, size * 2);
                words[size++] = w;
            }
        }

        private record Candidate(double score, long freq, long key) {}

        Merger(Map<String, Long> counts, Options options) {
            this.options = options;
            init(counts);
        }

        private void init(Map<String, Long> counts) {
            // Alphabet: most frequent characters (weighted by word count), ties by code point.
            Map<Integer, Long> charFreq = new HashMap<>();
            counts.forEach((w, c) -> w.codePoints().forEach(cp -> charFreq.merge(cp, c, Long::sum)));
            List<Integer> chars = new ArrayList<>(charFreq.keySet());
            chars.sort(Comparator.comparingLong((Integer cp) -> -charFreq.get(cp)).thenComparingInt(cp -> cp));
            Set<Integer> kept = new HashSet<>(chars.subList(0, Math.min(chars.size(), options.limitAlphabet())));
            List<Integer> alphabet = new ArrayList<>(new java.util.TreeSet<>(kept));
            for (int cp : alphabet) symbol(new String(Character.toChars(cp)));
            for (int cp : alphabet) symbol(PREFIX + new String(Character.toChars(cp)));

            // Distinct words in a fixed order (sorted) so training is deterministic.
            TreeMap<String, Long> sorted = new TreeMap<>();
            counts.forEach((w, c) -> {
                if (w.codePointCount(0, w.length()) <= MAX_INPUT_CHARS_PER_WORD && w.codePoints().allMatch(kept::contains)) {
                    sorted.put(w, c);
                }
            });
            int n = sorted.size();
            words = new int[n][];
            wordLen = new int[n];
            wordCount = new long[n];
            stamp = new int[n];
            Arrays.fill(stamp, -1);
            int w = 0;
            for (Map.Entry<String, Long> e : sorted.entrySet()) {
                int[] cps = e.getKey().codePoints().toArray();
                int[] syms = new int[cps.length];
                for (int i = 0; i < cps.length; i++) {
                    String ch = new String(Character.toChars(cps[i]));
                    syms[i] = symbolIds.get(i == 0 ? ch : PREFIX + ch);
                }
                words[w] = syms;
                wordLen[w] = syms.length;
                wordCount[w] = e.getValue();
                for (int i = 0; i < syms.length; i++) {
                    symbolFreq[syms[i]] += e.getValue();
                    if (i + 1 < syms.length) addPairCount(syms[i], syms[i + 1], e.getValue(), w);
                }
                w++;
            }
            for (Map.Entry<Long, Pair> e : pairs.entrySet()) push(e.getKey(), e.getValue());
        }

        List<String> run() {
            int target = options.roundedVocabSize();
            int merge = 0;
            while (SPECIAL_TOKENS.size() + symbols.size() < target && !heap.isEmpty()) {
                Candidate best = heap.poll();
                Pair p = pairs.get(best.key());
                if (p == null || p.freq != best.freq() || score(best.key(), p) != best.score()) continue; // stale
                if (p.freq < options.minFrequency()) continue;
                applyMerge(best.key(), p, merge++);
                if (heap.size() > 4 * pairs.size() + 100_000) rebuildHeap();
            }
            List<String> vocab = new ArrayList<>(SPECIAL_TOKENS);
            vocab.addAll(symbols);
            int size = roundUp64(Math.max(target, vocab.size()));
            for (int u = 0; vocab.size() < size; u++) vocab.add("[unused" + u + "]");
            return vocab;
        }

        private void applyMerge(long key, Pair p, int mergeNo) {
            int a = (int) (key >>> 32), b = (int) key;
            String merged = symbols.get(a) + symbols.get(b).substring(PREFIX.length());
            int c = symbol(merged);
            Set<Long> changed = new HashSet<>();
            int[] ws = p.words;
            int nw = p.size;
            for (int k = 0; k < nw; k++) {
                int w = ws[k];
                if (stamp[w] == mergeNo) continue;
                stamp[w] = mergeNo;
                int[] s = words[w];
                long cnt = wordCount[w];
                for (int i = 0; i + 1 < wordLen[w]; i++) {
                    if (s[i] != a || s[i + 1] != b) continue;
                    if (i > 0) changed.add(addPairCount(s[i - 1], a, -cnt, w));
                    if (i + 2 < wordLen[w]) changed.add(addPairCount(b, s[i + 2], -cnt, w));
                    addPairCount(a, b, -cnt, w);
                    s[i] = c;
                    System.arraycopy(s, i + 2, s, i + 1, wordLen[w] - i - 2);
                    wordLen[w]--;
                    if (i > 0) changed.add(addPairCount(s[i - 1], c, cnt, w));
                    if (i + 1 < wordLen[w]) changed.add(addPairCount(c, s[i + 1], cnt, w));
                    symbolFreq[a] -= cnt;
                    symbolFreq[b] -= cnt;
                    symbolFreq[c] += cnt;
                }
            }
            pairs.remove(key);
            // Scores of every pair that involves a, b or c changed with their symbol frequencies.
            for (int sym : new int[] {a, b, c}) changed.addAll(livePairs(sym));
            for (long k : changed) {
                Pair q = pairs.get(k);
                if (q != null) push(k, q);
            }
        }

        /** Adds {@code delta} to the count of pair (x, y); returns its key. Creates/removes it as needed. */
        private long addPairCount(int x, int y, long delta, int word) {
            long key = ((long) x << 32) | (y & 0xffffffffL);
            Pair p = pairs.get(key);
            if (p == null) {
                if (delta <= 0) return key;
                p = new Pair();
                pairs.put(key, p);
                adjacencyAdd(x, key);
                if (y != x) adjacencyAdd(y, key);
            }
            p.freq += delta;
            if (delta > 0) p.addWord(word);
            if (p.freq <= 0) pairs.remove(key);
            return key;
        }

        private double score(long key, Pair p) {
            if (options.scoring() == Scoring.FREQUENCY) return p.freq;
            int a = (int) (key >>> 32), b = (int) key;
            return (double) p.freq / ((double) symbolFreq[a] * (double) symbolFreq[b]);
        }

        private void push(long key, Pair p) {
            heap.add(new Candidate(score(key, p), p.freq, key));
        }

        private void rebuildHeap() {
            heap.clear();
            pairs.forEach(this::push);
        }

        private int symbol(String s) {
            Integer id = symbolIds.get(s);
            if (id != null) return id;
            int nid = symbols.size();
            symbols.add(s);
            symbolIds.put(s, nid);
            if (nid >= symbolFreq.length) symbolFreq = Arrays.copyOf(symbolFreq, symbolFreq.length * 2);
            adjacency.add(new long[1]); // [0] holds the count; keys follow
            return nid;
        }

        private void adjacencyAdd(int sym, long key) {
            long[] list = adjacency.get(sym);
            int n = (int) list[0];
            if (n + 1 == list.length) {
                list = Arrays.copyOf(list, Math.max(4, list.length * 2));
                adjacency.set(sym, list);
            }
            list[n + 1] = key;
            list[0] = n + 1;
        }

        /** Live pair keys that involve {@code sym}; drops dead keys from its list as a side effect. */
        private List<Long> livePairs(int sym) {
            long[] list = adjacency.get(sym);
            int n = (int) list[0], kept = 0;
            List<Long> out = new ArrayList<>(n);
            Set<Long> seen = new HashSet<>();
            for (int i = 1; i <= n; i++) {
                long k = list[i];
                if (pairs.containsKey(k) && seen.add(k)) {
                    list[++kept] = k;
                    out.add(k);
                }
            }
            list[0] = kept;
            return out;
        }
    }
}

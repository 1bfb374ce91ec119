package dev.tessera.data;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

class LabelledDatasetTest {

    static final Path DIR = Path.of("src/test/resources/data");

    @Test
    void readsTsvAndInfersSortedLabels() {
        Path f = DIR.resolve("sst-like.tsv");
        List<LabelledExample> ex = LabelledDataset.read(f, Columns.single("sentence", "label"));
        assertEquals(3, ex.size());
        assertEquals("Dull and \"far\" too long", ex.get(1).text()); // TSV: quotes are literal
        assertEquals(3, ex.get(1).line());
        LabelSet labels = LabelSet.inferFrom(ex, f);
        assertEquals(List.of("neg", "pos"), labels.labels()); // sorted as strings
        assertEquals(1, labels.classIndex("pos", f, 2));
    }

    @Test
    void numericLabelsSortNumerically() {
        List<LabelledExample> ex = Stream.of("10", "2", "1").map(l -> new LabelledExample("t", null, l, 1)).toList();
        assertEquals(List.of("1", "2", "10"), LabelSet.inferFrom(ex, Path.of("x")).labels());
    }

    @Test
    void readsQuotedCsvPairs() {
        List<LabelledExample> ex = LabelledDataset.read(DIR.resolve("nli-like.csv"), Columns.pair("premise", "hypothesis", "label"));
        assertEquals(3, ex.size());
        assertEquals("A man, tired, sits.", ex.get(0).text());
        assertEquals("She said \"no\".", ex.get(1).text());
        assertEquals("She agreed.", ex.get(1).textB());
        assertEquals("Two\nlines", ex.get(2).text());
        assertEquals("1", ex.get(2).label());
        assertEquals(4, ex.get(2).line());
    }

    @Test
    void readsJsonlRegression() {
        Path f = DIR.resolve("sts-like.jsonl");
        List<LabelledExample> ex = LabelledDataset.read(f, Columns.pair("s1", "s2", "score"));
        assertEquals(4.8f, LabelSet.regression().target(ex.get(0).label(), f, 1));
        FinetuneEncoder enc = new FinetuneEncoder(s -> s.chars().filter(c -> c != ' ').map(c -> c).toArray(), SpecialTokens.TESSERA, 8);
        FinetuneEncoder.Encoded e = enc.encode(ex.get(1), LabelSet.regression(), f);
        // "adogruns" (8) and "aplaneflies" (11) must fit 8 - 3 = 5 tokens: longest-first leaves 2 + 3.
        assertArrayEquals(new int[] {2, 'a', 'd', 3, 'a', 'p', 'l', 3}, e.inputIds());
        assertArrayEquals(new int[] {0, 0, 0, 0, 1, 1, 1, 1}, e.tokenTypeIds());
        assertEquals(0.5f, e.target());
        assertEquals(-1, e.classLabel());
    }

    @Test
    void missingColumnNamesColumnAndFile() {
        IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
                () -> LabelledDataset.read(DIR.resolve("sst-like.tsv"), Columns.pair("sentence", "sentence2", "label")));
        assertTrue(ex.getMessage().contains("'sentence2'") && ex.getMessage().contains("sst-like.tsv"), ex.getMessage());
        IllegalArgumentException js = assertThrows(IllegalArgumentException.class,
                () -> LabelledDataset.read(DIR.resolve("sts-like.jsonl"), Columns.single("sentence", "score")));
        assertTrue(js.getMessage().contains("'sentence'") && js.getMessage().contains("line 1"), js.getMessage());
    }

    @Test
    void labelOutsideSetNamesLabelAndLine() {
        Path f = DIR.resolve("bad-label.jsonl");
        List<LabelledExample> ex = LabelledDataset.read(f, Columns.single("text", "label"));
        LabelSet labels = LabelSet.classes(List.of("0", "1"));
        FinetuneEncoder enc = new FinetuneEncoder(s -> new int[] {10}, SpecialTokens.TESSERA, 16);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> enc.encodeAll(ex, labels, f));
        assertTrue(e.getMessage().contains("'7'") && e.getMessage().contains("line 4"), e.getMessage());
    }

    @Test
    void emptyFileIsAnError() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LabelledDataset.read(DIR.resolve("header-only.tsv"), Columns.single("sentence", "label")));
        assertTrue(e.getMessage().contains("no examples"), e.getMessage());
    }

    @Test
    void finetuneBatchesCarryLabels() {
        List<FinetuneEncoder.Encoded> ex = List.of(
                new FinetuneEncoder.Encoded(new int[] {2, 7, 3}, new int[3], 1, Float.NaN),
                new FinetuneEncoder.Encoded(new int[] {2, 8, 9, 3}, new int[4], 0, Float.NaN),
                new FinetuneEncoder.Encoded(new int[] {2, 3}, new int[2], 1, Float.NaN));
        List<Batch> b = FinetuneEncoder.batches(ex, new int[] {2, 0, 1}, 2, Integer.MAX_VALUE);
        assertEquals(2, b.size());
        assertArrayEquals(new int[] {2, 3, 2, 7, 3}, b.get(0).inputIds());
        assertArrayEquals(new int[] {0, 2, 5}, b.get(0).cuSeqlens());
        assertEquals(3, b.get(0).maxSeqlen());
        assertArrayEquals(new int[] {1, 1}, b.get(0).classLabels());
        assertNull(b.get(0).targets());
        assertArrayEquals(new int[] {0}, b.get(1).classLabels());
    }

    @Test
    void corpusReaderFormats() {
        try (Stream<String> s = CorpusReader.documents(DIR.resolve("paragraphs.txt"), CorpusFormat.PARAGRAPHS, null)) {
            assertEquals(List.of("Doc one line one. Doc one line two.", "Doc two.", "Doc three"), s.toList());
        }
        try (Stream<String> s = CorpusReader.documents(DIR.resolve("paragraphs.txt"), CorpusFormat.LINES, null)) {
            assertEquals(4, s.count());
        }
        try (Stream<String> s = CorpusReader.documents(DIR.resolve("sts-like.jsonl"), CorpusFormat.JSONL, "s2")) {
            assertEquals(List.of("a cat is sitting", "a plane flies"), s.toList());
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> {
            try (Stream<String> s = CorpusReader.documents(DIR.resolve("sts-like.jsonl"), CorpusFormat.JSONL, "text")) {
                s.count();
            }
        });
        assertTrue(e.getMessage().contains("no field 'text'") && e.getMessage().contains("line 1"), e.getMessage());
    }
}

package dev.tessera.data;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.tessera.tokenize.WordPieceTrainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/** The pieces together: trained vocabulary → DJL tokenizer → shards → shuffled batches → masking. */
class DjlPipelineTest {

    @Test
    void corpusToMaskedBatches(@TempDir Path dir) throws Exception {
        System.setProperty("ai.djl.offline", "true");
        Path corpus = Path.of("src/test/resources/corpus/small.txt");
        WordPieceTrainer.Options opts = WordPieceTrainer.Options.of(256).withScoring(WordPieceTrainer.Scoring.FREQUENCY);
        List<String> vocab;
        try (Stream<String> lines = CorpusReader.documents(corpus, CorpusFormat.LINES, null)) {
            vocab = WordPieceTrainer.train(lines, opts);
        }
        WordPieceTrainer.write(dir.resolve("tok"), vocab, opts);
        try (HuggingFaceTokenizer tok = HuggingFaceTokenizer.newInstance(dir.resolve("tok").resolve("tokenizer.json"))) {
            Function<String, int[]> ids = text -> Arrays.stream(tok.encode(text, false, false).getIds()).mapToInt(Math::toIntExact).toArray();
            assertArrayEquals(new int[] {vocab.indexOf("the"), vocab.indexOf("bread")}, ids.apply("The bread"));
            try (ShardSet set = ShardSet.openOrBuild(dir.resolve("shards"), "small+tok", 
                    () -> CorpusReader.documents(corpus, CorpusFormat.LINES, null), ids, 16, 2)) {
                assertEquals(40, set.numDocs());
                PretrainLoader loader = new PretrainLoader(set, 16, SpecialTokens.TESSERA, 5, DataPosition.START);
                MlmMasker masker = new MlmMasker(0.3, vocab.size(), SpecialTokens.TESSERA, 5);
                List<Batch> step = loader.nextGlobalBatch(8, 64);
                assertEquals(8, step.stream().mapToInt(Batch::numSequences).sum());
                Batch m = masker.mask(step.get(0), 0, 0);
                assertEquals(2, m.inputIds()[0]);
                assertEquals(Batch.IGNORE, m.mlmLabels()[0]);
                assertTrue(m.numMasked() > 0);
            }
        }
    }
}

package dev.tessera.train;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** batch.padded (the classic-BERT cost): the same maths as unpadded, more tokens computed; eval_mask_rate. */
class PaddedBatchTest {

    @TempDir static Path dir;

    @BeforeAll
    static void data() throws IOException {
        TinyFixtures.write(dir);
    }

    private static TrainingOutcome run(String name, Map<String, Object> overrides, List<Long> tokens) {
        Map<String, Object> ov = new java.util.LinkedHashMap<>(Map.of("model.dropout", 0.0, "batch.microbatch_tokens", 512,
                "model.variant", "bert", "training.output_dir", dir.resolve(name).toString()));
        ov.putAll(overrides);
        Recipe r = Recipe.parse(RecipeOverrides.apply(TinyFixtures.pretrainYaml(dir, 6, 100), ov, name), name);
        TrainOptions o = TrainOptions.defaults().withThreads(1).withListener(new TrainingListener() {
            @Override public void started(String what, long startStep, long totalSteps, long numParams) { }
        });
        return new Pretrainer(r, o).run();
    }

    @Test
    void paddedBatchesGiveTheLossesOfUnpaddedOnes() {
        TrainingOutcome plain = run("plain", Map.of(), null);
        TrainingOutcome padded = run("padded", Map.of("batch.padded", true), null);
        assertEquals(plain.stepLosses().size(), padded.stepLosses().size());
        for (int i = 0; i < plain.stepLosses().size(); i++) {
            assertEquals(plain.stepLosses().get(i), padded.stepLosses().get(i), 1e-4, "step " + i);
        }
        // tokens_seen counts real tokens in both (padding is cost, not data)
        assertEquals(Checkpointer.readState(plain.finalDir()).tokensSeen(), Checkpointer.readState(padded.finalDir()).tokensSeen());
    }

    @Test
    void aPaddedBatchCostsMaxSeqLenPerSequenceAndCarriesNoExtraLabels() {
        run("shards", Map.of(), null); // builds the token shards
        try (var set = dev.tessera.data.ShardSet.open(dir.resolve("shards").resolve("train"))) {
            var specials = new dev.tessera.data.SpecialTokens(0, 1, 2, 3, 4);
            var loader = new dev.tessera.data.PretrainLoader(set, 32, specials, 7, dev.tessera.data.DataPosition.START);
            loader.setPadded(true);
            var b = new dev.tessera.data.MlmMasker(0.3, 256, specials, 7).mask(loader.nextMicrobatch(32 * 5), 0, 0);
            assertEquals(5, b.numSequences()); // the budget holds 5 padded sequences, whatever their real lengths
            var p = loader.padded(b, 0);
            assertEquals(5 * 32, p.numTokens());
            assertEquals(b.numMasked(), p.numMasked());
            for (int s = 0; s < 5; s++) assertEquals(b.sequence(s).length, p.sequence(s).length); // real sequences untouched
            for (int t = b.numTokens(); t < p.numTokens(); t++) assertEquals(0, p.inputIds()[t]);
            assertTrue(b.numTokens() < p.numTokens(), "the fixture's sentences are shorter than 32 tokens");
        }
    }

    @Test
    void evalMaskRateFixesTheHeldOutMasks() {
        TrainingOutcome a = run("rate30", Map.of("training.mask_rate", 0.30, "training.eval_mask_rate", 0.15), null);
        TrainingOutcome b = run("rate15", Map.of("training.mask_rate", 0.15), null);
        // the same held-out targets whatever the training rate
        assertEquals(b.lastMetrics().get("eval_targets"), a.lastMetrics().get("eval_targets"));
        TrainingOutcome c = run("rate30b", Map.of("training.mask_rate", 0.30), null);
        assertTrue(c.lastMetrics().get("eval_targets") > a.lastMetrics().get("eval_targets"));
    }
}

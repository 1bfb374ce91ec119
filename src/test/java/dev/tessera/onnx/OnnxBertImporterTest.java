package dev.tessera.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl;
import dev.tessera.model.BertModel;
import dev.tessera.model.Head;
import dev.tessera.model.ModelConfig;
import dev.tessera.model.Variant;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The importer on graphs other than MiniLM's: our own portable export, and bad files. */
class OnnxBertImporterTest {

    /** Our export names its MatMul weights differently ({@code ….weight.T}); the node names still place them. */
    @Test
    void readsBackOurOwnPortableExportExactly(@TempDir Path tmp) throws Exception {
        BertModel m = RandomBertModels.create(Variant.BERT, Head.NONE, 0, 7);
        Path f = tmp.resolve("m.onnx");
        OnnxExporter.write(m, f);
        BertModel back = OnnxBertImporter.load(f);
        ModelConfig a = m.config(), b = back.config();
        assertEquals(a.numHeads(), b.numHeads(), "heads from the Reshape constant [0,0,N,D]");
        assertEquals(a.numLayers(), b.numLayers());
        assertEquals(a.intermediateSize(), b.intermediateSize());
        assertEquals(a.layerNormEps(), b.layerNormEps(), 1e-20, "epsilon attribute of LayerNormalization");
        assertEquals(m.weights().keySet(), back.weights().keySet());
        for (String k : m.weights().keySet()) {
            assertArrayEquals(m.weight(k).shape(), back.weight(k).shape(), k);
            assertArrayEquals(m.weight(k).data(), back.weight(k).data(), 0f, k);
        }
    }

    @Test
    void headCountCanBeGivenWhenTheGraphDoesNotTell() throws Exception {
        BertModel m = RandomBertModels.create(Variant.BERT, Head.NONE, 0, 7);
        OnnxMl.ModelProto p = OnnxExporter.portableGraph(m);
        // strip every Reshape and the scale constant: nothing left to infer the heads from
        OnnxMl.GraphProto.Builder g = p.getGraph().toBuilder();
        for (int i = g.getNodeCount() - 1; i >= 0; i--) {
            String op = g.getNode(i).getOpType();
            if (op.equals("Reshape") || g.getNode(i).getName().endsWith("/Scale")) g.removeNode(i);
        }
        OnnxMl.ModelProto stripped = p.toBuilder().setGraph(g).build();
        var e = assertThrows(IllegalArgumentException.class, () -> OnnxBertImporter.fromProto(stripped, OptionalInt.empty()));
        assertTrue(e.getMessage().contains("pass it explicitly"), e.getMessage());
        assertEquals(RandomBertModels.HEADS, OnnxBertImporter.fromProto(stripped, OptionalInt.of(RandomBertModels.HEADS))
                .config().numHeads());
        e = assertThrows(IllegalArgumentException.class, () -> OnnxBertImporter.fromProto(stripped, OptionalInt.of(5)));
        assertTrue(e.getMessage().contains("does not divide"), e.getMessage());
    }

    @Test
    void notABertGraphIsAClearError(@TempDir Path tmp) throws Exception {
        Path text = Files.writeString(tmp.resolve("x.onnx"), "this is not a protobuf");
        assertThrows(IllegalArgumentException.class, () -> OnnxBertImporter.load(text));

        BertModel mosaic = RandomBertModels.create(Variant.MOSAIC_BERT, Head.NONE, 0, 7);
        Path f = tmp.resolve("mosaic.onnx");
        OnnxExporter.write(mosaic, f);
        var e = assertThrows(IllegalArgumentException.class, () -> OnnxBertImporter.load(f));
        assertTrue(e.getMessage().contains("classic BERT"), e.getMessage());
    }
}

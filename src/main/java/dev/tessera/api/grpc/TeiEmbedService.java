package dev.tessera.api.grpc;

import dev.tessera.grpc.tei.EmbedAllRequest;
import dev.tessera.grpc.tei.EmbedAllResponse;
import dev.tessera.grpc.tei.EmbedGrpc;
import dev.tessera.grpc.tei.EmbedRequest;
import dev.tessera.grpc.tei.EmbedResponse;
import dev.tessera.grpc.tei.EmbedSparseRequest;
import dev.tessera.grpc.tei.EmbedSparseResponse;
import dev.tessera.grpc.tei.SparseValue;
import dev.tessera.grpc.tei.TokenEmbedding;
import dev.tessera.serving.InferenceService;
import dev.tessera.serving.RequestStats;
import dev.tessera.serving.ServedModel;
import dev.tessera.serving.TextInput;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;
import io.smallrye.common.annotation.Blocking;
import java.util.List;

/** tei.v1.Embed: pooled, sparse and per-token embeddings of one text per message. */
@GrpcService
@Blocking
public class TeiEmbedService extends EmbedGrpc.EmbedImplBase {
    private final GrpcSupport support;
    private final InferenceService inference;

    public TeiEmbedService(GrpcSupport support, InferenceService inference) {
        this.support = support;
        this.inference = inference;
    }

    @Override
    public void embed(EmbedRequest request, StreamObserver<EmbedResponse> out) {
        GrpcSupport.unary(out, () -> embed(request));
    }

    @Override
    public StreamObserver<EmbedRequest> embedStream(StreamObserver<EmbedResponse> out) {
        return GrpcSupport.stream(out, this::embed);
    }

    @Override
    public void embedSparse(EmbedSparseRequest request, StreamObserver<EmbedSparseResponse> out) {
        GrpcSupport.unary(out, () -> sparse(request));
    }

    @Override
    public StreamObserver<EmbedSparseRequest> embedSparseStream(StreamObserver<EmbedSparseResponse> out) {
        return GrpcSupport.stream(out, this::sparse);
    }

    @Override
    public void embedAll(EmbedAllRequest request, StreamObserver<EmbedAllResponse> out) {
        GrpcSupport.unary(out, () -> all(request));
    }

    @Override
    public StreamObserver<EmbedAllRequest> embedAllStream(StreamObserver<EmbedAllResponse> out) {
        return GrpcSupport.stream(out, this::all);
    }

    private EmbedResponse embed(EmbedRequest r) {
        ServedModel model = support.model();
        RequestStats stats = new RequestStats();
        float[] v = inference.embed(model, input(model, r.getInputs(), r.hasPromptName() ? r.getPromptName() : null),
                GrpcSupport.truncation(r.getTruncate(), r.getTruncationDirection()), !r.hasNormalize() || r.getNormalize(),
                r.hasDimensions() ? r.getDimensions() : null, inference.windows(model, null), stats).vectors().get(0);
        EmbedResponse.Builder b = EmbedResponse.newBuilder();
        for (float x : v) b.addEmbeddings(x);
        return b.setMetadata(GrpcSupport.metadata(stats)).build();
    }

    private EmbedSparseResponse sparse(EmbedSparseRequest r) {
        ServedModel model = support.model();
        RequestStats stats = new RequestStats();
        float[] v = inference.embedSparse(model, input(model, r.getInputs(), r.hasPromptName() ? r.getPromptName() : null),
                GrpcSupport.truncation(r.getTruncate(), r.getTruncationDirection()), inference.windows(model, null), stats).get(0);
        EmbedSparseResponse.Builder b = EmbedSparseResponse.newBuilder();
        for (int i = 0; i < v.length; i++) if (v[i] != 0f) b.addSparseEmbeddings(SparseValue.newBuilder().setIndex(i).setValue(v[i]));
        return b.setMetadata(GrpcSupport.metadata(stats)).build();
    }

    private EmbedAllResponse all(EmbedAllRequest r) {
        ServedModel model = support.model();
        RequestStats stats = new RequestStats();
        float[][] rows = inference.embedAll(model, input(model, r.getInputs(), r.hasPromptName() ? r.getPromptName() : null),
                GrpcSupport.truncation(r.getTruncate(), r.getTruncationDirection()), stats).get(0);
        EmbedAllResponse.Builder b = EmbedAllResponse.newBuilder();
        for (float[] row : rows) {
            TokenEmbedding.Builder t = TokenEmbedding.newBuilder();
            for (float x : row) t.addEmbeddings(x);
            b.addTokenEmbeddings(t);
        }
        return b.setMetadata(GrpcSupport.metadata(stats)).build();
    }

    private List<TextInput> input(ServedModel model, String text, String promptName) {
        return List.of(TextInput.single(promptName == null ? text : inference.prompt(model, promptName) + text));
    }
}

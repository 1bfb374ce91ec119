package dev.tessera.api.grpc;

import dev.tessera.grpc.tei.PredictGrpc;
import dev.tessera.grpc.tei.PredictPairRequest;
import dev.tessera.grpc.tei.PredictRequest;
import dev.tessera.grpc.tei.PredictResponse;
import dev.tessera.grpc.tei.Prediction;
import dev.tessera.grpc.tei.TruncationDirection;
import dev.tessera.serving.InferenceService;
import dev.tessera.serving.heads.LabelScore;
import dev.tessera.serving.RequestStats;
import dev.tessera.serving.ServingException;
import dev.tessera.serving.TextInput;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;
import io.smallrye.common.annotation.Blocking;
import java.util.List;

/** tei.v1.Predict: labels and scores of one text or one pair per message, best first. */
@GrpcService
@Blocking
public class TeiPredictService extends PredictGrpc.PredictImplBase {
    private final GrpcSupport support;
    private final InferenceService inference;

    public TeiPredictService(GrpcSupport support, InferenceService inference) {
        this.support = support;
        this.inference = inference;
    }

    @Override
    public void predict(PredictRequest request, StreamObserver<PredictResponse> out) {
        GrpcSupport.unary(out, () -> single(request));
    }

    @Override
    public void predictPair(PredictPairRequest request, StreamObserver<PredictResponse> out) {
        GrpcSupport.unary(out, () -> pair(request));
    }

    @Override
    public StreamObserver<PredictRequest> predictStream(StreamObserver<PredictResponse> out) {
        return GrpcSupport.stream(out, this::single);
    }

    @Override
    public StreamObserver<PredictPairRequest> predictPairStream(StreamObserver<PredictResponse> out) {
        return GrpcSupport.stream(out, this::pair);
    }

    private PredictResponse single(PredictRequest r) {
        return predict(TextInput.single(r.getInputs()), r.getTruncate(), r.getTruncationDirection(), r.getRawScores());
    }

    private PredictResponse pair(PredictPairRequest r) {
        if (r.getInputsCount() != 2) {
            throw new ServingException.Unsupported("`inputs` must be a pair of texts: got " + r.getInputsCount());
        }
        return predict(TextInput.pair(r.getInputs(0), r.getInputs(1)), r.getTruncate(), r.getTruncationDirection(), r.getRawScores());
    }

    private PredictResponse predict(TextInput input, boolean truncate, TruncationDirection direction, boolean raw) {
        RequestStats stats = new RequestStats();
        List<LabelScore> scores = inference.predict(support.model(), List.of(input),
                GrpcSupport.truncation(truncate, direction), raw, stats).get(0);
        PredictResponse.Builder b = PredictResponse.newBuilder();
        for (LabelScore s : scores) b.addPredictions(Prediction.newBuilder().setLabel(s.label()).setScore(s.score()));
        return b.setMetadata(GrpcSupport.metadata(stats)).build();
    }
}

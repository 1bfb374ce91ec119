package dev.tessera.api.grpc;

import dev.tessera.grpc.tei.Rank;
import dev.tessera.grpc.tei.RerankGrpc;
import dev.tessera.grpc.tei.RerankRequest;
import dev.tessera.grpc.tei.RerankResponse;
import dev.tessera.grpc.tei.RerankStreamRequest;
import dev.tessera.serving.InferenceService;
import dev.tessera.serving.RequestStats;
import dev.tessera.serving.ServedModel;
import dev.tessera.serving.Truncation;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;
import io.smallrye.common.annotation.Blocking;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/** tei.v1.Rerank: texts ranked against a query, best first; the stream sends one (query, text) pair per message. */
@GrpcService
@Blocking
public class TeiRerankService extends RerankGrpc.RerankImplBase {
    private final GrpcSupport support;
    private final InferenceService inference;

    public TeiRerankService(GrpcSupport support, InferenceService inference) {
        this.support = support;
        this.inference = inference;
    }

    @Override
    public void rerank(RerankRequest r, StreamObserver<RerankResponse> out) {
        GrpcSupport.unary(out, () -> {
            RequestStats stats = new RequestStats();
            List<InferenceService.Rank> ranks = inference.rerank(support.model(), r.getQuery(), r.getTextsList(),
                    GrpcSupport.truncation(r.getTruncate(), r.getTruncationDirection()), r.getRawScores(), stats);
            RerankResponse.Builder b = RerankResponse.newBuilder();
            for (InferenceService.Rank k : ranks) {
                Rank.Builder rank = Rank.newBuilder().setIndex(k.index()).setScore(k.score());
                if (r.getReturnText()) rank.setText(r.getTexts(k.index()));
                b.addRanks(rank);
            }
            return b.setMetadata(GrpcSupport.metadata(stats)).build();
        });
    }

    /** Collects the pairs, then scores each run of pairs that share a query as one batch; ranks index the messages. */
    @Override
    public StreamObserver<RerankStreamRequest> rerankStream(StreamObserver<RerankResponse> out) {
        List<RerankStreamRequest> pairs = new ArrayList<>();
        return new StreamObserver<>() {
            @Override
            public void onNext(RerankStreamRequest r) { pairs.add(r); }

            @Override
            public void onError(Throwable t) { pairs.clear(); }

            @Override
            public void onCompleted() {
                GrpcSupport.unary(out, () -> rank(pairs));
            }
        };
    }

    private RerankResponse rank(List<RerankStreamRequest> pairs) {
        ServedModel model = support.model();
        RequestStats stats = new RequestStats();
        boolean raw = !pairs.isEmpty() && pairs.get(0).getRawScores(); // TEI: the first message's options
        boolean returnText = !pairs.isEmpty() && pairs.get(0).getReturnText();
        List<Rank> ranks = new ArrayList<>(pairs.size());
        if (pairs.isEmpty()) inference.rerank(model, "", List.of(), Truncation.NONE, raw, stats); // TEI's Empty
        for (int from = 0, to; from < pairs.size(); from = to) {
            RerankStreamRequest first = pairs.get(from);
            List<String> texts = new ArrayList<>();
            for (to = from; to < pairs.size() && pairs.get(to).getQuery().equals(first.getQuery()); to++) texts.add(pairs.get(to).getText());
            for (InferenceService.Rank k : inference.rerank(model, first.getQuery(), texts,
                    GrpcSupport.truncation(first.getTruncate(), first.getTruncationDirection()), raw, stats)) {
                Rank.Builder rank = Rank.newBuilder().setIndex(from + k.index()).setScore(k.score());
                if (returnText) rank.setText(texts.get(k.index()));
                ranks.add(rank.build());
            }
        }
        ranks.sort(Comparator.comparingDouble(Rank::getScore).reversed());
        return RerankResponse.newBuilder().addAllRanks(ranks).setMetadata(GrpcSupport.metadata(stats)).build();
    }
}

package dev.tessera.api.grpc;

import dev.tessera.api.ModelsResource;
import dev.tessera.grpc.tei.InfoGrpc;
import dev.tessera.grpc.tei.InfoRequest;
import dev.tessera.grpc.tei.InfoResponse;
import dev.tessera.grpc.tei.ModelType;
import dev.tessera.serving.ServedModel;
import dev.tessera.serving.ServingConfig;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;
import io.smallrye.common.annotation.Blocking;

/** tei.v1.Info: the default model and the server's limits, as GET /info reports them. */
@GrpcService
@Blocking
public class TeiInfoService extends InfoGrpc.InfoImplBase {
    private final GrpcSupport support;
    private final ServingConfig config;

    public TeiInfoService(GrpcSupport support, ServingConfig config) {
        this.support = support;
        this.config = config;
    }

    @Override
    public void info(InfoRequest request, StreamObserver<InfoResponse> out) {
        GrpcSupport.unary(out, () -> {
            ServedModel m = support.model();
            ModelType type = switch (m.head().kind()) {
                case CLASSIFIER -> ModelType.MODEL_TYPE_CLASSIFIER;
                case RERANKER -> ModelType.MODEL_TYPE_RERANKER;
                case EMBEDDING -> ModelType.MODEL_TYPE_EMBEDDING;
            };
            return InfoResponse.newBuilder().setVersion(ModelsResource.VERSION).setModelId(m.name())
                    .setModelDtype(m.engine().description().precision().equals("int8") ? "int8" : "float32").setModelType(type)
                    .setMaxConcurrentRequests(config.serving().queueCapacity()).setMaxInputLength(m.maxInputLength())
                    .setMaxBatchTokens(config.serving().maxBatchTokens()).setMaxClientBatchSize(config.serving().maxClientBatchSize())
                    .setTokenizationWorkers(ModelsResource.tokenizationWorkers()).build();
        });
    }
}

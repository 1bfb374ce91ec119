package dev.tessera.api.grpc;

import dev.tessera.grpc.tei.DecodeRequest;
import dev.tessera.grpc.tei.DecodeResponse;
import dev.tessera.grpc.tei.EncodeRequest;
import dev.tessera.grpc.tei.EncodeResponse;
import dev.tessera.grpc.tei.SimpleToken;
import dev.tessera.grpc.tei.TokenizeGrpc;
import dev.tessera.serving.InferenceService;
import dev.tessera.serving.ServedModel;
import dev.tessera.serving.TextInput;
import dev.tessera.tokenize.Encoding;
import dev.tessera.tokenize.TextTokenizer;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;
import io.smallrye.common.annotation.Blocking;
import java.nio.charset.StandardCharsets;
import java.util.List;

/** tei.v1.Tokenize: tokens of a text (special tokens without offsets, others with their UTF-8 byte span) and decoding. */
@GrpcService
@Blocking
public class TeiTokenizeService extends TokenizeGrpc.TokenizeImplBase {
    private final GrpcSupport support;
    private final InferenceService inference;

    public TeiTokenizeService(GrpcSupport support, InferenceService inference) {
        this.support = support;
        this.inference = inference;
    }

    @Override
    public void tokenize(EncodeRequest request, StreamObserver<EncodeResponse> out) {
        GrpcSupport.unary(out, () -> encode(request));
    }

    @Override
    public StreamObserver<EncodeRequest> tokenizeStream(StreamObserver<EncodeResponse> out) {
        return GrpcSupport.stream(out, this::encode);
    }

    @Override
    public void decode(DecodeRequest request, StreamObserver<DecodeResponse> out) {
        GrpcSupport.unary(out, () -> decode(request));
    }

    @Override
    public StreamObserver<DecodeRequest> decodeStream(StreamObserver<DecodeResponse> out) {
        return GrpcSupport.stream(out, this::decode);
    }

    private EncodeResponse encode(EncodeRequest r) {
        ServedModel model = support.model();
        String text = r.hasPromptName() ? inference.prompt(model, r.getPromptName()) + r.getInputs() : r.getInputs();
        Encoding enc = inference.tokenize(model, List.of(TextInput.single(text)), r.getAddSpecialTokens()).get(0);
        int[] start = TextTokenizer.utf8Offsets(text, enc.start()), end = TextTokenizer.utf8Offsets(text, enc.end());
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        EncodeResponse.Builder b = EncodeResponse.newBuilder();
        for (int i = 0; i < enc.length(); i++) {
            SimpleToken.Builder t = SimpleToken.newBuilder().setId((int) enc.ids()[i]).setSpecial(enc.isSpecial(i));
            if (enc.isSpecial(i)) {
                t.setText(enc.tokens()[i]);
            } else {
                t.setText(new String(bytes, start[i], Math.max(0, end[i] - start[i]), StandardCharsets.UTF_8))
                        .setStart(start[i]).setStop(end[i]);
            }
            b.addTokens(t);
        }
        return b.build();
    }

    private DecodeResponse decode(DecodeRequest r) {
        long[] ids = r.getIdsList().stream().mapToLong(Integer::toUnsignedLong).toArray();
        return DecodeResponse.newBuilder().setText(inference.decode(support.model(), List.of(ids), r.getSkipSpecialTokens()).get(0)).build();
    }
}

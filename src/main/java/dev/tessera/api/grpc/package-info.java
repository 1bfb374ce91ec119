/**
 * TEI's gRPC services ({@code tei.v1}, {@code src/main/proto/tei.proto}) on their own port: the same
 * {@code InferenceService} and batchers as HTTP, TEI's status codes, API keys from {@code authorization} metadata.
 * Like the HTTP resources, nothing below {@code api} may use this package.
 */
package dev.tessera.api.grpc;

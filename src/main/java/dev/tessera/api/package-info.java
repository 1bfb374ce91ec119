/**
 * HTTP: the TEI-, OpenAI- and Cohere-compatible inference routes, models, jobs and recipes, API keys (a Quarkus
 * authentication mechanism; each route declares its role), request limits and every error as problem+json
 * ({@link dev.tessera.api.ProblemMappers}). Resources parse and validate, pick the model through
 * {@link dev.tessera.api.ModelLookup}, then call {@code serving} or {@code jobs};
 * HTTP knowledge stops here. Nothing outside this package imports it.
 */
package dev.tessera.api;

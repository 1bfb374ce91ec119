/**
 * The training-job queue behind /v1/jobs: submissions (validation and path confinement), records on disk, the
 * worker that runs one job at a time through {@code train}, publishing with {@code serve_as}. No HTTP types: a refused
 * submission is a {@link dev.tessera.jobs.JobException} that {@code api} maps.
 */
package dev.tessera.jobs;

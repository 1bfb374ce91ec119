/**
 * PNG line charts (XChart): the study's figures and training-job loss curves. Knows nothing of training
 * beyond {@link dev.tessera.train.TrainingState}'s histories; nothing here runs a model.
 */
package dev.tessera.plot;

package dev.tessera;

import dev.tessera.cli.Cli;
import dev.tessera.cli.EvalCommand;
import dev.tessera.cli.ExportCommand;
import dev.tessera.cli.FinetuneCommand;
import dev.tessera.cli.ImportCommand;
import dev.tessera.cli.PlotCommand;
import dev.tessera.cli.TfidfCommand;
import dev.tessera.cli.PretrainCommand;
import dev.tessera.cli.StudyCommand;
import dev.tessera.cli.VocabCommand;
import dev.tessera.jobs.Job;
import dev.tessera.study.StudySpec;
import dev.tessera.train.Recipe;
import dev.tessera.train.TrainingState;
import io.quarkus.runtime.annotations.RegisterForReflection;

/**
 * Classes a native image must keep reflectively: picocli reads the commands' annotated fields, Jackson binds the
 * recipe YAML, the checkpoint's training_state.json, the jobs' state files and study specs. (JAX-RS types Quarkus registers
 * itself; JNI and FFM are in META-INF/native-image/dev.tessera/tessera/reachability-metadata.json.)
 * NativeImageMetadataTest fails when a command or a bound type is missing here.
 */
@RegisterForReflection(targets = {
        Cli.class, EvalCommand.class, ExportCommand.class, FinetuneCommand.class, ImportCommand.class,
        PretrainCommand.class, VocabCommand.class, StudyCommand.class, PlotCommand.class, PlotCommand.Source.class, TfidfCommand.class,
        StudySpec.class, StudySpec.Pretrain.class, StudySpec.Finetune.class, StudySpec.Tfidf.class,
        Recipe.class, Recipe.Kind.class, Recipe.Model.class, Recipe.Data.class, Recipe.ColumnNames.class,
        Recipe.Optimizer.class, Recipe.Schedule.class, Recipe.Batching.class, Recipe.Training.class, Recipe.Distill.class,
        TrainingState.class, TrainingState.LossPoint.class, TrainingState.EvalPoint.class,
        Job.class, Job.Status.class, Job.LossPoint.class},
        classNames = {"dev.tessera.cli.TrainCommandBase"})
final class NativeImageReflection {
    private NativeImageReflection() {}
}

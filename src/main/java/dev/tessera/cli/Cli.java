package dev.tessera.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The command-line face of the jar. Commands run in plain Java (no HTTP server is started);
 * {@code serve} (or no argument) is handled by {@link dev.tessera.TesseraMain} and boots Quarkus.
 */
@Command(name = "tessera", mixinStandardHelpOptions = true, version = "tessera 0.1.0",
        description = "Pretrain, finetune, export and serve MosaicBERT models.",
        subcommands = {ExportCommand.class, ImportCommand.class, PretrainCommand.class, FinetuneCommand.class, VocabCommand.class, EvalCommand.class, TfidfCommand.class,
                StudyCommand.class, PlotCommand.class})
public final class Cli implements Runnable {

    public static int run(String... args) {
        return new CommandLine(new Cli()).execute(args);
    }

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }
}

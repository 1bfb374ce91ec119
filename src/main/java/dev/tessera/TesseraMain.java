package dev.tessera;

import dev.tessera.cli.Cli;
import io.quarkus.runtime.Quarkus;
import io.quarkus.runtime.annotations.QuarkusMain;

/**
 * One jar, two faces: with no arguments (or {@code serve}) it boots the Quarkus HTTP server;
 * any other first argument is a CLI command that runs without starting the server.
 */
@QuarkusMain
public class TesseraMain {
    public static void main(String... args) {
        if (args.length == 0 || args[0].equals("serve")) {
            Quarkus.run(args);
            return;
        }
        System.exit(Cli.run(args));
    }
}

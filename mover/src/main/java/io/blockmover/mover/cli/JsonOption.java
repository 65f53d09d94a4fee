package io.blockmover.mover.cli;

import picocli.CommandLine.Option;

/** {@code --json}, as a mixin: a command that reports something prints it as JSON on stdout instead of text. */
final class JsonOption {
    @Option(names = "--json", description = "Print the result as JSON on stdout.")
    boolean json;
}

package io.blockmover.mover.cli;

import picocli.CommandLine.Option;

/** Progress bars for the long-running commands. */
final class ProgressOption {
    @Option(names = "--progress", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Progress bars on a terminal (default: on; never drawn when stderr is not a terminal).")
    boolean progress;

    /** A display on stderr; none when {@code machineOutput} (JSON on stdout) or turned off. */
    ProgressDisplay display(boolean machineOutput) {
        return ProgressDisplay.onStderr(progress && !machineOutput);
    }
}

package io.blockmover.bench.e2e;

import java.nio.file.Path;
import java.util.Optional;

/**
 * One benchmark step: an untimed preparation (fresh repository, removed output), the timed
 * command, and the repository whose size is reported afterwards, if the step makes one.
 */
record Step(String step, String tool, Preparation prepare, ToolRun command, Optional<Path> repository) {

    @FunctionalInterface
    interface Preparation {
        Preparation NONE = () -> {};

        void run() throws Exception;
    }
}

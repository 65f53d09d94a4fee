package io.blockmover.bench.e2e;

import java.util.List;
import java.util.Map;

/** A process to run: its arguments and extra environment variables. */
record ToolRun(List<String> argv, Map<String, String> env) {

    static ToolRun of(String... argv) {
        return new ToolRun(List.of(argv), Map.of());
    }

    ToolRun withEnv(Map<String, String> extra) {
        return new ToolRun(argv, extra);
    }

    @Override
    public String toString() {
        return String.join(" ", argv);
    }
}

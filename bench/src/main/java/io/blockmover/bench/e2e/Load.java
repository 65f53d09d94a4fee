package io.blockmover.bench.e2e;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The machine's load averages (1, 5, 15 min) as /proc/loadavg gives them: the conditions of a run. */
final class Load {
    private Load() {
    }

    static String now() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return "load " + f[0] + " " + f[1] + " " + f[2] + " at " + java.time.Instant.now().toString().substring(11, 19) + "Z";
        } catch (IOException e) {
            return "load unknown";
        }
    }
}

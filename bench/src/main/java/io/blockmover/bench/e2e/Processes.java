package io.blockmover.bench.e2e;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs benchmark commands: timed under GNU time, or plainly for set-up steps. */
final class Processes {
    private static final long TIMEOUT_MINUTES = 30;

    private final Path scratch;

    Processes(Path scratch) {
        this.scratch = scratch;
    }

    /** Runs {@code command} under {@code /usr/bin/time}; fails with its output if it fails. */
    Sample timed(ToolRun command) throws IOException, InterruptedException {
        settle();
        Path timing = Files.createTempFile(scratch, "time", ".txt");
        List<String> argv = new ArrayList<>(List.of("/usr/bin/time", "-o", timing.toString(), "-f", "%e %M %U %S"));
        argv.addAll(command.argv());
        run(new ToolRun(argv, command.env()));
        String[] f = Files.readString(timing).trim().split("\\s+");
        Files.delete(timing);
        return new Sample(Double.parseDouble(f[0]), Long.parseLong(f[1]),
                Double.parseDouble(f[2]) + Double.parseDouble(f[3]));
    }

    /**
     * Writes back what earlier steps left dirty in the page cache before a timed step starts, so
     * that no step pays for the write-back of another's repository (restic's and borg's are a GiB
     * each). Each tool's own write-back stays in its time as before, as far as it syncs.
     */
    static void settle() throws IOException, InterruptedException {
        Process sync = new ProcessBuilder("sync").inheritIO().start();
        if (!sync.waitFor(TIMEOUT_MINUTES, TimeUnit.MINUTES) || sync.exitValue() != 0) {
            throw new IOException("sync did not finish");
        }
    }

    /** Runs {@code command} to completion and returns its standard output. */
    String run(ToolRun command) throws IOException, InterruptedException {
        Path out = Files.createTempFile(scratch, "out", ".txt");
        try {
            ProcessBuilder pb = new ProcessBuilder(command.argv())
                    .redirectErrorStream(true)
                    .redirectOutput(out.toFile());
            pb.environment().putAll(command.env());
            Process p = pb.start();
            if (!p.waitFor(TIMEOUT_MINUTES, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new IOException("timed out after " + TIMEOUT_MINUTES + " min: " + command);
            }
            String output = Files.readString(out, StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                throw new IOException("exit " + p.exitValue() + " from " + command + "\n" + output);
            }
            return output;
        } finally {
            Files.deleteIfExists(out);
        }
    }
}

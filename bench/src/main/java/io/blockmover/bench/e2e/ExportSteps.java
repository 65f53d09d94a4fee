package io.blockmover.bench.e2e;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Instant restore: the latest backup served by {@code blockmover export}. A sequential copy
 * ({@code nbdcopy -> null:}) against the same copy of the emulated host's snapshot it was taken
 * from, timed in turn; and random 4 KiB reads with fio's nbd engine over a hot region (a booting
 * guest's working set) with the decoded-chunk cache warm, against qemu-nbd serving the restored
 * raw file (page cache warm) with the same fio job.
 */
final class ExportSteps {
    static final String TOOL = "nbdcopy <- blockmover export";
    static final String SNAPSHOT = "nbdcopy <- esxsim snapshot";
    static final String STEP = "instant restore: export -> null";
    static final String RANDOM_READS = "random 4 KiB reads, warm (fio nbd, iodepth 16)";
    static final String FIO_OURS = "fio <- blockmover export";
    static final String FIO_QEMU = "fio <- qemu-nbd (restored raw)";
    private static final Pattern IOPS = Pattern.compile("\"read\"\\s*:\\s*\\{[^}]*?\"iops\"\\s*:\\s*([0-9.]+)", Pattern.DOTALL);
    private static final String CACHE = "256M";

    private final String launcher;
    private final Processes processes;

    ExportSteps(String launcher, Processes processes) {
        this.launcher = launcher;
        this.processes = processes;
    }

    /** What was measured: the copies as measurements, the random reads as rates. */
    record Results(List<Measurement> copies, List<Report.Rate> rates) {}

    Results measure(Path repo, String snapshotUri, Path restoredRaw, long logical, int runs, int fioSeconds) throws Exception {
        List<Measurement> copies = new ArrayList<>();
        List<Double> ours = new ArrayList<>();
        List<Double> qemu = new ArrayList<>();
        long region = Math.min(128L << 20, logical / 4);
        long offset = logical / 4; // past the start of the disk: a region of mixed, compressible data in the reference image
        try (PeerProcess export = PeerProcess.export(launcher, repo, List.of("--cache-size", CACHE))) {
            String uri = export.uri();
            // The export's JIT settles like the emulator's: untimed full reads of both first.
            for (int i = 0; i < 2; i++) {
                processes.run(ToolRun.of("nbdcopy", uri, "null:"));
                processes.run(ToolRun.of("nbdcopy", snapshotUri, "null:"));
            }
            copies.addAll(Bench.measureAlternating(processes,
                    new Step(STEP, TOOL, Step.Preparation.NONE, ToolRun.of("nbdcopy", uri, "null:"), Optional.empty()),
                    new Step(STEP, SNAPSHOT, Step.Preparation.NONE, ToolRun.of("nbdcopy", snapshotUri, "null:"), Optional.empty()),
                    runs, logical));
            try (PeerProcess qemuNbd = PeerProcess.qemuNbd(restoredRaw)) {
                String qemuUri = "nbd://127.0.0.1:" + qemuNbd.port() + "/";
                // Warm both: every chunk of the region decoded into the cache, every page of the file in the page cache.
                fio(uri, offset, region, Math.max(2, fioSeconds / 2));
                fio(qemuUri, offset, region, Math.max(2, fioSeconds / 2));
                for (int i = 0; i < runs; i++) {
                    System.err.printf("measuring %s with %s and %s in turn (run %d of %d)%n", RANDOM_READS, FIO_OURS, FIO_QEMU, i + 1, runs);
                    ours.add(fio(uri, offset, region, fioSeconds));
                    qemu.add(fio(qemuUri, offset, region, fioSeconds));
                }
            }
        }
        String step = RANDOM_READS + String.format(Locale.ROOT, ", %d MiB region, cache %s", region >> 20, CACHE);
        return new Results(copies, List.of(new Report.Rate(step, FIO_OURS, "IOPS", ours), new Report.Rate(step, FIO_QEMU, "IOPS", qemu)));
    }

    /** One fio job of random 4 KiB reads over [offset, offset + length); its read IOPS. */
    private double fio(String uri, long offset, long length, int seconds) throws IOException, InterruptedException {
        String json = processes.run(ToolRun.of("fio", "--name=randread", "--ioengine=nbd", "--uri=" + uri, "--rw=randread",
                "--bs=4k", "--iodepth=16", "--numjobs=1", "--offset=" + offset, "--size=" + length, "--time_based",
                "--runtime=" + seconds, "--randrepeat=0", "--output-format=json"));
        Matcher m = IOPS.matcher(json);
        if (!m.find()) {
            throw new IOException("no read IOPS in fio's output: " + json);
        }
        return Double.parseDouble(m.group(1));
    }
}

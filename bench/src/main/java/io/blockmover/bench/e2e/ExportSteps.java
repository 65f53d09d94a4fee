package io.blockmover.bench.e2e;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.OptionalLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Instant restore: the latest backup served by {@code blockmover export}. Sequential copies
 * ({@code nbdcopy -> null:}, nbdcopy's defaults on both sides) against the same copy of the
 * emulated host's snapshot it was taken from, timed in turn, three ways: every chunk read, checked
 * and decoded on every copy (a JIT-warm export without a cache: what a restore copy costs a
 * long-running export); the first copy of a freshly started export (a one-shot restore: JIT warm-up
 * included); and a warm cache that holds the disk's data (the third and later copies of one
 * export: chunks checked once, then served from memory). Beside each, the CPU-seconds each server
 * spent per copy. Then random 4 KiB reads with fio's nbd engine over a hot region (a booting
 * guest's working set) with the cache warm, against qemu-nbd serving the restored raw file (page
 * cache warm) with the same fio job.
 */
final class ExportSteps {
    static final String TOOL = "nbdcopy <- blockmover export";
    static final String SNAPSHOT = "nbdcopy <- esxsim snapshot";
    static final String STEP = "instant restore: export -> null, checked on every copy";
    static final String STEP_FIRST = "instant restore: export -> null, a fresh export's first copy";
    static final String STEP_CACHED = "instant restore: export -> null, cache holds the disk";
    static final String RANDOM_READS = "random 4 KiB reads, warm (fio nbd, iodepth 16)";
    static final String FIO_OURS = "fio <- blockmover export";
    static final String FIO_QEMU = "fio <- qemu-nbd (restored raw)";
    private static final Pattern IOPS = Pattern.compile("\"read\"\\s*:\\s*\\{[^}]*?\"iops\"\\s*:\\s*([0-9.]+)", Pattern.DOTALL);

    private final String launcher;
    private final Processes processes;

    ExportSteps(String launcher, Processes processes) {
        this.launcher = launcher;
        this.processes = processes;
    }

    /** What was measured: the copies as measurements (with each server's CPU per copy), the random reads as rates. */
    record Results(List<Measurement> copies, List<Report.Rate> rates) {}

    Results measure(Path repo, String snapshotUri, ServerCpu snapshotServer, Path restoredRaw, long logical, int runs, int fioSeconds)
            throws Exception {
        List<Measurement> copies = new ArrayList<>();
        // Every copy decodes: no cache. The JIT settles like the emulator's: untimed full reads of both first.
        try (PeerProcess export = PeerProcess.export(launcher, repo, List.of("--cache-size", "0"))) {
            warmUp(export.uri(), snapshotUri);
            copies.addAll(alternate(STEP, export, snapshotUri, snapshotServer, runs, logical));
        }
        // A one-shot restore: each run a fresh export process, its first copy timed (from "ready").
        List<Sample> first = new ArrayList<>();
        List<Sample> firstPeer = new ArrayList<>();
        for (int i = 0; i < runs; i++) {
            System.err.printf("measuring %s against %s (run %d of %d)%n", STEP_FIRST, SNAPSHOT, i + 1, runs);
            try (PeerProcess export = PeerProcess.export(launcher, repo, List.of())) {
                first.add(timedCopy(export.uri(), ServerCpu.of(export)));
            }
            firstPeer.add(timedCopy(snapshotUri, snapshotServer));
        }
        copies.add(new Measurement(STEP_FIRST, TOOL, logical, first, OptionalLong.empty()));
        copies.add(new Measurement(STEP_FIRST, SNAPSHOT, logical, firstPeer, OptionalLong.empty()));

        // A cache the size of the disk: the first two untimed copies check every chunk, the second fills the cache,
        // the third is the first served from it (its hit path is compiled then, as the other paths were by the first two).
        String cache = (logical >> 20) + "M";
        List<Double> ours = new ArrayList<>();
        List<Double> qemu = new ArrayList<>();
        long region = Math.min(128L << 20, logical / 4);
        long offset = logical / 4; // past the start of the disk: a region of mixed, compressible data in the reference image
        try (PeerProcess export = PeerProcess.export(launcher, repo, List.of("--cache-size", cache))) {
            String uri = export.uri();
            warmUp(uri, snapshotUri);
            processes.run(ToolRun.of("nbdcopy", uri, "null:"));
            copies.addAll(alternate(STEP_CACHED, export, snapshotUri, snapshotServer, runs, logical));
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
        String step = RANDOM_READS + String.format(Locale.ROOT, ", %d MiB region, cache %s", region >> 20, cache);
        return new Results(copies, List.of(new Report.Rate(step, FIO_OURS, "IOPS", ours), new Report.Rate(step, FIO_QEMU, "IOPS", qemu)));
    }

    private void warmUp(String exportUri, String snapshotUri) throws IOException, InterruptedException {
        for (int i = 0; i < 2; i++) {
            processes.run(ToolRun.of("nbdcopy", exportUri, "null:"));
            processes.run(ToolRun.of("nbdcopy", snapshotUri, "null:"));
        }
    }

    /** {@code runs} copies from the export and from the snapshot in turn. */
    private List<Measurement> alternate(String step, PeerProcess export, String snapshotUri, ServerCpu snapshotServer, int runs,
                                        long logical) throws IOException, InterruptedException {
        System.err.printf("measuring %s with %s and %s in turn (%d runs each)%n", step, TOOL, SNAPSHOT, runs);
        List<Sample> ours = new ArrayList<>();
        List<Sample> peer = new ArrayList<>();
        for (int i = 0; i < runs; i++) {
            ours.add(timedCopy(export.uri(), ServerCpu.of(export)));
            peer.add(timedCopy(snapshotUri, snapshotServer));
        }
        return List.of(new Measurement(step, TOOL, logical, ours, OptionalLong.empty()),
                new Measurement(step, SNAPSHOT, logical, peer, OptionalLong.empty()));
    }

    /** One timed {@code nbdcopy URI null:}, with the CPU its server spent meanwhile. */
    private Sample timedCopy(String uri, ServerCpu server) throws IOException, InterruptedException {
        double before = server.seconds();
        Sample s = processes.timed(ToolRun.of("nbdcopy", uri, "null:"));
        return s.withServerCpu(server.seconds() - before);
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

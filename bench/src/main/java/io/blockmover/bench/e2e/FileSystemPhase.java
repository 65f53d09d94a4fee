package io.blockmover.bench.e2e;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * The bench on a real guest file system: ext4 holding the files of /usr (documents, ELF libraries,
 * locale data), a copied directory and random bytes ({@code ../shared/bench/make-filesystem-image.sh},
 * or a small copy of its recipe with {@code --ci}), served by qemu-nbd. blockmover (CLI and warm
 * proxy, each codec asked for) against restic, borg (lz4, its default, and zstd,3) and nbdcopy,
 * full, incremental and restore. The incremental follows a change made inside the file system
 * with debugfs (files rewritten, grown, deleted, created: {@code bench/scripts/change-filesystem.py}),
 * replayed into a qcow2 overlay whose dirty bitmap qemu-nbd exports as the changed areas.
 */
final class FileSystemPhase {
    static final String FULL = "fs: full backup";
    static final String INCREMENTAL = "fs: incremental, 1% of files changed";
    static final String RESTORE = "fs: restore -> file";
    static final String TO_FILE = "fs: read export -> file";
    private static final String RESTIC = "restic 0.14";
    private static final String BORG_LZ4 = "borg 1.2 lz4";
    private static final String BORG_ZSTD = "borg 1.2 zstd,3";
    private static final String BITMAP = "bm0";
    private static final Map<String, String> RESTIC_ENV = Map.of("RESTIC_PASSWORD", "bench");
    private static final Map<String, String> BORG_ENV = Map.of(
            "BORG_PASSPHRASE", "bench",
            "BORG_RELOCATED_REPO_ACCESS_IS_OK", "yes",
            "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK", "yes");

    /** A way to initialise blockmover's repository: the name in the report and the options of {@code init}. */
    record Codec(String label, List<String> initOptions) {
        String tool(String base) {
            return label.isEmpty() ? base : base + " (" + label + ")";
        }
    }

    private final Path home;
    private final Path work;
    private final boolean ci;
    private final Processes processes;
    private final int runs;
    private final List<Codec> codecs;
    private final String bm;

    FileSystemPhase(Path home, Path work, boolean ci, Processes processes, int runs, List<Codec> codecs) {
        this.home = home;
        this.work = work;
        this.ci = ci;
        this.processes = processes;
        this.runs = runs;
        this.codecs = codecs;
        this.bm = home.resolve("blockmover").toString();
    }

    /** Runs every step; adds the ratios to {@code ratios} and {@code sizes}. */
    List<Measurement> run(List<Report.Ratio> ratios, List<Report.SizeRatio> sizes) throws Exception {
        Path base = makeImage();
        // Named after the image: the CI's small image and the full one share a work directory.
        String name = base.getFileName().toString().replaceFirst("\\.raw$", "");
        Path changed = work.resolve(name + "-changed.raw");
        Path overlay = work.resolve(name + "-changed.qcow2");
        if (!Files.exists(overlay) || Files.getLastModifiedTime(overlay).compareTo(Files.getLastModifiedTime(base)) < 0) {
            System.err.println(processes.run(ToolRun.of("python3", home.resolve("bench/scripts/change-filesystem.py").toString(),
                    base.toString(), changed.toString(), overlay.toString(), "1")).trim());
        }
        long logical = Files.size(base);
        long data = allocatedBytes(base);
        Path warmupImage = work.resolve("warmup-256M.raw");
        if (!Files.exists(warmupImage)) {
            processes.run(ToolRun.of(home.resolve("bench/scripts/make-image.sh").toString(), "256", warmupImage.toString()));
        }
        Path kinImage = KinImage.of(base, work);
        List<Measurement> out = new ArrayList<>();
        try (PeerProcess baseServer = PeerProcess.qemuNbd(base, "raw", "fs", null);
             PeerProcess topServer = PeerProcess.qemuNbd(overlay, "qcow2", "fs", BITMAP);
             PeerProcess warmupServer = PeerProcess.qemuNbd(warmupImage, "raw", "warmup", null);
             PeerProcess kinServer = PeerProcess.qemuNbd(kinImage, "raw", "kin", null)) {
            String baseUri = "nbd://127.0.0.1:" + baseServer.port() + "/fs";
            String topUri = "nbd://127.0.0.1:" + topServer.port() + "/fs";
            ServerCpu baseCpu = ServerCpu.of(baseServer);
            ServerCpu topCpu = ServerCpu.of(topServer);
            Path copy = work.resolve("fs-copy.raw");
            Measurement nbdcopy = measure(new Step(TO_FILE, "nbdcopy", () -> Files.deleteIfExists(copy),
                    ToolRun.of("nbdcopy", baseUri, copy.toString()), Optional.empty()), baseCpu, logical, data);
            Files.deleteIfExists(copy);
            out.add(nbdcopy);

            // Full backups: every run into a fresh repository.
            List<Measurement> ours = new ArrayList<>();
            for (Codec c : codecs) {
                Path repo = repoOf(c);
                ours.add(measure(new Step(FULL, c.tool("blockmover"), () -> init(repo, c),
                        ToolRun.of(bm, "backup", "--repo", repo.toString(), "--full", "--source", baseUri, "--name", "fs/disk0",
                                "--change-id", "s1", "--no-progress"), Optional.of(repo)), baseCpu, logical, data));
            }
            out.addAll(ours);
            Path restic = work.resolve("fs-restic-repo");
            Path borgLz4 = work.resolve("fs-borg-lz4-repo");
            Path borgZstd = work.resolve("fs-borg-zstd-repo");
            Measurement resticFull = measure(new Step(FULL, RESTIC, () -> {
                Bench.delete(restic);
                processes.run(ToolRun.of("restic", "init", "-q", "-r", restic.toString()).withEnv(RESTIC_ENV));
            }, ToolRun.of("restic", "backup", "-q", "-r", restic.toString(), base.toString()).withEnv(RESTIC_ENV),
                    Optional.of(restic)), ServerCpu.NONE, logical, data);
            Measurement borgLz4Full = measure(borgFull(borgLz4, BORG_LZ4, "lz4", base), ServerCpu.NONE, logical, data);
            Measurement borgZstdFull = measure(borgFull(borgZstd, BORG_ZSTD, "zstd,3", base), ServerCpu.NONE, logical, data);
            out.addAll(List.of(resticFull, borgLz4Full, borgZstdFull));

            // Incrementals: each on top of the last full (and the runs before it).
            List<Measurement> ourIncrementals = new ArrayList<>();
            for (Codec c : codecs) {
                Path repo = repoOf(c);
                ourIncrementals.add(measure(new Step(INCREMENTAL, c.tool("blockmover"), Step.Preparation.NONE,
                        ToolRun.of(bm, "backup", "--repo", repo.toString(), "--incremental", "--source", topUri, "--name", "fs/disk0",
                                "--change-id", "s2", "--changes", "qemu:dirty-bitmap:" + BITMAP, "--no-progress"), Optional.of(repo)),
                        topCpu, logical, data));
            }
            out.addAll(ourIncrementals);
            // --force: restic skips a file whose size and mtime its parent snapshot already has, so
            // every run after the first would read nothing; borg and blockmover re-read each time.
            out.add(measure(new Step(INCREMENTAL, RESTIC, Step.Preparation.NONE,
                    ToolRun.of("restic", "backup", "-q", "--force", "-r", restic.toString(), changed.toString()).withEnv(RESTIC_ENV),
                    Optional.of(restic)), ServerCpu.NONE, logical, data));
            out.add(measure(borgIncremental(borgLz4, BORG_LZ4, "lz4", changed), ServerCpu.NONE, logical, data));
            out.add(measure(borgIncremental(borgZstd, BORG_ZSTD, "zstd,3", changed), ServerCpu.NONE, logical, data));

            // Restores of the incremental, each checked once against the changed image.
            Path restored = work.resolve("fs-restored.raw");
            Path defaultRepo = repoOf(codecs.getFirst());
            Measurement ourRestore = measure(new Step(RESTORE, codecs.getFirst().tool("blockmover"), () -> Files.deleteIfExists(restored),
                    ToolRun.of(bm, "restore", "--repo", defaultRepo.toString(), "--to", restored.toString(), "--no-progress"),
                    Optional.empty()), ServerCpu.NONE, logical, data);
            out.add(ourRestore);
            processes.run(ToolRun.of("cmp", changed.toString(), restored.toString()));
            Files.delete(restored);
            Path resticOut = work.resolve("fs-restic-restore");
            out.add(measure(new Step(RESTORE, RESTIC, () -> Bench.delete(resticOut),
                    ToolRun.of("restic", "restore", "-q", "-r", restic.toString(), "latest", "--target", resticOut.toString())
                            .withEnv(RESTIC_ENV), Optional.empty()), ServerCpu.NONE, logical, data));
            processes.run(ToolRun.of("cmp", changed.toString(), resticOut.resolve(changed.toString().substring(1)).toString()));
            Bench.delete(resticOut);
            Path borgOut = work.resolve("fs-borg-restore");
            out.add(measure(new Step(RESTORE, BORG_ZSTD, () -> {
                Bench.delete(borgOut);
                Files.createDirectories(borgOut);
            }, ToolRun.of("sh", "-c", "cd " + borgOut + " && borg extract " + borgZstd + "::$(borg list --last 1 --short " + borgZstd + ")")
                    .withEnv(BORG_ENV), Optional.empty()), ServerCpu.NONE, logical, data));
            processes.run(ToolRun.of("cmp", changed.toString(), borgOut.resolve(changed.toString().substring(1)).toString()));
            Bench.delete(borgOut);

            // The same full, incremental and restore through the warm proxy, per codec.
            List<Measurement> proxyFulls = new ArrayList<>();
            for (Codec c : codecs) {
                String tool = c.tool(ProxySteps.TOOL);
                ServerCpu both = () -> baseCpu.seconds() + topCpu.seconds(); // the full reads one, the incremental the other
                List<Measurement> p = new ProxySteps(bm, processes, work, tool, c.initOptions(), both).measure(
                        List.of(new ProxySteps.Disk("kin", "nbd://127.0.0.1:" + kinServer.port() + "/kin", "k1"),
                                new ProxySteps.Disk("warmup", "nbd://127.0.0.1:" + warmupServer.port() + "/warmup", "w1")),
                        new ProxySteps.Disk("fs", baseUri, "s1"), new ProxySteps.Disk("fs", topUri, "s2", "qemu:dirty-bitmap:" + BITMAP),
                        runs, logical, data, FULL, INCREMENTAL, RESTORE);
                out.addAll(p);
                proxyFulls.add(p.get(0));
                ratios.add(new Report.Ratio("fs: incremental vs full, both through the warm proxy" + codecNote(c)
                        + ": times faster (target >= 20: under 5% of the full)", p.get(1), p.get(0)));
                ratios.add(new Report.Ratio("fs: restore -> file through the warm proxy" + codecNote(c) + " vs nbdcopy export -> file",
                        p.get(2), nbdcopy));
            }
            for (int i = 0; i < codecs.size(); i++) {
                String note = codecNote(codecs.get(i));
                String target = i == 0 ? "target >= 4" : "target >= 6 for the fastest codec";
                ratios.add(new Report.Ratio("fs: full backup through the warm proxy" + note + " vs restic (" + target + ")",
                        proxyFulls.get(i), resticFull));
                ratios.add(new Report.Ratio("fs: full backup through the warm proxy" + note + " vs borg zstd,3"
                        + (i == 0 ? " (target >= 3)" : ""), proxyFulls.get(i), borgZstdFull));
                ratios.add(new Report.Ratio("fs: full backup through the warm proxy" + note + " vs borg lz4", proxyFulls.get(i), borgLz4Full));
                ratios.add(new Report.Ratio("fs: full backup, CLI" + note + " vs restic", ours.get(i), resticFull));
                ratios.add(new Report.Ratio("fs: full backup, CLI" + note + " vs borg zstd,3", ours.get(i), borgZstdFull));
                ratios.add(new Report.Ratio("fs: full backup, CLI" + note + " vs nbdcopy export -> file", ours.get(i), nbdcopy));
                ratios.add(new Report.Ratio("fs: incremental vs full, CLI" + note + ": times faster", ourIncrementals.get(i), ours.get(i)));
                sizes.add(new Report.SizeRatio("fs: repository" + note + " / restic's" + (i == 0 ? " (target <= 1.05)" : ""),
                        ours.get(i), resticFull));
                sizes.add(new Report.SizeRatio("fs: repository" + note + " / borg zstd,3's", ours.get(i), borgZstdFull));
                sizes.add(new Report.SizeRatio("fs: repository" + note + " / borg lz4's", ours.get(i), borgLz4Full));
            }
            ratios.add(new Report.Ratio("fs: restore -> file, CLI vs nbdcopy export -> file", ourRestore, nbdcopy));
        }
        return out;
    }

    private static String codecNote(Codec c) {
        return c.label().isEmpty() ? "" : " (" + c.label() + ")";
    }

    private Path repoOf(Codec c) {
        return work.resolve("fs-repo" + (c.label().isEmpty() ? "" : "-" + c.label().replaceAll("[^A-Za-z0-9]", "")));
    }

    private void init(Path repo, Codec c) throws Exception {
        Bench.delete(repo);
        List<String> argv = new ArrayList<>(List.of(bm, "init", "--repo", repo.toString()));
        argv.addAll(c.initOptions());
        processes.run(new ToolRun(argv, Map.of()));
    }

    private Step borgFull(Path repo, String tool, String compression, Path image) {
        return new Step(FULL, tool, () -> {
            Bench.delete(repo);
            processes.run(ToolRun.of("borg", "init", "-e", "repokey", repo.toString()).withEnv(BORG_ENV));
        }, ToolRun.of("borg", "create", "-C", compression, repo + "::full", image.toString()).withEnv(BORG_ENV), Optional.of(repo));
    }

    /** Archive names must be unique in a repository: borg's {now} placeholder makes each run's its own. */
    private static Step borgIncremental(Path repo, String tool, String compression, Path image) {
        return new Step(INCREMENTAL, tool, Step.Preparation.NONE,
                ToolRun.of("borg", "create", "-C", compression, repo + "::inc-{now:%H%M%S%f}", image.toString()).withEnv(BORG_ENV),
                Optional.of(repo));
    }

    private Measurement measure(Step step, ServerCpu server, long logical, long data) throws Exception {
        System.err.printf("measuring %s with %s (%d run%s)%n", step.step(), step.tool(), runs, runs == 1 ? "" : "s");
        List<Sample> samples = new ArrayList<>();
        for (int i = 0; i < runs; i++) {
            step.prepare().run();
            double before = server.seconds();
            Sample s = processes.timed(step.command());
            samples.add(s.withServerCpu(server.seconds() - before));
        }
        OptionalLong repo = step.repository().map(p -> OptionalLong.of(Bench.sizeOf(p))).orElse(OptionalLong.empty());
        return new Measurement(step.step(), step.tool(), logical, data, samples, repo);
    }

    private Path makeImage() throws IOException, InterruptedException {
        Path image = work.resolve(ci ? "filesystem-512M.raw" : "filesystem-6G.raw");
        if (!Files.exists(image)) {
            System.err.println("building " + image);
            processes.run(ci
                    ? ToolRun.of(home.resolve("bench/scripts/make-small-filesystem-image.sh").toString(), "512", image.toString())
                    : ToolRun.of(home.resolve("../shared/bench/make-filesystem-image.sh").normalize().toString(), image.toString()));
        }
        return image;
    }

    /** Bytes the image file has allocated (its data; the rest is holes), as du counts them. */
    private long allocatedBytes(Path image) throws IOException, InterruptedException {
        return Long.parseLong(processes.run(ToolRun.of("du", "-B1", image.toString())).split("\\s+")[0]);
    }
}

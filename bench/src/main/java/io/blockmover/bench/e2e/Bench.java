package io.blockmover.bench.e2e;

import io.blockmover.mover.transport.nbd.NbdTuning;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The end-to-end benchmark: blockmover against the tools people use instead, on the same image
 * in the same run. Every tool reads the same data; ratios are the headline because absolute
 * times vary between machines.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Measure blockmover against nbdcopy, restic, borg, qemu-nbd and fio, phase by phase.")
public final class Bench implements Callable<Integer> {

    private static final Map<String, String> RESTIC_ENV = Map.of("RESTIC_PASSWORD", "bench");
    private static final Map<String, String> BORG_ENV = Map.of(
            "BORG_PASSPHRASE", "bench",
            "BORG_RELOCATED_REPO_ACCESS_IS_OK", "yes",
            "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK", "yes");

    @Option(names = "--ci", description = "Small image, one run each: the CI smoke benchmark.")
    boolean ci;

    @Option(names = "--runs", description = "Runs of each step; the median is reported (default: 3, 1 with --ci).")
    Integer runs;

    @Option(names = "--work", description = "Scratch directory for images and repositories (default: ${DEFAULT-VALUE}).",
            defaultValue = "${java.io.tmpdir}/blockmover-bench")
    Path work;

    @Option(names = "--phases", split = ",", paramLabel = "PHASE",
            description = "Phases to run, comma-separated, of: ${COMPLETION-CANDIDATES} (default: all). export and s3 bring "
                    + "the CLI's own full, incremental and restore of the reference image (their input and baseline); "
                    + "any other ratio is reported when both its sides ran.")
    List<Phase> phases = List.of();

    @Option(names = "--results", description = "Where the JSON result goes (default: <home>/bench/results).")
    Path results;

    @Option(names = "--proxy-launcher", paramLabel = "PATH", description = "The blockmover launcher whose proxy the proxy "
            + "phase measures (default: this checkout's). The emulated host stays this checkout's, so runs with two "
            + "builds, alternated, compare their proxies on the same server.")
    Path proxyLauncher;

    @Option(names = "--fs-codecs", split = ",", paramLabel = "CODEC", description = "Repository codecs measured on the "
            + "file-system image beside the default, as init's --compression values, each optionally with a frame size "
            + "after a slash (init's --frame-size), e.g. lz4,zstd:3,zstd:1/1M,zstd:3/1M (default: none).")
    List<String> fsCodecs = List.of();

    private final Path home = Path.of(System.getProperty("blockmover.home", ".")).toAbsolutePath().normalize();

    public static void main(String[] args) {
        System.exit(new CommandLine(new Bench()).setCaseInsensitiveEnumValuesAllowed(true).execute(args));
    }

    /** What the phases measured, gathered for one report. */
    private static final class Collected {
        final List<Measurement> measured = new ArrayList<>();
        final Map<String, Measurement> byKey = new java.util.HashMap<>();
        final List<Report.Rate> rates = new ArrayList<>();
        final List<Report.Figure> figures = new ArrayList<>();
        final List<Report.Ratio> fsRatios = new ArrayList<>();
        final List<Report.SizeRatio> sizeRatios = new ArrayList<>();
        final List<String> images = new ArrayList<>();
        final List<String> load = new ArrayList<>();

        void add(Measurement m) {
            measured.add(m);
            byKey.put(m.tool() + "|" + m.step(), m);
        }

        void addAll(List<Measurement> ms) {
            ms.forEach(this::add);
        }
    }

    /** {@code CODEC} or {@code CODEC/FRAME}: a repository codec, and the frame size (issue 18's frames) if given. */
    static FileSystemPhase.Codec fsCodec(String value) {
        int slash = value.indexOf('/');
        if (slash < 0) {
            return new FileSystemPhase.Codec(value, List.of("--compression", value));
        }
        return new FileSystemPhase.Codec(value, List.of("--compression", value.substring(0, slash), "--frame-size", value.substring(slash + 1)));
    }

    @Override
    public Integer call() throws Exception {
        int n = runs != null ? runs : ci ? 1 : 3;
        Files.createDirectories(work);
        EnumSet<Phase> selected = phases.isEmpty() ? EnumSet.allOf(Phase.class) : EnumSet.copyOf(phases);
        Processes processes = new Processes(work);
        Collected c = new Collected();
        if (selected.stream().anyMatch(Phase.ON_REFERENCE_IMAGE::contains)) {
            referenceImage(selected, processes, n, c);
        }
        if (selected.contains(Phase.FILESYSTEM)) {
            c.load.add("filesystem " + Load.now());
            List<FileSystemPhase.Codec> codecs = new ArrayList<>(List.of(new FileSystemPhase.Codec("", List.of())));
            fsCodecs.forEach(codec -> codecs.add(fsCodec(codec)));
            c.images.add("filesystem: an ext4 guest disk served by qemu-nbd (steps fs:)");
            c.addAll(new FileSystemPhase(home, work, ci, processes, n, codecs).run(c.fsRatios, c.sizeRatios));
        }
        if (selected.contains(Phase.VSPHERE)) {
            c.load.add("vsphere " + Load.now());
            c.images.add("vsphere: a 1 GiB VM disk of the emulated host, 1% changed per job");
            c.addAll(new VcenterSteps(home.resolve("blockmover").toString(), work).measure(Math.max(n, 3)));
        }
        if (selected.contains(Phase.EMULATOR)) {
            c.load.add("emulator " + Load.now());
            c.addAll(emulatedHostSteps(processes, n));
        }
        c.load.add("end " + Load.now());

        // Only the ratios whose both sides ran: a phase alone reports its own.
        List<Report.Ratio> ratios = new ArrayList<>(ratios(c.byKey).stream().filter(r -> r.ours() != null && r.peer() != null).toList());
        ratios.addAll(c.fsRatios);
        List<Report.RateRatio> rateRatios = c.rates.size() < 2 ? List.of()
                : List.of(new Report.RateRatio("instant restore: random 4 KiB read IOPS, export vs qemu-nbd on the restored file",
                        c.rates.get(0), c.rates.get(1)));
        String names = selected.stream().map(Phase::toString).collect(Collectors.joining(","));
        Report report = new Report(String.join("; ", c.images), names, String.join("; ", c.load), c.measured, ratios, c.rates,
                rateRatios, c.figures, c.sizeRatios);
        report.printTable(System.out);
        String prefix = (ci ? "ci-" : "") + (selected.size() == Phase.values().length ? "" : names.replace(',', '-') + "-");
        Path out = (results != null ? results : home.resolve("bench/results"))
                .resolve(prefix + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")) + ".json");
        report.writeJson(out);
        System.out.println("\nresults: " + out);
        return 0;
    }

    /**
     * The phases on the reference image, as a VM disk of the emulated host: snapshots and changed
     * block tracking as vSphere gives them; every tool reads the same snapshot export.
     */
    private void referenceImage(Set<Phase> selected, Processes processes, int n, Collected c) throws Exception {
        Path image = makeImage(processes);
        long logical = Files.size(image);
        c.images.add(image.getFileName() + " (" + logical / 1048576 + " MiB), a VM disk of the emulated host");
        c.load.add(selected.stream().filter(Phase.ON_REFERENCE_IMAGE::contains).map(Phase::toString)
                .collect(Collectors.joining(",")) + " " + Load.now());
        boolean peers = selected.contains(Phase.REFERENCE);
        // export reads the CLI's backups and restored disk; s3 divides by the CLI's local figures.
        boolean cli = peers || selected.contains(Phase.EXPORT) || selected.contains(Phase.S3);
        Path repo = work.resolve("blockmover-repo");
        Path restored = work.resolve("restored.raw");
        String bm = home.resolve("blockmover").toString();
        String vm = image.getFileName().toString().replaceFirst("\\.raw$", "");
        // vm01 shares nothing with the image: the proxy's untimed first job reads it.
        boolean proxies = selected.contains(Phase.PROXY) || selected.contains(Phase.S3);
        try (PeerProcess esx = PeerProcess.esxsim(bm, List.of("--vms", "1", "--disks-per-vm", "1", "--disk-size", "256M",
                "--profile", "mixed", "--image", image.toString(), "--control", "127.0.0.1:0"));
             PeerProcess kin = proxies ? PeerProcess.qemuNbd(KinImage.of(image, work), "raw", "kin", null) : null) {
            EsxControl control = new EsxControl(esx.controlUrl());
            String nbd = "nbd://127.0.0.1:" + esx.port() + "/";
            EsxControl.SnapshotDisk s1 = control.snapshot(vm, "s1").getFirst();
            for (Step step : fullSteps(nbd + s1.export(), s1.changeId(), image, repo, peers, cli)) {
                c.add(measure(processes, step, n, logical));
            }
            if (selected.contains(Phase.VDDK)) {
                c.addAll(vddkSteps(processes, control, esx.port(), vm, "s1", nbd + s1.export(), n, logical));
            }
            if (!cli && !selected.contains(Phase.PROXY)) {
                return;
            }
            changeOnePercent(control, vm + "/disk-2000", logical);
            EsxControl.SnapshotDisk s2 = control.snapshot(vm, "s2").getFirst();
            if (cli) {
                for (Step step : incrementalSteps(nbd + s2.export(), s2.changeId(), s1.changeId(), repo, restored)) {
                    c.add(measure(processes, step, n, logical));
                }
                checkRestore(processes, nbd + s2.export(), restored);
            }
            if (selected.contains(Phase.EXPORT)) {
                // Instant restore of the latest backup (s2's): its export against s2's snapshot and qemu-nbd on the restored file.
                c.load.add("export " + Load.now());
                ExportSteps.Results instant = new ExportSteps(bm, processes).measure(repo, nbd + s2.export(), ServerCpu.of(esx), restored,
                        logical, n, ci ? 3 : 10);
                c.addAll(instant.copies());
                c.rates.addAll(instant.rates());
            }
            if (proxies) {
                // The proxy's untimed warm-up: a full of the image's kin (the same kind of data, none of
                // its content), then a full and an incremental of vm01, which shares nothing with the
                // image, so that its code paths are as warm as a proxy's that has run for a while.
                // s3 compares the warm proxy on a bucket with the same proxy on a local repository.
                c.load.add("proxy " + Load.now());
                EsxControl.SnapshotDisk w1 = control.snapshot("vm01", "w1").getFirst();
                changeOnePercent(control, "vm01/disk-2000", 256L << 20);
                EsxControl.SnapshotDisk w2 = control.snapshot("vm01", "w2").getFirst();
                String proxy = proxyLauncher != null ? proxyLauncher.toAbsolutePath().toString() : bm;
                if (proxyLauncher != null) {
                    c.images.add("proxy phase: the proxy of " + proxy);
                }
                List<ProxySteps.Disk> warmups = List.of(new ProxySteps.Disk("kin", "nbd://127.0.0.1:" + kin.port() + "/kin", "k1"),
                        new ProxySteps.Disk("warmup", nbd + w1.export(), w1.changeId()),
                        new ProxySteps.Disk("warmup", nbd + w2.export(), w2.changeId()));
                ProxySteps.Disk full = new ProxySteps.Disk(vm, nbd + s1.export(), s1.changeId());
                ProxySteps.Disk incremental = new ProxySteps.Disk(vm, nbd + s2.export(), s2.changeId());
                c.addAll(new ProxySteps(proxy, processes, work).measure(warmups, full, incremental, n, logical, FULL, INCREMENTAL, RESTORE));
                if (selected.contains(Phase.S3)) {
                    // The same three with the repository in an object store, by the CLI and through the warm proxy
                    // (this build's); restic restores beside them from the same server.
                    c.load.add("s3 " + Load.now());
                    try (S3Steps s3 = S3Steps.start(bm, processes, work)) {
                        c.addAll(s3.cli(full.uri(), full.changeId(), incremental.uri(), incremental.changeId(), image, n, logical,
                                FULL, INCREMENTAL, RESTORE));
                        c.addAll(s3.proxy(warmups, full, incremental, n, logical, FULL, INCREMENTAL, RESTORE));
                        c.figures.addAll(figures(s3.cost()));
                    }
                }
            }
        }
    }

    /** speedup = peer / ours = control plane / whole job: the control plane's share of the job. */
    private static Report.Ratio controlShare(Map<String, Measurement> m) {
        return new Report.Ratio("control-plane share of a VM job through vCenter (control plane / whole job; "
                + "goal: control plane under 0.2 s, see its own row)", m.get(VcenterSteps.TOOL + "|" + VcenterSteps.JOB),
                m.get(VcenterSteps.TOOL + "|" + VcenterSteps.CONTROL));
    }

    private static final String OURS = "blockmover";
    private static final String TRANSPORT_READ = "read snapshot disk -> null, same copy loop";
    private static final String VIA_NBD = OURS + " nbd-copy, NBD transport";
    private static final String VIA_VDDK = OURS + " nbd-copy, VDDK transport (test fixture), ReadAsync on 2 handles (default)";
    private static final String VIA_VDDK_ONE = OURS + " nbd-copy, VDDK transport (test fixture), ReadAsync on 1 handle";
    private static final String VIA_VDDK_HANDLES = OURS + " nbd-copy, VDDK transport (test fixture), Read on 4 handles";

    /**
     * The VDDK transport against the NBD transport on the same snapshot disk in the same run: the
     * same copy loop (nbd-copy's) reading to null, once through our NBD client, once through the
     * FFM bridge and the VDDK test fixture (which itself reads the export with libnbd: one hop
     * more, so the ratio bounds the bridge's own cost); then ReadAsync pipelining on one handle
     * against synchronous Reads spread over four handles.
     */
    private List<Measurement> vddkSteps(Processes processes, EsxControl control, int nbdPort, String vm, String snapshot,
                                        String nbdUri, int runs, long logical) throws Exception {
        EsxControl.VddkName name = control.vddkName(vm, snapshot);
        Path config = work.resolve("vddk-fixture.conf");
        Files.writeString(config, "fixture.disk = " + name.vmMoref() + "|" + name.snapshotMoref() + "|" + name.fileName() + "|"
                + nbdUri.substring(nbdUri.indexOf('/', "nbd://".length()) + 1) + "\n");
        String vddkUri = "vddk://127.0.0.1:" + nbdPort + "/" + name.vmMoref() + "/" + name.snapshotMoref() + "/"
                + java.net.URLEncoder.encode(name.fileName(), java.nio.charset.StandardCharsets.UTF_8).replace("+", "%20");
        String bm = home.resolve("blockmover").toString();
        String libDir = home.resolve("native-bridge/target/vddk-test-fixture").toString();
        List<String> vddkArgs = List.of("--vddk-libdir", libDir, "--vddk-config", config.toString());
        List<String> async = new ArrayList<>(List.of(bm, "nbd-copy", vddkUri, "null:"));
        async.addAll(vddkArgs);
        List<String> one = new ArrayList<>(async);
        one.addAll(List.of("--vddk-handles", "1"));
        List<String> handles = new ArrayList<>(async);
        handles.addAll(List.of("--vddk-handles", "4", "--vddk-reads", "sync"));
        List<Measurement> out = new ArrayList<>(measureAlternating(processes,
                new Step(TRANSPORT_READ, VIA_NBD, Step.Preparation.NONE, ToolRun.of(bm, "nbd-copy", nbdUri, "null:"), Optional.empty()),
                new Step(TRANSPORT_READ, VIA_VDDK, Step.Preparation.NONE, ToolRun.of(async.toArray(String[]::new)), Optional.empty()),
                runs, logical));
        out.addAll(measureAlternating(processes,
                new Step(TRANSPORT_READ, VIA_VDDK_ONE, Step.Preparation.NONE, ToolRun.of(one.toArray(String[]::new)), Optional.empty()),
                new Step(TRANSPORT_READ, VIA_VDDK_HANDLES, Step.Preparation.NONE, ToolRun.of(handles.toArray(String[]::new)),
                        Optional.empty()),
                runs, logical));
        return out;
    }
    /** How {@code nbd-copy} runs by default: the issue asks for the copy ratios with it. */
    private static final String OUR_COPY_TUNING = String.format(Locale.ROOT, "ours %d x %d KiB in flight, %d connections",
            NbdTuning.DEFAULT_REQUESTS_IN_FLIGHT, NbdTuning.DEFAULT_REQUEST_SIZE >> 10, NbdTuning.DEFAULT_CONNECTIONS);
    private static final String FULL = "full backup";
    private static final String INCREMENTAL = "incremental, 1% changed";
    private static final String RESTORE = "restore -> file";
    private static final String TO_NULL = "read export -> null";
    private static final String TO_NULL_TLS = "read export -> null, TLS";
    private static final String TO_FILE = "read export -> file";
    private static final String TO_FILE_DURABLE = "read export -> file, fsync";
    private static final String FILE_BACKUP = "full backup (image as a file)";

    private static List<Report.Ratio> ratios(Map<String, Measurement> m) {
        List<Report.Ratio> out = new ArrayList<>();
        Measurement full = m.get(OURS + "|" + FULL);
        out.add(new Report.Ratio("full backup: blockmover vs restic (time ratio, higher is better)", full, m.get("restic 0.14|" + FILE_BACKUP)));
        out.add(new Report.Ratio("full backup: blockmover vs borg", full, m.get("borg 1.2|" + FILE_BACKUP)));
        out.add(new Report.Ratio("full backup vs nbdcopy export -> file (target >= 0.8)", full, m.get("nbdcopy|" + TO_FILE)));
        out.add(new Report.Ratio("restore -> file vs nbdcopy export -> file (target >= 0.8)", m.get(OURS + "|" + RESTORE),
                m.get("nbdcopy|" + TO_FILE)));
        out.add(new Report.Ratio("restore -> file vs nbdcopy --flush (both durable)", m.get(OURS + "|" + RESTORE),
                m.get("nbdcopy --flush|" + TO_FILE_DURABLE)));
        out.add(new Report.Ratio("nbd-copy -> null vs nbdcopy -> null (target >= 1.0; " + OUR_COPY_TUNING + ")",
                m.get(OURS + " nbd-copy|" + TO_NULL), m.get("nbdcopy|" + TO_NULL)));
        out.add(new Report.Ratio("nbd-copy -> null vs nbdcopy -> null over TLS, random data (target >= 1.0; " + OUR_COPY_TUNING + ")",
                m.get(OURS + " nbd-copy|" + TO_NULL_TLS), m.get("nbdcopy|" + TO_NULL_TLS)));
        out.add(new Report.Ratio("incremental (1% changed) vs full: times faster (target >= 20)", m.get(OURS + "|" + INCREMENTAL), full));
        Measurement proxyFull = m.get(ProxySteps.TOOL + "|" + FULL);
        out.add(new Report.Ratio("full backup through the warm proxy vs restic (target >= 4)", proxyFull, m.get("restic 0.14|" + FILE_BACKUP)));
        out.add(new Report.Ratio("full backup through the warm proxy vs borg (target >= 4)", proxyFull, m.get("borg 1.2|" + FILE_BACKUP)));
        out.add(new Report.Ratio("full backup through the warm proxy vs nbdcopy -> file (target >= 0.8)", proxyFull,
                m.get("nbdcopy|" + TO_FILE)));
        out.add(new Report.Ratio("restore -> file through the warm proxy vs nbdcopy export -> file (target >= 0.8)",
                m.get(ProxySteps.TOOL + "|" + RESTORE), m.get("nbdcopy|" + TO_FILE)));
        out.add(new Report.Ratio("incremental vs full, both through the warm proxy: times faster (target >= 20)",
                m.get(ProxySteps.TOOL + "|" + INCREMENTAL), proxyFull));
        out.add(new Report.Ratio("VDDK transport (fixture, ReadAsync) vs NBD transport, same disk -> null (target >= 0.9)",
                m.get(VIA_VDDK + "|" + TRANSPORT_READ), m.get(VIA_NBD + "|" + TRANSPORT_READ)));
        out.add(new Report.Ratio("VDDK ReadAsync on 1 handle vs Read on 4 handles, same disk -> null",
                m.get(VIA_VDDK_ONE + "|" + TRANSPORT_READ), m.get(VIA_VDDK_HANDLES + "|" + TRANSPORT_READ)));
        out.add(controlShare(m));
        out.add(new Report.Ratio("instant restore: nbdcopy from the export vs from the snapshot it was taken of, checked on every copy "
                + "(target >= 0.8)",
                m.get(ExportSteps.TOOL + "|" + ExportSteps.STEP), m.get(ExportSteps.SNAPSHOT + "|" + ExportSteps.STEP)));
        out.add(new Report.Ratio("instant restore: the same, a fresh export's first copy (JIT warm-up included)",
                m.get(ExportSteps.TOOL + "|" + ExportSteps.STEP_FIRST), m.get(ExportSteps.SNAPSHOT + "|" + ExportSteps.STEP_FIRST)));
        out.add(new Report.Ratio("instant restore: the same, cache holds the disk (chunks checked once, third and later copies)",
                m.get(ExportSteps.TOOL + "|" + ExportSteps.STEP_CACHED), m.get(ExportSteps.SNAPSHOT + "|" + ExportSteps.STEP_CACHED)));
        out.addAll(s3Ratios(m));
        out.add(new Report.Ratio("esxsim serving random data vs nbdkit pattern (target >= 0.8)",
                m.get("nbdcopy <- esxsim (random)|" + TO_NULL), m.get("nbdcopy <- nbdkit pattern|" + TO_NULL)));
        return out;
    }

    /** The object store against the local repository, each way a job runs, and against restic's restore. */
    private static List<Report.Ratio> s3Ratios(Map<String, Measurement> m) {
        String proxy = S3Steps.PROXY_TOOL;
        String local = ProxySteps.TOOL;
        return List.of(
                new Report.Ratio("full backup into s3proxy vs into a local repository, warm proxy (goal >= 0.7)",
                        m.get(proxy + "|" + FULL), m.get(local + "|" + FULL)),
                new Report.Ratio("incremental 1% into s3proxy vs into a local repository, warm proxy (goal >= 0.5)",
                        m.get(proxy + "|" + INCREMENTAL), m.get(local + "|" + INCREMENTAL)),
                new Report.Ratio("restore from s3proxy, warm proxy, vs restic restore (same server)",
                        m.get(proxy + "|" + RESTORE), m.get(S3Steps.RESTIC + "|" + RESTORE)),
                new Report.Ratio("restore from s3proxy vs from a local repository, warm proxy",
                        m.get(proxy + "|" + RESTORE), m.get(local + "|" + RESTORE)),
                new Report.Ratio("full backup into s3proxy vs into a local repository, CLI (goal >= 0.7)",
                        m.get(S3Steps.TOOL + "|" + FULL), m.get(OURS + "|" + FULL)),
                new Report.Ratio("incremental 1% into s3proxy vs into a local repository, CLI (goal >= 0.5)",
                        m.get(S3Steps.TOOL + "|" + INCREMENTAL), m.get(OURS + "|" + INCREMENTAL)),
                new Report.Ratio("restore from s3proxy, CLI, vs restic restore (same server)",
                        m.get(S3Steps.TOOL + "|" + RESTORE), m.get(S3Steps.RESTIC + "|" + RESTORE)),
                new Report.Ratio("restore from s3proxy vs from a local repository, CLI",
                        m.get(S3Steps.TOOL + "|" + RESTORE), m.get(OURS + "|" + RESTORE)));
    }

    /** The object store's bill: requests per GiB the backups stored. */
    private static List<Report.Figure> figures(S3Steps.Cost c) {
        List<Report.Figure> out = new ArrayList<>();
        perGiB(out, "S3 requests per GiB stored, full backup", c.fullPerGiB());
        out.add(new Report.Figure("S3 requests of the full backup", c.fullRequests(), "requests"));
        perGiB(out, "S3 requests per GiB stored, 1% incremental", c.incrementalPerGiB());
        out.add(new Report.Figure("S3 requests of the 1% incremental", c.incrementalRequests(), "requests"));
        return out;
    }

    /** A backup whose chunks were all known already stored nothing: it has no per-GiB figure (it was infinite). */
    private static void perGiB(List<Report.Figure> out, String label, double value) {
        if (Double.isFinite(value)) {
            out.add(new Report.Figure(label, value, "requests/GiB"));
        }
    }

    /** The full copies and backups of the first snapshot: the peers' ({@code peers}) and the CLI's ({@code cli}), in that order. */
    private List<Step> fullSteps(String uri, String changeId, Path image, Path repo, boolean peers, boolean cli) {
        Path copy = work.resolve("copy.raw");
        Path restic = work.resolve("restic-repo");
        Path borg = work.resolve("borg-repo");
        String bm = home.resolve("blockmover").toString();
        List<Step> out = new ArrayList<>();
        if (peers) {
            out.addAll(List.of(
                    new Step(TO_NULL, "nbdcopy", Step.Preparation.NONE, ToolRun.of("nbdcopy", uri, "null:"), Optional.empty()),
                    new Step(TO_NULL, OURS + " nbd-copy", Step.Preparation.NONE, ToolRun.of(bm, "nbd-copy", uri, "null:"), Optional.empty()),
                    new Step(TO_FILE, "nbdcopy", () -> Files.deleteIfExists(copy),
                            ToolRun.of("nbdcopy", uri, copy.toString()), Optional.empty()),
                    // Restores fsync the file before reporting success; this is the like-for-like peer.
                    new Step(TO_FILE_DURABLE, "nbdcopy --flush", () -> Files.deleteIfExists(copy),
                            ToolRun.of("nbdcopy", "--flush", uri, copy.toString()), Optional.empty())));
        }
        if (cli) {
            out.add(new Step(FULL, OURS, () -> {
                delete(repo);
                new Processes(work).run(ToolRun.of(bm, "init", "--repo", repo.toString()));
            }, ToolRun.of(bm, "backup", "--repo", repo.toString(), "--full", "--source", uri, "--name", "ref/disk0",
                    "--change-id", changeId, "--no-progress"), Optional.of(repo)));
        }
        if (peers) {
            out.addAll(List.of(
                    new Step(FILE_BACKUP, "restic 0.14", () -> {
                        delete(restic);
                        new Processes(work).run(ToolRun.of("restic", "init", "-q", "-r", restic.toString()).withEnv(RESTIC_ENV));
                    }, ToolRun.of("restic", "backup", "-q", "-r", restic.toString(), image.toString()).withEnv(RESTIC_ENV),
                            Optional.of(restic)),
                    new Step(FILE_BACKUP, "borg 1.2", () -> {
                        delete(borg);
                        new Processes(work).run(ToolRun.of("borg", "init", "-e", "repokey", borg.toString()).withEnv(BORG_ENV));
                    }, ToolRun.of("borg", "create", borg + "::a", image.toString()).withEnv(BORG_ENV), Optional.of(borg))));
        }
        return out;
    }

    /**
     * Every run of the incremental asks for the areas changed since the full backup's snapshot
     * ({@code --changes}), so each run does the same work whatever the previous run recorded.
     */
    private List<Step> incrementalSteps(String uri, String changeId, String sinceChangeId, Path repo, Path restored) {
        String bm = home.resolve("blockmover").toString();
        return List.of(
                new Step(INCREMENTAL, OURS, Step.Preparation.NONE,
                        ToolRun.of(bm, "backup", "--repo", repo.toString(), "--incremental", "--source", uri, "--name", "ref/disk0",
                                "--change-id", changeId, "--changes", sinceChangeId, "--no-progress"), Optional.of(repo)),
                new Step(RESTORE, OURS, () -> Files.deleteIfExists(restored),
                        ToolRun.of(bm, "restore", "--repo", repo.toString(), "--to", restored.toString(), "--no-progress"),
                        Optional.empty()),
                new Step("verify (re-read, digest check)", OURS, Step.Preparation.NONE,
                        ToolRun.of(bm, "verify", "--repo", repo.toString(), "--no-progress"), Optional.empty()));
    }

    /**
     * The emulated host: how fast it serves allocated data against nbdkit's pattern plugin (the
     * fastest synthetic NBD server) on the same size, and a blockmover full backup of a larger
     * thin disk of mixed content (holes, zeros, duplicates, text, random).
     */
    private List<Measurement> emulatedHostSteps(Processes processes, int n) throws Exception {
        String bm = home.resolve("blockmover").toString();
        long dense = ci ? 256L << 20 : 2L << 30;
        String mixedSize = ci ? "1G" : "16G";
        List<Measurement> out = new ArrayList<>();
        try (PeerProcess esx = PeerProcess.esxsim(bm, List.of("--vms", "1", "--disks-per-vm", "1",
                "--disk-size", Long.toString(dense), "--profile", "random", "--seed", "7"));
             PeerProcess nbdkit = PeerProcess.nbdkit("pattern", Long.toString(dense))) {
            // Both are long-running servers. The emulator's JIT settles after two or three full
            // reads, so it gets three untimed ones (nbdkit, in C, gains nothing from them but gets
            // one too); then the two are timed in turn, so a change in the machine's load falls on both.
            String esxUri = "nbd://127.0.0.1:" + esx.port() + "/vm01/disk-2000";
            String nbdkitUri = "nbd://127.0.0.1:" + nbdkit.port();
            for (int i = 0; i < 3; i++) {
                processes.run(ToolRun.of("nbdcopy", esxUri, "null:"));
            }
            processes.run(ToolRun.of("nbdcopy", nbdkitUri, "null:"));
            out.addAll(measureAlternating(processes,
                    new Step(TO_NULL, "nbdcopy <- esxsim (random)", Step.Preparation.NONE, ToolRun.of("nbdcopy", esxUri, "null:"), Optional.empty()),
                    new Step(TO_NULL, "nbdcopy <- nbdkit pattern", Step.Preparation.NONE, ToolRun.of("nbdcopy", nbdkitUri, "null:"), Optional.empty()),
                    n, dense));
        }
        out.addAll(tlsCopySteps(processes, n, dense));
        Path repo = work.resolve("blockmover-mixed-repo");
        try (PeerProcess esx = PeerProcess.esxsim(bm, List.of("--vms", "1", "--disks-per-vm", "1",
                "--disk-size", mixedSize, "--profile", "mixed", "--seed", "42"))) {
            String uri = "nbd://127.0.0.1:" + esx.port() + "/vm01/disk-2000";
            long size = ci ? 1L << 30 : 16L << 30;
            out.add(measure(processes, new Step(TO_NULL + " (" + mixedSize + " mixed)", "nbdcopy", Step.Preparation.NONE,
                    ToolRun.of("nbdcopy", uri, "null:"), Optional.empty()), n, size));
            // The same copy with a cold JVM on an export big enough that start-up is not most of the job.
            out.add(measure(processes, new Step(TO_NULL + " (" + mixedSize + " mixed)", OURS + " nbd-copy", Step.Preparation.NONE,
                    ToolRun.of(bm, "nbd-copy", uri, "null:"), Optional.empty()), n, size));
            out.add(measure(processes, new Step(FULL + " (" + mixedSize + " mixed)", OURS, () -> {
                delete(repo);
                new Processes(work).run(ToolRun.of(bm, "init", "--repo", repo.toString()));
            }, ToolRun.of(bm, "backup", "--repo", repo.toString(), "--full", "--source", uri, "--no-progress"),
                    Optional.of(repo)), n, size));
        }
        return out;
    }

    /**
     * A cold copy over TLS, ours against nbdcopy (GnuTLS), from the emulator serving random data
     * with a self-signed certificate, both verifying it; warm-up reads first, then in turn.
     */
    private List<Measurement> tlsCopySteps(Processes processes, int n, long size) throws Exception {
        String bm = home.resolve("blockmover").toString();
        Path pki = work.resolve("pki");
        Files.createDirectories(pki);
        Path cert = pki.resolve("server-cert.pem");
        Path key = pki.resolve("server-key.pem");
        processes.run(ToolRun.of("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key.toString(),
                "-out", cert.toString(), "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-days", "2"));
        Files.copy(cert, pki.resolve("ca-cert.pem"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        try (PeerProcess esx = PeerProcess.esxsim(bm, List.of("--vms", "1", "--disks-per-vm", "1", "--disk-size", Long.toString(size),
                "--profile", "random", "--seed", "9", "--tls-cert", cert.toString(), "--tls-key", key.toString(), "--tls-required"))) {
            String uri = "nbds://127.0.0.1:" + esx.port() + "/vm01/disk-2000";
            ToolRun theirs = ToolRun.of("nbdcopy", uri + "?tls-certificates=" + pki, "null:");
            for (int i = 0; i < 3; i++) {
                processes.run(theirs);
            }
            return measureAlternating(processes,
                    new Step(TO_NULL_TLS, OURS + " nbd-copy", Step.Preparation.NONE,
                            ToolRun.of(bm, "nbd-copy", "--tls-ca", pki.resolve("ca-cert.pem").toString(), uri, "null:"), Optional.empty()),
                    new Step(TO_NULL_TLS, "nbdcopy", Step.Preparation.NONE, theirs, Optional.empty()), n, size);
        }
    }

    /** A guest writes 1% of the disk in 64 KiB pieces at spread-out offsets; CBT records it. */
    private static void changeOnePercent(EsxControl control, String export, long capacity) throws Exception {
        int piece = 64 << 10;
        long pieces = capacity / 100 / piece;
        long stride = capacity / pieces;
        for (long i = 0; i < pieces; i++) {
            long at = (i * stride + (i * 7919 % 13) * piece) / piece * piece;
            control.write(export, at, piece);
        }
    }

    /** The last restore must equal the snapshot byte for byte; a bench never reports a wrong result. */
    private void checkRestore(Processes processes, String snapshotUri, Path restored) throws Exception {
        Path expected = work.resolve("expected.raw");
        Files.deleteIfExists(expected);
        processes.run(ToolRun.of("nbdcopy", snapshotUri, expected.toString()));
        processes.run(ToolRun.of("cmp", expected.toString(), restored.toString()));
        Files.delete(expected);
        System.err.println("restore check: the restored disk is byte-identical to the snapshot");
    }

    private Path makeImage(Processes processes) throws IOException, InterruptedException {
        Path image = work.resolve(ci ? "reference-256M.raw" : "reference-2G.raw");
        if (!Files.exists(image)) {
            System.err.println("building " + image);
            ToolRun make = ci
                    ? ToolRun.of(home.resolve("bench/scripts/make-image.sh").toString(), "256", image.toString())
                    : ToolRun.of(home.resolve("../shared/bench/make-reference-image.sh").normalize().toString(), image.toString());
            processes.run(make);
        }
        return image;
    }

    /** The copy of the emulator's large mixed disk (16G, or 1G with --ci) by {@code tool}; null if the emulator phase did not run. */
    private static Measurement mixedCopy(Map<String, Measurement> m, String tool) {
        return m.entrySet().stream().filter(e -> e.getKey().startsWith(tool + "|" + TO_NULL + " (") && e.getKey().endsWith(" mixed)"))
                .map(Map.Entry::getValue).findFirst().orElse(null);
    }

    /** Two steps timed in turn, run by run. */
    static List<Measurement> measureAlternating(Processes processes, Step a, Step b, int runs, long logical) throws Exception {
        System.err.printf("measuring %s with %s and %s in turn (%d runs each)%n", a.step(), a.tool(), b.tool(), runs);
        List<Sample> as = new ArrayList<>();
        List<Sample> bs = new ArrayList<>();
        for (int i = 0; i < runs; i++) {
            a.prepare().run();
            as.add(processes.timed(a.command()));
            b.prepare().run();
            bs.add(processes.timed(b.command()));
        }
        return List.of(new Measurement(a.step(), a.tool(), logical, as, OptionalLong.empty()),
                new Measurement(b.step(), b.tool(), logical, bs, OptionalLong.empty()));
    }

    static Measurement measure(Processes processes, Step step, int runs, long logical) throws Exception {
        System.err.printf("measuring %s with %s (%d run%s)%n", step.step(), step.tool(), runs, runs == 1 ? "" : "s");
        List<Sample> samples = new ArrayList<>();
        for (int i = 0; i < runs; i++) {
            step.prepare().run();
            samples.add(processes.timed(step.command()));
        }
        OptionalLong repo = step.repository().map(p -> OptionalLong.of(sizeOf(p))).orElse(OptionalLong.empty());
        return new Measurement(step.step(), step.tool(), logical, samples, repo);
    }

    static long sizeOf(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(Files::isRegularFile).mapToLong(p -> {
                try {
                    return Files.size(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }).sum();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void delete(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}

package io.blockmover.bench.e2e;

import io.blockmover.mover.api.v1.BackupEvent;
import io.blockmover.mover.api.v1.BackupMode;
import io.blockmover.mover.api.v1.BackupProxyGrpc;
import io.blockmover.mover.api.v1.BackupRequest;
import io.blockmover.mover.api.v1.DiskSource;
import io.blockmover.mover.api.v1.RestoreEvent;
import io.blockmover.mover.api.v1.RestoreRequest;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * The full and the incremental backup, and the restore, as a scheduler runs them in production: calls to a
 * long-running proxy ({@code blockmover serve}) over gRPC, so no job pays JVM start, index open or
 * JIT warm-up. Each run starts a proxy on an empty repository and gives it untimed jobs on other
 * data (a full of a {@link KinImage} of the image where the caller gives one, a full and an
 * incremental of a disk that shares nothing with the image: a proxy in service has run both kinds
 * many times), and a restore of the first, before the timed full,
 * incremental and restore. CPU is the proxy's own and its store's (s3proxy), peak memory the proxy's, from /proc.
 */
final class ProxySteps {
    static final String TOOL = "blockmover serve (warm proxy)";
    private static final long CLOCK_TICKS_PER_SECOND = 100;

    /**
     * Where the proxy keeps its repository: the name in the report, the {@code --repo} arguments
     * (with an object store's options), what {@code empty} does before each run's {@code init},
     * the directory whose size is what the backups stored, and the store's processes whose CPU a
     * job spends beside the proxy's own (s3proxy on the same cores: counted as the proxy's).
     */
    record Repo(String tool, List<String> args, Step.Preparation empty, Path stored, List<Long> storePids) {
        static Repo local(String tool, Path dir) {
            return new Repo(tool, List.of("--repo", dir.toString()), () -> Bench.delete(dir), dir, List.of());
        }
    }

    private final String launcher;
    private final Processes processes;
    private final Path work;
    private final Repo repo;
    private final List<String> initOptions;
    private final ServerCpu server;

    ProxySteps(String launcher, Processes processes, Path work) {
        this(launcher, processes, work, TOOL, List.of(), ServerCpu.NONE);
    }

    /**
     * @param tool        the name in the report
     * @param initOptions options of {@code init} for each fresh repository (a codec, say)
     * @param server      the NBD server the timed jobs read, whose CPU time each sample carries
     */
    ProxySteps(String launcher, Processes processes, Path work, String tool, List<String> initOptions, ServerCpu server) {
        this(launcher, processes, work, Repo.local(tool, work.resolve("proxy-repo")), initOptions, server);
    }

    ProxySteps(String launcher, Processes processes, Path work, Repo repo, List<String> initOptions, ServerCpu server) {
        this.launcher = launcher;
        this.processes = processes;
        this.work = work;
        this.repo = repo;
        this.initOptions = initOptions;
        this.server = server;
    }

    /**
     * A disk to back up: its NBD export, the changeId it represents and, for an incremental, the meta
     * context of its changed areas (empty: the emulated host's, from the previous changeId).
     */
    record Disk(String vm, String uri, String changeId, String changesContext) {
        Disk(String vm, String uri, String changeId) {
            this(vm, uri, changeId, "");
        }
    }

    /**
     * Measures {@code runs} times a full backup of {@code full}, then an incremental of {@code incremental}
     * using the changed areas since {@code full}'s changeId, after untimed backups of {@code warmups}
     * in order (a VM's first disk in the list full, its later ones incremental).
     */
    List<Measurement> measure(List<Disk> warmups, Disk full, Disk incremental, int runs, long logical, String fullStep,
                              String incrementalStep, String restoreStep) throws Exception {
        return measure(warmups, full, incremental, runs, logical, logical, fullStep, incrementalStep, restoreStep);
    }

    /** The same, over a disk of which {@code data} bytes are allocated (for CPU-seconds per GiB). */
    List<Measurement> measure(List<Disk> warmups, Disk full, Disk incremental, int runs, long logical, long data, String fullStep,
                              String incrementalStep, String restoreStep) throws Exception {
        List<Sample> fulls = new ArrayList<>();
        List<Sample> incrementals = new ArrayList<>();
        List<Sample> restores = new ArrayList<>();
        Path restored = work.resolve("proxy-restored.raw");
        long repoBytes = 0;
        for (int i = 0; i < runs; i++) {
            System.err.printf("measuring %s and %s with %s (run %d of %d)%n", fullStep, incrementalStep, repo.tool(), i + 1, runs);
            repo.empty().run();
            List<String> init = new ArrayList<>(List.of(launcher, "init"));
            init.addAll(repo.args());
            init.addAll(initOptions);
            processes.run(new ToolRun(init, java.util.Map.of()));
            try (PeerProcess proxy = PeerProcess.proxy(launcher, repo.args(), restored.getParent())) {
                ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", proxy.port()).usePlaintext().build();
                try {
                    BackupProxyGrpc.BackupProxyBlockingStub stub = BackupProxyGrpc.newBlockingStub(channel);
                    List<Long> pids = new ArrayList<>(List.of(proxy.pid()));
                    pids.addAll(repo.storePids());
                    Set<String> backedUp = new HashSet<>();
                    for (Disk w : warmups) {
                        backup(stub, w, backedUp.add(w.vm()) ? BackupMode.BACKUP_MODE_FULL : BackupMode.BACKUP_MODE_INCREMENTAL, pids);
                    }
                    // A proxy in service has restored too: its read path (an object store's GETs) is as warm as its
                    // writes. The first warm-up disk is the kin where there is one: a restore of the 256 MiB disk
                    // left the timed restore of the file-system image compiling (6.2 s against 3.3 s once warm).
                    Files.deleteIfExists(restored);
                    restore(stub, warmups.getFirst().vm(), restored, pids);
                    long warmupBytes = Bench.sizeOf(repo.stored());
                    double s0 = server.seconds();
                    Sample f = backup(stub, full, BackupMode.BACKUP_MODE_FULL, pids);
                    fulls.add(f.withServerCpu(server.seconds() - s0));
                    repoBytes = Bench.sizeOf(repo.stored()) - warmupBytes; // what the image added
                    s0 = server.seconds();
                    Sample inc = backup(stub, incremental, BackupMode.BACKUP_MODE_INCREMENTAL, pids);
                    incrementals.add(inc.withServerCpu(server.seconds() - s0));
                    Files.deleteIfExists(restored);
                    restores.add(restore(stub, incremental.vm(), restored, pids));
                } finally {
                    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
                }
            }
        }
        Files.deleteIfExists(restored);
        return List.of(new Measurement(fullStep, repo.tool(), logical, data, fulls, OptionalLong.of(repoBytes)),
                new Measurement(incrementalStep, repo.tool(), logical, data, incrementals, OptionalLong.empty()),
                new Measurement(restoreStep, repo.tool(), logical, data, restores, OptionalLong.empty()));
    }

    /** One backup call, timed from request to result, with the CPU time of the proxy (and its store) over it. */
    private static Sample backup(BackupProxyGrpc.BackupProxyBlockingStub stub, Disk disk, BackupMode mode, List<Long> pids)
            throws IOException {
        DiskSource.Builder source = DiskSource.newBuilder().setDisk("disk0").setUri(disk.uri()).setChangeId(disk.changeId());
        if (mode == BackupMode.BACKUP_MODE_INCREMENTAL && !disk.changesContext().isEmpty()) {
            source.setChangesContext(disk.changesContext());
        }
        BackupRequest request = BackupRequest.newBuilder().setVm(disk.vm()).setMode(mode).addDisks(source).build();
        return timed(pids, () -> stub.withDeadlineAfter(30, TimeUnit.MINUTES).backup(request), BackupEvent::hasResult,
                "the backup of " + disk.uri());
    }

    /** The VM's latest backup restored to a file (sparse, digests checked, fsynced), timed like a backup. */
    private static Sample restore(BackupProxyGrpc.BackupProxyBlockingStub stub, String vm, Path to, List<Long> pids)
            throws IOException {
        RestoreRequest request = RestoreRequest.newBuilder().setVm(vm).setTarget(to.toString()).build();
        return timed(pids, () -> stub.withDeadlineAfter(30, TimeUnit.MINUTES).restore(request), RestoreEvent::hasResult,
                "the restore to " + to);
    }

    /** Runs a streaming call to its end; it must end with a result event. Peak memory is the proxy's (the first pid). */
    private static <E> Sample timed(List<Long> pids, Supplier<Iterator<E>> call, Predicate<E> isResult, String what)
            throws IOException {
        try {
            Processes.settle();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted before " + what, e);
        }
        double cpuBefore = cpuSeconds(pids);
        long start = System.nanoTime();
        Iterator<E> events = call.get();
        E last = null;
        while (events.hasNext()) {
            last = events.next();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        if (last == null || !isResult.test(last)) {
            throw new IOException("the proxy ended " + what + " without a result");
        }
        return new Sample(seconds, peakRssKiB(pids.getFirst()), cpuSeconds(pids) - cpuBefore);
    }

    static double cpuSeconds(List<Long> pids) throws IOException {
        double sum = 0;
        for (long pid : pids) {
            sum += cpuSeconds(pid);
        }
        return sum;
    }

    /** utime + stime of a process, from /proc/PID/stat (fields 14 and 15, after the command name). */
    static double cpuSeconds(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / (double) CLOCK_TICKS_PER_SECOND;
    }

    private static long peakRssKiB(long pid) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith("VmHWM:")) {
                return Long.parseLong(line.replaceAll("\\D", ""));
            }
        }
        return 0;
    }
}

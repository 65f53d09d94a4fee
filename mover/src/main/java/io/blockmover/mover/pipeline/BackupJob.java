package io.blockmover.mover.pipeline;

import io.blockmover.index.backup.BackupReader;
import io.blockmover.index.backup.BackupSpec;
import io.blockmover.index.backup.BackupWriter;
import io.blockmover.index.backup.DiskSpec;
import io.blockmover.index.backup.DiskWriter;
import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.manifest.DiskRecord;
import io.blockmover.index.repo.Repository;
import io.blockmover.mover.transport.DiskExtent;
import io.blockmover.mover.transport.DiskSource;
import io.blockmover.mover.transport.TransportSelection;
import io.blockmover.mover.transport.TransportUsed;
import io.blockmover.nbd.units.ByteRange;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * One backup of one VM: decides per disk between full and incremental, plans and moves every
 * disk (several at once), and commits the backup only when every disk is complete. Any failure
 * or cancellation aborts it: nothing of it becomes visible.
 */
public final class BackupJob {
    private static final Logger log = LoggerFactory.getLogger(BackupJob.class);

    public enum Mode {
        /** Incremental where a usable parent and changed areas exist, full otherwise. */
        AUTO,
        /** Read every allocated chunk, whatever exists already. */
        FULL,
        /** Fail unless every disk can be backed up incrementally. */
        INCREMENTAL
    }

    /**
     * One disk to back up.
     *
     * @param diskId      stable identity (disk UUID or a user-given name)
     * @param source      where its blocks come from
     * @param changeId    the change point this read represents (e.g. the snapshot's changeId),
     *                    recorded so the next incremental can ask what changed since; "" if none
     * @param changeToken what to ask the source for changed areas; empty means the parent's changeId
     */
    public record DiskInput(String diskId, DiskSource source, String changeId, Optional<String> changeToken) {}

    /** How one disk went. {@code why} says why it was full when it was not incremental. */
    public record DiskOutcome(String diskId, boolean incremental, String why, TransferCounters.Snapshot counters) {}

    public record Result(long backupId, long parentId, List<DiskOutcome> disks) {}

    /**
     * What a front end asks for: one backup of a VM's disks, read from NBD exports or through VDDK.
     *
     * @param verifySample after the commit, compare this share of each disk's chunks with the
     *                     source it was read from, in (0, 1]; 0 for none
     */
    public record Request(String vm, String label, Mode mode, List<BackupInputs.Source> sources, double verifySample) {}

    /** A sampled comparison of one disk of the new backup with its source. */
    public record SampleCheck(String diskId, SourceComparison.Result result) {}

    /**
     * The committed backup, how each disk was reached (VDDK and its mode, or NBD and why) and,
     * if asked for, how its disks compare with their sources.
     */
    public record Outcome(Result backup, Map<String, TransportUsed> transports, List<SampleCheck> samples) {
        public boolean samplesIdentical() {
            return samples.stream().allMatch(s -> s.result().identical());
        }

        public TransportUsed transport(String diskId) {
            return transports.getOrDefault(diskId, TransportUsed.NBD);
        }
    }

    private record Planned(DiskInput input, ChunkPlan plan, boolean incremental, String why, TransferCounters counters) {}

    private final Repository repository;
    private final PipelineSettings settings;
    private final Cancellation cancellation;

    public BackupJob(Repository repository, PipelineSettings settings, Cancellation cancellation) {
        this.repository = repository;
        this.settings = settings;
        this.cancellation = cancellation;
    }

    /**
     * Opens the sources of {@code request} (each asking for the areas changed since the VM's
     * previous backup), backs them up, and compares the sample asked for.
     */
    public Outcome run(Request request, TransportSelection transports, ProgressListener progress)
            throws IOException, InterruptedException {
        try (BackupInputs in = BackupInputs.open(repository, request.vm(), request.mode(), request.sources(), transports)) {
            Result r = run(request.vm(), request.label(), request.mode(), in.inputs(), progress);
            return new Outcome(r, in.transports(),
                    request.verifySample() > 0 ? compareSample(r, in.inputs(), request.verifySample()) : List.of());
        }
    }

    private List<SampleCheck> compareSample(Result r, List<DiskInput> inputs, double sample) throws IOException, InterruptedException {
        ExecutorService workers = Executors.newFixedThreadPool(settings.workers(),
                Thread.ofPlatform().name("verify-", 0).daemon().factory());
        List<SampleCheck> out = new ArrayList<>();
        try (BackupReader reader = repository.openBackup(r.backupId())) {
            for (DiskInput in : inputs) {
                out.add(new SampleCheck(in.diskId(), new SourceComparison(reader.disk(in.diskId()), in.source(), workers,
                        settings.chunksInFlight(), cancellation, new TransferCounters(in.source().capacity())).run(sample)));
            }
        } finally {
            workers.shutdown();
        }
        return List.copyOf(out);
    }

    /**
     * Backs up {@code disks} as one restore point of {@code vmId}.
     *
     * @param onDisk told of each disk's counters as soon as its plan is known (for progress)
     */
    public Result run(String vmId, String label, Mode mode, List<DiskInput> disks,
                      ProgressListener onDisk) throws IOException, InterruptedException {
        if (disks.isEmpty()) {
            throw new IllegalArgumentException("nothing to back up: no disks");
        }
        Optional<BackupRecord> parent = mode == Mode.FULL ? Optional.empty() : repository.latest(vmId);
        if (mode == Mode.INCREMENTAL && parent.isEmpty()) {
            throw new IncrementalImpossibleException("no earlier backup of " + vmId + " to base an incremental on; run a full backup first");
        }
        int chunkSize = repository.config().chunkSize();
        List<Planned> planned = new ArrayList<>();
        for (DiskInput d : disks) {
            planned.add(plan(d, parent, chunkSize, mode));
        }
        boolean anyIncremental = planned.stream().anyMatch(Planned::incremental);
        BackupSpec spec = anyIncremental
                ? BackupSpec.incremental(vmId, label, parent.orElseThrow().id())
                : BackupSpec.full(vmId, label);
        planned.forEach(p -> onDisk.track(p.input().diskId(), p.counters()));

        ExecutorService workers = Executors.newFixedThreadPool(settings.workers(),
                Thread.ofPlatform().name("store-", 0).daemon().factory());
        ExecutorService drivers = Executors.newFixedThreadPool(Math.min(settings.parallelDisks(), planned.size()),
                Thread.ofPlatform().name("disk-", 0).daemon().factory());
        try (BackupWriter writer = repository.newBackup(spec)) {
            List<Future<?>> running = new ArrayList<>();
            for (Planned p : planned) {
                DiskWriter dw = writer.addDisk(new DiskSpec(p.input().diskId(), p.plan().capacity(), p.input().changeId()));
                running.add(drivers.submit(() -> {
                    try {
                        new DiskBackup(p.input().source(), dw, workers, settings.chunksInFlight(), p.counters(), cancellation)
                                .run(p.plan());
                    } catch (Throwable t) {
                        // The backup is lost anyway: stop the other disks instead of finishing them.
                        cancellation.cancel("stopped: disk " + p.input().diskId() + " failed");
                        throw t;
                    }
                    return null;
                }));
            }
            awaitAll(running);
            cancellation.check();
            long id = writer.commit();
            log.info("backup {} of {} committed", id, vmId);
            return new Result(id, spec.parentId(), planned.stream()
                    .map(p -> new DiskOutcome(p.input().diskId(), p.incremental(), p.why(), p.counters().snapshot()))
                    .toList());
        } finally {
            drivers.shutdownNow();
            workers.shutdown();
        }
    }

    private Planned plan(DiskInput d, Optional<BackupRecord> parent, int chunkSize, Mode mode)
            throws IOException, InterruptedException {
        long capacity = d.source().capacity();
        // Asked now, answered while the parent is checked and the changed areas are asked for:
        // one round trip to the source instead of two.
        CompletableFuture<List<DiskExtent>> allocation = d.source().extents(0, capacity);
        Optional<DiskRecord> parentDisk = parent.flatMap(p -> p.disk(d.diskId()));
        String why;
        if (parent.isEmpty()) {
            why = mode == Mode.FULL ? "full backup requested" : "no earlier backup";
        } else if (parentDisk.isEmpty()) {
            why = "disk not in the previous backup";
        } else if (parentDisk.get().capacity() != capacity) {
            why = "disk size changed from " + parentDisk.get().capacity() + " to " + capacity + " bytes";
        } else if (parentDisk.get().chunkSize() != chunkSize) {
            why = "previous backup used another chunk size";
        } else if (d.changeToken().isEmpty() && parentDisk.get().changeId().isEmpty()) {
            why = "previous backup recorded no changeId";
        } else {
            String token = d.changeToken().orElse(parentDisk.get().changeId());
            Optional<List<ByteRange>> changed;
            try {
                changed = Optional.of(join(d.source().changedSince(token), "asking what changed since " + token));
                why = "";
            } catch (IOException | UnsupportedOperationException e) {
                changed = Optional.empty();
                why = "changed areas unavailable (" + e.getMessage() + ")";
            }
            if (changed.isPresent()) {
                List<DiskExtent> extents = join(allocation, "reading the allocation of " + d.diskId());
                return new Planned(d, ChunkPlan.of(capacity, chunkSize, extents, changed), true, "",
                        new TransferCounters(capacity));
            }
        }
        if (mode == Mode.INCREMENTAL) {
            throw new IncrementalImpossibleException("cannot back up " + d.diskId() + " incrementally: " + why);
        }
        log.info("{}: full backup: {}", d.diskId(), why);
        List<DiskExtent> extents = join(allocation, "reading the allocation of " + d.diskId());
        return new Planned(d, ChunkPlan.of(capacity, chunkSize, extents, Optional.empty()), false, why,
                new TransferCounters(capacity));
    }

    private static <T> T join(CompletableFuture<T> f, String what)
            throws IOException, InterruptedException {
        try {
            return f.get();
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof UnsupportedOperationException u) {
                throw u;
            }
            throw new IOException(what + ": " + c.getMessage(), c);
        }
    }

    /** Waits for every disk; throws the failure that stopped the job rather than the cancellations it caused. */
    private static void awaitAll(List<Future<?>> running) throws IOException, InterruptedException {
        Throwable first = null;
        for (Future<?> f : running) {
            try {
                f.get();
            } catch (ExecutionException e) {
                Throwable c = e.getCause();
                if (first == null || (first instanceof CancellationException && !(c instanceof CancellationException))) {
                    first = c;
                }
            }
        }
        if (first instanceof IOException io) {
            throw io;
        }
        if (first instanceof RuntimeException re) {
            throw re;
        }
        if (first != null) {
            throw new IOException(first.getMessage(), first);
        }
    }
}

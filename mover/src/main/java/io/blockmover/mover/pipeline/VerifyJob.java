package io.blockmover.mover.pipeline;

import io.blockmover.index.backup.BackupReader;
import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.manifest.DiskRecord;
import io.blockmover.index.repo.Repository;
import io.blockmover.mover.transport.nbd.NbdAccess;
import io.blockmover.mover.transport.nbd.NbdDiskSource;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Verifies disks of one backup: re-reads and digest-checks every chunk, or, given a source,
 * compares the backup with it (all chunks or a fixed spread of them) to catch changed block
 * tracking that missed writes.
 */
public final class VerifyJob {
    /**
     * @param against a source to compare with (one disk), instead of re-reading the chunks
     * @param sample  with {@code against}: the share of chunks compared, in (0, 1]
     */
    public record Request(BackupRecord backup, List<DiskRecord> disks, Optional<String> against, double sample) {
        public Request {
            if (against.isPresent() && disks.size() != 1) {
                throw new IllegalArgumentException("comparing with a source needs one disk; backup " + backup.id() + " has "
                        + disks.stream().map(DiskRecord::diskId).toList());
            }
        }
    }

    /** How one disk fared. */
    public sealed interface DiskVerdict {
        DiskRecord disk();

        boolean ok();

        long chunks();
    }

    /** Its chunks were re-read from the packs and checked. */
    public record Checked(DiskRecord disk, BackupCheck.Result result) implements DiskVerdict {
        @Override
        public boolean ok() {
            return result.ok();
        }

        @Override
        public long chunks() {
            return result.chunksChecked();
        }
    }

    /** It was compared with its source. */
    public record Compared(DiskRecord disk, SourceComparison.Result result) implements DiskVerdict {
        @Override
        public boolean ok() {
            return result.identical();
        }

        @Override
        public long chunks() {
            return result.chunksCompared();
        }
    }

    public record Result(long backupId, List<DiskVerdict> disks) {
        public boolean ok() {
            return disks.stream().allMatch(DiskVerdict::ok);
        }

        public long chunks() {
            return disks.stream().mapToLong(DiskVerdict::chunks).sum();
        }
    }

    private final Repository repository;
    private final PipelineSettings settings;
    private final NbdAccess nbd;
    private final Cancellation cancellation;

    public VerifyJob(Repository repository, PipelineSettings settings, NbdAccess nbd, Cancellation cancellation) {
        this.repository = repository;
        this.settings = settings;
        this.nbd = nbd;
        this.cancellation = cancellation;
    }

    public Result run(Request request, ProgressListener progress) throws IOException, InterruptedException {
        ExecutorService workers = Executors.newFixedThreadPool(settings.workers(),
                Thread.ofPlatform().name("verify-", 0).daemon().factory());
        List<DiskVerdict> out = new ArrayList<>();
        try (BackupReader reader = repository.openBackup(request.backup().id())) {
            for (DiskRecord d : request.disks()) {
                TransferCounters counters = new TransferCounters(d.capacity());
                progress.track(d.diskId(), counters);
                if (request.against().isPresent()) {
                    try (NbdDiskSource source = nbd.openSource(request.against().get(), List.of())) {
                        out.add(new Compared(d, new SourceComparison(reader.disk(d.diskId()), source, workers,
                                settings.chunksInFlight(), cancellation, counters).run(request.sample())));
                    }
                } else {
                    out.add(new Checked(d, new BackupCheck(reader.disk(d.diskId()), workers, settings.workers(),
                            cancellation, counters).run()));
                }
            }
        } finally {
            workers.shutdown();
        }
        return new Result(request.backup().id(), List.copyOf(out));
    }
}

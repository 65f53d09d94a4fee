package io.blockmover.mover.api;

import io.blockmover.mover.api.store.StoredJob;
import io.blockmover.mover.api.store.TakenSnapshot;
import io.blockmover.mover.api.v1.Job;
import io.blockmover.mover.api.v1.JobState;
import io.grpc.Status;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The proxy's job table on disk, beside the repository: one small protobuf file per job,
 * replaced atomically (written, synced, renamed) at each change of state. Progress is not
 * written, only what must survive a crash: that a job was queued or running, how it ended, and
 * the snapshots it took. A job found queued or running at start-up was cut off by a crash or a
 * kill; {@link #open} records it as failed, with that reason, before the proxy takes calls.
 */
final class JobTable {
    private static final String SUFFIX = ".job";

    /** What a job table held at start-up. */
    record Recovered(List<Job> jobs, List<StoredJob> withLeftoverSnapshots, long lastSequence) {}

    private final Path dir;

    private JobTable(Path dir) {
        this.dir = dir;
    }

    static JobTable at(Path dir) throws IOException {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new IOException("cannot create the job table " + dir + ": " + e.getMessage(), e);
        }
        return new JobTable(dir);
    }

    /** Reads every job, oldest first; jobs a crash cut off are written back as failed. */
    Recovered recover() throws IOException {
        List<StoredJob> stored = new ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*" + SUFFIX)) {
            for (Path f : files) {
                try (InputStream in = Files.newInputStream(f)) {
                    stored.add(StoredJob.parseFrom(in));
                } catch (IOException e) {
                    throw new IOException("job table entry " + f + " is unreadable (" + e.getMessage()
                            + "); move it away to start", e);
                }
            }
        }
        stored.sort(Comparator.comparingLong(s -> sequence(s.getJob().getId())));
        List<Job> jobs = new ArrayList<>();
        List<StoredJob> leftovers = new ArrayList<>();
        long last = 0;
        for (StoredJob s : stored) {
            Job job = s.getJob();
            last = Math.max(last, sequence(job.getId()));
            if (job.getState() == JobState.JOB_STATE_QUEUED || job.getState() == JobState.JOB_STATE_RUNNING) {
                String why = job.getState() == JobState.JOB_STATE_RUNNING
                        ? "the proxy stopped (killed or crashed) while this job ran; nothing of it was committed, submit it again"
                        : "the proxy stopped (killed or crashed) before this job started; submit it again";
                job = job.toBuilder().setState(JobState.JOB_STATE_FAILED).setEndedMillis(System.currentTimeMillis())
                        .setQueuePosition(0).clearPhase().setErrorCode(Status.Code.ABORTED.value()).setErrorMessage(why).build();
                // The snapshots stay recorded until they are removed: a failed removal is tried again at the next start.
                write(job, s.getSnapshotsList());
            }
            if (s.getSnapshotsCount() > 0) {
                leftovers.add(StoredJob.newBuilder(s).setJob(job).build());
            }
            jobs.add(job);
        }
        return new Recovered(jobs, leftovers, last);
    }

    /** Replaces the job's entry; {@code snapshots} are those it took and has not removed yet. */
    void write(Job job, List<TakenSnapshot> snapshots) throws IOException {
        Path target = dir.resolve(job.getId() + SUFFIX);
        Path tmp = dir.resolve(job.getId() + SUFFIX + ".tmp");
        try (OutputStream out = Files.newOutputStream(tmp)) {
            StoredJob.newBuilder().setJob(job).addAllSnapshots(snapshots).build().writeTo(out);
        }
        try (FileChannel c = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
            c.force(true);
        }
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
        }
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        }
    }

    /** Drops an ended job's entry (the table keeps a bounded history). */
    void forget(String id) throws IOException {
        Files.deleteIfExists(dir.resolve(id + SUFFIX));
    }

    static String idOf(long sequence) {
        return "job-" + sequence;
    }

    static long sequence(String id) {
        try {
            return Long.parseLong(id.substring(id.lastIndexOf('-') + 1));
        } catch (RuntimeException e) {
            return 0;
        }
    }
}

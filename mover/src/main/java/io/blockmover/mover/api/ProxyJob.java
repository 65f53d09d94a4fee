package io.blockmover.mover.api;

import com.google.protobuf.Message;
import io.blockmover.mover.api.store.TakenSnapshot;
import io.blockmover.mover.api.v1.BackupResult;
import io.blockmover.mover.api.v1.DiskProgress;
import io.blockmover.mover.api.v1.DiskState;
import io.blockmover.mover.api.v1.GcResult;
import io.blockmover.mover.api.v1.Job;
import io.blockmover.mover.api.v1.JobKind;
import io.blockmover.mover.api.v1.JobPhase;
import io.blockmover.mover.api.v1.JobState;
import io.blockmover.mover.api.v1.PruneResult;
import io.blockmover.mover.api.v1.RestoreResult;
import io.blockmover.mover.api.v1.VerifyResult;
import io.blockmover.mover.pipeline.Cancellation;
import io.blockmover.mover.pipeline.TransferCounters;
import io.grpc.Status;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One job of the proxy while it is queued or running: what it is, its cancellation, the disks
 * whose counters make its progress, and its state. Every change of state or phase bumps a
 * version that watchers wait on, so a stream sends a change at once instead of at its next tick.
 */
final class ProxyJob {
    /** The body of a job: does the work and answers its result (a BackupResult, RestoreResult, ...). */
    interface Work {
        Message run(ProxyJob job) throws Exception;
    }

    /** Told of each phase a job leaves, with its length (for the phase histogram). */
    interface PhaseListener {
        void phaseEnded(JobKind kind, JobPhase phase, double seconds);
    }

    final String id;
    final JobKind kind;
    final String vm;
    final JobDemand demand;
    final Work work;
    final Cancellation cancellation = new Cancellation();
    private final PhaseListener phases;
    private final long submittedMillis = System.currentTimeMillis();
    private final Map<String, TransferCounters> disks = new LinkedHashMap<>();
    private final List<String> warnings = new ArrayList<>();
    /** Snapshots this job took and has not removed: the job table keeps them for removal after a crash. */
    private final List<TakenSnapshot> snapshots = new ArrayList<>();
    private JobState state = JobState.JOB_STATE_QUEUED;
    private JobPhase phase = JobPhase.JOB_PHASE_UNSPECIFIED;
    private long phaseStartNanos;
    private long startedMillis;
    private long endedMillis;
    private Message result;
    private Status error;
    private long version;

    ProxyJob(String id, JobKind kind, String vm, JobDemand demand, Work work, PhaseListener phases) {
        this.id = id;
        this.kind = kind;
        this.vm = vm;
        this.demand = demand;
        this.work = work;
        this.phases = phases;
    }

    synchronized void started() {
        state = JobState.JOB_STATE_RUNNING;
        startedMillis = System.currentTimeMillis();
        changed();
    }

    /** Enters {@code next}, ending the phase before it. */
    synchronized void phase(JobPhase next) {
        if (next == phase) {
            return;
        }
        endPhase();
        phase = next;
        phaseStartNanos = System.nanoTime();
        changed();
    }

    private void endPhase() {
        if (phase != JobPhase.JOB_PHASE_UNSPECIFIED) {
            phases.phaseEnded(kind, phase, (System.nanoTime() - phaseStartNanos) / 1e9);
        }
    }

    /** Reports this disk's progress from now on. */
    synchronized void track(String disk, TransferCounters counters) {
        disks.put(disk, counters);
        changed();
    }

    /** True once every disk tracked so far has all its bytes accounted for. */
    synchronized boolean allDisksDone() {
        return !disks.isEmpty() && disks.values().stream().allMatch(c -> c.snapshot().done() >= c.total());
    }

    synchronized void tookSnapshot(TakenSnapshot snapshot) {
        snapshots.add(snapshot);
    }

    synchronized void removedSnapshot(TakenSnapshot snapshot) {
        snapshots.remove(snapshot);
    }

    synchronized List<TakenSnapshot> snapshots() {
        return List.copyOf(snapshots);
    }

    synchronized void warn(String warning) {
        warnings.add(warning);
        changed();
    }

    synchronized void succeeded(Message result) {
        end(JobState.JOB_STATE_SUCCEEDED);
        this.result = result;
    }

    synchronized void failed(Status status) {
        end(status.getCode() == Status.Code.CANCELLED ? JobState.JOB_STATE_CANCELLED : JobState.JOB_STATE_FAILED);
        this.error = status;
    }

    private void end(JobState end) {
        endPhase();
        phase = JobPhase.JOB_PHASE_UNSPECIFIED;
        state = end;
        endedMillis = System.currentTimeMillis();
        changed();
    }

    synchronized JobState state() {
        return state;
    }

    synchronized boolean ended() {
        return endedMillis != 0;
    }

    private void changed() {
        version++;
        notifyAll();
    }

    /**
     * Waits until the job has changed since {@code seen} or {@code millis} have passed; answers the version now.
     */
    synchronized long awaitChange(long seen, long millis) throws InterruptedException {
        long deadline = System.nanoTime() + millis * 1_000_000;
        while (version == seen) {
            long left = (deadline - System.nanoTime()) / 1_000_000;
            if (left <= 0) {
                break;
            }
            wait(left);
        }
        return version;
    }

    /** The job as a client sees it now; {@code queuePosition} is 0 unless it is queued. */
    synchronized Job view(int queuePosition) {
        Job.Builder b = Job.newBuilder().setId(id).setKind(kind).setState(state).setVm(vm).setSubmittedMillis(submittedMillis)
                .setStartedMillis(startedMillis).setEndedMillis(endedMillis).setQueuePosition(queuePosition).setPhase(phase)
                .addAllWarnings(warnings);
        long done = 0;
        long total = 0;
        double rate = 0;
        for (Map.Entry<String, TransferCounters> e : disks.entrySet()) {
            TransferCounters.Snapshot s = e.getValue().snapshot();
            boolean finished = s.done() >= s.total();
            double diskRate = s.seconds() > 0 ? s.done() / s.seconds() : 0;
            b.addDisks(DiskProgress.newBuilder().setDisk(e.getKey())
                    .setState(finished ? DiskState.DISK_STATE_DONE : s.done() > 0 ? DiskState.DISK_STATE_RUNNING : DiskState.DISK_STATE_WAITING)
                    .setDoneBytes(s.done()).setTotalBytes(s.total()).setBytesPerSecond(finished ? 0 : diskRate)
                    .setEtaSeconds(finished ? 0 : eta(s.total() - s.done(), diskRate)));
            done += s.done();
            total += s.total();
            rate += finished ? 0 : diskRate;
        }
        b.setDoneBytes(done).setTotalBytes(total).setBytesPerSecond(rate)
                .setEtaSeconds(ended() ? 0 : eta(total - done, rate));
        if (error != null) {
            b.setErrorCode(error.getCode().value()).setErrorMessage(error.getDescription() == null ? "" : error.getDescription());
        }
        switch (result) {
            case null -> { }
            case BackupResult r -> b.setBackup(r);
            case RestoreResult r -> b.setRestore(r);
            case VerifyResult r -> b.setVerify(r);
            case PruneResult r -> b.setPrune(r);
            case GcResult r -> b.setGc(r);
            default -> throw new IllegalStateException("a job answered a " + result.getClass().getSimpleName());
        }
        return b.build();
    }

    private static double eta(long left, double rate) {
        return left <= 0 ? 0 : rate > 0 ? left / rate : -1;
    }
}

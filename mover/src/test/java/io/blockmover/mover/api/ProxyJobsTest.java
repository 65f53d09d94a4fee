package io.blockmover.mover.api;

import io.blockmover.mover.api.v1.BackupMode;
import io.blockmover.mover.api.v1.BackupProxyGrpc;
import io.blockmover.mover.api.v1.BackupRequest;
import io.blockmover.mover.api.v1.DiskSource;
import io.blockmover.mover.api.v1.GcRequest;
import io.blockmover.mover.api.v1.Job;
import io.blockmover.mover.api.v1.JobKind;
import io.blockmover.mover.api.v1.JobPhase;
import io.blockmover.mover.api.v1.JobRef;
import io.blockmover.mover.api.v1.JobState;
import io.blockmover.mover.api.v1.ListBackupsRequest;
import io.blockmover.mover.api.v1.ListJobsRequest;
import io.blockmover.mover.api.v1.PruneRequest;
import io.blockmover.mover.api.v1.RestoreRequest;
import io.blockmover.mover.api.v1.VerifyRequest;
import io.blockmover.mover.transport.nbd.NbdAccess;
import io.blockmover.nbd.esx.DiskContent;
import io.blockmover.nbd.esx.HostSpec;
import io.blockmover.nbd.esx.Profile;
import io.blockmover.nbd.esx.Snapshot;
import io.blockmover.nbd.esx.SnapshotDisk;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

import static io.blockmover.nbd.testing.Digests.sha256;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The job API as a grpc-java scheduler uses it: submit, watch, re-attach, list, cancel, and the status of every refusal. */
class ProxyJobsTest {
    @TempDir
    Path dir;

    private ProxyFixture fixture;
    private BackupProxyGrpc.BackupProxyBlockingStub proxy;

    @BeforeEach
    void start() throws Exception {
        // One job at a time and a queue of one: the queue's refusals are easy to reach.
        fixture = new ProxyFixture(dir, new HostSpec(11, 1, 1, ProxyFixture.DISK, Profile.MIXED, true), new JobLimits(1, 4, 8, 1),
                NbdAccess.DEFAULT);
        proxy = fixture.stub(60);
    }

    @AfterEach
    void stop() throws Exception {
        fixture.close();
    }

    /** Follows a job to its end; answers every message the stream carried. */
    private List<Job> watch(String id) {
        List<Job> seen = new ArrayList<>();
        proxy.watchJob(ref(id)).forEachRemaining(seen::add);
        return seen;
    }

    private static JobRef ref(String id) {
        return JobRef.newBuilder().setId(id).build();
    }

    private String submitBackup(Snapshot s, BackupMode mode) {
        return proxy.submitBackup(fixture.backupOf(s, mode)).getId();
    }

    @Test
    void backupsRestoresAndVerifiesRunAsJobsThatAreWatchedListedAndKept() throws Exception {
        Snapshot s1 = fixture.vm.createSnapshot("s1");
        List<Job> full = watch(submitBackup(s1, BackupMode.BACKUP_MODE_AUTO));
        Job done = full.getLast();
        assertEquals(JobState.JOB_STATE_SUCCEEDED, done.getState(), done.toString());
        assertEquals(1, done.getBackup().getBackupId());
        assertTrue(full.stream().anyMatch(j -> j.getPhase() == JobPhase.JOB_PHASE_READ), "the read phase was reported: " + full);
        assertEquals(done.getTotalBytes(), done.getDoneBytes());
        assertEquals(ProxyFixture.DISK, done.getTotalBytes());
        assertTrue(done.getStartedMillis() >= done.getSubmittedMillis() && done.getEndedMillis() >= done.getStartedMillis());

        fixture.sim.workload().writeGrains(12);
        Snapshot s2 = fixture.vm.createSnapshot("s2");
        Job incr = watch(submitBackup(s2, BackupMode.BACKUP_MODE_AUTO)).getLast();
        assertEquals(JobState.JOB_STATE_SUCCEEDED, incr.getState(), incr.toString());
        assertTrue(incr.getBackup().getDisks(0).getIncremental(), incr.toString());
        assertEquals(1, incr.getBackup().getParentId());

        Path restored = dir.resolve("restored.raw");
        Job restore = watch(proxy.submitRestore(RestoreRequest.newBuilder().setBackupId(2).setTarget(restored.toString()).build())
                .getId()).getLast();
        assertEquals(JobState.JOB_STATE_SUCCEEDED, restore.getState(), restore.toString());
        SnapshotDisk d = s2.disks().getFirst();
        assertEquals(DiskContent.sha256Of(d::read, d.capacity()), sha256(restored), "the incremental restores exactly");

        Job verify = watch(proxy.submitVerify(VerifyRequest.newBuilder().setBackupId(2).setAgainstUri(fixture.export(s2)).build())
                .getId()).getLast();
        assertTrue(verify.getVerify().getOk() && verify.getVerify().getChunksChecked() > 0, verify.toString());

        // An ended job answers its final state, again and again.
        assertEquals(restore, proxy.getJob(ref(restore.getId())));
        assertEquals(List.of(restore), watch(restore.getId()));
        assertEquals(List.of(done.getId(), incr.getId()), proxy.listJobs(ListJobsRequest.newBuilder().setKind(JobKind.JOB_KIND_BACKUP)
                .build()).getJobsList().stream().map(Job::getId).toList());
        assertEquals(4, proxy.listJobs(ListJobsRequest.newBuilder().setVm("vm01").setState(JobState.JOB_STATE_SUCCEEDED).build())
                .getJobsCount());
        assertEquals(0, proxy.listJobs(ListJobsRequest.newBuilder().setState(JobState.JOB_STATE_FAILED).build()).getJobsCount());
    }

    @Test
    void aDroppedWatchIsTakenUpAgainAndACancelledBackupLeavesNothing() throws Exception {
        Snapshot s1 = fixture.vm.createSnapshot("s1");
        fixture.sim.faults().rateLimit(4L << 20); // seconds long: time to drop the stream and come back
        String id = submitBackup(s1, BackupMode.BACKUP_MODE_FULL);
        String queued = proxy.submitPrune(PruneRequest.newBuilder().setKeepLast(1).build()).getId();
        Job waiting = proxy.getJob(ref(queued));
        assertEquals(JobState.JOB_STATE_QUEUED, waiting.getState());
        assertEquals(1, waiting.getQueuePosition(), "first in line behind the running backup");

        Context.CancellableContext first = Context.current().withCancellation();
        Job midway = first.call(() -> {
            Iterator<Job> stream = proxy.watchJob(ref(id));
            while (true) {
                Job j = stream.next();
                if (j.getDoneBytes() > 0) {
                    return j;
                }
            }
        });
        first.cancel(null); // the scheduler's connection drops; the job goes on
        assertEquals(JobState.JOB_STATE_RUNNING, proxy.getJob(ref(id)).getState());

        Iterator<Job> again = proxy.watchJob(ref(id));
        Job resumed = again.next();
        assertTrue(resumed.getDoneBytes() >= midway.getDoneBytes() && resumed.getDoneBytes() < resumed.getTotalBytes(), resumed.toString());
        assertEquals(JobState.JOB_STATE_RUNNING, resumed.getState());

        assertEquals(JobState.JOB_STATE_CANCELLED, proxy.cancelJob(ref(queued)).getState(), "a queued job is cancelled at once");
        proxy.cancelJob(ref(id));
        Job last = resumed;
        while (again.hasNext()) {
            last = again.next();
        }
        assertEquals(JobState.JOB_STATE_CANCELLED, last.getState(), last.toString());
        assertEquals(Status.Code.CANCELLED.value(), last.getErrorCode());
        assertEquals("cancelled by a CancelJob call", last.getErrorMessage());
        assertTrue(proxy.listBackups(ListBackupsRequest.getDefaultInstance()).getBackupsList().isEmpty(), "nothing of it is visible");
        assertTrue(fixture.repo.backups().isEmpty());
        assertEquals(JobState.JOB_STATE_CANCELLED, proxy.cancelJob(ref(id)).getState(), "cancelling again changes nothing");

        fixture.sim.faults().clear();
        Job next = watch(submitBackup(s1, BackupMode.BACKUP_MODE_FULL)).getLast();
        assertEquals(JobState.JOB_STATE_SUCCEEDED, next.getState(), "the VM is free again: " + next);
    }

    @Test
    void everyRefusalHasTheStatusASchedulerActsOn() throws Exception {
        Snapshot s1 = fixture.vm.createSnapshot("s1");
        StatusRuntimeException badUri = assertThrows(StatusRuntimeException.class, () -> proxy.submitBackup(BackupRequest.newBuilder()
                .setVm("vm01").addDisks(DiskSource.newBuilder().setDisk("disk-2000").setUri("http://127.0.0.1/vm01")).build()));
        assertEquals(Status.Code.INVALID_ARGUMENT, badUri.getStatus().getCode(), badUri.getStatus().toString());
        assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> proxy.getJob(ref(""))));
        assertEquals(Status.Code.NOT_FOUND, code(() -> proxy.getJob(ref("job-999"))));
        assertEquals(Status.Code.NOT_FOUND, code(() -> proxy.cancelJob(ref("job-999"))));
        assertEquals(Status.Code.NOT_FOUND, code(() -> proxy.watchJob(ref("job-999")).next()));
        assertEquals(Status.Code.NOT_FOUND, code(() -> proxy.submitRestore(RestoreRequest.newBuilder().setBackupId(99)
                .setTarget(dir.resolve("x.raw").toString()).build())));

        // Refusals found while running end the job with the code and the one-line reason.
        Job incremental = watch(submitBackup(s1, BackupMode.BACKUP_MODE_INCREMENTAL)).getLast();
        assertEquals(JobState.JOB_STATE_FAILED, incremental.getState());
        assertEquals(Status.Code.FAILED_PRECONDITION.value(), incremental.getErrorCode(), incremental.toString());
        assertTrue(incremental.getErrorMessage().contains("run a full backup first"), incremental.getErrorMessage());
        Job unreachable = watch(proxy.submitBackup(BackupRequest.newBuilder().setVm("vm02").addDisks(DiskSource.newBuilder()
                .setDisk("disk-2000").setUri("nbd://127.0.0.1:1/vm02/disk-2000")).build()).getId()).getLast();
        assertEquals(Status.Code.UNAVAILABLE.value(), unreachable.getErrorCode(), unreachable.toString());

        fixture.sim.faults().rateLimit(2L << 20);
        String running = submitBackup(s1, BackupMode.BACKUP_MODE_FULL);
        StatusRuntimeException twice = assertThrows(StatusRuntimeException.class, () -> submitBackup(s1, BackupMode.BACKUP_MODE_FULL));
        assertEquals(Status.Code.ALREADY_EXISTS, twice.getStatus().getCode());
        assertTrue(twice.getStatus().getDescription().contains(running), twice.getStatus().toString());
        proxy.submitGc(GcRequest.getDefaultInstance()); // waits: one job at a time
        StatusRuntimeException full = assertThrows(StatusRuntimeException.class, () -> proxy.submitGc(GcRequest.getDefaultInstance()));
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, full.getStatus().getCode(), full.getStatus().toString());
        proxy.cancelJob(ref(running));
        assertEquals(JobState.JOB_STATE_CANCELLED, watch(running).getLast().getState());
        assertEquals(List.of(JobState.JOB_STATE_FAILED, JobState.JOB_STATE_FAILED, JobState.JOB_STATE_CANCELLED),
                proxy.listJobs(ListJobsRequest.newBuilder().setKind(JobKind.JOB_KIND_BACKUP).build()).getJobsList().stream()
                        .map(Job::getState).toList());
        assertFalse(proxy.listJobs(ListJobsRequest.newBuilder().setKind(JobKind.JOB_KIND_GC).build()).getJobsList().isEmpty());
    }

    private static Status.Code code(Runnable call) {
        return assertThrows(StatusRuntimeException.class, call::run).getStatus().getCode();
    }
}

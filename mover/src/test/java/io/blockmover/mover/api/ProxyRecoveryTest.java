package io.blockmover.mover.api;

import io.blockmover.index.repo.InitOptions;
import io.blockmover.index.repo.Repository;
import io.blockmover.mover.api.store.StoredJob;
import io.blockmover.mover.api.store.TakenSnapshot;
import io.blockmover.mover.api.v1.Job;
import io.blockmover.mover.api.v1.JobKind;
import io.blockmover.mover.api.v1.JobState;
import io.blockmover.mover.api.v1.ListJobsRequest;
import io.blockmover.mover.pipeline.PipelineSettings;
import io.blockmover.mover.transport.nbd.NbdAccess;
import io.blockmover.nbd.esx.EsxSimulator;
import io.blockmover.nbd.esx.HostSpec;
import io.blockmover.nbd.esx.Profile;
import io.blockmover.nbd.esx.VirtualMachine;
import io.grpc.Status;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A job table as a crash leaves it: a backup recorded running, with a snapshot it took on the
 * (emulated) host, and a job still queued. The next start fails both with their reason and
 * removes the snapshot through the proxy's snapshot remover, here the emulated host's own call.
 */
class ProxyRecoveryTest {
    @TempDir
    Path dir;

    @Test
    void aRestartFailsTheJobsACrashCutOffAndRemovesTheSnapshotsTheyLeft() throws Exception {
        Path table = dir.resolve("jobs");
        Files.createDirectories(table);
        write(table, StoredJob.newBuilder().setJob(Job.newBuilder().setId("job-7").setKind(JobKind.JOB_KIND_BACKUP).setVm("vm01")
                .setState(JobState.JOB_STATE_RUNNING).setSubmittedMillis(1).setStartedMillis(2))
                .addSnapshots(TakenSnapshot.newBuilder().setVm("vm01").setName("blockmover-job-7")).build());
        write(table, StoredJob.newBuilder().setJob(Job.newBuilder().setId("job-8").setKind(JobKind.JOB_KIND_GC)
                .setState(JobState.JOB_STATE_QUEUED).setSubmittedMillis(3)).build());
        try (EsxSimulator sim = EsxSimulator.start(EsxSimulator.Options.plain(new HostSpec(3, 1, 1, 1L << 20, Profile.MIXED, true)));
             Repository repo = Repository.init(dir.resolve("repo"), InitOptions.defaults())) {
            VirtualMachine vm = sim.host().requireVm("vm01");
            vm.createSnapshot("blockmover-job-7");
            ProxyService.SnapshotRemover host = (name, snapshot) -> sim.host().requireVm(name).removeSnapshot(snapshot);
            ProxyService.SnapshotRemover unreachable = (name, snapshot) -> {
                throw new java.io.IOException("vCenter unreachable");
            };
            // A start that cannot reach the host keeps the snapshot on record for the next one.
            new ProxyService(repo, PipelineSettings.DEFAULT, NbdAccess.DEFAULT, JobLimits.DEFAULT, Optional.empty(), table,
                    unreachable, SourcePolicy.NOTHING).close();
            assertEquals(1, vm.snapshots().size());
            try (ProxyService service = new ProxyService(repo, PipelineSettings.DEFAULT, NbdAccess.DEFAULT, JobLimits.DEFAULT,
                    Optional.empty(), table, host, SourcePolicy.NOTHING)) {
                assertTrue(vm.snapshots().isEmpty(), "the snapshot the crashed job took is gone");
                List<Job> jobs = list(service);
                assertEquals(List.of("job-7", "job-8"), jobs.stream().map(Job::getId).toList());
                for (Job j : jobs) {
                    assertEquals(JobState.JOB_STATE_FAILED, j.getState(), j.toString());
                    assertEquals(Status.Code.ABORTED.value(), j.getErrorCode());
                    assertTrue(j.getErrorMessage().contains("killed or crashed"), j.getErrorMessage());
                }
            }
            // Recorded as failed, with no snapshot left to remove: a second restart finds nothing to do.
            vm.createSnapshot("blockmover-job-7");
            try (ProxyService again = new ProxyService(repo, PipelineSettings.DEFAULT, NbdAccess.DEFAULT, JobLimits.DEFAULT,
                    Optional.empty(), table, host, SourcePolicy.NOTHING)) {
                assertEquals(1, vm.snapshots().size(), "a snapshot not recorded as left behind is not touched");
                assertEquals(2, list(again).size());
            }
        }
    }

    private static List<Job> list(ProxyService service) {
        List<Job> out = new java.util.ArrayList<>();
        service.listJobs(ListJobsRequest.getDefaultInstance(), new io.grpc.stub.StreamObserver<>() {
            @Override
            public void onNext(io.blockmover.mover.api.v1.ListJobsResponse r) {
                out.addAll(r.getJobsList());
            }

            @Override
            public void onError(Throwable t) {
                throw new AssertionError(t);
            }

            @Override
            public void onCompleted() {
            }
        });
        return out;
    }

    private static void write(Path table, StoredJob job) throws Exception {
        try (OutputStream out = Files.newOutputStream(table.resolve(job.getJob().getId() + ".job"))) {
            job.writeTo(out);
        }
    }
}

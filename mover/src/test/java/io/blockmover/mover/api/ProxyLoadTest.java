package io.blockmover.mover.api;

import io.blockmover.mover.api.v1.BackupMode;
import io.blockmover.mover.api.v1.BackupProxyGrpc;
import io.blockmover.mover.api.v1.BackupRequest;
import io.blockmover.mover.api.v1.DiskSource;
import io.blockmover.mover.api.v1.Job;
import io.blockmover.mover.api.v1.JobRef;
import io.blockmover.mover.api.v1.JobState;
import io.blockmover.mover.api.v1.RestoreRequest;
import io.blockmover.mover.api.v1.VerifyRequest;
import io.blockmover.mover.transport.nbd.ConnectOptions;
import io.blockmover.mover.transport.nbd.NbdAccess;
import io.blockmover.mover.transport.nbd.NbdUri;
import io.blockmover.nbd.esx.DiskContent;
import io.blockmover.nbd.esx.HostSpec;
import io.blockmover.nbd.esx.Profile;
import io.blockmover.nbd.esx.Snapshot;
import io.blockmover.nbd.esx.SnapshotDisk;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static io.blockmover.nbd.testing.Digests.sha256;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * 20 jobs submitted at once against 4 emulated VMs, under a limit of 2 jobs and 4 NBD
 * connections per host, each NBD job taking 3: the host (the emulator's own count) never sees
 * more than 4 connections, never more than 2 jobs overlap, jobs start in submission order, and
 * every backup restores exactly.
 */
class ProxyLoadTest {
    private static final long DISK = 16L << 20;
    private static final int VMS = 4;
    private static final int CONNECTIONS_PER_DISK = 3;
    private static final JobLimits LIMITS = new JobLimits(2, 16, 4, 100);

    @TempDir
    Path dir;

    @Test
    void twentyJobsAtOnceStayWithinTheLimitsAndEveryBackupRestoresExactly() throws Exception {
        NbdAccess threeConnections = new NbdAccess(NbdUri::parse, ConnectOptions.DEFAULT.withConnections(CONNECTIONS_PER_DISK));
        try (ProxyFixture fixture = new ProxyFixture(dir, new HostSpec(21, VMS, 1, DISK, Profile.MIXED, true), LIMITS, threeConnections)) {
            BackupProxyGrpc.BackupProxyBlockingStub proxy = fixture.stub(120);
            List<String> vms = fixture.sim.host().vms().stream().map(vm -> vm.name()).toList();
            assertEquals(VMS, vms.size());

            // Before the load: a full backup of each VM, which the load restores and verifies.
            Map<String, Snapshot> first = new LinkedHashMap<>();
            Map<String, Long> fullIds = new LinkedHashMap<>();
            for (String vm : vms) {
                first.put(vm, fixture.sim.host().requireVm(vm).createSnapshot("s1"));
            }
            List<String> setup = new ArrayList<>();
            for (String vm : vms) {
                setup.add(proxy.submitBackup(backupOf(fixture, vm, first.get(vm), BackupMode.BACKUP_MODE_FULL)).getId());
            }
            for (int i = 0; i < VMS; i++) {
                Job full = end(proxy, setup.get(i));
                assertEquals(JobState.JOB_STATE_SUCCEEDED, full.getState(), full.toString());
                fullIds.put(vms.get(i), full.getBackup().getBackupId());
            }
            fixture.sim.workload().writeGrains(40);
            Map<String, Snapshot> second = new LinkedHashMap<>();
            for (String vm : vms) {
                second.put(vm, fixture.sim.host().requireVm(vm).createSnapshot("s2"));
            }

            // The load: per VM an incremental, a comparison with the source, a re-read and two restores.
            fixture.sim.connections().resetPeak();
            List<String> submitted = new ArrayList<>();
            Map<String, Path> restores = new LinkedHashMap<>();
            Map<String, String> backups = new LinkedHashMap<>();
            for (String vm : vms) {
                long full = fullIds.get(vm);
                String incremental = proxy.submitBackup(backupOf(fixture, vm, second.get(vm), BackupMode.BACKUP_MODE_AUTO)).getId();
                submitted.add(incremental);
                backups.put(incremental, vm);
                submitted.add(proxy.submitVerify(VerifyRequest.newBuilder().setBackupId(full)
                        .setAgainstUri(export(fixture, vm, first.get(vm))).build()).getId());
                submitted.add(proxy.submitVerify(VerifyRequest.newBuilder().setBackupId(full).build()).getId());
                for (String copy : List.of("a", "b")) {
                    Path to = dir.resolve(vm + "-" + copy + ".raw");
                    String id = proxy.submitRestore(RestoreRequest.newBuilder().setBackupId(full).setTarget(to.toString()).build()).getId();
                    submitted.add(id);
                    restores.put(id, to);
                }
            }
            assertEquals(20, submitted.size());
            List<Job> ended = new ArrayList<>();
            for (String id : submitted) {
                Job j = end(proxy, id);
                assertEquals(JobState.JOB_STATE_SUCCEEDED, j.getState(), j.toString());
                ended.add(j);
            }

            int peak = fixture.sim.connections().peak();
            assertTrue(peak <= LIMITS.connectionsPerHost(), "the host saw " + peak + " connections at once");
            assertTrue(peak >= CONNECTIONS_PER_DISK, "the count saw the jobs' connections: " + peak);
            // Jobs running at each job's start (the most at once is at some start): itself and those not yet ended.
            for (Job a : ended) {
                long running = ended.stream()
                        .filter(b -> b.getStartedMillis() <= a.getStartedMillis() && a.getStartedMillis() < b.getEndedMillis()).count();
                assertTrue(running <= LIMITS.jobs(), running + " jobs ran when " + a.getId() + " started");
            }
            for (int i = 1; i < ended.size(); i++) {
                assertTrue(ended.get(i).getStartedMillis() >= ended.get(i - 1).getStartedMillis(), "jobs start in order");
            }
            for (Job j : ended) {
                if (j.hasVerify()) {
                    assertTrue(j.getVerify().getOk(), j.toString());
                }
            }

            // Every backup restores exactly: the fulls (restored during the load) and the incrementals.
            for (Map.Entry<String, Path> r : restores.entrySet()) {
                String vm = proxy.getJob(JobRef.newBuilder().setId(r.getKey()).build()).getVm();
                assertEquals(digest(first.get(vm)), sha256(r.getValue()), r.getKey() + " restored " + vm);
            }
            for (Map.Entry<String, String> b : backups.entrySet()) {
                Job backup = proxy.getJob(JobRef.newBuilder().setId(b.getKey()).build());
                assertTrue(backup.getBackup().getDisks(0).getIncremental(), backup.toString());
                Path to = dir.resolve(b.getValue() + "-incremental.raw");
                Job restore = end(proxy, proxy.submitRestore(RestoreRequest.newBuilder().setBackupId(backup.getBackup().getBackupId())
                        .setTarget(to.toString()).build()).getId());
                assertEquals(JobState.JOB_STATE_SUCCEEDED, restore.getState(), restore.toString());
                assertEquals(digest(second.get(b.getValue())), sha256(to), b.getValue() + "'s incremental");
            }
        }
    }

    private static String digest(Snapshot s) {
        SnapshotDisk d = s.disks().getFirst();
        return DiskContent.sha256Of(d::read, d.capacity());
    }

    private static Job end(BackupProxyGrpc.BackupProxyBlockingStub proxy, String id) {
        Job last = null;
        for (var it = proxy.watchJob(JobRef.newBuilder().setId(id).build()); it.hasNext(); ) {
            last = it.next();
        }
        return last;
    }

    private static String export(ProxyFixture fixture, String vm, Snapshot s) {
        return "nbd://127.0.0.1:" + fixture.sim.nbdAddress().getPort() + "/" + vm + "/disk-2000@" + s.name();
    }

    private static BackupRequest backupOf(ProxyFixture fixture, String vm, Snapshot s, BackupMode mode) {
        return BackupRequest.newBuilder().setVm(vm).setMode(mode).addDisks(DiskSource.newBuilder().setDisk("disk-2000")
                .setUri(export(fixture, vm, s)).setChangeId(s.disks().getFirst().changeId().orElseThrow().toString())).build();
    }
}

package io.blockmover.bench.e2e;

import io.blockmover.index.repo.InitOptions;
import io.blockmover.index.repo.Repository;
import io.blockmover.mover.pipeline.BackupJob;
import io.blockmover.mover.pipeline.Cancellation;
import io.blockmover.mover.pipeline.PipelineSettings;
import io.blockmover.mover.transport.nbd.NbdAccess;
import io.blockmover.mover.vsphere.BusyRetry;
import io.blockmover.mover.vsphere.NbdSnapshotTransport;
import io.blockmover.mover.vsphere.SnapshotPolicy;
import io.blockmover.mover.vsphere.TrustPolicy;
import io.blockmover.mover.vsphere.VcenterConnection;
import io.blockmover.mover.vsphere.VcenterEndpoint;
import io.blockmover.mover.vsphere.VmSelector;
import io.blockmover.mover.vsphere.VsphereBackup;
import io.blockmover.mover.vsphere.VsphereControl;

import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.SplittableRandom;

/**
 * A whole VM job through vCenter, as a warm proxy runs it: find the VM, snapshot it, back its disk
 * up incrementally (1% changed since the last job, asked with QueryChangedDiskAreas), remove the
 * snapshot. The emulated host runs as its own process (NBD and the vSphere API over HTTPS); the
 * proxy is this JVM, kept warm by untimed jobs and holding one vCenter session throughout, as
 * {@code blockmover serve} does. Reported: the whole job, and its control plane, i.e. the job less
 * the disk pipeline (reads, hashing, storing, the commit), whose share the bench JSON carries.
 */
final class VcenterSteps {
    static final String TOOL = "blockmover vsphere (warm proxy, in-process)";
    static final String JOB = "VM job through vCenter: lookup, snapshot, incremental 1%, removal";
    static final String CONTROL = "control plane of that job (all but the disk pipeline)";
    private static final long DISK = 1L << 30;
    private static final int WRITE = 1 << 20;
    private static final int WARMUPS = 4;

    private final String launcher;
    private final Path work;

    VcenterSteps(String launcher, Path work) {
        this.launcher = launcher;
        this.work = work;
    }

    List<Measurement> measure(int runs) throws Exception {
        Path repoDir = work.resolve("vsphere-repo");
        Bench.delete(repoDir);
        List<Sample> jobs = new ArrayList<>();
        List<Sample> controls = new ArrayList<>();
        try (PeerProcess esx = PeerProcess.esxsim(launcher, List.of("--vms", "1", "--disks-per-vm", "1",
                "--disk-size", Long.toString(DISK), "--profile", "mixed", "--control", "127.0.0.1:0", "--sdk", "127.0.0.1:0"));
             Repository repo = Repository.init(repoDir, InitOptions.defaults());
             VcenterConnection vcenter = VcenterConnection.open(new VcenterEndpoint(URI.create(esx.banner("vSphere API")),
                     "administrator@vsphere.local", "blockmover", TrustPolicy.Thumbprint.parse(esx.banner("SHA-256 thumbprint"))))) {
            EsxControl control = new EsxControl(esx.controlUrl());
            VsphereBackup backup = new VsphereBackup(new VsphereControl(vcenter, BusyRetry.DEFAULT),
                    new NbdSnapshotTransport("nbd://127.0.0.1:" + esx.port() + "/{vm}/disk-{key}@{snapshot}", NbdAccess.DEFAULT),
                    repo, PipelineSettings.DEFAULT);
            VsphereBackup.Request request = new VsphereBackup.Request(VmSelector.parse("name:vm01"), BackupJob.Mode.AUTO,
                    SnapshotPolicy.AUTOMATIC, Optional.empty(), VsphereBackup.Preexisting.FAIL, false, "bench", "");
            SplittableRandom random = new SplittableRandom(16);
            for (int i = 0; i < WARMUPS + runs; i++) {
                if (i > 0) {
                    changeOnePercent(control, random);
                }
                long start = System.nanoTime();
                VsphereBackup.Result r = backup.run(request, new Cancellation(), (disk, counters) -> {});
                double seconds = (System.nanoTime() - start) / 1e9;
                if (i > 0 && !r.backup().disks().getFirst().incremental()) {
                    throw new IllegalStateException("the VM job was not incremental: " + r.backup().disks().getFirst().why());
                }
                double pipeline = r.backup().disks().stream().mapToDouble(d -> d.counters().seconds()).sum();
                if (i >= WARMUPS) {
                    jobs.add(new Sample(seconds, 0, 0));
                    controls.add(new Sample(Math.max(0, seconds - pipeline), 0, 0));
                    var ph = r.phases();
                    System.err.printf("%s: %.3f s, control plane %.3f s (lookup %.3f, snapshot %.3f, open disks %.3f, "
                                    + "pipeline %.3f of which disks %.3f, removal %.3f)%n", JOB, seconds, seconds - pipeline,
                            ph.lookup().toNanos() / 1e9, ph.snapshot().toNanos() / 1e9, ph.openDisks().toNanos() / 1e9,
                            ph.pipeline().toNanos() / 1e9, pipeline, ph.removal().toNanos() / 1e9);
                }
            }
        }
        long changed = DISK / 100;
        return List.of(new Measurement(JOB, TOOL, changed, jobs, OptionalLong.empty()),
                new Measurement(CONTROL, TOOL, changed, controls, OptionalLong.empty()));
    }

    /** 1% of the disk in 1 MiB guest writes at random places. */
    private static void changeOnePercent(EsxControl control, SplittableRandom random) throws Exception {
        for (long done = 0; done < DISK / 100; done += WRITE) {
            control.write("vm01/disk-2000", random.nextLong(DISK / WRITE) * WRITE, WRITE);
        }
    }
}

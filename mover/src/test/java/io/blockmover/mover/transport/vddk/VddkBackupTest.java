package io.blockmover.mover.transport.vddk;

import io.blockmover.index.backup.BackupReader;
import io.blockmover.index.backup.DiskReader;
import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.repo.Repository;
import io.blockmover.mover.cli.Main;
import io.blockmover.nbd.esx.DiskContent;
import io.blockmover.nbd.esx.EsxFaults;
import io.blockmover.nbd.esx.EsxSimulator;
import io.blockmover.nbd.esx.HostSpec;
import io.blockmover.nbd.esx.Profile;
import io.blockmover.nbd.esx.Snapshot;
import io.blockmover.nbd.esx.SnapshotDisk;
import io.blockmover.nbd.esx.VirtualDisk;
import io.blockmover.nbd.esx.VirtualMachine;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Backups through the VDDK transport (the bridge over the VDDK test fixture, over the emulated
 * host's NBD exports) against the same disks through the NBD transport, as a user runs them.
 */
class VddkBackupTest {
    private static final long DISK = 48L << 20;

    @TempDir
    Path dir;
    private EsxSimulator sim;
    private VirtualMachine vm;
    private VddkFixture vddk;

    private record Run(int exit, String out, String err) {}

    @BeforeEach
    void start() throws Exception {
        sim = EsxSimulator.start(EsxSimulator.Options.plain(new HostSpec(11, 2, 1, DISK, Profile.MIXED, true))
                .withControl(new InetSocketAddress("127.0.0.1", 0)));
        vm = sim.host().requireVm("vm01");
        vddk = new VddkFixture(sim, dir.resolve("fixture.conf"));
    }

    @AfterEach
    void stop() {
        sim.close();
    }

    private synchronized Run cli(List<String> args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            int exit = Main.execute(args.toArray(String[]::new));
            return new Run(exit, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    private String init(String name) {
        String repo = dir.resolve(name).toString();
        Run r = cli(List.of("init", "--repo", repo));
        assertEquals(0, r.exit(), r.err());
        return repo;
    }

    private Snapshot snapshot(String name) throws Exception {
        Snapshot s = vm.createSnapshot(name);
        vddk.write();
        return s;
    }

    private List<String> vddkBackup(String repo, Snapshot s, String... extra) {
        List<String> args = new ArrayList<>(List.of("backup", "--repo", repo, "--json", "--source", vddk.uri(vm, s),
                "--name", "vm01/disk-2000", "--change-id", s.disks().getFirst().changeId().orElseThrow().toString(),
                "--changed-areas", vddk.changedAreas(vm, s),
                "--vddk-libdir", VddkFixture.libDir().toString(), "--vddk-config", vddk.config().toString()));
        args.addAll(List.of(extra));
        return args;
    }

    private List<String> nbdBackup(String repo, Snapshot s) {
        return List.of("backup", "--repo", repo, "--json", "--source", vddk.nbdUri(vm, s),
                "--change-id", s.disks().getFirst().changeId().orElseThrow().toString());
    }

    @Test
    void vddkAndNbdBackupsFullAndIncrementalHaveIdenticalManifests() throws Exception {
        String viaVddk = init("vddk-repo");
        String viaNbd = init("nbd-repo");
        Snapshot s1 = snapshot("s1");
        Run full = cli(vddkBackup(viaVddk, s1));
        assertEquals(0, full.exit(), full.err());
        assertTrue(full.out().contains("\"type\": \"full\"") && full.out().contains("\"name\": \"vddk\"")
                && full.out().contains("\"mode\": \"san\""), full.out());
        assertEquals(0, cli(nbdBackup(viaNbd, s1)).exit());

        sim.workload().writeGrains(40);
        Snapshot s2 = snapshot("s2");
        Run incremental = cli(vddkBackup(viaVddk, s2));
        assertEquals(0, incremental.exit(), incremental.err());
        assertTrue(incremental.out().contains("\"type\": \"incremental\"") && incremental.out().contains("\"parentId\": 1"),
                incremental.out());
        Run nbdIncremental = cli(nbdBackup(viaNbd, s2));
        assertTrue(nbdIncremental.out().contains("\"type\": \"incremental\""), nbdIncremental.out());

        for (long id : new long[] {1, 2}) {
            List<String> a = manifest(viaVddk, id);
            List<String> b = manifest(viaNbd, id);
            assertEquals(b, a, "backup " + id + " differs between VDDK and NBD");
            assertTrue(a.stream().distinct().count() > 10, "a manifest of real data: " + a.size() + " chunks");
        }
        assertNotEquals(manifest(viaVddk, 1), manifest(viaVddk, 2), "the incremental saw the guest's writes");
    }

    @Test
    void refusedModesFailOverToAnAllowedOneThenToNbd() throws Exception {
        String repo = init("repo");
        Snapshot s1 = snapshot("s1");
        vddk.refuse("san:hotadd");
        Run nbdssl = cli(vddkBackup(repo, s1, "--full"));
        assertEquals(0, nbdssl.exit(), nbdssl.err());
        assertTrue(nbdssl.out().contains("\"mode\": \"nbdssl\""), nbdssl.out());

        vddk.refuse("san:hotadd:nbdssl:nbd");
        Run fellBack = cli(vddkBackup(repo, s1, "--full", "--nbd-fallback", vddk.nbdUri(vm, s1)));
        assertEquals(0, fellBack.exit(), fellBack.err());
        assertTrue(fellBack.out().contains("\"name\": \"nbd\"") && fellBack.out().contains(
                "\"fallbackFromVddk\": \"Open [datastore1] vm01/vm01.vmdk: VIX_E_FILE_ACCESS_ERROR (13): Cannot access file\""),
                fellBack.out());

        Run only = cli(vddkBackup(repo, s1, "--full", "--transport", "vddk-only", "--nbd-fallback", vddk.nbdUri(vm, s1)));
        assertEquals(1, only.exit(), only.out());
        assertEquals(1, errorLines(only), only.err());
        assertTrue(only.err().contains("VIX_E_FILE_ACCESS_ERROR (13): Cannot access file") && only.err().contains("vddk-only"), only.err());

        // Modes the user leaves out are never tried: only nbd, which is allowed again.
        vddk.refuse("san");
        Run nbdOnly = cli(vddkBackup(repo, s1, "--full", "--vddk-modes", "nbd"));
        assertTrue(nbdOnly.out().contains("\"mode\": \"nbd\""), nbdOnly.out() + nbdOnly.err());
        assertEquals(3, backups(repo).size(), "the refused vddk-only run recorded nothing");
    }

    @Test
    void withoutTheLibraryTheJobFallsBackOrFailsInOneLine() throws Exception {
        String repo = init("repo");
        Snapshot s1 = snapshot("s1");
        Path empty = Files.createDirectories(dir.resolve("no-vddk"));
        List<String> args = new ArrayList<>(vddkBackup(repo, s1));
        args.set(args.indexOf("--vddk-libdir") + 1, empty.toString());
        List<String> withFallback = new ArrayList<>(args);
        withFallback.addAll(List.of("--nbd-fallback", vddk.nbdUri(vm, s1)));
        Run fellBack = cli(withFallback);
        assertEquals(0, fellBack.exit(), fellBack.err());
        assertTrue(fellBack.out().contains("\"fallbackFromVddk\": \"no libvixDiskLib.so in " + empty + "/lib64 or " + empty), fellBack.out());

        Run failed = cli(args);
        assertEquals(1, failed.exit());
        assertEquals(1, errorLines(failed), failed.err());
        assertTrue(failed.err().contains("no libvixDiskLib.so in " + empty) && failed.err().contains("no NBD endpoint to fall back to"),
                failed.err());
    }

    @Test
    void aReadErrorSurfacesWithVddksCodeAndTextAndLeavesNoBackup() throws Exception {
        String repo = init("repo");
        Snapshot s1 = snapshot("s1");
        sim.faults().addReadError(new EsxFaults.ReadError(Optional.empty(), DISK / 2, 4096));
        Run r = cli(vddkBackup(repo, s1));
        assertEquals(1, r.exit(), r.out());
        assertTrue(r.err().contains("VIX_E_FILE_ERROR (7): A file access error occurred on the host or guest operating system"), r.err());
        assertFalse(r.err().contains("\tat "), "no stack trace without --debug: " + r.err());
        assertTrue(backups(repo).isEmpty(), "no visible backup");
    }

    @Test
    void restoreWritesAVmDiskThroughVddk() throws Exception {
        String repo = init("repo");
        Snapshot s1 = snapshot("s1");
        assertEquals(0, cli(vddkBackup(repo, s1)).exit());
        VirtualMachine other = sim.host().requireVm("vm02");
        Run r = cli(List.of("restore", "--repo", repo, "--to", vddk.liveUri(other), "--vddk-libdir", VddkFixture.libDir().toString(),
                "--vddk-config", vddk.config().toString()));
        assertEquals(0, r.exit(), r.err());
        SnapshotDisk source = s1.disks().getFirst();
        VirtualDisk target = other.disks().getFirst();
        assertEquals(DiskContent.sha256Of(source::read, DISK), DiskContent.sha256Of(target::read, DISK));
    }

    @Test
    void prepareAndEndAccessBracketASnapshotsLife() throws Exception {
        VddkSettings settings = new VddkSettings(TransportChoice.VDDK_ONLY, Optional.of(VddkFixture.libDir()), Optional.of(vddk.config()),
                VddkSettings.DEFAULT_MODES, Optional.empty(), 1, true);
        VddkUri uri = VddkUri.parse(vddk.liveUri(vm));
        try (VmAccessLock lock = VmAccessLock.prepare(settings, uri.connectSpec(Optional.empty()))) {
            Snapshot s = snapshot("locked");
            try (VddkDiskSource source = VddkDiskSource.open(VddkUri.parse(vddk.uri(vm, s)), settings, Optional.empty())) {
                assertEquals(DISK, source.capacity());
            }
            vm.removeSnapshot("locked");
        }
    }

    /** Lines of stderr that are not log lines (VDDK's own warnings are logged there too). */
    private static long errorLines(Run r) {
        return r.err().strip().lines().filter(l -> !l.startsWith("[")).count();
    }

    private static List<BackupRecord> backups(String repo) throws Exception {
        try (Repository r = Repository.openReadOnly(Path.of(repo), null)) {
            return r.backups();
        }
    }

    /** Every chunk's digest of the backup's one disk, in disk order. */
    private static List<String> manifest(String repo, long backupId) throws Exception {
        try (Repository r = Repository.openReadOnly(Path.of(repo), null);
             BackupReader reader = r.openBackup(backupId)) {
            DiskReader disk = reader.disk("disk-2000");
            List<String> out = new ArrayList<>();
            for (long at = 0; at < disk.capacity(); at += disk.chunkSize()) {
                out.add(String.valueOf(disk.chunkAt(at)));
            }
            return out;
        }
    }
}

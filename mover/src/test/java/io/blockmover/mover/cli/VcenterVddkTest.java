package io.blockmover.mover.cli;

import io.blockmover.index.backup.BackupReader;
import io.blockmover.index.backup.DiskReader;
import io.blockmover.index.repo.Repository;
import io.blockmover.mover.transport.vddk.VddkFixture;
import io.blockmover.nbd.esx.EsxSimulator;
import io.blockmover.nbd.esx.HostSpec;
import io.blockmover.nbd.esx.Profile;
import io.blockmover.nbd.esx.VirtualMachine;
import io.blockmover.nbd.esx.sdk.SdkOptions;
import io.blockmover.nbd.esx.sdk.SdkServer;
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

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * backup --vcenter --transport vddk: the snapshot's disks read through VDDK (the test fixture,
 * which maps VM moref, snapshot moref and disk file to the emulated host's NBD exports), giving
 * the chunks NBD gives, and falling back to NBD per disk when every mode is refused.
 */
class VcenterVddkTest {
    @TempDir
    Path dir;
    private EsxSimulator sim;
    private SdkServer sdk;
    private Path passwordFile;
    private VirtualMachine vm;
    private VddkFixture fixture;

    private record Run(int exit, String out, String err) {}

    @BeforeEach
    void start() throws Exception {
        sim = EsxSimulator.start(EsxSimulator.Options.plain(new HostSpec(11, 2, 1, 48L << 20, Profile.MIXED, true))
                .withSdk(SdkOptions.defaults(new InetSocketAddress("127.0.0.1", 0))));
        sdk = sim.sdk().orElseThrow();
        passwordFile = dir.resolve("password");
        Files.writeString(passwordFile, SdkOptions.DEFAULT_PASSWORD + "\n");
        vm = sim.host().requireVm("vm01");
        fixture = new VddkFixture(sim, dir.resolve("fixture.conf"));
    }

    @AfterEach
    void stop() {
        sim.close();
    }

    private static synchronized Run cli(List<String> args) {
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

    /** A backup of vm01's snapshot through vCenter (manual policy: the fixture's config must name the snapshot first). */
    private Run backup(String repo, String snapshot, String mode, String transport, boolean json) {
        List<String> args = new ArrayList<>(List.of("backup", "--repo", repo, "--vm", "name:vm01", "--mode", mode,
                "--snapshot-policy", "manual", "--snapshot-name", snapshot,
                "--nbd-template", "nbd://127.0.0.1:" + sim.nbdAddress().getPort() + "/{vm}/disk-{key}@{snapshot}",
                "--transport", transport, "--vddk-libdir", VddkFixture.libDir().toString(),
                "--vddk-config", fixture.config().toString(), "--vddk-nfc-port", Integer.toString(sim.nbdAddress().getPort()),
                "--vcenter", sdk.url(), "--user", SdkOptions.DEFAULT_USER, "--password-file", passwordFile.toString(),
                "--thumbprint", sdk.sha256Thumbprint()));
        if (json) {
            args.add("--json");
        }
        return cli(args);
    }

    private String init(String name) {
        String repo = dir.resolve(name).toString();
        assertEquals(0, cli(List.of("init", "--repo", repo)).exit());
        return repo;
    }

    @Test
    void fullAndIncrementalThroughVddkMatchNbdAndFallBackWhenEveryModeIsRefused() throws Exception {
        String viaVddk = init("vddk-repo");
        String viaNbd = init("nbd-repo");
        vm.createSnapshot("s1");
        fixture.write();
        Run full = backup(viaVddk, "s1", "full", "vddk", true);
        assertEquals(0, full.exit(), full.err());
        assertTrue(full.out().contains("\"type\": \"full\"") && full.out().contains("\"name\": \"vddk\"")
                && full.out().contains("\"mode\": \"san\""), full.out());
        Run nbdFull = backup(viaNbd, "s1", "full", "nbd", true);
        assertEquals(0, nbdFull.exit(), nbdFull.err());
        assertTrue(nbdFull.out().contains("\"name\": \"nbd\""), nbdFull.out());

        sim.workload().writeGrains(40);
        vm.createSnapshot("s2");
        fixture.write();
        fixture.refuse("san:hotadd");
        Run incremental = backup(viaVddk, "s2", "incremental", "vddk", false);
        assertEquals(0, incremental.exit(), incremental.err());
        assertTrue(incremental.out().contains("incremental") && incremental.out().contains("vddk (mode nbdssl)"), incremental.out());
        assertEquals(0, backup(viaNbd, "s2", "incremental", "nbd", true).exit());

        for (long id : new long[] {1, 2}) {
            List<String> a = manifest(viaVddk, id);
            assertEquals(manifest(viaNbd, id), a, "backup " + id + " differs between VDDK and NBD");
            assertTrue(a.stream().distinct().count() > 10, "a manifest of real data: " + a.size() + " chunks");
        }
        assertNotEquals(manifest(viaVddk, 1), manifest(viaVddk, 2), "the incremental saw the guest's writes");

        fixture.refuse("san:hotadd:nbdssl:nbd");
        Run only = backup(viaVddk, "s2", "full", "vddk-only", true);
        assertEquals(1, only.exit(), only.out());
        assertTrue(only.err().contains("vddk-only"), only.err());
        Run fellBack = backup(viaVddk, "s2", "full", "vddk", true);
        assertEquals(0, fellBack.exit(), fellBack.err());
        assertTrue(fellBack.out().contains("\"name\": \"nbd\"") && fellBack.out().contains("\"fallbackFromVddk\""),
                fellBack.out());
        assertEquals(manifest(viaVddk, 2), manifest(viaVddk, 3), "the NBD fallback read the same snapshot");
    }

    /** Every chunk's digest of vm01's disk in the backup, in disk order. */
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

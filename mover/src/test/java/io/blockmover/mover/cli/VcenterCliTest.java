package io.blockmover.mover.cli;

import io.blockmover.nbd.esx.EsxSimulator;
import io.blockmover.nbd.esx.HostSpec;
import io.blockmover.nbd.esx.Profile;
import io.blockmover.nbd.esx.sdk.SdkOptions;
import io.blockmover.nbd.esx.sdk.SdkServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
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
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** vm, cbt and backup --vcenter as typed, against the emulated host's vSphere API. */
class VcenterCliTest {
    @TempDir
    static Path dir;
    static EsxSimulator sim;
    static SdkServer sdk;
    static Path passwordFile;

    private record Run(int exit, String out, String err) {}

    @BeforeAll
    static void start() throws Exception {
        sim = EsxSimulator.start(EsxSimulator.Options.plain(new HostSpec(11, 2, 2, 64L << 20, Profile.MIXED, true, 1))
                .withSdk(SdkOptions.defaults(new InetSocketAddress("127.0.0.1", 0))));
        sdk = sim.sdk().orElseThrow();
        passwordFile = dir.resolve("password");
        Files.writeString(passwordFile, SdkOptions.DEFAULT_PASSWORD + "\n");
    }

    @AfterAll
    static void stop() {
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

    private static List<String> vcenter(String thumbprint, String... command) {
        List<String> args = new ArrayList<>(List.of(command));
        args.addAll(List.of("--vcenter", sdk.url(), "--user", SdkOptions.DEFAULT_USER,
                "--password-file", passwordFile.toString(), "--thumbprint", thumbprint));
        return args;
    }

    @Test
    void listsAndShowsVmsAsJson() {
        Run list = cli(vcenter(sdk.sha256Thumbprint(), "vm", "list", "--json"));
        assertEquals(0, list.exit(), list.err());
        assertTrue(list.out().contains("\"name\": \"vm01\"") && list.out().contains("\"name\": \"vm02\""), list.out());
        Run show = cli(vcenter(sdk.sha256Thumbprint(), "vm", "show", "--vm", "name:vm02", "--json"));
        assertEquals(0, show.exit(), show.err());
        assertTrue(show.out().contains("\"diskMode\": \"independent_persistent\""), show.out());
    }

    @Test
    void backsUpThroughVcenterThenIncrementallyAndResetForcesFull() throws Exception {
        String repo = dir.resolve("repo").toString();
        assertEquals(0, cli(List.of("init", "--repo", repo)).exit());
        String template = "nbd://127.0.0.1:" + sim.nbdAddress().getPort() + "/{vm}/disk-{key}@{snapshot}";
        Run full = cli(vcenter(sdk.sha256Thumbprint(), "backup", "--repo", repo, "--vm", "name:vm01",
                "--nbd-template", template, "--json"));
        assertEquals(0, full.exit(), full.err());
        assertTrue(full.out().contains("\"type\": \"full\""), full.out());
        assertTrue(full.out().contains("independent_persistent disk"), full.out());
        Run incremental = cli(vcenter(sdk.sha256Thumbprint(), "backup", "--repo", repo, "--vm", "name:vm01",
                "--mode", "incremental", "--nbd-template", template, "--json"));
        assertEquals(0, incremental.exit(), incremental.err());
        assertTrue(incremental.out().contains("\"type\": \"incremental\""), incremental.out());

        Run reset = cli(vcenter(sdk.sha256Thumbprint(), "cbt", "reset", "--vm", "name:vm01"));
        assertEquals(0, reset.exit(), reset.err());
        Run afterReset = cli(vcenter(sdk.sha256Thumbprint(), "backup", "--repo", repo, "--vm", "name:vm01",
                "--nbd-template", template, "--json"));
        assertEquals(0, afterReset.exit(), afterReset.err());
        assertTrue(afterReset.out().contains("\"type\": \"full\""), afterReset.out());
        assertTrue(sim.host().requireVm("vm01").snapshots().isEmpty());
    }

    @Test
    void aWrongThumbprintIsRefusedInOneLine() {
        String wrong = "AA" + sdk.sha256Thumbprint().substring(2);
        if (wrong.equals(sdk.sha256Thumbprint())) {
            wrong = "BB" + wrong.substring(2);
        }
        Run r = cli(vcenter(wrong, "vm", "list"));
        assertEquals(1, r.exit());
        // The command's own report is its last line, one line. (yavijava's logger is silenced by
        // Main in a fresh JVM; in this shared test JVM another test may have created it first.)
        String last = r.err().strip().lines().reduce((a, b) -> b).orElse("");
        assertTrue(last.startsWith("blockmover: cannot connect to vCenter"), r.err());
        assertTrue(last.contains("does not match --thumbprint"), r.err());
        assertFalse(r.out().contains("vm01"));
    }

    @Test
    void theProxyRemovesACrashedJobsSnapshotThroughVcenter() throws Exception {
        var vm = sim.host().requireVm("vm02");
        vm.createSnapshot("left-by-crash");
        try (var c = io.blockmover.mover.vsphere.VcenterConnection.open(new io.blockmover.mover.vsphere.VcenterEndpoint(
                java.net.URI.create(sdk.url()), SdkOptions.DEFAULT_USER, SdkOptions.DEFAULT_PASSWORD,
                io.blockmover.mover.vsphere.TrustPolicy.Thumbprint.parse(sdk.sha256Thumbprint())))) {
            var remover = ServeCommand.snapshotRemover(new io.blockmover.mover.vsphere.VsphereControl(c,
                    io.blockmover.mover.vsphere.BusyRetry.DEFAULT));
            remover.remove("vm02", "left-by-crash");
            assertTrue(vm.snapshots().isEmpty());
            remover.remove("vm02", "left-by-crash"); // already gone: nothing to do, no error
        }
    }
}

package io.blockmover.mover.cli;

import io.blockmover.nbd.esx.DiskContent;
import io.blockmover.nbd.esx.EsxSimulator;
import io.blockmover.nbd.esx.HostSpec;
import io.blockmover.nbd.esx.Profile;
import io.blockmover.nbd.esx.Snapshot;
import io.blockmover.nbd.esx.SnapshotDisk;
import io.blockmover.nbd.esx.VirtualMachine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static io.blockmover.nbd.testing.Digests.sha256;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The user's commands, as typed, against the emulated host: output, exit codes and errors. */
class BackupCliTest {
    private static final long DISK = 32L << 20;

    @TempDir
    Path dir;

    private EsxSimulator sim;
    private VirtualMachine vm;
    private String repo;

    private record Run(int exit, String out, String err) {}

    @BeforeEach
    void start() throws Exception {
        sim = EsxSimulator.start(EsxSimulator.Options.plain(new HostSpec(5, 1, 1, DISK, Profile.MIXED, true)));
        vm = sim.host().requireVm("vm01");
        repo = dir.resolve("repo").toString();
    }

    @AfterEach
    void stop() {
        sim.close();
    }

    private synchronized Run cli(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            int exit = Main.execute(args);
            return new Run(exit, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    private String export(String snapshot) {
        return "nbd://127.0.0.1:" + sim.nbdAddress().getPort() + "/vm01/disk-2000@" + snapshot;
    }

    private List<String> backupArgs(Snapshot s, String... extra) {
        SnapshotDisk d = s.disks().getFirst();
        List<String> args = new ArrayList<>(List.of("backup", "--repo", repo, "--source", export(s.name()),
                "--change-id", d.changeId().orElseThrow().toString()));
        args.addAll(List.of(extra));
        return args;
    }

    @Test
    void backupIncrementalRestoreAndVerifyFromTheCommandLine() throws Exception {
        assertEquals(0, cli("init", "--repo", repo, "--chunk-size", "256K").exit());
        Snapshot s1 = vm.createSnapshot("s1");
        Run full = cli(backupArgs(s1, "--verify-sample", "10%").toArray(String[]::new));
        assertEquals(0, full.exit(), full.err());
        assertTrue(full.out().contains("backup 1 of vm01 committed") && full.out().contains("disk-2000: full"), full.out());
        assertTrue(full.out().contains("limited by") && full.out().contains("(sample 10%)") && full.out().contains("identical"), full.out());

        sim.workload().writeGrains(10);
        Snapshot s2 = vm.createSnapshot("s2");
        Run incr = cli(backupArgs(s2, "--json").toArray(String[]::new));
        assertEquals(0, incr.exit(), incr.err());
        assertTrue(incr.out().contains("\"type\": \"incremental\"") && incr.out().contains("\"parentId\": 1"), incr.out());

        Run list = cli("list", "--repo", repo);
        assertTrue(list.out().contains("incr<-1"), list.out());

        Path restored = dir.resolve("r.raw");
        Run restore = cli("restore", "--repo", repo, "--to", restored.toString());
        assertEquals(0, restore.exit(), restore.err());
        SnapshotDisk d = s2.disks().getFirst();
        assertEquals(DiskContent.sha256Of(d::read, d.capacity()), sha256(restored));
        assertTrue(Files.size(restored) == DISK);

        // Restoring over an existing file needs --force.
        Run again = cli("restore", "--repo", repo, "--to", restored.toString());
        assertEquals(1, again.exit());
        assertTrue(again.err().contains("--force"), again.err());

        Run verify = cli("verify", "--repo", repo, "--against", export("s2"));
        assertEquals(0, verify.exit(), verify.out() + verify.err());
        assertTrue(verify.out().contains("identical"), verify.out());
        assertEquals(0, cli("verify", "--repo", repo, "--backup", "1").exit());
    }

    @Test
    void verifyAgainstExitsWithThreeWhenTrackingMissedAWrite() throws Exception {
        assertEquals(0, cli("init", "--repo", repo, "--chunk-size", "256K").exit());
        assertEquals(0, cli(backupArgs(vm.createSnapshot("s1")).toArray(String[]::new)).exit());
        vm.disks().getFirst().writeUntracked(1L << 20, Unpooled.wrappedBuffer(new byte[65536]).setByte(7, 1));
        Run sampled = cli(backupArgs(vm.createSnapshot("s2"), "--verify-sample", "100%").toArray(String[]::new));
        assertEquals(VerifyCommand.FOUND_PROBLEMS, sampled.exit(), "the backup is kept but flagged: " + sampled.out());
        assertTrue(sampled.out().contains("backup 2 of vm01 committed") && sampled.out().contains("DIFFERS"), sampled.out());
        Run verify = cli("verify", "--repo", repo, "--against", export("s2"));
        assertEquals(VerifyCommand.FOUND_PROBLEMS, verify.exit(), verify.out());
        assertTrue(verify.out().contains("DIFFERS") && verify.out().contains("[1048576, 1310720)"), verify.out());
    }

    @Test
    void initTakesTheStoresDefaultChunkSizeUnlessTold() throws Exception {
        assertEquals(0, cli("init", "--repo", repo).exit());
        String other = dir.resolve("other").toString();
        assertEquals(0, cli("init", "--repo", other, "--chunk-size", "1M").exit());
        try (io.blockmover.index.repo.Repository byDefault = io.blockmover.index.repo.Repository.openReadOnly(Path.of(repo), null);
             io.blockmover.index.repo.Repository told = io.blockmover.index.repo.Repository.openReadOnly(Path.of(other), null)) {
            assertEquals(io.blockmover.index.repo.InitOptions.DEFAULT_CHUNK_SIZE, byDefault.config().chunkSize());
            assertEquals(1 << 20, told.config().chunkSize());
        }
    }

    @Test
    void listShowAndStatsWorkBesideTheProcessThatHoldsTheRepository() throws Exception {
        assertEquals(0, cli("init", "--repo", repo).exit());
        assertEquals(0, cli(backupArgs(vm.createSnapshot("s1")).toArray(String[]::new)).exit());
        try (io.blockmover.index.repo.Repository writer = io.blockmover.index.repo.Repository.open(Path.of(repo), null)) {
            Run gc = cli("gc", "--repo", repo);
            assertEquals(1, gc.exit(), "writing commands still need the lock");
            assertTrue(gc.err().contains("in use"), gc.err());
            Run list = cli("list", "--repo", repo);
            assertEquals(0, list.exit(), list.err());
            assertTrue(list.out().contains("vm01"), list.out());
            assertEquals(0, cli("show", "1", "--repo", repo).exit());
            assertEquals(0, cli("stats", "--repo", repo).exit());
        }
    }

    @Test
    void errorsAreOneLineWithoutStackTraces() {
        Run missing = cli("list", "--repo", dir.resolve("nowhere").toString());
        assertEquals(1, missing.exit());
        assertTrue(missing.err().startsWith("blockmover: no repository at"), missing.err());
        assertEquals(1, missing.err().strip().lines().count(), missing.err());

        assertEquals(0, cli("init", "--repo", repo).exit());
        Run noBackup = cli("verify", "--repo", repo, "--backup", "99");
        assertEquals(1, noBackup.exit());
        assertTrue(noBackup.err().contains("no backup 99"), noBackup.err());
        assertFalse(noBackup.err().contains("\tat "), "no stack trace without --debug: " + noBackup.err());

        // A port that was just free: nothing listens there (port 1 may be taken on a shared machine).
        int closed = io.blockmover.nbd.testing.FreePorts.find();
        Run refused = cli("backup", "--repo", repo, "--source", "nbd://127.0.0.1:" + closed + "/x", "--max-retries", "0");
        assertEquals(1, refused.exit());
        assertTrue(refused.err().contains("127.0.0.1:" + closed), refused.err());
        assertEquals(1, refused.err().strip().lines().count(), refused.err());
    }

    @Test
    void configFileGivesDefaultsThatFlagsOverride() throws Exception {
        assertEquals(0, cli("init", "--repo", repo).exit());
        Path config = dir.resolve("blockmover.yaml");
        Files.writeString(config, "repo: " + repo + "\nlist:\n  json: true\n");
        Run fromConfig = cli("list", "--config", config.toString());
        assertEquals(0, fromConfig.exit(), fromConfig.err());
        assertEquals("[]", fromConfig.out().strip(), "repo and --json came from the file");

        Run overridden = cli("list", "--config", config.toString(), "--repo", dir.resolve("other").toString());
        assertEquals(1, overridden.exit());
        assertTrue(overridden.err().contains("other"), "the flag wins: " + overridden.err());

        Files.writeString(config, "repo: [1\n");
        Run broken = cli("list", "--config", config.toString());
        assertEquals(1, broken.exit());
        assertTrue(broken.err().startsWith("blockmover: config file") && broken.err().strip().lines().count() == 1, broken.err());
    }

    @Test
    void everyReportingCommandSpeaksJson() throws Exception {
        JsonNode init = json(cli("init", "--repo", repo, "--chunk-size", "256K", "--json"));
        assertEquals(256 << 10, init.get("chunkSize").asInt());
        assertFalse(init.get("encrypted").asBoolean());
        Snapshot s1 = vm.createSnapshot("s1");
        assertEquals(0, cli(backupArgs(s1).toArray(String[]::new)).exit());
        Snapshot s2 = vm.createSnapshot("s2");
        assertEquals(0, cli(backupArgs(s2).toArray(String[]::new)).exit());

        JsonNode verify = json(cli("verify", "--repo", repo, "--json"));
        assertTrue(verify.get("ok").asBoolean(), verify.toString());
        JsonNode disk = verify.get("disks").get(0);
        assertEquals("disk-2000", disk.get("disk").asText());
        assertTrue(disk.get("chunks").asLong() > 0 && disk.get("bytes").asLong() == disk.get("chunks").asLong() * (256 << 10),
                verify.toString()); // zero chunks are not re-read
        JsonNode against = json(cli("verify", "--repo", repo, "--against", export("s2"), "--json"));
        assertEquals("source", against.get("disks").get(0).get("checked").asText(), against.toString());
        assertEquals(0, against.get("disks").get(0).get("differences").size(), against.toString());
        JsonNode all = json(cli("verify", "--repo", repo, "--all", "--json"));
        assertTrue(all.get("ok").asBoolean() && all.get("chunksChecked").asLong() > 0, all.toString());

        JsonNode prune = json(cli("prune", "--repo", repo, "--keep-last", "1", "--json"));
        assertEquals("[1]", prune.get("removed").toString());
        assertEquals("[2]", prune.get("kept").toString());
        JsonNode gc = json(cli("gc", "--repo", repo, "--grace", "0", "--json"));
        assertTrue(gc.get("liveChunks").asLong() > 0 && gc.has("deletedChunkEntries"), gc.toString());

        JsonNode info = json(cli("nbd-info", export("s2"), "--json"));
        assertEquals(DISK, info.get("size").asLong());
        assertTrue(info.get("contexts").toString().contains("base:allocation"), info.toString());
        Run map = cli("nbd-info", export("s2"), "--map", "--json");
        long covered = 0;
        for (String line : map.out().strip().split("\n")) {
            covered += MAPPER.readTree(line).get("length").asLong();
        }
        assertEquals(DISK, covered, map.out());
    }

    private static final ObjectMapper MAPPER = new ObjectMapper();

    private static JsonNode json(Run r) throws Exception {
        assertEquals(0, r.exit(), r.err());
        return MAPPER.readTree(r.out());
    }
}

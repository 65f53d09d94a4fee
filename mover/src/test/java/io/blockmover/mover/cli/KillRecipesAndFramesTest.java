package io.blockmover.mover.cli;

import io.blockmover.index.maintenance.RepositoryStats;
import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.repo.InitOptions;
import io.blockmover.index.repo.Repository;
import io.blockmover.index.repo.RepositoryConfig;
import io.blockmover.nbd.esx.BaseContent;
import io.blockmover.nbd.esx.DiskConfig;
import io.blockmover.nbd.esx.DiskContent;
import io.blockmover.nbd.esx.EsxSimulator;
import io.blockmover.nbd.esx.HostSpec;
import io.blockmover.nbd.esx.ImageContent;
import io.blockmover.nbd.esx.Profile;
import io.blockmover.nbd.esx.Snapshot;
import io.blockmover.nbd.esx.SnapshotDisk;
import io.blockmover.nbd.esx.VirtualDisk;
import io.blockmover.nbd.esx.VirtualMachine;
import io.blockmover.mover.api.v1.BackupMode;
import io.blockmover.mover.api.v1.BackupProxyGrpc;
import io.blockmover.mover.api.v1.BackupRequest;
import io.blockmover.mover.api.v1.DiskSource;
import io.blockmover.mover.api.v1.GcRequest;
import io.blockmover.mover.api.v1.JobRef;
import io.blockmover.mover.cli.KillHarness.Window;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static io.blockmover.mover.cli.KillHarness.bytesUnder;
import static io.blockmover.mover.cli.KillHarness.committed;
import static io.blockmover.mover.cli.KillHarness.filesIn;
import static io.blockmover.mover.cli.KillHarness.verifyNewest;
import static io.blockmover.nbd.testing.Digests.sha256;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * SIGKILL of the real {@code blockmover backup} while it writes frames and recipes: a repository
 * with 1 MiB frames of 256 KiB chunks and sub-chunk dedup, and disks that hold 4 KiB-aligned but
 * not chunk-aligned copies of stored data, so the killed process is compressing text into frames
 * and storing recipes whose sources are either committed chunks in frames or its own new chunks
 * (recipes held back until those are published). Small packs (1 MiB) make packs seal and publish
 * while the backup runs, so a kill also lands between publications. After each kill, as in
 * {@link KillPipelineTest}: no partial backup is recorded, the newest backups verify, the next
 * backup succeeds; at the end the whole repository verifies (a recipe whose source was lost
 * would be damage), again after {@code rebuild-index} and after a gc, and every committed backup
 * restores bit-exact. Then {@code gc} is killed while it
 * compacts packs whose frames are partly live because recipes use some of their chunks: after
 * each kill everything verifies and restores and the next gc succeeds. Last, the proxy
 * ({@code serve}) is killed while it runs a gc and, beside it, a backup whose recipes would use
 * chunks that gc is sweeping.
 * <p>{@code BM_KILL_POINTS} scales it as the other kill test (three tenths of the points are
 * backups killed here, a tenth gc runs, a twentieth proxies); {@code BM_KILL_SEED} repeats a run.
 */
class KillRecipesAndFramesTest {
    private static final int BLOCK = 4 << 10;
    private static final int CHUNK = 256 << 10;
    private static final int FRAME = 1 << 20;
    private static final int MIB = 1 << 20;
    private static final long DISK = 32L << 20;
    /** How fast the killed backups read, in bytes per second. */
    private static final long SLOW = 64L << 20;
    /** Sets the new text of the image VMs apart from the generated host's. */
    private static final long OWN_SALT = 0x6F776E;

    @TempDir
    Path dir;

    @Test
    void sigkilledBackupsWritingRecipesAndFramesLoseNothingAndRecordNothingPartial() throws Exception {
        int points = KillHarness.points();
        long seed = KillHarness.seed();
        Random random = new Random(seed);
        String why = "seed " + seed + " (BM_KILL_SEED)";
        KillHarness harness = new KillHarness(dir);
        int kills = Math.max(2, points * 3 / 10);
        Path repo = initRepository();
        Map<String, String> expected = new HashMap<>(); // SHA-256 of each VM's disk
        List<ImageContent> images = new ArrayList<>();
        try (EsxSimulator sim = EsxSimulator.start(EsxSimulator.Options.plain(new HostSpec(seed, 1, 1, DISK, Profile.TEXT, true)))) {
            // The base: text, every chunk new, so it is stored in frames.
            BaseContent base = sim.host().requireVm("vm01").disks().getFirst().content();
            sim.host().requireVm("vm01").createSnapshot("s1");
            List<String> first = backup(repo, sim, "vm01");
            harness.timed(first);
            expected.put("vm01", base.sha256());
            RepositoryStats afterBase = stats(repo);
            assertTrue(afterBase.framedChunks() >= DISK / CHUNK / 2, "the base's text went into frames: " + afterBase);

            // One uncut run of a copying disk: it must store recipes, and it measures where kills may land:
            // after a process has opened the repository (as long as stats takes) and before the backup ends.
            // The killed runs read at 64 MB/s, so that their work spans a window a kill can find, without CPU.
            List<String> uncut = backup(repo, sim, addCopy(sim, base, seed, 1, images, expected));
            sim.faults().rateLimit(SLOW);
            long backupMillis = harness.timed(uncut);
            sim.faults().clear();
            images.removeLast().close(); // backed up for the last time: its deleted file's space goes
            Window window = new Window(harness.timed(List.of("stats", "--repo", repo.toString())), backupMillis);
            RepositoryStats afterCopy = stats(repo);
            long recipesPerCopy = afterCopy.recipeChunks() - afterBase.recipeChunks();
            // 64 chunks copy the base and 31 their own new text: most of them become recipes.
            assertTrue(recipesPerCopy >= 64, "an uncut backup of a copying disk stores recipes: " + afterBase + " -> " + afterCopy);
            assertTrue(afterCopy.framedChunks() > afterBase.framedChunks(), "and frames of its new text: " + afterCopy);

            int cut = 0;
            int midWrite = 0;
            int afterPublishing = 0;
            int nearCommit = 0;
            for (int i = 0; i < kills; i++) {
                List<String> fresh = backup(repo, sim, addCopy(sim, base, seed, i + 2, images, expected));
                int before = committed(repo).size();
                long packBytes = bytesUnder(repo.resolve("packs"));
                long recipesBefore = stats(repo).recipeChunks();
                // Every other kill aims at the end of the run: the last packs' seals, the held-back recipes, the commit.
                boolean aimedAtEnd = i % 2 == 1;
                long at = aimedAtEnd ? window.nearEnd(random) : window.next(random);
                sim.faults().rateLimit(SLOW);
                harness.killAt(fresh, at);
                sim.faults().clear();
                // Measured before the repository is opened again: opening may clear what the killed process left.
                boolean stored = bytesUnder(repo.resolve("packs")) > packBytes || filesIn(repo.resolve("tmp")) > 0;
                List<BackupRecord> after = committed(repo);
                assertTrue(after.size() == before || after.size() == before + 1, why);
                boolean wasCut = after.size() == before;
                cut += wasCut ? 1 : 0;
                midWrite += wasCut && stored ? 1 : 0;
                nearCommit += aimedAtEnd && wasCut && stored ? 1 : 0;
                afterPublishing += wasCut && stats(repo).recipeChunks() > recipesBefore ? 1 : 0;
                window.landed(at, !stored, !wasCut);
                String where = why + ", backup killed at " + at + " ms";
                verifyNewest(repo, after.size() - before + 1, where);
                assertEquals(0, Main.execute(fresh.toArray(String[]::new)), "the next backup succeeds: " + where);
                images.removeLast().close();
                verifyNewest(repo, 1, where + ", then backed up again");
            }
            System.out.printf("kill points (%s): %d backups writing frames and recipes, %d cut before their commit (%d after "
                    + "they began storing, %d of them aimed at the end, %d after some of their recipes were published); "
                    + "uncut backup %d ms storing %d recipes%n", why, kills, cut, midWrite, nearCommit, afterPublishing,
                    backupMillis, recipesPerCopy);
            assertTrue(midWrite > 0, "some backup kill landed after it began storing, before the commit: " + why);

            assertEquals(0, Main.execute("verify", "--repo", repo.toString(), "--all"), "every chunk, recipe and frame reads: " + why);
            // The packs alone say the same: what the killed backups left beside their reruns (a chunk stored
            // whole by one and as a recipe by the other) must not make rebuild-index break a recipe.
            assertEquals(0, Main.execute("rebuild-index", "--repo", repo.toString()), why);
            assertEquals(0, Main.execute("verify", "--repo", repo.toString(), "--all"), "every chunk reads after rebuild-index: " + why);
            // What the killed backups left (some of it now used by the backups that followed them, recipes
            // and their sources included) is gc's: it must take the garbage and keep all that is used.
            assertEquals(0, Main.execute("gc", "--repo", repo.toString(), "--grace", "0"), why);
            assertEquals(0, Main.execute("verify", "--repo", repo.toString(), "--all"), "every chunk reads after gc: " + why);
            assertEverythingRestores(repo, expected, why);
        } finally {
            for (ImageContent image : images) {
                image.close();
            }
        }
    }

    @Test
    void sigkilledGcCompactingFramesThatRecipesUseLosesNothing() throws Exception {
        long seed = KillHarness.seed();
        Random random = new Random(seed);
        String why = "seed " + seed + " (BM_KILL_SEED)";
        KillHarness harness = new KillHarness(dir);
        int kills = Math.max(1, KillHarness.points() / 10);
        Path repo = initRepository();
        Map<String, String> expected = new HashMap<>();
        List<ImageContent> images = new ArrayList<>();
        try (EsxSimulator sim = EsxSimulator.start(EsxSimulator.Options.plain(new HostSpec(seed, 0, 1, DISK, Profile.TEXT, true)))) {
            List<String> gc = List.of("gc", "--repo", repo.toString(), "--grace", "0", "--compact-below", "0.9", "--json");
            Window window = null;
            long gcMillis = 0;
            int cut = 0;
            int midWork = 0;
            for (int i = 0; i <= kills; i++) {
                long copyRecipes = garbage(repo, sim, seed, i, images, expected);
                RepositoryStats before = stats(repo);
                if (window == null) {
                    // The first gc runs uncut: it must compact frames recipes still use, and it measures where kills
                    // may land: after a process has opened the repository (as long as stats takes) and before gc ends.
                    gcMillis = harness.timed(gc);
                    String json = Files.readAllLines(dir.resolve("uncut.log")).stream().filter(l -> l.startsWith("{")).findFirst()
                            .orElseThrow(() -> new AssertionError("gc --json printed no report"));
                    JsonNode report = new ObjectMapper().readTree(json);
                    window = new Window(harness.timed(List.of("stats", "--repo", repo.toString())), gcMillis);
                    RepositoryStats after = stats(repo);
                    assertTrue(report.get("compactedPacks").asInt() > 0 && report.get("deletedChunkEntries").asLong() > 0,
                            "gc compacted packs of partly live frames: " + report);
                    // Not every recipe: a chunk of the pruned text may be one (the emulator's text repeats now and then).
                    assertTrue(after.recipeChunks() >= copyRecipes, "the copy's recipes stay: " + after + ", " + why);
                    assertTrue(after.framedChunks() > 0 && after.framedChunks() < before.framedChunks(),
                            "some framed chunks went, the sources stayed: " + before + " -> " + after);
                } else {
                    List<String> packs = packFiles(repo);
                    long at = window.next(random);
                    boolean killed = harness.killAt(gc, at);
                    // Packs rewritten or deleted, or chunk entries swept: the gc had begun its work.
                    boolean touched = !packFiles(repo).equals(packs) || stats(repo).uniqueChunks() != before.uniqueChunks();
                    cut += killed ? 1 : 0;
                    midWork += killed && touched ? 1 : 0;
                    window.landed(at, !touched, !killed);
                }
                String where = why + ", gc " + i;
                assertEquals(0, Main.execute("verify", "--repo", repo.toString(), "--all"), "every chunk reads after " + where);
                assertEverythingRestores(repo, expected, where);
                assertEquals(0, Main.execute("gc", "--repo", repo.toString(), "--grace", "0"), "the next gc succeeds: " + where);
                assertEquals(0, Main.execute("verify", "--repo", repo.toString(), "--all"), "every chunk reads after the next gc: " + where);
            }
            System.out.printf("kill points (%s): %d gc runs compacting frames that recipes use, %d of them killed (%d after "
                    + "they began changing the repository); uncut gc %d ms%n", why, kills, cut, midWork, gcMillis);
        } finally {
            for (ImageContent image : images) {
                image.close();
            }
        }
    }

    @Test
    void sigkilledProxyRunningGcBesideABackupThatMakesRecipesLosesNothing() throws Exception {
        long seed = KillHarness.seed();
        Random random = new Random(seed);
        String why = "seed " + seed + " (BM_KILL_SEED)";
        int kills = Math.max(1, KillHarness.points() / 20);
        Path repo = initRepository();
        Map<String, String> expected = new HashMap<>();
        List<ImageContent> images = new ArrayList<>();
        int committedByProxy = 0;
        List<String> atKill = new ArrayList<>();
        try (EsxSimulator sim = EsxSimulator.start(EsxSimulator.Options.plain(new HostSpec(seed, 0, 1, DISK, Profile.TEXT, true)))) {
            for (int i = 0; i < kills; i++) {
                garbage(repo, sim, seed, i, images, expected);
                // A second copy of the pruned base, 4 MiB earlier in it than the first: its recipes would use
                // chunks that only the gc running beside it knows are garbage.
                String copy = addCopy(sim, sim.host().requireVm("base" + i).disks().getFirst().content(), seed, 204 + i, images,
                        expected);
                int backupsBefore = committed(repo).size();
                Process proxy = new ProcessBuilder(KillHarness.command(List.of("serve", "--no-auth", "--repo", repo.toString(),
                        "--listen", "127.0.0.1:0", "--allow-source", "127.0.0.1:*"))).redirectErrorStream(true).start();
                sim.faults().rateLimit(SLOW);
                try {
                    ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", KillHarness.awaitReady(proxy))
                            .usePlaintext().build();
                    try {
                        var stub = BackupProxyGrpc.newBlockingStub(channel).withDeadlineAfter(1, TimeUnit.MINUTES);
                        JobRef backup = stub.submitBackup(BackupRequest.newBuilder().setVm(copy).setMode(BackupMode.BACKUP_MODE_FULL)
                                .addDisks(DiskSource.newBuilder().setDisk("disk-2000").setUri(source(sim, copy, "s1"))).build());
                        JobRef gc = stub.submitGc(GcRequest.newBuilder().setGraceSeconds(0).setCompactBelow(0.9).build());
                        Thread.sleep(random.nextInt(800)); // the gc takes a few hundred ms, the backup about a second
                        // What ran when the proxy died, so a run whose kills all missed the overlap is visible.
                        atKill.add(stub.getJob(backup).getState().name().replace("JOB_STATE_", "backup ") + "/"
                                + stub.getJob(gc).getState().name().replace("JOB_STATE_", "gc "));
                    } finally {
                        channel.shutdownNow();
                    }
                } finally {
                    proxy.destroyForcibly(); // SIGKILL
                    assertTrue(proxy.waitFor(60, TimeUnit.SECONDS));
                    sim.faults().clear();
                }
                committedByProxy += committed(repo).size() - backupsBefore;
                String where = why + ", proxy " + i;
                assertEquals(0, Main.execute("verify", "--repo", repo.toString(), "--all"), "every chunk reads after " + where);
                assertEverythingRestores(repo, expected, where);
                assertEquals(0, Main.execute(backup(repo, sim, copy).toArray(String[]::new)), "the next backup succeeds: " + where);
                images.removeLast().close();
                assertEquals(0, Main.execute("gc", "--repo", repo.toString(), "--grace", "0"), "the next gc succeeds: " + where);
                assertEquals(0, Main.execute("verify", "--repo", repo.toString(), "--all"), "every chunk reads after the next gc: " + where);
                assertEverythingRestores(repo, expected, where);
            }
            System.out.printf("kill points (%s): %d proxies killed running gc beside a backup making recipes (jobs at the kill: %s; "
                    + "%d backups committed before it)%n", why, kills, atKill, committedByProxy);
        } finally {
            for (ImageContent image : images) {
                image.close();
            }
        }
    }

    /**
     * Garbage among frames that recipes use: VM {@code baseN} (new text, stored in frames), a copy
     * of its middle as recipes ({@link #addCopy}), then baseN zeroed, backed up again and its first
     * backup pruned. What is left live of the first backup is what the recipes use: whole frames,
     * and frames of which a chunk or two are live. Returns how many recipes the copy stored.
     */
    private long garbage(Path repo, EsxSimulator sim, long seed, int n, List<ImageContent> images,
                         Map<String, String> expected) throws Exception {
        String name = "base" + n;
        VirtualMachine vm = sim.host().addVm(name, List.of(DiskConfig.thin(DISK, Profile.TEXT)));
        vm.enableCbt();
        VirtualDisk disk = vm.disks().getFirst();
        vm.createSnapshot("s1");
        RepositoryStats start = stats(repo);
        assertEquals(0, Main.execute(backup(repo, sim, name, "s1").toArray(String[]::new)));
        RepositoryStats withBase = stats(repo);
        String copy = addCopy(sim, disk.content(), seed, 100 + n, images, expected);
        assertEquals(0, Main.execute(backup(repo, sim, copy, "s1").toArray(String[]::new)));
        images.removeLast().close();
        RepositoryStats withCopy = stats(repo);
        long recipes = withCopy.recipeChunks() - withBase.recipeChunks();
        assertTrue(withBase.framedChunks() - start.framedChunks() >= DISK / CHUNK / 2 && recipes >= 64,
                "the base is in frames, the copy mostly recipes: " + start + " -> " + withBase + " -> " + withCopy);
        disk.writeZeroes(0, DISK, true);
        Snapshot zeroed = vm.createSnapshot("s2");
        SnapshotDisk zeros = zeroed.disks().getFirst();
        expected.put(name, DiskContent.sha256Of(zeros::read, zeros.capacity()));
        assertEquals(0, Main.execute(backup(repo, sim, name, "s2").toArray(String[]::new)));
        assertEquals(0, Main.execute("prune", "--repo", repo.toString(), "--keep-last", "1"));
        return recipes;
    }

    private static List<String> packFiles(Path repo) throws Exception {
        try (Stream<Path> files = Files.walk(repo.resolve("packs"))) {
            return files.filter(Files::isRegularFile).map(Path::toString).sorted().toList();
        }
    }

    /** 1 MiB frames of 256 KiB chunks, sub-chunk dedup, 1 MiB packs (so packs seal while a backup runs). */
    private Path initRepository() throws Exception {
        Path repo = dir.resolve("repo");
        Repository.init(repo, InitOptions.defaults().withChunkSize(CHUNK).withFrameSize(FRAME).withSubchunkDedup(true)
                .withPackTargetSize(1 << 20)).close();
        try (Repository r = Repository.open(repo, null)) {
            RepositoryConfig config = r.config();
            assertEquals(FRAME, config.frameSize(), "frames are on");
            assertTrue(config.subchunkDedup(), "sub-chunk dedup is on");
        }
        return repo;
    }

    private static RepositoryStats stats(Path repo) throws Exception {
        try (Repository r = Repository.open(repo, null)) {
            return RepositoryStats.of(r);
        }
    }

    /** Restores every committed backup through the CLI and compares it with its VM's disk. */
    private void assertEverythingRestores(Path repo, Map<String, String> expected, String why) throws Exception {
        Path restored = dir.resolve("restored.raw");
        for (BackupRecord b : committed(repo)) {
            assertEquals(0, Main.execute("restore", "--repo", repo.toString(), "--backup", Long.toString(b.id()), "--to",
                    restored.toString(), "--force", "--no-progress"), "backup " + b.id() + " restores: " + why);
            assertEquals(expected.get(b.vmId()), sha256(restored), "backup " + b.id() + " of " + b.vmId() + " is bit-exact: " + why);
        }
        Files.delete(restored);
    }

    private static List<String> backup(Path repo, EsxSimulator sim, String vm) {
        return backup(repo, sim, vm, "s1");
    }

    private static List<String> backup(Path repo, EsxSimulator sim, String vm, String snapshot) {
        return List.of("backup", "--repo", repo.toString(), "--no-progress", "--full", "--source", source(sim, vm, snapshot));
    }

    private static String source(EsxSimulator sim, String vm, String snapshot) {
        return "nbd://127.0.0.1:" + sim.nbdAddress().getPort() + "/" + vm + "/disk-2000@" + snapshot;
    }

    /**
     * Adds VM {@code copyN}, snapshot s1, whose disk is: 16 MiB of the base from a 4 KiB-aligned
     * offset that is no chunk boundary (recipes of committed chunks in frames), 8 MiB of new text
     * (frames), then that new text again a few 4 KiB blocks on (recipes of this backup's own new
     * chunks, held back until those are published), then a little more new text. The offsets
     * differ from copy to copy, so no copy deduplicates whole chunks of another. The image file is
     * written, served and deleted (the server keeps it open until the caller closes it); its SHA-256 is kept.
     */
    private String addCopy(EsxSimulator sim, BaseContent base, long seed, int n, List<ImageContent> images,
                           Map<String, String> shas) throws IOException {
        long from = (long) (n % 8) * MIB + (long) BLOCK * (1 + (5L * n) % 63);
        long again = (long) BLOCK * (1 + (3L * n) % 63);
        DiskContent own = new DiskContent(seed ^ OWN_SALT, n, Profile.TEXT, DISK);
        String vm = "copy" + n;
        Path file = dir.resolve(vm + ".raw");
        ByteBuf buf = Unpooled.buffer((int) DISK);
        try {
            base.read(from, 16 * MIB, buf);
            own.read(16L * MIB, 8 * MIB, buf);
            own.read(16L * MIB + again, (int) (8 * MIB - again), buf);
            own.read(DISK - again, (int) again, buf);
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                buf.readBytes(ch, 0L, buf.readableBytes());
            }
        } finally {
            buf.release();
        }
        ImageContent image = ImageContent.open(file);
        images.add(image);
        shas.put(vm, sha256(file));
        Files.delete(file);
        sim.host().addImageVm(vm, image).enableCbt();
        sim.host().requireVm(vm).createSnapshot("s1");
        return vm;
    }
}

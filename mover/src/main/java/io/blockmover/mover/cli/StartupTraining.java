package io.blockmover.mover.cli;

import io.blockmover.nbd.esx.EsxSimulator;
import io.blockmover.nbd.esx.HostSpec;
import io.blockmover.nbd.esx.Profile;
import io.blockmover.nbd.esx.Snapshot;
import io.blockmover.nbd.esx.VirtualMachine;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * The workload {@code make build} runs once under {@code -XX:AOTCacheOutput} (JDK 25's ahead-of-time
 * cache, JEP 483/514/515). Every {@code blockmover} command is a fresh process, so start-up is part
 * of every backup's time; with the cache a process starts with the classes it needs already loaded
 * and linked, and with method profiles that let the JIT compile the hot paths sooner. It runs the
 * real commands, as a user types them, against an in-process emulated host.
 */
public final class StartupTraining {
    private static final long DISK = 256L << 20;

    private StartupTraining() {}

    public static void main(String[] args) throws Exception {
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        Path dir = Files.createTempDirectory("blockmover-training");
        PrintStream out = System.out;
        PrintStream err = System.err;
        System.setOut(new PrintStream(OutputStream.nullOutputStream()));
        System.setErr(new PrintStream(OutputStream.nullOutputStream()));
        try (EsxSimulator sim = EsxSimulator.start(EsxSimulator.Options.plain(
                new HostSpec(7, 1, 1, DISK, Profile.MIXED, true)))) {
            VirtualMachine vm = sim.host().requireVm("vm01");
            String repo = dir.resolve("repo").toString();
            String base = "nbd://127.0.0.1:" + sim.nbdAddress().getPort() + "/vm01/disk-2000@";
            run("init", "--repo", repo);
            Snapshot s1 = vm.createSnapshot("s1");
            run("backup", "--repo", repo, "--source", base + "s1", "--no-progress",
                    "--change-id", s1.disks().getFirst().changeId().orElseThrow().toString());
            sim.workload().writeGrains(256);
            Snapshot s2 = vm.createSnapshot("s2");
            run("backup", "--repo", repo, "--source", base + "s2", "--no-progress",
                    "--change-id", s2.disks().getFirst().changeId().orElseThrow().toString());
            run("restore", "--repo", repo, "--to", dir.resolve("restored.raw").toString(), "--no-progress");
            run("verify", "--repo", repo, "--all", "--no-progress");
            run("list", "--repo", repo);
            run("stats", "--repo", repo);
            run("nbd-info", base + "s2");
            run("nbd-copy", base + "s2", "null:", "--no-progress");
        } finally {
            System.setOut(out);
            System.setErr(err);
            try (Stream<Path> files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(StartupTraining::delete);
            }
        }
    }

    private static void run(String... args) {
        int exit = Main.execute(args);
        if (exit != 0) {
            throw new IllegalStateException("training run of '" + String.join(" ", args) + "' exited with " + exit);
        }
    }

    private static void delete(Path p) {
        try {
            Files.delete(p);
        } catch (IOException e) {
            throw new IllegalStateException("cannot delete " + p + ": " + e.getMessage(), e);
        }
    }
}

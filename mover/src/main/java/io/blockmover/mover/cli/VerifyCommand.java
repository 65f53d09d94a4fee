package io.blockmover.mover.cli;

import io.blockmover.index.maintenance.DamagedChunk;
import io.blockmover.index.maintenance.Verifier;
import io.blockmover.index.maintenance.VerifyReport;
import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.manifest.DiskRecord;
import io.blockmover.index.repo.Repository;
import io.blockmover.mover.pipeline.BackupCheck;
import io.blockmover.mover.pipeline.SourceComparison;
import io.blockmover.mover.pipeline.VerifyJob;
import io.blockmover.nbd.units.ByteRange;
import io.blockmover.nbd.units.Sizes;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.Map;
import java.util.LinkedHashMap;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.Optional;

/**
 * {@code blockmover verify}: re-reads a backup's chunks and checks their digests; with
 * {@code --against} compares the backup with its source; with {@code --all} checks every chunk
 * of the repository. Exit code 0 when everything is intact, 3 when damage or differences were
 * found (so scripts can tell "damaged" from "could not run", which is 1).
 */
@Command(name = "verify", mixinStandardHelpOptions = true,
        description = "Check that backups can be restored exactly, or that a backup matches its source.")
final class VerifyCommand implements Callable<Integer> {
    static final int FOUND_PROBLEMS = 3;

    @Mixin
    RepositoryOptions repository;

    @Mixin
    BackupSelection selection;

    @Option(names = "--all", description = "Check every chunk in the repository and name the backups each damaged chunk breaks.")
    boolean all;

    @Option(names = "--against", paramLabel = "URI",
            description = "Compare the backup with this source (e.g. the snapshot it was taken from) and report every differing range.")
    String against;

    @Option(names = "--sample", paramLabel = "PERCENT", defaultValue = "100%",
            description = "With --against: compare only this share of the chunks, spread over the disk (default ${DEFAULT-VALUE}).")
    String sample;

    @Mixin
    JsonOption output;

    @Mixin
    ProgressOption progress;

    @Mixin
    PipelineOptions pipeline;

    @Mixin
    ConnectionOptions connection;

    @Override
    public Integer call() throws Exception {
        try (Repository repo = repository.open();
             Interruption interruption = new Interruption();
             ProgressDisplay display = progress.display(false)) {
            if (all) {
                return verifyRepository(repo);
            }
            BackupRecord backup = selection.backup(repo);
            List<DiskRecord> disks = selection.disks(backup);
            if (against != null && disks.size() != 1) {
                throw new IllegalArgumentException("--against compares one disk; choose it with --disk (backup " + backup.id()
                        + " has " + disks.stream().map(DiskRecord::diskId).toList() + ")");
            }
            VerifyJob.Result result = new VerifyJob(repo, pipeline.settings(), connection.access(pipeline.connections),
                    interruption.cancellation())
                    .run(new VerifyJob.Request(backup, disks, Optional.ofNullable(against), against == null ? 1 : parsePercent(sample)),
                            (disk, counters) -> display.track(backup.vmId() + "/" + disk, counters));
            // Reports are printed once every disk is done, so they never interleave with the progress bars.
            display.close();
            if (output.json) {
                System.out.println(JsonWriter.write(toJson(backup, result)));
                return result.ok() ? 0 : FOUND_PROBLEMS;
            }
            boolean ok = true;
            for (VerifyJob.DiskVerdict v : result.disks()) {
                String what = "backup " + backup.id() + " " + backup.vmId() + "/" + v.disk().diskId();
                ok &= switch (v) {
                    case VerifyJob.Checked c -> report(what, c.result());
                    case VerifyJob.Compared c -> report(what, c.result());
                };
            }
            return ok ? 0 : FOUND_PROBLEMS;
        }
    }

    private int verifyRepository(Repository repo) throws Exception {
        VerifyReport r = new Verifier(repo).run(pipeline.workers);
        if (output.json) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("chunksChecked", r.chunksChecked());
            m.put("bytesChecked", r.bytesChecked());
            m.put("damaged", r.damaged());
            m.put("manifestProblems", r.manifestProblems());
            m.put("ok", r.ok());
            System.out.println(JsonWriter.write(m));
            return r.ok() ? 0 : FOUND_PROBLEMS;
        }
        System.out.printf(Locale.ROOT, "checked %d chunks (%s)%n", r.chunksChecked(), Sizes.human(r.bytesChecked()));
        for (DamagedChunk c : r.damaged()) {
            System.out.printf("DAMAGED chunk %s: %s%n", c.chunkId(), c.reason());
            c.usedBy().forEach(ref -> System.out.printf("  breaks backup %d %s/%s at offset %d%n",
                    ref.backupId(), ref.vmId(), ref.diskId(), ref.offset()));
        }
        r.manifestProblems().forEach(p -> System.out.println("PROBLEM " + p));
        System.out.println(r.ok() ? "repository OK" : "repository DAMAGED");
        return r.ok() ? 0 : FOUND_PROBLEMS;
    }

    private static Map<String, Object> toJson(BackupRecord backup, VerifyJob.Result result) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("backupId", backup.id());
        m.put("vm", backup.vmId());
        List<Object> disks = new ArrayList<>();
        for (VerifyJob.DiskVerdict v : result.disks()) {
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("disk", v.disk().diskId());
            switch (v) {
                case VerifyJob.Checked c -> {
                    d.put("checked", "chunks");
                    d.put("chunks", c.result().chunksChecked());
                    d.put("bytes", c.result().bytesChecked());
                    d.put("damaged", c.result().damaged());
                }
                case VerifyJob.Compared c -> {
                    d.put("checked", "source");
                    d.put("chunks", c.result().chunksCompared());
                    d.put("bytes", c.result().bytesCompared());
                    d.put("differences", c.result().differences());
                }
            }
            d.put("ok", v.ok());
            disks.add(d);
        }
        m.put("disks", disks);
        m.put("ok", result.ok());
        return m;
    }

    private static boolean report(String what, BackupCheck.Result r) {
        for (BackupCheck.Damage d : r.damaged()) {
            System.out.printf("DAMAGED %s: chunk at offset %d: %s%n", what, d.offset(), d.reason());
        }
        System.out.printf(Locale.ROOT, "%s: %d chunks (%s) checked, %s%n", what, r.chunksChecked(), Sizes.human(r.bytesChecked()),
                r.ok() ? "all intact" : r.damaged().size() + " damaged");
        return r.ok();
    }

    static boolean report(String what, SourceComparison.Result r) {
        for (ByteRange d : r.differences()) {
            System.out.printf("DIFFERS %s: bytes [%d, %d) (%s) differ from the source%n", what, d.offset(), d.end(), Sizes.human(d.length()));
        }
        System.out.printf(Locale.ROOT, "%s: %d chunks (%s) compared with the source, %s%n", what, r.chunksCompared(),
                Sizes.human(r.bytesCompared()), r.identical() ? "identical" : r.differences().size() + " differing ranges");
        return r.identical();
    }

    static double parsePercent(String text) {
        String t = text.strip();
        double v = Double.parseDouble(t.endsWith("%") ? t.substring(0, t.length() - 1) : t) / (t.endsWith("%") ? 100 : 1);
        if (!(v > 0 && v <= 1)) {
            throw new IllegalArgumentException("--sample must be between 0% and 100%: " + text);
        }
        return v;
    }
}

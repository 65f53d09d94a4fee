package io.blockmover.mover.cli;

import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.manifest.Names;
import io.blockmover.index.repo.Repository;
import io.blockmover.index.s3.RequestCounts;
import io.blockmover.index.s3.S3Repository;
import io.blockmover.mover.pipeline.BackupInputs;
import io.blockmover.mover.pipeline.BackupJob;
import io.blockmover.mover.pipeline.TransferCounters;
import io.blockmover.mover.transport.TransportSelection;
import io.blockmover.mover.transport.TransportUsed;
import io.blockmover.mover.transport.nbd.NbdUri;
import io.blockmover.mover.transport.vddk.VddkUri;
import io.blockmover.nbd.units.Sizes;

import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;

/**
 * {@code blockmover backup}: one restore point of one VM from one or more disk sources. It is
 * incremental where the previous backup of the VM recorded a changeId the source can answer
 * changed areas for, and full otherwise; either can be forced.
 */
@Command(name = "backup", mixinStandardHelpOptions = true,
        description = "Back up the disks of one VM into the repository: from NBD exports or through VDDK (--source), "
                + "or through vCenter (--vcenter, --vm), which snapshots the VM and asks what changed.")
final class BackupCommand implements Callable<Integer> {

    @Mixin
    RepositoryOptions repository;

    @Option(names = "--source", paramLabel = "URI",
            description = "A disk to back up: nbd://host:port/export, nbds://..., nbd+unix:///export?socket=PATH, or "
                    + "vddk://[user@]host[:port]/<vm moref>/<snapshot moref>/<disk path> (VDDK). Repeat for each disk.")
    List<String> sources = new ArrayList<>();

    @Mixin
    VcenterOptions vcenter;

    @Option(names = "--vm", paramLabel = "SELECTOR",
            description = "With --vcenter: the VM, as name:, path:, ip:, dns:, uuid:, instance-uuid: or moref: and a value.")
    String vmSelector;

    @Option(names = "--mode", paramLabel = "MODE", description = "auto (default), full or incremental.")
    String modeName;

    @Option(names = "--snapshot-policy", paramLabel = "POLICY", defaultValue = "automatic",
            description = "With --vcenter: automatic (create, remove after, even on failure), manual (use --snapshot-name), "
                    + "createonly, deleteonly (default ${DEFAULT-VALUE}).")
    String snapshotPolicy;

    @Option(names = "--snapshot-name", paramLabel = "NAME", description = "The existing snapshot manual and deleteonly read.")
    String snapshotName;

    @Option(names = "--preexisting", paramLabel = "fail|delete", defaultValue = "fail",
            description = "A snapshot of an earlier backup by this proxy: fail, or delete it first (default ${DEFAULT-VALUE}).")
    String preexisting;

    @Option(names = "--quiesce", description = "Ask VMware Tools to quiesce the guest for the snapshot.")
    boolean quiesce;

    @Option(names = "--nbd-template", paramLabel = "URI",
            description = "Where the snapshot's disks are served over NBD; {vm} {moref} {key} {snapshot} {snapshot-moref} {file} "
                    + "are filled in (default: the emulated host's exports, nbd://VCENTER-HOST:10809/{vm}/disk-{key}@{snapshot}).")
    String nbdTemplate;

    @Option(names = "--vddk-nfc-port", paramLabel = "PORT", defaultValue = "902",
            description = "With --vcenter and --transport vddk: the hosts' NFC port VDDK reads disks from (default ${DEFAULT-VALUE}).")
    int vddkNfcPort;

    @Option(names = "--proxy-id", paramLabel = "ID", defaultValue = "default",
            description = "Marks this proxy's snapshots, so leftovers of a failed run are recognized (default ${DEFAULT-VALUE}).")
    String proxyId;

    @Option(names = "--name", paramLabel = "VM/DISK",
            description = "Identity of each --source, in the same order (default: from the export name, e.g. vm01/disk-2000@snap-1).")
    List<String> names = new ArrayList<>();

    @Option(names = "--change-id", paramLabel = "ID",
            description = "The changeId each --source represents (e.g. its snapshot's), recorded for the next incremental.")
    List<String> changeIds = new ArrayList<>();

    @Option(names = "--changes", paramLabel = "CONTEXT",
            description = "Changed areas of each --source since the previous backup, as an NBD meta context "
                    + "(e.g. qemu:dirty-bitmap:bm0); default: blockmover:changed:<previous changeId>.")
    List<String> changes = new ArrayList<>();

    @Option(names = "--nbd-fallback", paramLabel = "URI",
            description = "The NBD export of each vddk:// --source, in the same order: read when VDDK cannot be.")
    List<String> nbdFallbacks = new ArrayList<>();

    @Option(names = "--changed-areas", paramLabel = "URL",
            description = "For each vddk:// --source, the emulated host's changed-area API for its disk "
                    + "(http://HOST:PORT/changed?export=EXPORT); needed for incrementals through VDDK without a vCenter.")
    List<String> changedAreas = new ArrayList<>();

    @Mixin
    VddkOptions vddk;

    static final class ModeOption {
        @Option(names = "--full", description = "Read every allocated block, even if an incremental is possible.")
        boolean full;

        @Option(names = "--incremental", description = "Fail unless every disk can be backed up incrementally.")
        boolean incremental;
    }

    @ArgGroup(exclusive = true)
    ModeOption mode;

    @Option(names = "--label", paramLabel = "TEXT", description = "Free text stored with the backup.")
    String label = "";

    @Option(names = "--verify-sample", paramLabel = "PERCENT",
            description = "After the backup, compare this share of its chunks with the source (e.g. 1%%): a cheap check "
                    + "that changed block tracking missed nothing. Exit code 3 if they differ.")
    String verifySample;

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
        if (vcenter.given()) {
            return new VcenterBackupRun(this).call();
        }
        if (sources.isEmpty()) {
            throw new IllegalArgumentException("say what to back up: --source URI (repeatable), or --vcenter URL --vm SELECTOR");
        }
        if (vmSelector != null) {
            throw new IllegalArgumentException("--vm needs --vcenter");
        }
        List<DiskName> diskNames = diskNames();
        Names.checkLabel(label);
        String vm = diskNames.getFirst().vm();
        for (DiskName n : diskNames) {
            if (!n.vm().equals(vm)) {
                throw new IllegalArgumentException("all disks of one backup must belong to one VM: " + vm + " and " + n.vm()
                        + " differ (use --name VM/DISK)");
            }
        }
        checkParallel(changeIds, "--change-id");
        checkParallel(changes, "--changes");
        checkParallel(nbdFallbacks, "--nbd-fallback");
        checkParallel(changedAreas, "--changed-areas");
        BackupJob.Mode jobMode = jobMode();

        List<BackupInputs.Source> wanted = new ArrayList<>();
        for (int i = 0; i < sources.size(); i++) {
            wanted.add(new BackupInputs.Source(diskNames.get(i).disk(), sources.get(i), i < changeIds.size() ? changeIds.get(i) : "",
                    i < changes.size() ? Optional.of(changes.get(i)) : Optional.empty(),
                    i < nbdFallbacks.size() ? Optional.of(nbdFallbacks.get(i)) : Optional.empty(),
                    i < changedAreas.size() ? Optional.of(changedAreas.get(i)) : Optional.empty()));
        }
        double sample = verifySample == null ? 0 : VerifyCommand.parsePercent(verifySample);
        try (Repository repo = repository.open();
             Interruption interruption = new Interruption();
             ProgressDisplay display = progress.display(output.json)) {
            RequestCounts before = S3Repository.counts(repo);
            BackupJob.Outcome outcome = new BackupJob(repo, pipeline.settings(), interruption.cancellation())
                    .run(new BackupJob.Request(vm, label, jobMode, wanted, sample),
                            new TransportSelection(connection.access(pipeline.connections), vddk.settings()),
                            (disk, counters) -> display.track(vm + "/" + disk, counters));
            display.close();
            BackupJob.Result result = outcome.backup();
            if (output.json) {
                Map<String, Object> out = toJson(vm, outcome);
                Map<String, Object> requests = RepositoryOptions.requestsJson(before, repo);
                if (!requests.isEmpty()) {
                    out.put("objectStoreRequests", requests); // billed per request
                }
                System.out.println(JsonWriter.write(out));
            } else {
                printSummary(vm, outcome);
            }
            for (BackupJob.SampleCheck c : outcome.samples()) {
                VerifyCommand.report("backup " + result.backupId() + " " + c.diskId() + " (sample " + verifySample + ")", c.result());
            }
            return outcome.samplesIdentical() ? 0 : VerifyCommand.FOUND_PROBLEMS;
        }
    }

    BackupJob.Mode jobMode() {
        if (modeName != null) {
            if (mode != null) {
                throw new IllegalArgumentException("give --mode or --full/--incremental, not both");
            }
            return switch (modeName.toLowerCase(Locale.ROOT)) {
                case "auto" -> BackupJob.Mode.AUTO;
                case "full" -> BackupJob.Mode.FULL;
                case "incremental" -> BackupJob.Mode.INCREMENTAL;
                default -> throw new IllegalArgumentException("--mode wants auto, full or incremental, not '" + modeName + "'");
            };
        }
        return mode == null ? BackupJob.Mode.AUTO : mode.full ? BackupJob.Mode.FULL : BackupJob.Mode.INCREMENTAL;
    }

    private List<DiskName> diskNames() {
        if (!names.isEmpty() && names.size() != sources.size()) {
            throw new IllegalArgumentException("give --name once per --source (" + sources.size() + "), or not at all");
        }
        List<DiskName> out = new ArrayList<>();
        for (int i = 0; i < sources.size(); i++) {
            out.add(!names.isEmpty() ? DiskName.parse(names.get(i))
                    : VddkUri.isVddk(sources.get(i)) ? DiskName.fromVddk(VddkUri.parse(sources.get(i)))
                    : DiskName.fromExport(NbdUri.parse(sources.get(i)).exportName()));
        }
        return out;
    }

    private void checkParallel(List<String> values, String option) {
        if (!values.isEmpty() && values.size() != sources.size()) {
            throw new IllegalArgumentException("give " + option + " once per --source (" + sources.size() + "), or not at all");
        }
    }

    static void printSummary(String vm, BackupJob.Outcome outcome) {
        BackupJob.Result r = outcome.backup();
        System.out.printf(Locale.ROOT, "backup %d of %s committed%s%n", r.backupId(), vm,
                r.parentId() == BackupRecord.NO_PARENT ? "" : " (parent " + r.parentId() + ")");
        for (BackupJob.DiskOutcome d : r.disks()) {
            TransferCounters.Snapshot s = d.counters();
            System.out.printf(Locale.ROOT, "  %s: %s%s, through %s%n", d.diskId(), d.incremental() ? "incremental" : "full",
                    d.incremental() ? "" : " (" + d.why() + ")", outcome.transport(d.diskId()).describe());
            System.out.printf(Locale.ROOT, "    disk %s: read %s, skipped %s holes + %s zeros, reused %s unchanged%n",
                    Sizes.human(s.total()), Sizes.human(s.read()), Sizes.human(s.skippedHoles()),
                    Sizes.human(s.skippedZeros()), Sizes.human(s.reusedFromParent()));
            System.out.printf(Locale.ROOT, "    new %s stored as %s, deduplicated %s, zero chunks %s%n",
                    Sizes.human(s.newData()), Sizes.human(s.stored()), Sizes.human(s.deduplicated()), Sizes.human(s.zeroChunks()));
            System.out.printf(Locale.ROOT, "    %.2f s, %.1f MB/s of disk, %.1f MB/s read%n", s.seconds(), s.megabytesPerSecond(),
                    s.seconds() == 0 ? 0 : s.read() / 1e6 / s.seconds());
            if (s.read() > 0) {
                System.out.println("    " + bottleneck(s));
            }
        }
    }

    /**
     * Which stage limited the disk: when the reader spent most of the run waiting for a free
     * in-flight slot, the workers (hash, compress, store) were the bottleneck; otherwise the source.
     */
    static String bottleneck(TransferCounters.Snapshot s) {
        TransferCounters.Stages st = s.stages();
        double wall = s.seconds();
        double waited = st.readWaitNanos() / 1e9;
        String limit = waited > wall / 2 ? "hashing/compression/storage (the reader waited for free slots "
                + String.format(Locale.ROOT, "%.0f%%", 100 * waited / wall) + " of the time)"
                : "the source (reads were the slower side)";
        return String.format(Locale.ROOT, "stages: store %.1f worker-s, read latency %.1f request-s, reader waited %.1f s; limited by %s",
                st.storeNanos() / 1e9, st.fetchNanos() / 1e9, waited, limit);
    }

    static Map<String, Object> toJson(String vm, BackupJob.Outcome outcome) {
        BackupJob.Result r = outcome.backup();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("backupId", r.backupId());
        m.put("vm", vm);
        m.put("parentId", r.parentId() == BackupRecord.NO_PARENT ? null : r.parentId());
        List<Object> disks = new ArrayList<>();
        for (BackupJob.DiskOutcome d : r.disks()) {
            Map<String, Object> disk = countersJson(d.diskId(), d.incremental() ? "incremental" : "full", d.why(), d.counters());
            disk.put("transport", transportJson(outcome.transport(d.diskId())));
            disks.add(disk);
        }
        m.put("disks", disks);
        return m;
    }

    static Map<String, Object> transportJson(TransportUsed t) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", t.transport());
        t.mode().ifPresent(mode -> m.put("mode", mode));
        t.fallbackReason().ifPresent(why -> m.put("fallbackFromVddk", why));
        return m;
    }

    static Map<String, Object> countersJson(String disk, String type, String why, TransferCounters.Snapshot s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("disk", disk);
        m.put("type", type);
        if (why != null && !why.isEmpty()) {
            m.put("fullBecause", why);
        }
        m.put("capacity", s.total());
        m.put("read", s.read());
        m.put("skippedHoles", s.skippedHoles());
        m.put("skippedZeros", s.skippedZeros());
        m.put("reused", s.reusedFromParent());
        m.put("zeroChunks", s.zeroChunks());
        m.put("deduplicated", s.deduplicated());
        m.put("new", s.newData());
        m.put("stored", s.stored());
        m.put("completed", s.completed());
        m.put("seconds", s.seconds());
        m.put("mbPerSecond", s.megabytesPerSecond());
        m.put("stageSeconds", Map.of("readerWaited", s.stages().readWaitNanos() / 1e9,
                "readLatency", s.stages().fetchNanos() / 1e9, "store", s.stages().storeNanos() / 1e9));
        return m;
    }
}

package io.blockmover.mover.pipeline;

import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.manifest.DiskRecord;
import io.blockmover.index.repo.Repository;
import io.blockmover.mover.transport.nbd.NbdAccess;
import io.blockmover.mover.transport.nbd.NbdDiskSource;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The opened NBD sources of one backup. Each asks its server for the areas changed since the
 * VM's previous backup (the meta context for that backup's changeId, unless the caller names
 * one), so that the job can run incrementally. The CLI and the proxy open their sources here.
 */
public final class BackupInputs implements AutoCloseable {
    /**
     * One disk to back up.
     *
     * @param changeId the changeId the source represents, recorded for the next incremental ("" if none)
     * @param changes  a meta context for the changed areas, instead of the previous backup's
     */
    public record Source(String diskId, String uri, String changeId, Optional<String> changes) {}

    private final List<NbdDiskSource> opened = new ArrayList<>();
    private final List<BackupJob.DiskInput> inputs = new ArrayList<>();

    private BackupInputs() {}

    public static BackupInputs open(Repository repo, String vm, BackupJob.Mode mode, List<Source> sources, NbdAccess nbd)
            throws IOException {
        BackupInputs in = new BackupInputs();
        try {
            Optional<BackupRecord> parent = mode == BackupJob.Mode.FULL ? Optional.empty() : repo.latest(vm);
            for (Source s : sources) {
                Optional<String> context = s.changes()
                        .or(() -> parent.flatMap(p -> p.disk(s.diskId())).map(DiskRecord::changeId).filter(c -> !c.isEmpty()))
                        .map(NbdDiskSource::contextFor);
                NbdDiskSource source = nbd.openSource(s.uri(), context.stream().toList());
                in.opened.add(source);
                in.inputs.add(new BackupJob.DiskInput(s.diskId(), source, s.changeId(), s.changes()));
            }
            return in;
        } catch (IOException | RuntimeException e) {
            in.close();
            throw e;
        }
    }

    public List<BackupJob.DiskInput> inputs() {
        return inputs;
    }

    @Override
    public void close() {
        opened.forEach(NbdDiskSource::close);
    }
}

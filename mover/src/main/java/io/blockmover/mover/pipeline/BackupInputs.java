package io.blockmover.mover.pipeline;

import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.manifest.DiskRecord;
import io.blockmover.index.manifest.Names;
import io.blockmover.index.repo.Repository;
import io.blockmover.mover.transport.DiskSource;
import io.blockmover.mover.transport.TransportSelection;
import io.blockmover.mover.transport.TransportUsed;
import io.blockmover.mover.transport.nbd.NbdDiskSource;
import io.blockmover.mover.transport.vddk.EsxChangedAreas;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The opened sources of one backup, NBD or VDDK. An NBD source asks its server for the areas
 * changed since the VM's previous backup (the meta context for that backup's changeId, unless the
 * caller names one), so that the job can run incrementally; a VDDK source asks the changed-area
 * API it was given. The CLI and the proxy open their sources here.
 */
public final class BackupInputs implements AutoCloseable {
    /**
     * One disk to back up.
     *
     * @param uri          nbd://..., or vddk://... (see VddkUri)
     * @param changeId     the changeId the source represents, recorded for the next incremental ("" if none)
     * @param changes      a meta context for the changed areas, instead of the previous backup's
     * @param nbdFallback  the same disk as an NBD export, used when VDDK cannot read a vddk:// source
     * @param changedAreas the emulated host's {@code /changed?export=...} address for a vddk:// source
     */
    public record Source(String diskId, String uri, String changeId, Optional<String> changes, Optional<String> nbdFallback,
                         Optional<String> changedAreas) {
        public Source(String diskId, String uri, String changeId, Optional<String> changes) {
            this(diskId, uri, changeId, changes, Optional.empty(), Optional.empty());
        }
    }

    private final List<DiskSource> opened = new ArrayList<>();
    private final List<BackupJob.DiskInput> inputs = new ArrayList<>();
    private final Map<String, TransportUsed> transports = new LinkedHashMap<>();

    private BackupInputs() {}

    public static BackupInputs open(Repository repo, String vm, BackupJob.Mode mode, List<Source> sources,
                                    TransportSelection transports) throws IOException {
        Names.check("VM name", vm);
        sources.forEach(s -> Names.check("disk name", s.diskId()));
        BackupInputs in = new BackupInputs();
        try {
            Optional<BackupRecord> parent = mode == BackupJob.Mode.FULL ? Optional.empty() : repo.latest(vm);
            for (Source s : sources) {
                Optional<String> context = s.changes()
                        .or(() -> parent.flatMap(p -> p.disk(s.diskId())).map(DiskRecord::changeId).filter(c -> !c.isEmpty()))
                        .map(NbdDiskSource::contextFor);
                TransportSelection.Opened o = transports.openSource(s.uri(), s.nbdFallback(), context.stream().toList(),
                        s.changedAreas().map(EsxChangedAreas::new));
                in.opened.add(o.source());
                in.transports.put(s.diskId(), o.used());
                // A VDDK source answers changed areas for the previous changeId; an explicit NBD context is for NBD only.
                Optional<String> token = o.used().transport().equals("vddk") ? Optional.empty() : s.changes();
                in.inputs.add(new BackupJob.DiskInput(s.diskId(), o.source(), s.changeId(), token));
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

    /** How each disk (by id) was reached. */
    public Map<String, TransportUsed> transports() {
        return Map.copyOf(transports);
    }

    @Override
    public void close() {
        opened.forEach(DiskSource::close);
    }
}

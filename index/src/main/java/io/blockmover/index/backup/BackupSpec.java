package io.blockmover.index.backup;

import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.manifest.Names;

/**
 * What a backup is of: the VM's stable identity (e.g. its instance UUID), a free label, and the
 * parent backup whose entries an incremental reuses ({@link BackupRecord#NO_PARENT} for a full).
 */
public record BackupSpec(String vmId, String label, long parentId) {
    public BackupSpec {
        if (vmId == null || vmId.isBlank()) {
            throw new IllegalArgumentException("a backup needs a VM id");
        }
        Names.check("VM name", vmId);
        label = Names.checkLabel(label);
    }

    public static BackupSpec full(String vmId, String label) {
        return new BackupSpec(vmId, label, BackupRecord.NO_PARENT);
    }

    public static BackupSpec incremental(String vmId, String label, long parentId) {
        return new BackupSpec(vmId, label, parentId);
    }
}

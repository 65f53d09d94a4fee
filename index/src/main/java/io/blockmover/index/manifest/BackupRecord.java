package io.blockmover.index.manifest;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A committed backup (restore point) of one VM: the value of the catalog column family. A copy of
 * it and of its manifests lives in its own pack, {@code manifestPack}, so a lost index can be
 * rebuilt from packs alone.
 */
public record BackupRecord(long id, String vmId, String label, long parentId, Instant started, Instant committed,
                           long manifestPack, List<DiskRecord> disks) {
    private static final int VERSION = 1;
    public static final long NO_PARENT = 0;

    public BackupRecord {
        disks = List.copyOf(disks);
    }

    public Optional<DiskRecord> disk(String diskId) {
        return disks.stream().filter(d -> d.diskId().equals(diskId)).findFirst();
    }

    public byte[] encode() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeByte(VERSION);
            out.writeLong(id);
            out.writeUTF(vmId);
            out.writeUTF(label);
            out.writeLong(parentId);
            out.writeLong(started.toEpochMilli());
            out.writeLong(committed.toEpochMilli());
            out.writeLong(manifestPack);
            out.writeShort(disks.size());
            for (DiskRecord d : disks) {
                out.writeShort(d.index());
                out.writeUTF(d.diskId());
                out.writeLong(d.capacity());
                out.writeInt(d.chunkSize());
                out.writeUTF(d.changeId());
                out.writeLong(d.dataChunks());
                out.writeLong(d.zeroChunks());
                out.writeLong(d.newChunks());
                out.writeLong(d.newStoredBytes());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    public static BackupRecord decode(byte[] v) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(v))) {
            int version = in.readUnsignedByte();
            if (version != VERSION) {
                throw new IllegalArgumentException("backup record version " + version + " is not supported");
            }
            long id = in.readLong();
            String vm = in.readUTF();
            String label = in.readUTF();
            long parent = in.readLong();
            Instant started = Instant.ofEpochMilli(in.readLong());
            Instant committed = Instant.ofEpochMilli(in.readLong());
            long manifestPack = in.readLong();
            int n = in.readUnsignedShort();
            List<DiskRecord> disks = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                disks.add(new DiskRecord(in.readUnsignedShort(), in.readUTF(), in.readLong(), in.readInt(), in.readUTF(),
                        in.readLong(), in.readLong(), in.readLong(), in.readLong()));
            }
            return new BackupRecord(id, vm, label, parent, started, committed, manifestPack, disks);
        } catch (IOException e) {
            throw new IllegalArgumentException("backup record is truncated", e);
        }
    }
}

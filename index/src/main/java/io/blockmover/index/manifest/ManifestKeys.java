package io.blockmover.index.manifest;

import java.nio.ByteBuffer;

/** Keys of the catalog and manifests column families (big-endian, so they sort by id). */
public final class ManifestKeys {
    /** Entries per manifest segment: 32 KiB values, 1024 segments for a 1 TiB disk at 1 MiB chunks. */
    public static final int SEGMENT_ENTRIES = 1024;
    public static final int ENTRY = 32;
    public static final int MANIFEST_KEY = 14;

    private ManifestKeys() {
    }

    public static byte[] catalogKey(long backupId) {
        return ByteBuffer.allocate(8).putLong(backupId).array();
    }

    public static long backupIdOf(byte[] key) {
        return ByteBuffer.wrap(key).getLong(0);
    }

    public static byte[] manifestKey(long backupId, int disk, int segment) {
        return ByteBuffer.allocate(MANIFEST_KEY).putLong(backupId).putShort((short) disk).putInt(segment).array();
    }

    public static int diskOf(byte[] manifestKey) {
        return ByteBuffer.wrap(manifestKey).getShort(8) & 0xFFFF;
    }

    public static int segmentOf(byte[] manifestKey) {
        return ByteBuffer.wrap(manifestKey).getInt(10);
    }

    /** The 32-byte key field of a manifest-segment record in a pack. */
    public static byte[] packKey(long backupId, int disk, int segment) {
        return ByteBuffer.allocate(32).putLong(backupId).putShort((short) disk).putInt(segment).array();
    }

    public static int segments(long chunkCount) {
        return (int) ((chunkCount + SEGMENT_ENTRIES - 1) / SEGMENT_ENTRIES);
    }
}

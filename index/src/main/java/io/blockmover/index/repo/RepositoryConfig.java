package io.blockmover.index.repo;

import io.blockmover.index.chunk.Compression;
import io.blockmover.index.chunk.KeyWrap;
import io.blockmover.index.format.RepositoryException;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The repository's immutable settings, stored as the text file {@code config} (one
 * {@code key=value} per line; see FORMAT.md). Only the wrapped key changes after init, and only
 * by an atomic replace of the whole file.
 */
public record RepositoryConfig(int formatVersion, String repoId, int chunkSize, Compression compression,
                               long packTargetSize, Encryption encryption, boolean subchunkDedup, int frameSize) {
    /**
     * The newest format this build reads and writes. 2: the index's chunks CF is a PlainTable
     * (FORMAT.md); packs are as in 1. 3: sub-chunk dedup (recipe records, the {@code fingerprints}
     * and {@code recipes} CFs); a repository is 3 only when it has {@code subchunkDedup=on}, so one
     * without stays readable by builds that know only 2. 4: frames (several chunks in one frame
     * record, {@code frameSize} in config); a repository is 4 only when its frames hold more than
     * one chunk. The version is the oldest reader a repository's features need.
     */
    public static final int FORMAT_VERSION = 4;
    /** The format of a repository without sub-chunk dedup. */
    public static final int PLAIN_FORMAT_VERSION = 2;
    /** The first format with sub-chunk dedup. */
    public static final int SUBCHUNK_FORMAT_VERSION = 3;
    /** The first format with frames of several chunks. */
    public static final int FRAMES_FORMAT_VERSION = 4;
    /** Frames are at most 4 MiB of plaintext (and 64 chunks). */
    public static final int MAX_FRAME_SIZE = 4 << 20;
    /** The oldest format whose packs this build reads: rebuild-index upgrades its index. */
    public static final int OLDEST_REBUILDABLE = 1;
    public static final String FILE = "config";
    private static final String MAGIC = "blockmover-repository";

    public RepositoryConfig {
        if (Integer.bitCount(chunkSize) != 1 || chunkSize < (64 << 10) || chunkSize > (4 << 20)) {
            throw new RepositoryException("chunk size must be a power of two from 64 KiB to 4 MiB, got " + chunkSize);
        }
        if (packTargetSize < chunkSize) {
            throw new RepositoryException("pack target size " + packTargetSize + " is smaller than a chunk");
        }
        if (subchunkDedup && formatVersion < SUBCHUNK_FORMAT_VERSION) {
            throw new RepositoryException("sub-chunk dedup needs repository format " + SUBCHUNK_FORMAT_VERSION + ", not " + formatVersion);
        }
        if (frameSize < chunkSize || frameSize > MAX_FRAME_SIZE || frameSize % chunkSize != 0
                || frameSize / chunkSize > io.blockmover.index.format.PackFormat.MAX_FRAME_CHUNKS) {
            throw new RepositoryException("frame size must be a multiple of the chunk size (" + chunkSize + ") up to "
                    + (MAX_FRAME_SIZE >> 20) + " MiB and 64 chunks, got " + frameSize);
        }
        if (frameSize > chunkSize && formatVersion < FRAMES_FORMAT_VERSION) {
            throw new RepositoryException("frames of several chunks need repository format " + FRAMES_FORMAT_VERSION + ", not " + formatVersion);
        }
    }

    /** The format a repository of these settings needs: 4 with frames, 3 with sub-chunk dedup, else 2. */
    public static int formatFor(int chunkSize, boolean subchunkDedup, int frameSize) {
        return frameSize > chunkSize ? FRAMES_FORMAT_VERSION : subchunkDedup ? SUBCHUNK_FORMAT_VERSION : PLAIN_FORMAT_VERSION;
    }

    /** A repository of the format its settings need ({@link #formatFor}). */
    public static RepositoryConfig create(String repoId, int chunkSize, Compression compression, long packTargetSize,
                                          Encryption encryption, boolean subchunkDedup, int frameSize) {
        return new RepositoryConfig(formatFor(chunkSize, subchunkDedup, frameSize), repoId, chunkSize, compression,
                packTargetSize, encryption, subchunkDedup, frameSize);
    }

    /** The same settings under another encryption (a changed passphrase). */
    public RepositoryConfig withEncryption(Encryption e) {
        return new RepositoryConfig(formatVersion, repoId, chunkSize, compression, packTargetSize, e, subchunkDedup, frameSize);
    }

    /** Chunks one frame holds at most: 1 when every chunk is a record of its own. */
    public int frameChunks() {
        return frameSize / chunkSize;
    }

    public boolean encrypted() {
        return encryption instanceof Encryption.AesGcm;
    }

    public String digestName() {
        return encrypted() ? "hmac-sha256" : "sha256";
    }

    public void write(Path root) throws IOException {
        Map<String, String> kv = new LinkedHashMap<>();
        kv.put("format", MAGIC);
        kv.put("formatVersion", Integer.toString(formatVersion));
        kv.put("repoId", repoId);
        kv.put("chunkSize", Integer.toString(chunkSize));
        kv.put("digest", digestName());
        kv.put("compression", compression.name());
        kv.put("compressionLevel", Integer.toString(compression.level()));
        kv.put("packTargetSize", Long.toString(packTargetSize));
        kv.put("encryption", encryption.name());
        if (formatVersion >= SUBCHUNK_FORMAT_VERSION) {
            kv.put("subchunkDedup", subchunkDedup ? "on" : "off");
        }
        if (formatVersion >= FRAMES_FORMAT_VERSION) {
            kv.put("frameSize", Integer.toString(frameSize));
        }
        if (encryption instanceof Encryption.AesGcm a) {
            kv.put("kdf", a.kdf());
            kv.put("kdfIterations", Integer.toString(a.iterations()));
            kv.put("kdfSalt", Base64.getEncoder().encodeToString(a.salt()));
            kv.put("wrappedKey", Base64.getEncoder().encodeToString(a.wrappedKey()));
        }
        StringBuilder sb = new StringBuilder();
        kv.forEach((k, v) -> sb.append(k).append('=').append(v).append('\n'));
        Path tmp = root.resolve(FILE + ".tmp");
        Files.writeString(tmp, sb, StandardCharsets.UTF_8);
        FileModes.privateFile(tmp); // it holds the wrapped key
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
        Files.move(tmp, root.resolve(FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        try (FileChannel ch = FileChannel.open(root, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }

    /** The format version rebuild-index gives this repository: an index older than 2 is rebuilt as 2; 2 and 3 stay. */
    public int rebuiltVersion() {
        return Math.max(PLAIN_FORMAT_VERSION, formatVersion);
    }

    /** This repository at {@link #rebuiltVersion()} (what rebuild-index writes after rebuilding an older index). */
    public RepositoryConfig upgraded() {
        return new RepositoryConfig(rebuiltVersion(), repoId, chunkSize, compression, packTargetSize, encryption, subchunkDedup,
                frameSize);
    }

    /** Reads the config of a repository of the current format; an older one is a clear error that names the upgrade. */
    public static RepositoryConfig read(Path root) throws IOException {
        RepositoryConfig c = readRebuildable(root);
        if (c.formatVersion() < PLAIN_FORMAT_VERSION) {
            throw new RepositoryException("repository format version " + c.formatVersion() + " has an index this build cannot read"
                    + " (it reads " + PLAIN_FORMAT_VERSION + " and " + FORMAT_VERSION + "): run rebuild-index on " + root + " once to rebuild the index from the packs,"
                    + " which stay as they are");
        }
        return c;
    }

    /** Reads the config of a repository whose packs this build reads, of the current format or an older one. */
    public static RepositoryConfig readRebuildable(Path root) throws IOException {
        Path f = root.resolve(FILE);
        if (!Files.exists(f)) {
            throw new RepositoryException(root + " is not a blockmover repository (no " + FILE + " file)");
        }
        Map<String, String> kv = new LinkedHashMap<>();
        for (String line : Files.readAllLines(f, StandardCharsets.UTF_8)) {
            int eq = line.indexOf('=');
            if (eq > 0) {
                kv.put(line.substring(0, eq), line.substring(eq + 1));
            }
        }
        if (!MAGIC.equals(kv.get("format"))) {
            throw new RepositoryException(root + " is not a blockmover repository (bad config)");
        }
        int version = Integer.parseInt(need(kv, "formatVersion"));
        if (version < OLDEST_REBUILDABLE || version > FORMAT_VERSION) {
            throw new RepositoryException("repository format version " + version + " is not supported (this build reads " + FORMAT_VERSION + ")");
        }
        Encryption enc = switch (need(kv, "encryption")) {
            case "none" -> new Encryption.None();
            case "aes-256-gcm" -> {
                String kdf = need(kv, "kdf");
                if (!KeyWrap.KDF_NAME.equals(kdf)) {
                    throw new RepositoryException("unknown key derivation '" + kdf + "'");
                }
                yield new Encryption.AesGcm(kdf, Integer.parseInt(need(kv, "kdfIterations")),
                        Base64.getDecoder().decode(need(kv, "kdfSalt")), Base64.getDecoder().decode(need(kv, "wrappedKey")));
            }
            default -> throw new RepositoryException("unknown encryption '" + kv.get("encryption") + "'");
        };
        Compression compression;
        try {
            compression = new Compression(need(kv, "compression"), Integer.parseInt(need(kv, "compressionLevel")));
        } catch (IllegalArgumentException e) { // a codec of a newer build, say
            throw new RepositoryException("repository config: " + e.getMessage());
        }
        String subchunk = kv.getOrDefault("subchunkDedup", "off");
        if (!subchunk.equals("on") && !subchunk.equals("off")) {
            throw new RepositoryException("repository config: subchunkDedup must be on or off, not '" + subchunk + "'");
        }
        int chunkSize = Integer.parseInt(need(kv, "chunkSize"));
        // Formats before 4 have no frames: every chunk is a record of its own.
        int frameSize = version >= FRAMES_FORMAT_VERSION ? Integer.parseInt(need(kv, "frameSize")) : chunkSize;
        return new RepositoryConfig(version, need(kv, "repoId"), chunkSize, compression,
                Long.parseLong(need(kv, "packTargetSize")), enc, subchunk.equals("on"), frameSize);
    }

    private static String need(Map<String, String> kv, String key) {
        String v = kv.get(key);
        if (v == null) {
            throw new RepositoryException("repository config lacks '" + key + "'");
        }
        return v;
    }
}

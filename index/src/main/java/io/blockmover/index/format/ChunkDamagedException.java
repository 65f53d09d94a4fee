package io.blockmover.index.format;


/** A stored chunk failed a check (CRC, digest, decryption, decompression, bounds). */
public final class ChunkDamagedException extends RepositoryException {
    private final String reason;

    public ChunkDamagedException(String chunk, String reason) {
        super("chunk " + chunk + " is damaged: " + reason);
        this.reason = reason;
    }

    public String reason() {
        return reason;
    }
}

package io.blockmover.index.chunk;

import io.blockmover.index.repo.RepositoryException;

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

package io.blockmover.index.pack;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * Where pack files live: a local directory today, an object store later. Packs are written once
 * by appending, made durable by {@link Output#sync()}, then only read or deleted.
 */
public interface PackStore extends AutoCloseable {
    Output create(long packId) throws IOException;

    /** Reads up to {@code dst.remaining()} bytes at {@code position}; returns the count, -1 at end. Thread-safe. */
    int read(long packId, long position, ByteBuffer dst) throws IOException;

    /**
     * Like {@link #read}, for a reader that goes through a disk in order (a restore): a store
     * whose every read is a request may fetch ahead. Thread-safe.
     */
    default int readInOrder(long packId, long position, ByteBuffer dst) throws IOException {
        return read(packId, position, dst);
    }

    /**
     * True when {@link Output#sync()} sends the whole pack over a network (an object store's
     * upload): a backup then seals its full packs on threads of their own and keeps filling others
     * meanwhile, instead of holding a worker for the upload's round trips.
     */
    default boolean sealsInBackground() {
        return false;
    }

    List<PackInfo> list() throws IOException;

    void delete(long packId) throws IOException;

    @Override
    void close() throws IOException;

    /** A pack being written by one thread at a time. */
    interface Output extends AutoCloseable {
        /** Appends all bytes of {@code parts}; returns the offset of the first byte. */
        long append(ByteBuffer... parts) throws IOException;

        long size();

        /** Makes everything appended so far, and the pack's name, survive a crash. */
        void sync() throws IOException;

        @Override
        void close() throws IOException;
    }

    record PackInfo(long packId, long size, long lastModifiedMillis) {
    }
}

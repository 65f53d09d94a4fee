package io.blockmover.index.s3;

import io.blockmover.index.pack.PackStore;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Packs as objects {@code packs/<hh>/<16 hex>.pack}. A pack is assembled in memory and uploaded
 * whole by {@link Output#sync()} (in parts above the multipart threshold): an object store has no
 * append, and a pack that is visible at all is complete, so nothing can name a torn pack. Reads
 * are ranged GETs of just the bytes asked for. Moves opaque bytes: it knows nothing of records.
 */
public final class S3PackStore implements PackStore {
    static final String DIR = "packs/";
    /** Pack bytes are gathered in pieces of this size: no copy of the whole pack as it grows. */
    private static final int PIECE = 1 << 20;

    /** Bytes fetched at once when a pack is read in order: 32 chunks of 128 KiB. */
    static final int WINDOW = 4 << 20;
    /**
     * Windows kept, 128 MiB at most, and at most an eighth of the heap: a restore reads the packs
     * of all the backup's lanes at once, each with {@value #AHEAD} windows ahead; 16 were too few
     * for four of them (a 2 GiB restore fetched 1036 MB for 744 MB stored in 702 GETs; with 32, 810
     * MB in 576). A proxy's default 1 GiB heap keeps all 32; a small heap fewer, rather than run out
     * (32 in a 96 MiB heap did).
     */
    private static final int WINDOWS = (int) Math.clamp(Runtime.getRuntime().maxMemory() / 8 / WINDOW, 4, 32);
    /** Windows fetched ahead of the one being read, in parallel: a store's latency hides behind them. */
    private static final int AHEAD = 3;

    private final ObjectStore store;
    private final ReadAhead readAhead = new ReadAhead();
    /** Background GETs of the window after the one being read (daemon threads: nothing to close). */
    private final java.util.concurrent.ExecutorService prefetch =
            java.util.concurrent.Executors.newCachedThreadPool(Thread.ofPlatform().name("s3-read-ahead-", 0).daemon().factory());

    public S3PackStore(ObjectStore store) {
        this.store = store;
    }

    /** A range of a pack being fetched or fetched; readers inside it wait for the one GET. */
    private final class Window {
        final long packId;
        final long start;
        final int length;
        private final CompletableFuture<ByteBuffer> bytes = new CompletableFuture<>();

        Window(long packId, long start, int length) {
            this.packId = packId;
            this.start = start;
            this.length = length;
        }

        void fetch() {
            try {
                ByteBuffer b = ByteBuffer.allocate(length);
                int n = store.read(name(packId), start, b);
                bytes.complete(b.flip().limit(Math.max(n, 0)));
            } catch (IOException | RuntimeException | OutOfMemoryError e) {
                readAhead.forget(this); // later reads try again; the reader waiting for it must not wait forever
                bytes.completeExceptionally(e);
            }
        }

        ByteBuffer await() throws IOException {
            try {
                return bytes.join().duplicate();
            } catch (java.util.concurrent.CompletionException e) {
                if (e.getCause() instanceof IOException io) {
                    throw io;
                }
                throw e;
            }
        }
    }

    /** Which reads are in order, and the windows fetched for them (least recently used go first). */
    private final class ReadAhead {
        private final java.util.LinkedList<Window> windows = new java.util.LinkedList<>();
        private final java.util.Map<Long, Long> lastEnd = new java.util.HashMap<>();

        synchronized void forget(Window w) {
            windows.remove(w);
        }

        /**
         * The window that serves this read, or null for an exact read. Windows are aligned to
         * {@value #WINDOW} bytes, so concurrent readers never fetch overlapping ones; the
         * {@value #AHEAD} windows after it are fetched in the background at once, so the GETs of
         * an in-order reader overlap with each other and with its work.
         */
        Window windowFor(long packId, long position, int length) {
            long start = position - position % WINDOW;
            if (position + length > start + WINDOW) {
                return null; // a record across a window boundary: one exact read
            }
            Window fetch = null;
            List<Window> next = new ArrayList<>();
            Window hit;
            synchronized (this) {
                hit = find(packId, start);
                Long previous = lastEnd.put(packId, position + length);
                boolean inOrder = previous != null && position >= previous - WINDOW && position <= previous + WINDOW / 8;
                if (hit == null && inOrder) {
                    hit = fetch = add(packId, start);
                }
                for (int k = 1; hit != null && k <= AHEAD; k++) {
                    if (find(packId, start + k * (long) WINDOW) == null) {
                        next.add(add(packId, start + k * (long) WINDOW));
                    }
                }
                if (hit != null) {
                    windows.remove(hit);
                    windows.addFirst(hit);
                }
                if (lastEnd.size() > 4 * WINDOWS) {
                    lastEnd.clear(); // only recent order matters
                }
            }
            for (Window n : next) {
                prefetch.execute(n::fetch); // past the pack's end it is simply empty
            }
            if (fetch != null) {
                fetch.fetch();
            }
            return hit;
        }

        private Window find(long packId, long start) {
            for (Window w : windows) {
                if (w.packId == packId && w.start == start) {
                    return w;
                }
            }
            return null;
        }

        private Window add(long packId, long start) {
            Window w = new Window(packId, start, WINDOW);
            windows.addFirst(w);
            if (windows.size() > WINDOWS) {
                Window old = windows.removeLast();
                if (windows.stream().noneMatch(x -> x.packId == old.packId)) {
                    lastEnd.remove(old.packId);
                }
            }
            return w;
        }
    }

    static String name(long packId) {
        String hex = HexFormat.of().toHexDigits(packId);
        return DIR + hex.substring(0, 2) + "/" + hex + ".pack";
    }

    static long idOf(String name) {
        String file = name.substring(name.lastIndexOf('/') + 1);
        if (!file.endsWith(".pack") || file.length() != 16 + 5) {
            return 0;
        }
        try {
            return Long.parseUnsignedLong(file.substring(0, 16), 16);
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    @Override
    public Output create(long packId) {
        return new Upload(packId);
    }

    /** One ranged GET of just these bytes (verify walks the index by digest: nothing to read ahead). */
    @Override
    public int read(long packId, long position, ByteBuffer dst) throws IOException {
        return store.read(name(packId), position, dst);
    }

    /**
     * A restore reads a pack's chunks in the order they were written: once two reads of a pack
     * run forward, one GET of the next {@value #WINDOW} bytes serves the reads inside it.
     */
    @Override
    public int readInOrder(long packId, long position, ByteBuffer dst) throws IOException {
        int length = dst.remaining();
        Window w = readAhead.windowFor(packId, position, length);
        if (w == null) {
            return store.read(name(packId), position, dst);
        }
        ByteBuffer bytes = w.await();
        long from = position - w.start;
        if (from >= bytes.remaining()) {
            return -1;
        }
        int n = (int) Math.min(length, bytes.remaining() - from);
        dst.put(bytes.slice((int) from, n));
        return n;
    }

    /** A pack's sync is its upload. */
    @Override
    public boolean sealsInBackground() {
        return true;
    }

    @Override
    public List<PackInfo> list() throws IOException {
        List<PackInfo> out = new ArrayList<>();
        for (ObjectStore.ObjectInfo o : store.list(DIR)) {
            long id = idOf(o.name());
            if (id != 0) {
                out.add(new PackInfo(id, o.size(), o.lastModifiedMillis()));
            }
        }
        return out;
    }

    @Override
    public void delete(long packId) throws IOException {
        store.delete(name(packId));
    }

    /**
     * Waits for the read-ahead GETs still in flight (a restore's last windows), so that none is
     * cut off by the client's close, which Netty reports as a stack trace on the console. The
     * object store itself belongs to the repository, which closes it after this.
     */
    @Override
    public void close() {
        prefetch.shutdown();
        try {
            prefetch.awaitTermination(30, java.util.concurrent.TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** A pack in memory until {@link #sync()} uploads it; appends after that are a programming error. */
    private final class Upload implements Output {
        private final long packId;
        private final List<ByteBuffer> pieces = new ArrayList<>();
        private long size;
        private boolean uploaded;

        Upload(long packId) {
            this.packId = packId;
        }

        @Override
        public long append(ByteBuffer... parts) {
            if (uploaded) {
                throw new IllegalStateException("pack " + Long.toHexString(packId) + " was already uploaded");
            }
            long at = size;
            for (ByteBuffer p : parts) {
                ByteBuffer src = p.duplicate();
                while (src.hasRemaining()) {
                    ByteBuffer last = pieces.isEmpty() ? null : pieces.getLast();
                    if (last == null || !last.hasRemaining()) {
                        last = ByteBuffer.allocate(PIECE);
                        pieces.add(last);
                    }
                    int n = Math.min(last.remaining(), src.remaining());
                    last.put(src.slice(src.position(), n));
                    src.position(src.position() + n);
                    size += n;
                }
            }
            return at;
        }

        @Override
        public long size() {
            return size;
        }

        /** Uploads the whole pack once; before this no object exists under its name. */
        @Override
        public void sync() throws IOException {
            if (uploaded) {
                return;
            }
            ByteBuffer[] body = new ByteBuffer[pieces.size()];
            for (int i = 0; i < body.length; i++) {
                body[i] = pieces.get(i).duplicate().flip();
            }
            store.put(name(packId), body);
            uploaded = true;
            pieces.clear();
        }

        @Override
        public void close() {
            pieces.clear();
        }
    }
}

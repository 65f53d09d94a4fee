package io.blockmover.index.s3;

import io.blockmover.index.repo.RepositoryInUseException;
import io.blockmover.index.backup.RepositoryPeers;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Locks as objects {@code locks/<kind>.<proxy>.<instance>.<n>}, as restic does: write your lock,
 * then list; if a conflicting lock of another process is there, remove yours and wait. Two
 * processes that race both see each other (S3 lists what was written before), so at worst both
 * back off, never both proceed. Held locks are rewritten every {@code refresh}; a lock not
 * rewritten for {@code staleAfter} belongs to a dead process and is ignored (and removed by the
 * next exclusive holder). Shared locks (backup, restore, verify) exclude only exclusive ones (gc,
 * prune) and vice versa; this process's own locks never conflict with each other (inside one
 * process, the repository's gate and gc fence order the work).
 */
final class BucketLocks implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(BucketLocks.class);
    static final String DIR = "locks/";
    private static final String SHARED = "shared";
    private static final String EXCLUSIVE = "exclusive";


    private final ObjectStore store;
    private final String proxy;
    private final String instance = UUID.randomUUID().toString().substring(0, 8);
    private final LockTiming timing;
    private final AtomicLong counter = new AtomicLong();
    private final Map<String, byte[]> held = new ConcurrentHashMap<>();
    private final ScheduledExecutorService refresher;

    BucketLocks(ObjectStore store, String proxy, LockTiming timing) {
        this.store = store;
        this.proxy = proxy;
        this.timing = timing;
        this.refresher = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("s3-lock-refresh").daemon().factory());
        long every = timing.refresh().toMillis();
        refresher.scheduleWithFixedDelay(this::refreshAll, every, every, TimeUnit.MILLISECONDS);
    }

    RepositoryPeers.Lease shared(String what) throws IOException {
        return acquire(SHARED, what);
    }

    RepositoryPeers.Lease exclusive(String what) throws IOException {
        return acquire(EXCLUSIVE, what);
    }

    private RepositoryPeers.Lease acquire(String kind, String what) throws IOException {
        String name = DIR + kind + "." + proxy + "." + instance + "." + counter.incrementAndGet();
        byte[] body = ("proxy=" + proxy + "\npid=" + ProcessHandle.current().pid() + "\nfor=" + what + "\n")
                .getBytes(StandardCharsets.UTF_8);
        long deadline = System.nanoTime() + timing.maxWait().toNanos();
        long backoff = 200;
        while (true) {
            store.put(name, ByteBuffer.wrap(body));
            String conflict = conflict(kind, name);
            if (conflict == null) {
                held.put(name, body);
                return () -> release(name);
            }
            store.delete(name);
            if (System.nanoTime() + backoff * 1_000_000 > deadline) {
                throw new RepositoryInUseException(store.target().toString(), conflict + " (waited " + timing.maxWait().toSeconds() + " s for "
                        + what + "; a lock not refreshed for " + timing.staleAfter().toMinutes() + " min is ignored)");
            }
            log.info("{}: waiting for {}", what, conflict);
            try {
                Thread.sleep(backoff);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while waiting for a lock on " + store.target());
            }
            backoff = Math.min(5_000, backoff * 2);
        }
    }

    /** The first live lock of another process that {@code kind} cannot share with, described; null if none. */
    private String conflict(String kind, String mine) throws IOException {
        long now = System.currentTimeMillis();
        for (ObjectStore.ObjectInfo o : store.list(DIR)) {
            String[] parts = o.name().substring(DIR.length()).split("\\.");
            if (o.name().equals(mine) || parts.length != 4 || parts[2].equals(instance)) {
                continue;
            }
            boolean stale = now - o.lastModifiedMillis() > timing.staleAfter().toMillis();
            if (stale) {
                if (kind.equals(EXCLUSIVE)) {
                    store.delete(o.name()); // its process is gone: nothing of it runs any more
                }
                continue;
            }
            if (kind.equals(EXCLUSIVE) || parts[0].equals(EXCLUSIVE)) {
                return "proxy " + parts[1] + " holds a " + parts[0] + " lock since " + Instant.ofEpochMilli(o.lastModifiedMillis());
            }
        }
        return null;
    }

    /**
     * Under the map's monitor, like a refresh of it: a refresh never rewrites a lock just deleted.
     * The delete itself runs on the refresher's thread, so a job ends without waiting for its
     * round trip; {@link #close()} waits for it.
     */
    private void release(String name) {
        synchronized (held) {
            if (held.remove(name) == null) {
                return;
            }
        }
        try {
            refresher.execute(() -> delete(name));
        } catch (java.util.concurrent.RejectedExecutionException closing) {
            delete(name);
        }
    }

    private void delete(String name) {
        try {
            store.delete(name);
        } catch (IOException e) {
            log.warn("cannot remove lock {}: {}; it expires in {} min", name, e.getMessage(), timing.staleAfter().toMinutes());
        }
    }

    private void refreshAll() {
        for (Map.Entry<String, byte[]> e : held.entrySet()) {
            try {
                synchronized (held) {
                    if (held.containsKey(e.getKey())) {
                        store.put(e.getKey(), ByteBuffer.wrap(e.getValue()));
                    }
                }
            } catch (IOException | RuntimeException ex) {
                log.warn("cannot refresh lock {}: {}", e.getKey(), ex.getMessage());
            }
        }
    }

    @Override
    public void close() {
        refresher.shutdown(); // not interrupted: a refresh or a release in flight finishes, then the locks go
        try {
            refresher.awaitTermination(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (String name : held.keySet()) {
            release(name); // refused by the stopped refresher: deleted here
        }
    }
}

package io.blockmover.index.backup;

import io.blockmover.index.chunk.ChunkCodec;
import io.blockmover.index.chunk.FrameCodec;
import io.blockmover.index.format.ChunkId;
import io.blockmover.index.format.RepositoryException;
import io.blockmover.index.pack.PackRecords;
import io.blockmover.index.pack.PackRecords.ChunkPayload;
import io.blockmover.index.pack.PackWriter;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.function.LongConsumer;
import java.util.function.Supplier;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Lock;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;

/**
 * The new chunks of one backup, deduplicated and appended to one of the backup's open packs. When
 * a pack reaches its target size it is sealed (fsync) and only then are its chunk locations
 * published to the index, where every other writer's dedup sees them; until then the chunks
 * are in {@code pending}, which dedups this backup's own threads against each other.
 *
 * <p>Each thread appends to a lane of its own: a lane is an open pack that one thread at a time
 * borrows, and a new lane opens only when every existing one is busy, so there are as many open
 * packs as threads ever stored at the same moment (one, for a single thread). One shared pack
 * behind one lock made the workers queue for it: in a compression-bound backup of a file system
 * (4 workers, 2 cores) they spent 3.2 s of 6.6 CPU-s waiting to enter that lock, about 4 ms a
 * time, as every hand-over meant a parked thread woken up on a busy core.
 */
final class ChunkSink {
    private final RepoContext ctx;
    private final Set<ChunkId> pending = ConcurrentHashMap.newKeySet();
    /** Lanes not borrowed right now. */
    private final ConcurrentLinkedQueue<Lane> idle = new ConcurrentLinkedQueue<>();
    /** Every lane ever opened, for flush and abort. */
    private final ConcurrentLinkedQueue<Lane> lanes = new ConcurrentLinkedQueue<>();
    private volatile Throwable failure;
    /**
     * Full packs being sealed off the workers' threads (a store whose seal is an upload): at most
     * {@link #BACKGROUND_SEALS} at once, each holding its pack in memory, so a backup that reads
     * faster than the store takes packs waits for a slot instead of growing without bound.
     */
    private static final int BACKGROUND_SEALS = 4;
    private final Semaphore sealSlots = new Semaphore(BACKGROUND_SEALS);
    private final ConcurrentLinkedQueue<CompletableFuture<Void>> sealing = new ConcurrentLinkedQueue<>();
    /**
     * Threads storing a chunk of this backup right now (hashing, compressing, appending). When there
     * are at least as many as cores, the backup is compression-bound: {@code auto} then takes LZ4.
     */
    private final AtomicInteger working = new AtomicInteger();
    private static final int CORES = Runtime.getRuntime().availableProcessors();
    /** Sub-chunk dedup (format 3), else null. */
    private final RecipeBuilder recipes;
    /** What the index learns with a pending chunk's location: its recipe's sources or its sampled blocks. */
    private final Map<ChunkId, RecipeBuilder.Plan> plans = new ConcurrentHashMap<>();
    /** Prefixes of every source a recipe of this backup uses, for gc catching up with the backup. */
    private final Set<Long> recipeSources = ConcurrentHashMap.newKeySet();
    /**
     * Recipes in sealed packs whose sources (this backup's own chunks) are not published yet: their
     * locations wait, so the index never names a recipe whose source a crash could still lose. Their
     * packs stay in progress meanwhile (gc leaves them alone). Guarded by itself, with the two below.
     */
    private final List<Deferred> deferred = new ArrayList<>();
    private final Map<Long, Integer> deferredPerPack = new java.util.HashMap<>();
    private final Set<Long> sealedPacks = new java.util.HashSet<>();

    private record Deferred(long packId, PackWriter.Entry entry, RecipeBuilder.Plan plan) {
    }

    /** An open pack (or none yet); its monitor is taken by the borrower and by flush and abort. */
    private static final class Lane {
        PackWriter current;
    }

    ChunkSink(RepoContext ctx) {
        this.ctx = ctx;
        this.recipes = ctx.db().hasSubchunks() && !ctx.readOnly() ? new RecipeBuilder(ctx, pending::contains) : null;
    }

    /** Gives the prefix of every chunk a recipe of this backup refers to (it may not be in any manifest). */
    void recipeSources(LongConsumer prefixes) {
        for (long p : recipeSources) {
            prefixes.accept(p);
        }
    }

    /** A thread starts hashing and storing a chunk; pair with {@link #endWork()}. */
    void beginWork() {
        working.incrementAndGet();
    }

    void endWork() {
        working.decrementAndGet();
    }

    /**
     * Stores {@code plain} under {@code id} unless the repository or this backup already has it.
     * {@code previous}: the chunk before it on its disk, if known (sub-chunk dedup links the two);
     * {@code previousVersion}: the parent backup's chunk at its offset, or null (never its recipe's source).
     * Returns the bytes appended to the pack, or -1 for a duplicate.
     */
    long store(ChunkId id, ByteBuffer plain, ChunkCodec codec, ChunkId previous, Supplier<ChunkId> previousVersion) throws IOException {
        Claim claim = claim(id, codec);
        if (claim == Claim.DUPLICATE) {
            return -1;
        }
        boolean cpuBound = working.get() >= CORES;
        ChunkPayload payload;
        RecipeBuilder.Plan plan = recipes == null || claim == Claim.CONDEMNED_COPY ? null
                : recipes.plan(id, plain, codec, previous, previousVersion.get(), source -> recipeSources.add(source.prefix()));
        if (plan != null && plan.recipe() != null) {
            payload = codec.encodeRecipe(id, plan.recipe(), cpuBound);
        } else {
            payload = codec.encode(id, plain, cpuBound);
        }
        if (plan != null && (plan.recipe() != null || !plan.fingerprints().isEmpty() || plan.previous() != null)) {
            plans.put(id, plan);
        }
        ByteBuffer[] record = PackRecords.frameChunk(id, payload);
        long length = record[0].remaining() + record[1].remaining();
        append(pack -> pack.append(id, record));
        return length;
    }

    /**
     * Stores the chunks of {@code ids} (consecutive chunks of one disk, plaintexts in
     * {@code plains}) that neither the repository nor this backup has: those that compress go
     * into one frame record, each other one into a record of its own. Returns, per chunk, the
     * bytes it added to its pack (a frame's bytes shared by plaintext length), or -1 for a duplicate.
     * The frame is appended before this returns, like a single chunk: nothing waits for more chunks.
     */
    long[] storeFrame(List<ChunkId> ids, List<ByteBuffer> plains, List<ChunkId> previous, List<Supplier<ChunkId>> previousVersions,
                      ChunkCodec codec, int maxFramePlain) throws IOException {
        long[] stored = new long[ids.size()];
        boolean cpuBound = working.get() >= CORES;
        List<Integer> framed = new ArrayList<>();
        for (int i = 0; i < ids.size(); i++) {
            ChunkId id = ids.get(i);
            Claim claim = claim(id, codec);
            if (claim == Claim.DUPLICATE) {
                stored[i] = -1;
                continue;
            }
            // Sub-chunk dedup first, exactly as for a chunk stored alone: a chunk that becomes a
            // recipe gets a record of its own; the others' fingerprints are indexed at publication.
            RecipeBuilder.Plan plan = recipes == null || claim == Claim.CONDEMNED_COPY ? null
                    : recipes.plan(id, plains.get(i), codec, previous.get(i), previousVersions.get(i).get(),
                            source -> recipeSources.add(source.prefix()));
            if (plan != null && (plan.recipe() != null || !plan.fingerprints().isEmpty() || plan.previous() != null)) {
                plans.put(id, plan);
            }
            if (plan != null && plan.recipe() != null) {
                ByteBuffer[] record = PackRecords.frameChunk(id, codec.encodeRecipe(id, plan.recipe(), cpuBound));
                stored[i] = record[0].remaining() + record[1].remaining();
                append(pack -> pack.append(id, record));
            } else if (codec.compressible(plains.get(i), cpuBound)) {
                framed.add(i);
            } else {
                stored[i] = storeClaimed(id, plains.get(i), codec, cpuBound);
            }
        }
        if (framed.size() == 1) {
            int i = framed.getFirst();
            stored[i] = storeClaimed(ids.get(i), plains.get(i), codec, cpuBound);
        } else if (!framed.isEmpty()) {
            FrameCodec frames = codec.frames();
            frames.begin(maxFramePlain);
            for (int i : framed) {
                frames.add(ids.get(i), plains.get(i));
            }
            FrameCodec.Encoded e = frames.finish(codec.useLz4(cpuBound));
            ByteBuffer[] record = PackRecords.frame(e.table(), e.flags(), e.body());
            long length = 0;
            for (ByteBuffer b : record) {
                length += b.remaining();
            }
            append(pack -> pack.appendFrame(e.table(), record));
            int plain = e.table().plainLength();
            for (int slot = 0; slot < framed.size(); slot++) {
                stored[framed.get(slot)] = length * e.table().length(slot) / plain;
            }
        }
        return stored;
    }

    /**
     * What this thread is to do with {@code id}: nothing when the repository or this backup has it
     * ({@link Claim#DUPLICATE}), else store it. Pending before index: publication writes the index
     * before it clears pending, so a chunk is always found in one of the two. A chunk gc has
     * condemned is not reused from the index (gc may be about to sweep that copy): it is stored
     * afresh, and whole ({@link Claim#CONDEMNED_COPY}).
     */
    private Claim claim(ChunkId id, ChunkCodec codec) {
        if (pending.contains(id)) {
            return Claim.DUPLICATE;
        }
        boolean condemned = ctx.fence().isCondemned(id);
        if (!condemned && ctx.db().contains(id, codec.lookupScratch())) {
            return Claim.DUPLICATE;
        }
        return !pending.add(id) ? Claim.DUPLICATE : condemned ? Claim.CONDEMNED_COPY : Claim.NEW;
    }

    /**
     * {@code CONDEMNED_COPY}: a fresh copy of a chunk a running gc condemned. It is never a recipe:
     * the condemned copy may be a source of a recipe gc reprieves (an open backup's), publishing the
     * fresh copy replaces its location, and a recipe there would make that recipe's source a recipe,
     * which no read resolves.
     */
    private enum Claim { DUPLICATE, NEW, CONDEMNED_COPY }

    /** A chunk this thread has claimed, as a record of its own. */
    private long storeClaimed(ChunkId id, ByteBuffer plain, ChunkCodec codec, boolean cpuBound) throws IOException {
        ByteBuffer[] record = PackRecords.frameChunk(id, codec.encode(id, plain, cpuBound));
        long length = record[0].remaining() + record[1].remaining();
        append(pack -> pack.append(id, record));
        return length;
    }


    /** What goes into a lane's open pack. */
    @FunctionalInterface
    private interface Append {
        void to(PackWriter pack) throws IOException;
    }

    /** Appends to a lane of this thread's own, sealing and publishing its pack once it is full. */
    private void append(Append what) throws IOException {
        PackWriter full = null;
        Lane lane = borrow();
        try {
            synchronized (lane) {
                checkHealthy();
                try {
                    if (lane.current == null) {
                        lane.current = newPack();
                    }
                    what.to(lane.current);
                } catch (IOException | RuntimeException e) {
                    fail(e);
                    throw e;
                }
                if (lane.current.size() >= ctx.packTargetSize()) {
                    full = lane.current;
                    lane.current = null;
                }
            }
        } finally {
            idle.add(lane);
        }
        if (full != null) {
            if (ctx.packs().sealsInBackground()) {
                sealInBackground(full);
            } else {
                seal(full);
            }
        }
    }

    /** Seals {@code full} on a thread of its own once a slot is free; a failure fails the backup (publish records it). */
    private void sealInBackground(PackWriter full) throws IOException {
        try {
            sealSlots.acquire();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            full.abandon();
            ctx.packsInProgress().settled(full.packId());
            throw new java.io.InterruptedIOException("interrupted while waiting to upload pack " + Long.toHexString(full.packId()));
        }
        CompletableFuture<Void> done = new CompletableFuture<>();
        sealing.add(done);
        Thread.ofVirtual().name("seal-" + Long.toHexString(full.packId())).start(() -> {
            try {
                seal(full);
                done.complete(null);
            } catch (Throwable t) {
                fail(t);
                done.completeExceptionally(t);
            } finally {
                sealSlots.release();
            }
        });
    }

    /** Waits for every background seal started so far; rethrows the first failure. */
    private void awaitBackgroundSeals() throws IOException {
        Throwable first = null;
        for (CompletableFuture<Void> f; (f = sealing.poll()) != null; ) {
            boolean interrupted = false;
            while (true) { // a seal in flight is finished, not left half-published
                try {
                    f.get();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                } catch (java.util.concurrent.ExecutionException e) {
                    if (first == null) {
                        first = e.getCause();
                    }
                    break;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
        if (first instanceof IOException io) {
            throw io;
        }
        if (first instanceof RuntimeException re) {
            throw re;
        }
        if (first != null) {
            throw new IOException("sealing a pack failed: " + first, first);
        }
    }

    private Lane borrow() {
        Lane lane = idle.poll();
        if (lane == null) {
            lane = new Lane();
            lanes.add(lane);
        }
        return lane;
    }

    /** Registered as in progress before the file exists, so gc never sees it unregistered and unpublished. */
    private PackWriter newPack() throws IOException {
        long packId = ctx.newPackId();
        ctx.packsInProgress().started(packId);
        try {
            return PackWriter.create(ctx.packs(), packId);
        } catch (IOException | RuntimeException e) {
            ctx.packsInProgress().settled(packId); // a file left behind holds nothing anyone uses: gc's
            throw e;
        }
    }

    /** Seals the open packs (if any) and publishes them; after this every stored chunk is durable and indexed. */
    void flush() throws IOException {
        awaitBackgroundSeals();
        List<PackWriter> open = new ArrayList<>();
        for (Lane lane : lanes) {
            synchronized (lane) {
                checkHealthy();
                if (lane.current != null) {
                    open.add(lane.current);
                    lane.current = null;
                }
            }
        }
        if (open.size() == 1) {
            seal(open.getFirst());
        } else {
            sealAll(open);
        }
        publishDeferred();
        synchronized (deferred) {
            if (!deferred.isEmpty()) { // every pack is sealed and published: no source can still be pending
                IllegalStateException e = new IllegalStateException(deferred.size() + " recipes wait for sources never published");
                fail(e);
                throw e;
            }
        }
    }

    private void sealAll(List<PackWriter> open) throws IOException {
        // One lane per thread leaves several partial packs: their fsyncs run at once (on one
        // filesystem they share a journal commit), not one after the other in the commit's time.
        List<Thread> sealing = new ArrayList<>();
        List<Throwable> failures = Collections.synchronizedList(new ArrayList<>());
        for (PackWriter p : open) {
            sealing.add(Thread.ofVirtual().start(() -> {
                try {
                    seal(p);
                } catch (Throwable t) {
                    failures.add(t);
                }
            }));
        }
        Joins.uninterruptibly(sealing); // a seal in flight is finished, not left half-published
        if (!failures.isEmpty()) {
            Throwable f = failures.getFirst();
            if (f instanceof IOException io) {
                throw io;
            }
            if (f instanceof RuntimeException re) {
                throw re;
            }
            throw new IOException("sealing a pack failed: " + f, f);
        }
    }

    private void seal(PackWriter pack) throws IOException {
        try {
            publish(pack);
        } finally {
            synchronized (deferred) {
                sealedPacks.add(pack.packId());
                if (!deferredPerPack.containsKey(pack.packId())) {
                    ctx.packsInProgress().settled(pack.packId());
                }
            }
        }
        publishDeferred();
    }

    private boolean waitsForSources(RecipeBuilder.Plan plan) {
        if (plan == null || plan.recipe() == null) {
            return false;
        }
        for (ChunkId s : plan.recipe().sources()) {
            if (pending.contains(s)) {
                return true;
            }
        }
        return false;
    }

    /** Publishes the held-back recipes whose sources are published now. */
    private void publishDeferred() throws IOException {
        synchronized (deferred) {
            List<Deferred> ready = new ArrayList<>();
            List<Deferred> waiting = new ArrayList<>();
            for (Deferred d : deferred) {
                (waitsForSources(d.plan()) ? waiting : ready).add(d);
            }
            if (ready.isEmpty()) {
                return;
            }
            Lock publishing = ctx.fence().publishing();
            publishing.lock();
            try (WriteBatch batch = new WriteBatch()) {
                for (Deferred d : ready) {
                    batch.put(ctx.db().chunks(), d.entry().id().bytes(), d.entry().location().encode());
                    SubchunkEntries.put(ctx.db(), batch, d.entry().id(), d.plan());
                }
                ctx.db().write(batch, false);
            } catch (RuntimeException | RocksDBException e) {
                fail(e);
                throw new RepositoryException("cannot publish recipes: " + e.getMessage(), e);
            } finally {
                publishing.unlock();
            }
            deferred.clear(); // not removeAll: records compare by value, recipes and all
            deferred.addAll(waiting);
            for (Deferred d : ready) {
                plans.remove(d.entry().id());
                pending.remove(d.entry().id());
                int left = deferredPerPack.merge(d.packId(), -1, Integer::sum);
                if (left == 0) {
                    deferredPerPack.remove(d.packId());
                    if (sealedPacks.contains(d.packId())) {
                        ctx.packsInProgress().settled(d.packId());
                    }
                }
            }
        }
    }

    private void publish(PackWriter pack) throws IOException {
        List<PackWriter.Entry> entries;
        try {
            entries = pack.seal();
        } catch (IOException | RuntimeException e) {
            pack.abandon();
            fail(e);
            throw e;
        }
        try {
            // Named in the shared index before this process's dedup can hand the chunks to a manifest.
            ctx.peers().packSealed(pack.packId(), entries);
        } catch (IOException | RuntimeException e) {
            fail(e);
            throw e;
        }
        Lock publishing = ctx.fence().publishing();
        publishing.lock();
        List<PackWriter.Entry> published = new ArrayList<>(entries.size());
        List<Deferred> held = new ArrayList<>();
        try (WriteBatch batch = new WriteBatch()) {
            for (PackWriter.Entry e : entries) {
                RecipeBuilder.Plan plan = plans.get(e.id());
                if (waitsForSources(plan)) {
                    held.add(new Deferred(pack.packId(), e, plan));
                    continue;
                }
                batch.put(ctx.db().chunks(), e.id().bytes(), e.location().encode());
                if (plan != null) {
                    SubchunkEntries.put(ctx.db(), batch, e.id(), plan);
                }
                published.add(e);
            }
            // Not synced: the commit's synced batch comes later in the same WAL and makes this durable too;
            // a crash before it leaves locations of durable but unreferenced chunks, which gc removes.
            ctx.db().write(batch, false);
        } catch (RuntimeException | RocksDBException e) {
            // The pack is durable; whether the index write landed is unknown, so gc, not us, decides its fate.
            fail(e);
            throw new RepositoryException("cannot publish pack " + Long.toHexString(pack.packId()) + ": " + e.getMessage(), e);
        } finally {
            publishing.unlock();
        }
        if (!held.isEmpty()) {
            // Outside the publishing lock: publishDeferred takes the two the other way round.
            synchronized (deferred) {
                deferred.addAll(held);
                deferredPerPack.merge(pack.packId(), held.size(), Integer::sum);
            }
        }
        for (PackWriter.Entry e : published) {
            plans.remove(e.id());
            pending.remove(e.id());
        }
    }

    /** Drops the open packs unsealed; sealed packs stay (their chunks are indexed and reusable). */
    void abort() {
        // First, so that a store taking a lane after this point stops before it opens a pack.
        if (failure == null) {
            failure = new IllegalStateException("aborted");
        }
        try {
            awaitBackgroundSeals(); // none may publish into a repository its caller is about to close
        } catch (IOException | RuntimeException ignored) {
            // the backup is being aborted for a reason of its own; a failed seal leaves what gc removes
        }
        for (Lane lane : lanes) {
            synchronized (lane) {
                if (lane.current != null) {
                    lane.current.abandon();
                    ctx.packsInProgress().settled(lane.current.packId());
                    lane.current = null;
                }
            }
        }
        synchronized (deferred) {
            for (long packId : deferredPerPack.keySet()) {
                if (sealedPacks.contains(packId)) {
                    ctx.packsInProgress().settled(packId); // durable but unindexed records: gc's
                }
            }
            deferred.clear();
            deferredPerPack.clear();
        }
        pending.clear();
        plans.clear();
    }

    void fail(Throwable t) {
        if (failure == null) {
            failure = t;
        }
    }

    void checkHealthy() {
        Throwable f = failure;
        if (f != null) {
            throw new RepositoryException("the backup cannot continue after an earlier failure: " + f.getMessage(), f);
        }
    }
}

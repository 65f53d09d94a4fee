package io.blockmover.index.s3;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.nio.NioSocketChannel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.ProfileCredentialsProvider;
import software.amazon.awssdk.core.ResponseBytes;
import software.amazon.awssdk.core.async.AsyncRequestBody;
import software.amazon.awssdk.core.async.AsyncResponseTransformer;
import software.amazon.awssdk.core.async.SdkPublisher;
import org.reactivestreams.Subscriber;
import org.reactivestreams.Subscription;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.http.nio.netty.NettyNioAsyncHttpClient;
import software.amazon.awssdk.http.nio.netty.SdkEventLoopGroup;
import software.amazon.awssdk.profiles.ProfileFile;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.regions.providers.AwsProfileRegionProvider;
import software.amazon.awssdk.regions.providers.AwsRegionProviderChain;
import software.amazon.awssdk.regions.providers.SystemSettingsRegionProvider;
import software.amazon.awssdk.retries.DefaultRetryStrategy;
import software.amazon.awssdk.services.s3.S3AsyncClient;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Response;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * The bucket under one repository prefix, as whole-object puts, whole or ranged gets, listings
 * and deletes, through the AWS SDK's async client on Netty. Every request is counted, and a
 * transient failure (connection refused or reset, 5xx, throttling) is retried with jittered
 * exponential backoff for as long as the retry budget allows; the SDK's own retries are off so
 * the budget is the one rule. Thread-safe.
 */
public final class ObjectStore implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ObjectStore.class);
    private static final long FIRST_BACKOFF_MILLIS = 100;
    private static final long MAX_BACKOFF_MILLIS = 2_000;
    /** Parts of a multipart upload: 16 MiB keeps a 64 MiB pack to 4 parts, well above S3's 5 MiB minimum. */
    private static final long PART_SIZE = 16L << 20;
    private static final int EVENT_LOOPS = 2;

    public record ObjectInfo(String name, long size, long lastModifiedMillis) {
    }

    private final S3Target target;
    private final S3Settings settings;
    private final S3AsyncClient client;
    private final EventLoopGroup eventLoops;
    private final String where;
    private final LongAdder puts = new LongAdder();
    private final LongAdder gets = new LongAdder();
    private final LongAdder lists = new LongAdder();
    private final LongAdder deletes = new LongAdder();
    private final LongAdder retries = new LongAdder();
    private final LongAdder bytesUp = new LongAdder();
    private final LongAdder bytesDown = new LongAdder();
    /** Requests sent and not answered: close lets them finish (a caller interrupted mid-request leaves one behind). */
    private final java.util.Set<CompletableFuture<?>> inFlight = java.util.concurrent.ConcurrentHashMap.newKeySet();

    public ObjectStore(S3Target target, S3Settings settings) throws IOException {
        this.target = target;
        this.settings = settings;
        this.where = target + (settings.endpoint() == null ? "" : " at " + settings.endpoint());
        // Our own event loops, so that closing does not sit out Netty's 2-second graceful quiet period.
        this.eventLoops = nioGroup();
        NettyNioAsyncHttpClient.Builder http = NettyNioAsyncHttpClient.builder()
                .eventLoopGroup(SdkEventLoopGroup.create(eventLoops, NioSocketChannel::new))
                .maxConcurrency(64)
                .connectionTimeout(Duration.ofSeconds(5))
                .connectionAcquisitionTimeout(Duration.ofSeconds(60));
        if (settings.caFile() != null) {
            TrustManager[] trust = trustManagers(settings);
            http.tlsTrustManagersProvider(() -> trust);
        }
        var b = S3AsyncClient.builder()
                .httpClientBuilder(http)
                .region(region(settings))
                .credentialsProvider(credentials(settings))
                // Records carry their own CRCs; the newer flexible checksums are not spoken by every S3 clone.
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
                .overrideConfiguration(o -> o.retryStrategy(DefaultRetryStrategy.doNotRetry()));
        if (settings.endpoint() != null) {
            b.endpointOverride(settings.endpoint()).forcePathStyle(true);
        }
        this.client = b.build();
    }

    public S3Target target() {
        return target;
    }

    /** Where the store is, for messages: the URL and endpoint, never a credential. */
    public String where() {
        return where;
    }

    /** The SDK recognises only the classic group classes (not 4.2's MultiThreadIoEventLoopGroup). */
    @SuppressWarnings("deprecation")
    private static EventLoopGroup nioGroup() {
        return new io.netty.channel.nio.NioEventLoopGroup(EVENT_LOOPS);
    }

    private static Region region(S3Settings s) {
        if (s.region() != null) {
            return Region.of(s.region());
        }
        // Environment and profile only: the default chain's last resort asks the EC2 instance
        // metadata service, seconds of timeouts on every start anywhere else.
        try {
            return new AwsRegionProviderChain(new SystemSettingsRegionProvider(), new AwsProfileRegionProvider()).getRegion();
        } catch (SdkClientException e) {
            return Region.US_EAST_1; // MinIO, Ceph and s3proxy accept any region
        }
    }

    private static AwsCredentialsProvider credentials(S3Settings s) throws IOException {
        if (s.credentialsFile() == null) {
            return DefaultCredentialsProvider.builder().build();
        }
        if (!Files.isReadable(s.credentialsFile())) {
            throw new IOException("cannot read the S3 credentials file " + s.credentialsFile());
        }
        ProfileFile file = ProfileFile.builder().content(s.credentialsFile()).type(ProfileFile.Type.CREDENTIALS).build();
        if (file.profile(s.profile()).isEmpty()) {
            throw new IOException("the S3 credentials file " + s.credentialsFile() + " has no profile [" + s.profile() + "]");
        }
        return ProfileCredentialsProvider.builder().profileFile(file).profileName(s.profile()).build();
    }

    private static TrustManager[] trustManagers(S3Settings s) throws IOException {
        try (InputStream in = Files.newInputStream(s.caFile())) {
            KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
            ks.load(null, null);
            int i = 0;
            for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                ks.setCertificateEntry("ca" + i++, c);
            }
            if (i == 0) {
                throw new IOException("no certificate in the S3 CA file " + s.caFile());
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(ks);
            return tmf.getTrustManagers();
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot use the S3 CA file " + s.caFile() + ": " + e.getMessage(), e);
        }
    }

    /**
     * Stores {@code parts} (not moved) as object {@code name}: one PUT, or above the multipart
     * threshold a multipart upload (each part retried on its own), which the store makes
     * visible only when it is complete. Our own multipart calls rather than the SDK's helper: it
     * sends checksum headers some S3 clones refuse (s3proxy: 501), and its requests are not
     * ours to count.
     */
    public void put(String name, ByteBuffer... parts) throws IOException {
        long length = 0;
        for (ByteBuffer p : parts) {
            length += p.remaining();
        }
        if (length >= settings.multipartThreshold()) {
            putInParts(name, parts, length);
            return;
        }
        long len = length;
        retrying("put " + name, puts, () -> client.putObject(r -> r.bucket(target.bucket()).key(target.key(name)).contentLength(len),
                AsyncRequestBody.fromByteBuffersUnsafe(duplicates(parts))));
        bytesUp.add(len);
    }

    private void putInParts(String name, ByteBuffer[] parts, long length) throws IOException {
        String key = target.key(name);
        String uploadId = retrying("start upload of " + name, puts,
                () -> client.createMultipartUpload(r -> r.bucket(target.bucket()).key(key))).uploadId();
        try {
            // The parts go up at once, each retried on its own: one part's round trip need not wait for another's.
            List<long[]> ranges = new ArrayList<>();
            for (long from = 0; from < length; from += PART_SIZE) {
                ranges.add(new long[] {from, Math.min(PART_SIZE, length - from)});
            }
            List<CompletableFuture<CompletedPart>> uploads = new ArrayList<>();
            for (int i = 0; i < ranges.size(); i++) {
                int n = i + 1;
                long from = ranges.get(i)[0];
                long partLength = ranges.get(i)[1];
                ByteBuffer[] body = slice(parts, from, partLength);
                CompletableFuture<CompletedPart> part = new CompletableFuture<>();
                Thread.ofVirtual().name("s3-part-" + n).start(() -> {
                    try {
                        String etag = retrying("upload part " + n + " of " + name, puts, () -> client.uploadPart(
                                r -> r.bucket(target.bucket()).key(key).uploadId(uploadId).partNumber(n).contentLength(partLength),
                                AsyncRequestBody.fromByteBuffersUnsafe(duplicates(body)))).eTag();
                        bytesUp.add(partLength);
                        part.complete(CompletedPart.builder().partNumber(n).eTag(etag).build());
                    } catch (Throwable t) {
                        part.completeExceptionally(t);
                    }
                });
                uploads.add(part);
            }
            List<CompletedPart> done = new ArrayList<>();
            for (CompletableFuture<CompletedPart> u : uploads) {
                done.add(await(u));
            }
            retrying("complete upload of " + name, puts, () -> client.completeMultipartUpload(r -> r.bucket(target.bucket()).key(key)
                    .uploadId(uploadId).multipartUpload(m -> m.parts(done))));
        } catch (IOException | RuntimeException e) {
            try {
                retrying("abort upload of " + name, deletes,
                        () -> client.abortMultipartUpload(r -> r.bucket(target.bucket()).key(key).uploadId(uploadId)));
            } catch (IOException abort) {
                e.addSuppressed(abort); // the store's lifecycle rules or the next gc of uploads clear it
            }
            throw e;
        }
    }

    /** The value of a future whose failure is one of ours; waits out every part so that none is in flight after an abort. */
    private static <T> T await(CompletableFuture<T> f) throws IOException {
        try {
            return f.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw new IOException(e.getCause());
        }
    }

    private static ByteBuffer[] duplicates(ByteBuffer[] parts) {
        ByteBuffer[] copy = new ByteBuffer[parts.length];
        for (int i = 0; i < parts.length; i++) {
            copy[i] = parts[i].duplicate();
        }
        return copy;
    }

    /** The {@code length} bytes at {@code from} of the concatenation of {@code parts}, as views. */
    private static ByteBuffer[] slice(ByteBuffer[] parts, long from, long length) {
        List<ByteBuffer> out = new ArrayList<>();
        long skip = from;
        long want = length;
        for (ByteBuffer p : parts) {
            int r = p.remaining();
            if (skip >= r) {
                skip -= r;
                continue;
            }
            int take = (int) Math.min(r - skip, want);
            out.add(p.slice(p.position() + (int) skip, take));
            skip = 0;
            want -= take;
            if (want == 0) {
                break;
            }
        }
        return out.toArray(ByteBuffer[]::new);
    }

    /** The whole object, or null if it does not exist. */
    public byte[] get(String name) throws IOException {
        try {
            ResponseBytes<GetObjectResponse> r = retrying("get " + name, gets,
                    () -> client.getObject(q -> q.bucket(target.bucket()).key(target.key(name)), AsyncResponseTransformer.toBytes()));
            byte[] b = r.asByteArrayUnsafe();
            bytesDown.add(b.length);
            return b;
        } catch (ObjectStoreException e) {
            if (e.notFound()) {
                return null;
            }
            throw e;
        }
    }

    /**
     * Reads up to {@code dst.remaining()} bytes of {@code name} at {@code position} with one
     * ranged GET; returns the count, -1 at or past the end.
     */
    public int read(String name, long position, ByteBuffer dst) throws IOException {
        if (!dst.hasRemaining()) {
            return 0;
        }
        String range = "bytes=" + position + "-" + (position + dst.remaining() - 1);
        int n;
        try {
            n = retrying("read " + name, gets,
                    () -> client.getObject(q -> q.bucket(target.bucket()).key(target.key(name)).range(range), new IntoBuffer(dst)));
        } catch (ObjectStoreException e) {
            if (e.getCause() instanceof S3Exception s && s.statusCode() == 416) {
                return -1;
            }
            throw e;
        }
        bytesDown.add(n);
        return n;
    }

    /**
     * A response body copied straight into the caller's buffer as Netty hands it over: the SDK's
     * {@code toBytes()} gathers it in a growing array and copies it again, which made a restore's
     * 4 MiB reads cost three copies each. Each attempt (a retry calls {@link #prepare()} again)
     * starts over at the buffer's original position; bytes past its end are dropped (a ranged GET
     * sends no more than asked).
     */
    private static final class IntoBuffer implements AsyncResponseTransformer<GetObjectResponse, Integer> {
        private final ByteBuffer dst;
        private final int start;
        private volatile CompletableFuture<Integer> result;

        IntoBuffer(ByteBuffer dst) {
            this.dst = dst;
            this.start = dst.position();
        }

        @Override
        public CompletableFuture<Integer> prepare() {
            dst.position(start);
            result = new CompletableFuture<>();
            return result;
        }

        @Override
        public void onResponse(GetObjectResponse response) {
        }

        @Override
        public void onStream(SdkPublisher<ByteBuffer> body) {
            CompletableFuture<Integer> done = result;
            body.subscribe(new Subscriber<>() {
                @Override
                public void onSubscribe(Subscription s) {
                    s.request(Long.MAX_VALUE);
                }

                @Override
                public void onNext(ByteBuffer b) {
                    int n = Math.min(b.remaining(), dst.remaining());
                    dst.put(b.slice(b.position(), n));
                }

                @Override
                public void onError(Throwable t) {
                    done.completeExceptionally(t);
                }

                @Override
                public void onComplete() {
                    done.complete(dst.position() - start);
                }
            });
        }

        @Override
        public void exceptionOccurred(Throwable error) {
            CompletableFuture<Integer> r = result;
            if (r != null) {
                r.completeExceptionally(error);
            }
        }
    }

    /** Every object whose name starts with {@code namePrefix}, in key order. */
    public List<ObjectInfo> list(String namePrefix) throws IOException {
        List<ObjectInfo> out = new ArrayList<>();
        String token = null;
        do {
            String t = token;
            ListObjectsV2Response r = retrying("list " + namePrefix, lists,
                    () -> client.listObjectsV2(q -> q.bucket(target.bucket()).prefix(target.key(namePrefix)).continuationToken(t)));
            for (S3Object o : r.contents()) {
                out.add(new ObjectInfo(target.name(o.key()), o.size(), o.lastModified().toEpochMilli()));
            }
            token = Boolean.TRUE.equals(r.isTruncated()) ? r.nextContinuationToken() : null;
        } while (token != null);
        return out;
    }

    /** Deletes {@code name}; a missing object is no error (S3 itself says so). */
    public void delete(String name) throws IOException {
        retrying("delete " + name, deletes, () -> client.deleteObject(q -> q.bucket(target.bucket()).key(target.key(name))));
    }

    /** Fails with one clear line if the bucket cannot be reached or does not exist. */
    public void checkBucket() throws IOException {
        retrying("find bucket " + target.bucket(), lists, () -> client.headBucket(q -> q.bucket(target.bucket())));
    }

    /** Creates the bucket if it does not exist (init on a fresh store). */
    public void createBucketIfMissing() throws IOException {
        try {
            checkBucket();
        } catch (ObjectStoreException e) {
            if (!e.notFound()) {
                throw e;
            }
            retrying("create bucket " + target.bucket(), puts, () -> client.createBucket(q -> q.bucket(target.bucket())));
        }
    }

    public RequestCounts counts() {
        return new RequestCounts(puts.sum(), gets.sum(), lists.sum(), deletes.sum(), retries.sum(), bytesUp.sum(), bytesDown.sum());
    }

    private <T> T retrying(String what, LongAdder counter, Supplier<CompletableFuture<T>> call) throws ObjectStoreException {
        long start = System.nanoTime();
        long budget = settings.retryBudget().toNanos();
        long backoff = FIRST_BACKOFF_MILLIS;
        int attempts = 0;
        while (true) {
            attempts++;
            counter.increment();
            Throwable failure;
            try {
                CompletableFuture<T> request = call.get();
                inFlight.add(request);
                request.whenComplete((r, t) -> inFlight.remove(request));
                T result = request.get();
                if (log.isDebugEnabled()) {
                    log.debug("{} on {}: {} ms", what, where, (System.nanoTime() - start) / 1_000_000.0);
                }
                return result;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ObjectStoreException("interrupted during " + what + " on " + where, e, false);
            } catch (ExecutionException | CompletionException e) {
                failure = e.getCause() == null ? e : e.getCause();
            } catch (SdkException | UncheckedIOException e) {
                failure = e;
            }
            int status = failure instanceof S3Exception s ? s.statusCode() : 0;
            boolean notFound = status == 404 || failure instanceof NoSuchKeyException;
            long elapsed = System.nanoTime() - start;
            long sleep = ThreadLocalRandom.current().nextLong(backoff / 2, backoff + 1);
            if (!transient_(failure, status) || elapsed + sleep * 1_000_000 > budget) {
                String why = transient_(failure, status)
                        ? " (still failing after " + attempts + " attempts in " + Duration.ofNanos(elapsed).toSeconds() + " s)"
                        : "";
                throw new ObjectStoreException("object store " + where + ": cannot " + what + ": " + describe(failure, status) + why,
                        failure, notFound);
            }
            retries.increment();
            log.debug("retrying {} on {} in {} ms: {}", what, where, sleep, describe(failure, status));
            try {
                Thread.sleep(sleep);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ObjectStoreException("interrupted during " + what + " on " + where, e, false);
            }
            backoff = Math.min(MAX_BACKOFF_MILLIS, backoff * 2);
        }
    }

    /** Network faults, server errors, throttling and timeouts pass; an answer like 403 or 404 does not. */
    private static boolean transient_(Throwable t, int status) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof javax.net.ssl.SSLHandshakeException || c instanceof java.security.cert.CertificateException) {
                return false; // an untrusted certificate stays untrusted
            }
        }
        if (t instanceof S3Exception) {
            return (status >= 500 && status != 501) || status == 429 || status == 408; // 501: the store lacks a feature
        }
        return t instanceof SdkClientException || t instanceof IOException || t instanceof UncheckedIOException;
    }

    private static String describe(Throwable t, int status) {
        if (t instanceof S3Exception s) {
            String code = s.awsErrorDetails() == null ? null : s.awsErrorDetails().errorCode();
            return "HTTP " + status + (code == null ? "" : " " + code);
        }
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String m = root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
        return m.lines().findFirst().orElse(m);
    }

    @Override
    public void close() {
        // A request cut off by the client's close is reported by Netty as a stack trace on the console.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        for (CompletableFuture<?> f : List.copyOf(inFlight)) {
            try {
                f.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            } catch (ExecutionException | java.util.concurrent.TimeoutException | java.util.concurrent.CancellationException ignored) {
                // answered with an error, or still not answered: closed either way
            }
        }
        client.close();
        // 0.3 s lets the connection pool's last close notices through (mostly: under heavy load one may be
        // logged as rejected, harmlessly); Netty's default quiet period is 2 s.
        eventLoops.shutdownGracefully(300, 2_000, TimeUnit.MILLISECONDS);
    }

    @Override
    public String toString() {
        return where;
    }

}

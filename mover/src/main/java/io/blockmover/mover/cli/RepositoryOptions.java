package io.blockmover.mover.cli;

import io.blockmover.mover.pipeline.UserMessages;

import io.blockmover.index.repo.InitOptions;
import io.blockmover.index.repo.Repository;
import io.blockmover.index.repo.RepositoryInUseException;
import io.blockmover.index.s3.LockTiming;
import io.blockmover.index.s3.RequestCounts;
import io.blockmover.index.s3.S3Repository;
import io.blockmover.index.s3.S3Settings;
import io.blockmover.index.s3.S3Target;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Where the repository is and how to unlock it: a local directory, or {@code s3://BUCKET/PREFIX}
 * in an object store. The passphrase of an encrypted repository comes from a file or from
 * {@code BLOCKMOVER_PASSPHRASE}, and S3 credentials from the AWS chain or a credentials file,
 * never from the command line, where other users could read them in the process list.
 */
final class RepositoryOptions {
    static final String PASSPHRASE_ENV = "BLOCKMOVER_PASSPHRASE";

    @Option(names = "--repo", paramLabel = "DIR|s3://BUCKET/PREFIX", defaultValue = "${env:BLOCKMOVER_REPO:-data}",
            description = "Repository directory, or s3://BUCKET/PREFIX in an object store (default: $BLOCKMOVER_REPO, else ./data).")
    String repo;

    @Option(names = "--passphrase-file", paramLabel = "FILE",
            description = "File holding the passphrase of an encrypted repository (else $" + PASSPHRASE_ENV + ").")
    Path passphraseFile;

    @Option(names = "--s3-endpoint", paramLabel = "URL", defaultValue = "${env:BLOCKMOVER_S3_ENDPOINT}",
            description = "S3-compatible endpoint (MinIO, Ceph RGW, s3proxy), addressed path-style; https unless the URL says "
                    + "http (default: $BLOCKMOVER_S3_ENDPOINT, else AWS itself).")
    String s3Endpoint;

    @Option(names = "--s3-region", paramLabel = "REGION",
            description = "S3 region (default: from $AWS_REGION or the AWS profile, else us-east-1).")
    String s3Region;

    @Option(names = "--s3-credentials-file", paramLabel = "FILE",
            description = "AWS credentials file to use instead of the AWS default chain (environment, ~/.aws/credentials, roles).")
    Path s3CredentialsFile;

    @Option(names = "--s3-profile", paramLabel = "NAME", description = "Profile in --s3-credentials-file (default: default).")
    String s3Profile;

    @Option(names = "--s3-ca", paramLabel = "PEM", description = "Trust the object store's certificate if issued by this CA.")
    Path s3Ca;

    @Option(names = "--s3-retry-budget", paramLabel = "SECONDS", defaultValue = "60",
            description = "How long a request to the object store may keep failing (5xx, throttling, resets) before the job "
                    + "fails (default ${DEFAULT-VALUE}).")
    long s3RetryBudgetSeconds;

    @Option(names = "--s3-proxy-id", paramLabel = "NAME", defaultValue = "${env:BLOCKMOVER_PROXY_ID}",
            description = "This proxy's name in a shared repository: its index segments and locks carry it (default: host name).")
    String proxyId;

    @Option(names = "--cache-dir", paramLabel = "DIR",
            description = "Local cache of an s3:// repository: its index and read cache "
                    + "(default: ~/.cache/blockmover/BUCKET/PREFIX/PROXY).")
    Path cacheDir;

    /** The passphrase if one was given, else null (an unencrypted repository needs none). */
    char[] passphrase() throws IOException {
        if (passphraseFile != null) {
            try {
                return Files.readString(passphraseFile, StandardCharsets.UTF_8).strip().toCharArray();
            } catch (IOException e) {
                throw new IOException("reading the passphrase file " + passphraseFile + ": " + UserMessages.describe(e), e);
            }
        }
        String env = System.getenv(PASSPHRASE_ENV);
        return env == null || env.isEmpty() ? null : env.toCharArray();
    }

    boolean inObjectStore() {
        return S3Target.isS3(repo);
    }

    /** The local repository directory (not for an s3:// repository). */
    Path directory() {
        return Path.of(repo);
    }

    Repository open() throws IOException {
        if (inObjectStore()) {
            return S3Repository.open(access(), passphrase());
        }
        checkExists();
        return Repository.open(directory(), passphrase());
    }

    Repository init(InitOptions options) throws IOException {
        return inObjectStore() ? S3Repository.init(access(), options) : Repository.init(directory(), options);
    }

    /**
     * Without the repository's lock, for commands that only read the catalog: they work beside a
     * process that writes (a backup, or the proxy, which holds the lock as long as it runs) and
     * see what was committed when they opened. An s3:// repository is read through this proxy's
     * cache, refreshed from the bucket, unless a running proxy holds that cache: then as it is.
     */
    Repository openToLook() throws IOException {
        if (inObjectStore()) {
            try {
                return S3Repository.open(access(), passphrase());
            } catch (RepositoryInUseException e) {
                return Repository.openReadOnly(access().cacheDir(), passphrase());
            }
        }
        checkExists();
        return Repository.openReadOnly(directory(), passphrase());
    }

    S3Repository.Access access() throws IOException {
        S3Target target = S3Target.parse(repo);
        S3Settings settings = S3Settings.defaults().withRetryBudget(Duration.ofSeconds(s3RetryBudgetSeconds));
        if (s3Endpoint != null && !s3Endpoint.isBlank()) {
            settings = settings.withEndpoint(URI.create(s3Endpoint));
        }
        if (s3Region != null) {
            settings = settings.withRegion(s3Region);
        }
        if (s3CredentialsFile != null) {
            settings = settings.withCredentialsFile(s3CredentialsFile, s3Profile);
        }
        if (s3Ca != null) {
            settings = settings.withCa(s3Ca);
        }
        String proxy = proxyId != null && !proxyId.isBlank() ? proxyId
                : InetAddress.getLocalHost().getHostName().replaceAll("[^A-Za-z0-9_-]", "-");
        Path cache = cacheDir != null ? cacheDir
                : Path.of(System.getProperty("user.home"), ".cache", "blockmover", target.bucket())
                        .resolve(target.prefix().isEmpty() ? "_" : target.prefix()).resolve(proxy);
        return new S3Repository.Access(target, settings, proxy, cache, LockTiming.defaults());
    }

    /** The object-store requests {@code repo} made since {@code before}, for a job's report; empty for a local repository. */
    static Map<String, Object> requestsJson(RequestCounts before, Repository repo) {
        RequestCounts now = S3Repository.counts(repo);
        if (now == null) {
            return Map.of();
        }
        RequestCounts d = now.minus(before == null ? RequestCounts.ZERO : before);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("put", d.puts());
        m.put("get", d.gets());
        m.put("list", d.lists());
        m.put("delete", d.deletes());
        m.put("retries", d.retries());
        m.put("bytesUp", d.bytesUp());
        m.put("bytesDown", d.bytesDown());
        return m;
    }

    /** For messages: the URL, or the directory as an absolute path. */
    String describe() {
        return inObjectStore() ? repo : directory().toAbsolutePath().toString();
    }

    private void checkExists() throws IOException {
        if (!Files.isDirectory(directory())) {
            throw new IOException("no repository at " + directory().toAbsolutePath() + "; create one with 'blockmover init --repo " + repo + "'");
        }
    }
}

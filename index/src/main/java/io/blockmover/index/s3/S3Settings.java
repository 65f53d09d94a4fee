package io.blockmover.index.s3;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;

/**
 * How to reach the object store. {@code endpoint} null: AWS itself (virtual-hosted style);
 * otherwise path-style requests to that URL (MinIO, Ceph RGW, s3proxy), https unless the URL
 * says http. {@code region} null: from the AWS chain (environment, profile), else us-east-1.
 * {@code credentialsFile} null: the AWS default chain (environment, {@code ~/.aws/credentials},
 * container and instance roles); otherwise that file in the AWS credentials-file format, profile
 * {@code profile}. {@code caFile}: PEM certificates trusted instead of the JDK's, for a private
 * CA. {@code retryBudget}: how long one request may keep failing transiently before the job
 * fails. {@code multipartThreshold}: objects at least this large are uploaded in parts.
 */
public record S3Settings(URI endpoint, String region, Path credentialsFile, String profile, Path caFile,
                         Duration retryBudget, long multipartThreshold) {
    public static final Duration DEFAULT_RETRY_BUDGET = Duration.ofSeconds(60);
    public static final long DEFAULT_MULTIPART_THRESHOLD = 32L << 20;

    public S3Settings {
        if (endpoint != null && endpoint.getScheme() == null) {
            endpoint = URI.create("https://" + endpoint); // TLS unless asked otherwise
        }
        if (endpoint != null && !"https".equals(endpoint.getScheme()) && !"http".equals(endpoint.getScheme())) {
            throw new IllegalArgumentException("S3 endpoint must be an http(s) URL, got " + endpoint);
        }
        profile = profile == null || profile.isBlank() ? "default" : profile;
        retryBudget = retryBudget == null ? DEFAULT_RETRY_BUDGET : retryBudget;
        if (multipartThreshold < (5L << 20)) {
            throw new IllegalArgumentException("the multipart threshold must be at least 5 MiB (S3's smallest part)");
        }
    }

    public static S3Settings defaults() {
        return new S3Settings(null, null, null, null, null, DEFAULT_RETRY_BUDGET, DEFAULT_MULTIPART_THRESHOLD);
    }

    public S3Settings withEndpoint(URI e) {
        return new S3Settings(e, region, credentialsFile, profile, caFile, retryBudget, multipartThreshold);
    }

    public S3Settings withRegion(String r) {
        return new S3Settings(endpoint, r, credentialsFile, profile, caFile, retryBudget, multipartThreshold);
    }

    public S3Settings withCredentialsFile(Path f, String p) {
        return new S3Settings(endpoint, region, f, p, caFile, retryBudget, multipartThreshold);
    }

    public S3Settings withCa(Path f) {
        return new S3Settings(endpoint, region, credentialsFile, profile, f, retryBudget, multipartThreshold);
    }

    public S3Settings withRetryBudget(Duration d) {
        return new S3Settings(endpoint, region, credentialsFile, profile, caFile, d, multipartThreshold);
    }

    public S3Settings withMultipartThreshold(long t) {
        return new S3Settings(endpoint, region, credentialsFile, profile, caFile, retryBudget, t);
    }
}

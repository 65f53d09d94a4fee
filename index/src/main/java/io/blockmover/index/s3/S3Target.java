package io.blockmover.index.s3;

import io.blockmover.index.format.RepositoryException;

import java.util.regex.Pattern;

/**
 * A repository in a bucket: {@code s3://BUCKET/PREFIX}. Every object of the repository lives
 * under {@code PREFIX/} (no prefix: the bucket's root).
 */
public record S3Target(String bucket, String prefix) {
    public static final String SCHEME = "s3://";
    /** S3's bucket naming rules, loosely: what every S3-compatible store accepts. */
    private static final Pattern BUCKET = Pattern.compile("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]");

    public S3Target {
        if (!BUCKET.matcher(bucket).matches()) {
            throw new RepositoryException("'" + bucket + "' is not a valid bucket name (3-63 of a-z 0-9 . -)");
        }
        prefix = strip(prefix);
    }

    public static boolean isS3(String repo) {
        return repo != null && repo.startsWith(SCHEME);
    }

    public static S3Target parse(String url) {
        if (!isS3(url)) {
            throw new RepositoryException("'" + url + "' is not an s3:// repository URL");
        }
        String rest = url.substring(SCHEME.length());
        int slash = rest.indexOf('/');
        return slash < 0 ? new S3Target(rest, "") : new S3Target(rest.substring(0, slash), rest.substring(slash + 1));
    }

    /** The object key of {@code name} inside the repository. */
    public String key(String name) {
        return prefix.isEmpty() ? name : prefix + "/" + name;
    }

    /** The name inside the repository of a key listed under it. */
    public String name(String key) {
        return prefix.isEmpty() ? key : key.substring(prefix.length() + 1);
    }

    @Override
    public String toString() {
        return SCHEME + bucket + (prefix.isEmpty() ? "" : "/" + prefix);
    }

    private static String strip(String p) {
        String s = p == null ? "" : p;
        while (s.startsWith("/")) {
            s = s.substring(1);
        }
        while (s.endsWith("/")) {
            s = s.substring(0, s.length() - 1);
        }
        return s;
    }
}

package io.blockmover.index.s3;

/**
 * Requests sent to the object store (each retry counts: the store bills it) and bytes moved.
 * Object stores bill per request, so jobs report these beside their byte counts.
 */
public record RequestCounts(long puts, long gets, long lists, long deletes, long retries, long bytesUp, long bytesDown) {
    public static final RequestCounts ZERO = new RequestCounts(0, 0, 0, 0, 0, 0, 0);

    public long total() {
        return puts + gets + lists + deletes;
    }

    /** What happened between {@code earlier} and this. */
    public RequestCounts minus(RequestCounts earlier) {
        return new RequestCounts(puts - earlier.puts, gets - earlier.gets, lists - earlier.lists, deletes - earlier.deletes,
                retries - earlier.retries, bytesUp - earlier.bytesUp, bytesDown - earlier.bytesDown);
    }
}

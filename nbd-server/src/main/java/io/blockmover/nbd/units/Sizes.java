package io.blockmover.nbd.esx;

import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Parses the sizes, rates and durations of the command line and the control API. Size units are
 * binary whatever their spelling: {@code 64G}, {@code 64GB} and {@code 64GiB} are all 64 x 2^30.
 */
public final class Sizes {
    private static final Pattern SIZE = Pattern.compile("([0-9]+)\\s*([kmgtp]?)(i?b)?");
    private static final Pattern DURATION = Pattern.compile("([0-9]+)\\s*(ns|us|ms|s|m)?");

    private Sizes() {}

    public static long parseBytes(String text) {
        String s = text.trim().toLowerCase(Locale.ROOT);
        Matcher m = SIZE.matcher(s);
        if (!m.matches()) {
            throw new IllegalArgumentException("bad size '" + text + "' (e.g. 512, 64K, 20M, 64G, 1T)");
        }
        int shift = switch (m.group(2)) {
            case "k" -> 10;
            case "m" -> 20;
            case "g" -> 30;
            case "t" -> 40;
            case "p" -> 50;
            default -> 0;
        };
        long n = Long.parseLong(m.group(1));
        if (n > (Long.MAX_VALUE >>> shift)) {
            throw new IllegalArgumentException("size too large: " + text);
        }
        return n << shift;
    }

    /** A rate such as {@code 20MB/s} or {@code 20M} (per second implied), in bytes per second. */
    public static long parseRate(String text) {
        String s = text.trim();
        if (s.toLowerCase(Locale.ROOT).endsWith("/s")) {
            s = s.substring(0, s.length() - 2);
        }
        return parseBytes(s);
    }

    public static Duration parseDuration(String text) {
        Matcher m = DURATION.matcher(text.trim().toLowerCase(Locale.ROOT));
        if (!m.matches()) {
            throw new IllegalArgumentException("bad duration '" + text + "' (e.g. 500us, 5ms, 2s)");
        }
        long n = Long.parseLong(m.group(1));
        String unit = m.group(2) == null ? "ms" : m.group(2);
        return switch (unit) {
            case "ns" -> Duration.ofNanos(n);
            case "us" -> Duration.ofNanos(n * 1000);
            case "ms" -> Duration.ofMillis(n);
            case "s" -> Duration.ofSeconds(n);
            default -> Duration.ofMinutes(n);
        };
    }
}

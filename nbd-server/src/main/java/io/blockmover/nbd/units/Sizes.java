package io.blockmover.nbd.units;

import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Sizes, rates and durations as people write them, on every command line and in the emulator's
 * control API, and sizes back as people read them. Size units are binary whatever their spelling
 * (as dd and qemu-img read them): {@code 64G}, {@code 64GB} and {@code 64GiB} are all 64 x 2^30,
 * and {@code 1.5T} is allowed.
 */
public final class Sizes {
    private static final Pattern SIZE = Pattern.compile("([0-9]+)(\\.[0-9]+)?\\s*([kmgtp]?)(i?b?)");
    private static final String UNITS = "KMGTP";
    private static final Pattern DURATION = Pattern.compile("([0-9]+)\\s*(ns|us|ms|s|m)?");

    private Sizes() {}

    public static long parseBytes(String text) {
        String s = text.trim().toLowerCase(Locale.ROOT);
        Matcher m = SIZE.matcher(s);
        if (!m.matches()) {
            throw new IllegalArgumentException("bad size '" + text + "' (e.g. 512, 64K, 20M, 1.5G, 64GiB, 1T)");
        }
        int shift = m.group(3).isEmpty() ? 0 : 10 * (UNITS.indexOf(m.group(3).toUpperCase(Locale.ROOT)) + 1);
        if (m.group(2) != null) {
            double v = Double.parseDouble(m.group(1) + m.group(2)) * Math.pow(2, shift);
            if (v >= 0x1p63) {
                throw new IllegalArgumentException("size too large: " + text);
            }
            return (long) v;
        }
        long n = Long.parseLong(m.group(1));
        if (n > (Long.MAX_VALUE >>> shift)) {
            throw new IllegalArgumentException("size too large: " + text);
        }
        return n << shift;
    }

    /** {@code bytes} for people: {@code 512 B}, {@code 1.5 GiB}. */
    public static String human(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        int power = Math.min((63 - Long.numberOfLeadingZeros(bytes)) / 10, UNITS.length());
        return String.format(Locale.ROOT, "%.1f %siB", bytes / Math.pow(1024, power), UNITS.charAt(power - 1));
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

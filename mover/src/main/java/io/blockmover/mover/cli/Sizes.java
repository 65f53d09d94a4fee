package io.blockmover.mover.cli;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Byte sizes as people write them: {@code 64G}, {@code 256KiB}, {@code 1.5 TB}, and back. */
final class Sizes {
    private static final Pattern SIZE = Pattern.compile("(?i)\\s*(\\d+(?:\\.\\d+)?)\\s*([kmgtp]?)(i?b?)\\s*");
    private static final String UNITS = "KMGTP";

    private Sizes() {}

    /** Parses a size; K/M/G/T/P are powers of 1024 (as dd and qemu-img read them). */
    static long parse(String text) {
        Matcher m = SIZE.matcher(text);
        if (!m.matches()) {
            throw new IllegalArgumentException("not a size: '" + text + "' (examples: 4096, 256K, 64G, 1TiB)");
        }
        double value = Double.parseDouble(m.group(1));
        String unit = m.group(2).toUpperCase(Locale.ROOT);
        int power = unit.isEmpty() ? 0 : UNITS.indexOf(unit) + 1;
        return (long) (value * Math.pow(1024, power));
    }

    static String human(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        int power = Math.min((63 - Long.numberOfLeadingZeros(bytes)) / 10, UNITS.length());
        return String.format(Locale.ROOT, "%.1f %siB", bytes / Math.pow(1024, power), UNITS.charAt(power - 1));
    }
}

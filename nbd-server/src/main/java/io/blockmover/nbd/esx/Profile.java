package io.blockmover.nbd.esx;

import java.util.Locale;

/**
 * How a disk's base content is split between the grain classes, as integer weights. Classes are
 * assigned per run of {@link DiskContent#RUN_GRAINS} grains, so the proportions hold over many runs.
 */
public record Profile(String name, int hole, int zero, int duplicate, int text, int random) {

    public static final Profile EMPTY = new Profile("empty", 1, 0, 0, 0, 0);
    public static final Profile ZEROS = new Profile("zero", 0, 1, 0, 0, 0);
    public static final Profile DUPLICATES = new Profile("duplicate", 0, 0, 1, 0, 0);
    public static final Profile TEXT = new Profile("text", 0, 0, 0, 1, 0);
    public static final Profile RANDOM = new Profile("random", 0, 0, 0, 0, 1);
    /** A thin disk of a typical server: a third unallocated, the rest a mix of everything. */
    public static final Profile MIXED = new Profile("mixed", 30, 10, 20, 25, 15);

    public Profile {
        if (hole < 0 || zero < 0 || duplicate < 0 || text < 0 || random < 0) {
            throw new IllegalArgumentException("profile weights must not be negative");
        }
        if ((long) hole + zero + duplicate + text + random == 0) {
            throw new IllegalArgumentException("profile weights must not all be zero");
        }
        if ((long) hole + zero + duplicate + text + random > 1_000_000) {
            throw new IllegalArgumentException("profile weights must add up to at most 1000000");
        }
    }

    public int total() {
        return hole + zero + duplicate + text + random;
    }

    public int weight(GrainClass c) {
        return switch (c) {
            case HOLE -> hole;
            case ZERO -> zero;
            case DUPLICATE -> duplicate;
            case TEXT -> text;
            case RANDOM -> random;
        };
    }

    /** The class whose cumulative weight band holds {@code point} (0 <= point < total). */
    GrainClass classAt(int point) {
        int p = point;
        if ((p -= hole) < 0) {
            return GrainClass.HOLE;
        }
        if ((p -= zero) < 0) {
            return GrainClass.ZERO;
        }
        if ((p -= duplicate) < 0) {
            return GrainClass.DUPLICATE;
        }
        if ((p -= text) < 0) {
            return GrainClass.TEXT;
        }
        return GrainClass.RANDOM;
    }

    /**
     * Parses a preset name ({@code empty zero duplicate text random mixed}) or explicit weights,
     * e.g. {@code hole=30,zero=10,duplicate=20,text=25,random=15} (missing classes weigh 0).
     */
    public static Profile parse(String spec) {
        String s = spec.trim().toLowerCase(Locale.ROOT);
        switch (s) {
            case "empty", "hole" -> { return EMPTY; }
            case "zero", "zeros" -> { return ZEROS; }
            case "duplicate", "duplicates" -> { return DUPLICATES; }
            case "text" -> { return TEXT; }
            case "random" -> { return RANDOM; }
            case "mixed" -> { return MIXED; }
            default -> { }
        }
        if (!s.contains("=")) {
            throw new IllegalArgumentException("unknown profile '" + spec
                    + "' (use empty, zero, duplicate, text, random, mixed or class=weight,...)");
        }
        int[] w = new int[GrainClass.values().length];
        for (String part : s.split(",")) {
            String[] kv = part.split("=", 2);
            if (kv.length != 2) {
                throw new IllegalArgumentException("bad profile part '" + part + "' (want class=weight)");
            }
            GrainClass c;
            try {
                c = GrainClass.valueOf(kv[0].trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("unknown grain class '" + kv[0].trim()
                        + "' (use hole, zero, duplicate, text, random)");
            }
            try {
                w[c.ordinal()] = Integer.parseInt(kv[1].trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("bad weight '" + kv[1].trim() + "' for " + kv[0].trim());
            }
        }
        return new Profile(s, w[0], w[1], w[2], w[3], w[4]);
    }

    @Override
    public String toString() {
        return name;
    }
}

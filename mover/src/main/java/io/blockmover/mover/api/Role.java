package io.blockmover.mover.api;

import java.util.Locale;

/** What a caller may do. A reader watches and checks; an operator also changes things. */
public enum Role {
    /** Lists, stats, verifies, watches jobs. */
    READER,
    /** Everything: backups, restores, prune, gc, cancelling jobs. */
    OPERATOR;

    boolean allows(Role needed) {
        return compareTo(needed) >= 0;
    }

    public static Role parse(String text) {
        return switch (text.toLowerCase(Locale.ROOT)) {
            case "reader" -> READER;
            case "operator" -> OPERATOR;
            default -> throw new IllegalArgumentException("unknown role '" + text + "': operator or reader");
        };
    }

    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}

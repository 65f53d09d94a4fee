package io.blockmover.nbd.esx;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Export names of the emulated host: {@code <vm>/disk-<deviceKey>} for a live disk (read-write)
 * and {@code <vm>/disk-<deviceKey>@<snapshot>} for a snapshot disk (read-only). VM and snapshot
 * names are restricted to letters, digits, '.', '_' and '-' so names need no quoting anywhere.
 */
public final class ExportNames {
    private static final Pattern COMPONENT = Pattern.compile("[A-Za-z0-9._-]{1,64}");
    private static final Pattern EXPORT = Pattern.compile(
            "(" + COMPONENT.pattern() + ")/disk-([0-9]{1,9})(?:@(" + COMPONENT.pattern() + "))?");

    /** A parsed export name; {@code snapshot} is empty for the live disk. */
    public record Parsed(String vm, int deviceKey, Optional<String> snapshot) {}

    private ExportNames() {}

    /** A name fit for an export name and, on the backup side, a file name: never "." or "..". */
    public static boolean isValidComponent(String s) {
        return s != null && COMPONENT.matcher(s).matches() && !s.equals(".") && !s.equals("..");
    }

    public static String live(String vm, int deviceKey) {
        return vm + "/disk-" + deviceKey;
    }

    public static String snapshot(String vm, int deviceKey, String snapshot) {
        return live(vm, deviceKey) + "@" + snapshot;
    }

    public static Optional<Parsed> parse(String name) {
        Matcher m = EXPORT.matcher(name);
        if (!m.matches()) {
            return Optional.empty();
        }
        return Optional.of(new Parsed(m.group(1), Integer.parseInt(m.group(2)), Optional.ofNullable(m.group(3))));
    }
}

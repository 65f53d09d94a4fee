package io.blockmover.index.manifest;

import java.nio.charset.StandardCharsets;

/**
 * The names a backup records for a VM and its disks. They come from the network (a scheduler's
 * request, an export name) and end up in file names and one-line messages, so only a safe set is
 * taken: letters, digits, {@code . _ - : @ +}, and spaces between them; never a path separator,
 * NUL or a control character, never {@code .} or {@code ..}, at most {@value #MAX_BYTES} bytes
 * of UTF-8 (a file name's limit on Linux). Checked where a name enters, before any work starts.
 */
public final class Names {
    public static final int MAX_BYTES = 255;
    /** A label is free text, but the record stores it with a 16-bit length. */
    public static final int MAX_LABEL_BYTES = 1024;

    private Names() {}

    /** {@code name} if it is safe, else an IllegalArgumentException saying why ({@code what}: "VM name"...). */
    public static String check(String what, String name) {
        String why = problem(name);
        if (why != null) {
            throw new IllegalArgumentException("invalid " + what + " '" + printable(name) + "': " + why
                    + " (allowed: letters, digits, . _ - : @ + and inner spaces, at most " + MAX_BYTES + " bytes)");
        }
        return name;
    }

    public static boolean isSafe(String name) {
        return problem(name) == null;
    }

    /** Why {@code name} is not safe, or null when it is. */
    public static String problem(String name) {
        if (name == null || name.isEmpty()) {
            return "it is empty";
        }
        int bytes = name.getBytes(StandardCharsets.UTF_8).length;
        if (bytes > MAX_BYTES) {
            return "it is " + bytes + " bytes long";
        }
        if (name.equals(".") || name.equals("..")) {
            return "it names a directory";
        }
        if (name.startsWith(" ") || name.endsWith(" ")) {
            return "it starts or ends with a space";
        }
        for (int i = 0; i < name.length(); ) {
            int c = name.codePointAt(i);
            i += Character.charCount(c);
            if (!Character.isLetterOrDigit(c) && ".-_:@+ ".indexOf(c) < 0) {
                return c == '/' || c == '\\' ? "it contains a path separator"
                        : Character.isISOControl(c) || c == 0 ? "it contains a control character"
                        : "it contains '" + new String(Character.toChars(c)) + "'";
            }
        }
        return null;
    }

    /** A label: any text without control characters, at most {@value #MAX_LABEL_BYTES} bytes. */
    public static String checkLabel(String label) {
        if (label == null) {
            return "";
        }
        int bytes = label.getBytes(StandardCharsets.UTF_8).length;
        if (bytes > MAX_LABEL_BYTES) {
            throw new IllegalArgumentException("the label is " + bytes + " bytes long; at most " + MAX_LABEL_BYTES);
        }
        if (label.codePoints().anyMatch(Character::isISOControl)) {
            throw new IllegalArgumentException("the label '" + printable(label) + "' contains a control character");
        }
        return label;
    }

    /** {@code name} fit for a one-line message: control characters escaped, cut at 80 characters. */
    public static String printable(String name) {
        if (name == null) {
            return "";
        }
        StringBuilder sb = new StringBuilder();
        name.codePoints().limit(80).forEach(c -> {
            if (Character.isISOControl(c)) {
                sb.append(String.format("\\x%02x", c));
            } else {
                sb.appendCodePoint(c);
            }
        });
        return name.codePointCount(0, name.length()) > 80 ? sb + "..." : sb.toString();
    }
}

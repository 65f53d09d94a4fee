package io.blockmover.mover.cli;

import picocli.CommandLine;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * A mistyped secret option ({@code --passphrase SECRET} where the command takes
 * {@code --passphrase-file}) must not print the secret back in picocli's "Unknown options" line,
 * where it would land in a terminal's scroll-back, a CI log or a service journal. The values of
 * options that do not exist and whose name says secret are masked in the error line.
 */
final class SecretArguments {
    private static final Pattern SECRET_NAME = Pattern.compile("^--?[\\w-]*(pass|secret|token|password|key|credential)[\\w-]*$",
            Pattern.CASE_INSENSITIVE);
    static final String MASK = "<hidden>";

    private SecretArguments() {}

    /** The values in {@code args} that follow (or are attached with '=' to) an unknown secret-named option. */
    static List<String> secrets(CommandLine.Model.CommandSpec spec, String... args) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            int eq = arg.indexOf('=');
            String name = eq > 0 ? arg.substring(0, eq) : arg;
            if (!SECRET_NAME.matcher(name).matches() || known(spec, name)) {
                continue;
            }
            if (eq > 0) {
                out.add(arg.substring(eq + 1));
            } else if (i + 1 < args.length) {
                out.add(args[i + 1]);
            }
        }
        return out;
    }

    private static boolean known(CommandLine.Model.CommandSpec spec, String name) {
        for (CommandLine.Model.CommandSpec s = spec; s != null; s = s.parent()) {
            if (s.findOption(name) != null) {
                return true;
            }
        }
        return false;
    }

    /** {@code message} with every secret replaced by {@value #MASK}. */
    static String mask(String message, List<String> secrets) {
        String out = message;
        for (String secret : secrets) {
            if (!secret.isEmpty()) {
                out = out.replace(secret, MASK);
            }
        }
        return out;
    }
}

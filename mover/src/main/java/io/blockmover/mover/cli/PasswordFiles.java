package io.blockmover.mover.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Passwords come from files (or the environment), never from the command line where ps shows them. */
final class PasswordFiles {
    private PasswordFiles() {}

    /** The first line of the file, without its line end; an error for a missing or empty file. */
    static String read(Path file) throws IOException {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IOException("cannot read the password file " + file + ": " + e.getMessage(), e);
        }
        String first = text.lines().findFirst().orElse("");
        if (first.isEmpty()) {
            throw new IOException("the password file " + file + " is empty");
        }
        return first;
    }
}

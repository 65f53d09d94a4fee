package io.blockmover.mover.api;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Who may call the proxy, and as what: bearer tokens from a file (several at once, so that a
 * token can be rotated without downtime), roles of client-certificate subjects, or no checks at
 * all (only on loopback, only when asked). Tokens are kept as SHA-256 digests and every
 * presented token is compared with all of them in constant time, so neither the comparison's
 * time nor a heap dump gives a token away. No token ever appears in a message.
 */
public final class Credentials {
    private static final Logger log = LoggerFactory.getLogger(Credentials.class);
    /** 128 bits as hex or base64 is 22–32 characters: shorter tokens are guessable. */
    static final int MIN_TOKEN_LENGTH = 16;

    private record Token(byte[] digest, Role role) {}

    private final List<Token> tokens;
    private final Map<String, Role> subjects;
    private final boolean open;

    private Credentials(List<Token> tokens, Map<String, Role> subjects, boolean open) {
        this.tokens = tokens;
        this.subjects = subjects;
        this.open = open;
    }

    /** Every caller is an operator: for a loopback listener on a machine of one user. */
    public static Credentials none() {
        return new Credentials(List.of(), Map.of(), true);
    }

    /**
     * @param tokenFile lines {@code ROLE TOKEN} (role {@code operator} or {@code reader}); {@code #} starts a comment
     * @param subjects  roles of client-certificate subjects (RFC 2253 names); empty: every
     *                  certificate the client CA signed is an operator's
     */
    public static Credentials of(Optional<Path> tokenFile, Map<String, Role> subjects) throws IOException {
        List<Token> tokens = new ArrayList<>();
        if (tokenFile.isPresent()) {
            Path file = tokenFile.get();
            List<String> lines;
            try {
                lines = Files.readAllLines(file, StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new IOException("cannot read the token file " + file + ": " + e.getMessage(), e);
            }
            warnIfOthersCanRead(file);
            for (int i = 0; i < lines.size(); i++) {
                String line = lines.get(i).strip();
                if (line.isEmpty() || line.startsWith("#")) {
                    continue;
                }
                String[] parts = line.split("\\s+");
                if (parts.length != 2) {
                    throw new IllegalArgumentException("token file " + file + " line " + (i + 1) + ": expected 'ROLE TOKEN'");
                }
                Role role = Role.parse(parts[0]);
                if (parts[1].length() < MIN_TOKEN_LENGTH) {
                    throw new IllegalArgumentException("token file " + file + " line " + (i + 1) + ": a token needs at least "
                            + MIN_TOKEN_LENGTH + " characters (e.g. openssl rand -hex 32)");
                }
                tokens.add(new Token(sha256(parts[1]), role));
            }
            if (tokens.isEmpty()) {
                throw new IllegalArgumentException("token file " + file + " holds no token");
            }
        }
        Map<String, Role> normalized = new java.util.HashMap<>();
        subjects.forEach((subject, role) -> normalized.put(normalize(subject), role));
        return new Credentials(List.copyOf(tokens), normalized, false);
    }

    /** One spelling of a distinguished name (RFC 2253), whatever spaces or case of attribute names a user wrote. */
    static String normalize(String subject) {
        try {
            return new javax.security.auth.x500.X500Principal(subject).getName(javax.security.auth.x500.X500Principal.RFC2253);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("not a certificate subject (e.g. CN=scheduler,O=Example): " + subject, e);
        }
    }

    private static void warnIfOthersCanRead(Path file) {
        try {
            Set<PosixFilePermission> p = Files.getPosixFilePermissions(file);
            if (p.contains(PosixFilePermission.GROUP_READ) || p.contains(PosixFilePermission.OTHERS_READ)) {
                log.warn("token file {} is readable by other users; chmod 600 it", file);
            }
        } catch (IOException | UnsupportedOperationException e) {
            log.debug("cannot read the permissions of {}: {}", file, e.getMessage());
        }
    }

    boolean open() {
        return open;
    }

    boolean hasTokens() {
        return !tokens.isEmpty();
    }

    /** The role of a presented token; compares with every token, whatever matches first. */
    Optional<Role> roleOfToken(String presented) {
        byte[] digest = sha256(presented);
        Role found = null;
        for (Token t : tokens) {
            if (MessageDigest.isEqual(t.digest(), digest) && found == null) {
                found = t.role();
            }
        }
        return Optional.ofNullable(found);
    }

    /** The role of a verified client certificate's subject; empty if it has none here. */
    Optional<Role> roleOfSubject(String subject) {
        return subjects.isEmpty() ? Optional.of(Role.OPERATOR) : Optional.ofNullable(subjects.get(subject));
    }

    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }
}

package io.blockmover.nbd.esx.sdk;

import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.nio.charset.StandardCharsets;

/**
 * Users and logged-in sessions. A session is named by the {@code vmware_soap_session} cookie,
 * as on vCenter, and ends at Logout or after {@code idleTimeout} without a call.
 */
final class Sessions {
    static final String COOKIE = "vmware_soap_session";

    /** One logged-in session. */
    record Session(String key, String userName, Instant loginTime, Instant lastActive) {}

    private final Map<String, String> passwords;
    private final Duration idleTimeout;
    private final Clock clock;
    private final Map<String, Session> sessions = new ConcurrentHashMap<>();

    Sessions(Map<String, String> passwords, Duration idleTimeout, Clock clock) {
        this.passwords = Map.copyOf(passwords);
        this.idleTimeout = idleTimeout;
        this.clock = clock;
    }

    /** A new session for a right user name and password; InvalidLogin otherwise (without saying which was wrong). */
    Session login(String user, String password) throws SdkFault {
        String expected = passwords.get(user);
        // Compared in constant time, and compared even for an unknown user.
        boolean ok = MessageDigest.isEqual((expected == null ? "" : expected).getBytes(StandardCharsets.UTF_8),
                password.getBytes(StandardCharsets.UTF_8)) && expected != null;
        if (!ok) {
            throw SdkFault.invalidLogin();
        }
        Instant now = clock.instant();
        Session s = new Session(UUID.randomUUID().toString(), user, now, now);
        sessions.put(s.key(), s);
        return s;
    }

    /** The live session a request's Cookie header names, touched; NotAuthenticated when none or expired. */
    Session require(Optional<String> cookieHeader) throws SdkFault {
        Optional<String> key = cookieHeader.flatMap(Sessions::sessionKey);
        if (key.isEmpty()) {
            throw SdkFault.notAuthenticated();
        }
        Instant now = clock.instant();
        Session s = sessions.get(key.get());
        if (s == null) {
            throw SdkFault.notAuthenticated();
        }
        if (s.lastActive().plus(idleTimeout).isBefore(now)) {
            sessions.remove(s.key());
            throw SdkFault.notAuthenticated();
        }
        Session touched = new Session(s.key(), s.userName(), s.loginTime(), now);
        sessions.put(s.key(), touched);
        return touched;
    }

    void logout(Session s) {
        sessions.remove(s.key());
    }

    /** The Set-Cookie value for a session. */
    static String setCookie(Session s) {
        return COOKIE + "=\"" + s.key() + "\"; Path=/; HttpOnly; Secure";
    }

    /** The session key in a Cookie header such as {@code vmware_soap_session="…"; Path=/}. */
    static Optional<String> sessionKey(String cookieHeader) {
        for (String part : cookieHeader.split(";")) {
            String p = part.strip();
            if (p.startsWith(COOKIE + "=")) {
                String v = p.substring(COOKIE.length() + 1);
                if (v.length() >= 2 && v.startsWith("\"") && v.endsWith("\"")) {
                    v = v.substring(1, v.length() - 1);
                }
                return v.isEmpty() ? Optional.empty() : Optional.of(v);
            }
        }
        return Optional.empty();
    }
}

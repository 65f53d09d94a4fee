package io.blockmover.mover.api;

import io.blockmover.mover.api.v1.BackupProxyGrpc;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.health.v1.HealthGrpc;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.Optional;
import java.util.Set;

/**
 * Checks every call but health's: a bearer token ({@code authorization: Bearer TOKEN}) or a
 * verified client certificate names a role, and the method needs one. Without credentials a call
 * is UNAUTHENTICATED; with a role too small, PERMISSION_DENIED. A token presented is checked even
 * when a certificate came too: a wrong token is never rescued by the certificate.
 */
final class AuthInterceptor implements ServerInterceptor {
    private static final Logger log = LoggerFactory.getLogger(AuthInterceptor.class);
    private static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    private static final String BEARER = "bearer ";
    /** Calls of the proxy's own service that only read. */
    private static final Set<String> READER_METHODS = Set.of("ListBackups", "Stats", "Verify", "SubmitVerify", "WatchJob",
            "GetJob", "ListJobs", "ListExports");

    private final Credentials credentials;

    AuthInterceptor(Credentials credentials) {
        this.credentials = credentials;
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        String service = call.getMethodDescriptor().getServiceName();
        if (credentials.open() || HealthGrpc.SERVICE_NAME.equals(service)) {
            return next.startCall(call, headers);
        }
        String method = call.getMethodDescriptor().getBareMethodName();
        Role needed = !BackupProxyGrpc.SERVICE_NAME.equals(service) || READER_METHODS.contains(method) ? Role.READER : Role.OPERATOR;
        Status refusal = refusal(call, headers, needed, method);
        if (refusal != null) {
            log.warn("refused {} from {}: {}", call.getMethodDescriptor().getFullMethodName(),
                    call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR), refusal.getDescription());
            call.close(refusal, new Metadata());
            return new ServerCall.Listener<>() {};
        }
        return next.startCall(call, headers);
    }

    /** Why the call may not go on, or null if it may. */
    private Status refusal(ServerCall<?, ?> call, Metadata headers, Role needed, String method) {
        String authorization = headers.get(AUTHORIZATION);
        Role role;
        String who;
        if (authorization != null) {
            if (!authorization.regionMatches(true, 0, BEARER, 0, BEARER.length()) || !credentials.hasTokens()) {
                return Status.UNAUTHENTICATED.withDescription("this proxy takes 'authorization: Bearer TOKEN' only with a token it knows");
            }
            Optional<Role> r = credentials.roleOfToken(authorization.substring(BEARER.length()).strip());
            if (r.isEmpty()) {
                return Status.UNAUTHENTICATED.withDescription("unknown token");
            }
            role = r.get();
            who = "this token";
        } else {
            Optional<String> subject = clientSubject(call);
            if (subject.isEmpty()) {
                return Status.UNAUTHENTICATED.withDescription(
                        "no credentials: present a client certificate or 'authorization: Bearer TOKEN'");
            }
            Optional<Role> r = credentials.roleOfSubject(subject.get());
            if (r.isEmpty()) {
                return Status.PERMISSION_DENIED.withDescription("client certificate " + subject.get() + " has no role on this proxy");
            }
            role = r.get();
            who = "client certificate " + subject.get();
        }
        if (!role.allows(needed)) {
            return Status.PERMISSION_DENIED.withDescription(method + " needs the " + needed + " role; " + who + " has " + role);
        }
        return null;
    }

    /** The subject of the client certificate TLS verified, if the client sent one. */
    private static Optional<String> clientSubject(ServerCall<?, ?> call) {
        SSLSession session = call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
        if (session == null) {
            return Optional.empty();
        }
        try {
            Certificate[] chain = session.getPeerCertificates();
            return chain.length > 0 && chain[0] instanceof X509Certificate x
                    ? Optional.of(Credentials.normalize(x.getSubjectX500Principal().getName()))
                    : Optional.empty();
        } catch (SSLPeerUnverifiedException e) {
            return Optional.empty();
        }
    }
}

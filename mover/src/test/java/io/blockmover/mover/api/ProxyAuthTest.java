package io.blockmover.mover.api;

import io.blockmover.mover.api.v1.BackupProxyGrpc;
import io.blockmover.mover.api.v1.GcRequest;
import io.blockmover.mover.api.v1.JobRef;
import io.blockmover.mover.api.v1.JobState;
import io.blockmover.mover.api.v1.ListBackupsRequest;
import io.blockmover.mover.api.v1.ListJobsRequest;
import io.blockmover.mover.api.v1.PruneRequest;
import io.blockmover.mover.api.v1.RestoreRequest;
import io.blockmover.nbd.testing.TestCertificates;
import io.grpc.CallCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.reflection.v1.ServiceResponse;
import io.grpc.stub.StreamObserver;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Who may call the proxy over TLS: bearer tokens (two operator tokens, as during a rotation, and
 * a reader's) and a client certificate whose subject is a reader. Health answers anyone.
 */
class ProxyAuthTest {
    private static final String OPERATOR = "op-3f9c2a7d41e8b6051c";
    private static final String ROTATED = "op-new-8d1e4b7c2a9f3e60";
    private static final String READER = "rd-5a7e1c9b3d2f4068ae";

    @TempDir
    Path dir;

    private ProxyFixture fixture;
    private ProxyServer tls;
    private TestCertificates pki;
    private ManagedChannel noCertificate;
    private ManagedChannel withCertificate;

    @BeforeEach
    void start() throws Exception {
        fixture = new ProxyFixture(dir);
        pki = TestCertificates.create(dir.resolve("pki"));
        Path tokens = dir.resolve("tokens");
        Files.writeString(tokens, "# operator tokens, old and new, during a rotation\noperator " + OPERATOR + "\noperator " + ROTATED
                + "\nreader " + READER + "\n");
        tls = ProxyServer.start(new InetSocketAddress("127.0.0.1", 0), fixture.service,
                Optional.of(new ProxyServer.Tls(pki.serverCert(), pki.serverKey(), Optional.of(pki.caCert()))),
                Credentials.of(Optional.of(tokens), Map.of("CN=blockmover test client", Role.READER)));
        noCertificate = NettyChannelBuilder.forAddress("localhost", tls.address().getPort())
                .sslContext(GrpcSslContexts.forClient().trustManager(pki.caCert().toFile()).build()).build();
        withCertificate = NettyChannelBuilder.forAddress("localhost", tls.address().getPort())
                .sslContext(GrpcSslContexts.forClient().trustManager(pki.caCert().toFile())
                        .keyManager(pki.clientCert().toFile(), pki.clientKey().toFile()).build()).build();
    }

    @AfterEach
    void stop() throws Exception {
        noCertificate.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        withCertificate.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        tls.close();
        fixture.close();
    }

    private BackupProxyGrpc.BackupProxyBlockingStub as(String token) {
        return BackupProxyGrpc.newBlockingStub(noCertificate).withDeadlineAfter(30, TimeUnit.SECONDS).withCallCredentials(bearer(token));
    }

    static CallCredentials bearer(String token) {
        return new CallCredentials() {
            @Override
            public void applyRequestMetadata(RequestInfo info, Executor executor, MetadataApplier applier) {
                Metadata m = new Metadata();
                m.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
                applier.apply(m);
            }
        };
    }

    private static Status refusal(Runnable call) {
        return assertThrows(StatusRuntimeException.class, call::run).getStatus();
    }

    @Test
    void withoutCredentialsOnlyHealthAnswers() {
        HealthCheckResponse health = HealthGrpc.newBlockingStub(noCertificate).withDeadlineAfter(30, TimeUnit.SECONDS)
                .check(HealthCheckRequest.newBuilder().setService(BackupProxyGrpc.SERVICE_NAME).build());
        assertEquals(HealthCheckResponse.ServingStatus.SERVING, health.getStatus());
        var anonymous = BackupProxyGrpc.newBlockingStub(noCertificate).withDeadlineAfter(30, TimeUnit.SECONDS);
        Status none = refusal(() -> anonymous.listBackups(ListBackupsRequest.getDefaultInstance()));
        assertEquals(Status.Code.UNAUTHENTICATED, none.getCode(), none.toString());
        Status wrong = refusal(() -> as(OPERATOR + "x").listJobs(ListJobsRequest.getDefaultInstance()));
        assertEquals(Status.Code.UNAUTHENTICATED, wrong.getCode(), wrong.toString());
        assertFalse(wrong.getDescription().contains(OPERATOR), "a refusal never repeats a token");
        Status reflection = assertThrows(StatusRuntimeException.class, () -> services(null)).getStatus();
        assertEquals(Status.Code.UNAUTHENTICATED, reflection.getCode());
    }

    @Test
    void readersReadAndOperatorsChangeWithEitherTokenOfARotation() throws Exception {
        assertEquals(0, as(READER).listBackups(ListBackupsRequest.getDefaultInstance()).getBackupsCount());
        for (Runnable change : List.<Runnable>of(
                () -> as(READER).submitGc(GcRequest.getDefaultInstance()),
                () -> as(READER).submitPrune(PruneRequest.newBuilder().setKeepLast(1).build()),
                () -> as(READER).cancelJob(JobRef.newBuilder().setId("job-1").build()),
                () -> as(READER).submitRestore(RestoreRequest.newBuilder().setBackupId(1).setTarget("x.raw").build()))) {
            Status denied = refusal(change);
            assertEquals(Status.Code.PERMISSION_DENIED, denied.getCode(), denied.toString());
            assertTrue(denied.getDescription().contains("needs the operator role"), denied.toString());
        }
        for (String token : List.of(OPERATOR, ROTATED)) {
            String id = as(token).submitGc(GcRequest.getDefaultInstance()).getId();
            as(READER).watchJob(JobRef.newBuilder().setId(id).build()).forEachRemaining(j -> { });
            assertEquals(JobState.JOB_STATE_SUCCEEDED, as(READER).getJob(JobRef.newBuilder().setId(id).build()).getState());
        }
        List<String> names = services(bearer(READER));
        assertTrue(names.containsAll(List.of(BackupProxyGrpc.SERVICE_NAME, HealthGrpc.SERVICE_NAME)), names.toString());
    }

    @Test
    void aClientCertificateCarriesItsSubjectsRole() {
        var reader = BackupProxyGrpc.newBlockingStub(withCertificate).withDeadlineAfter(30, TimeUnit.SECONDS);
        assertEquals(0, reader.listJobs(ListJobsRequest.getDefaultInstance()).getJobsCount());
        Status denied = refusal(() -> reader.submitGc(GcRequest.getDefaultInstance()));
        assertEquals(Status.Code.PERMISSION_DENIED, denied.getCode(), denied.toString());
        assertTrue(denied.getDescription().contains("CN=blockmover test client"), denied.toString());
        // A token presented beside the certificate decides, and a wrong one is not rescued by the certificate.
        var both = reader.withCallCredentials(bearer(OPERATOR));
        assertFalse(both.submitGc(GcRequest.getDefaultInstance()).getId().isEmpty());
        Status wrong = refusal(() -> reader.withCallCredentials(bearer("not-a-token-of-this-proxy")).listJobs(ListJobsRequest.getDefaultInstance()));
        assertEquals(Status.Code.UNAUTHENTICATED, wrong.getCode());
    }

    /** The services server reflection lists, as grpcurl asks for them. */
    private List<String> services(CallCredentials credentials) throws Exception {
        CompletableFuture<List<String>> answer = new CompletableFuture<>();
        var stub = ServerReflectionGrpc.newStub(noCertificate).withDeadlineAfter(30, TimeUnit.SECONDS);
        StreamObserver<ServerReflectionRequest> requests = (credentials == null ? stub : stub.withCallCredentials(credentials))
                .serverReflectionInfo(new StreamObserver<>() {
                    @Override
                    public void onNext(ServerReflectionResponse r) {
                        answer.complete(r.getListServicesResponse().getServiceList().stream().map(ServiceResponse::getName).toList());
                    }

                    @Override
                    public void onError(Throwable t) {
                        answer.completeExceptionally(t);
                    }

                    @Override
                    public void onCompleted() {
                        answer.complete(List.of());
                    }
                });
        requests.onNext(ServerReflectionRequest.newBuilder().setListServices("").build());
        requests.onCompleted();
        try {
            return answer.get(30, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            throw (Exception) e.getCause();
        }
    }
}

package io.blockmover.mover.api;

import io.blockmover.index.repo.InitOptions;
import io.blockmover.index.repo.Repository;
import io.blockmover.mover.api.v1.BackupEvent;
import io.blockmover.mover.api.v1.BackupMode;
import io.blockmover.mover.api.v1.BackupProxyGrpc;
import io.blockmover.mover.api.v1.BackupRequest;
import io.blockmover.mover.api.v1.BackupResult;
import io.blockmover.mover.api.v1.DiskSource;
import io.blockmover.mover.pipeline.PipelineSettings;
import io.blockmover.mover.transport.nbd.NbdAccess;
import io.blockmover.nbd.esx.EsxSimulator;
import io.blockmover.nbd.esx.HostSpec;
import io.blockmover.nbd.esx.Profile;
import io.blockmover.nbd.esx.Snapshot;
import io.blockmover.nbd.esx.VirtualMachine;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the proxy tests share: an emulated host with one VM of one disk, a repository, and the
 * proxy serving it over loopback gRPC, restores allowed to write files inside the test's directory,
 * backups to read from loopback NBD servers and no restore to write to an NBD export.
 */
final class ProxyFixture implements AutoCloseable {
    static final long DISK = 32L << 20;
    private static final int CHUNK = 256 << 10;

    final EsxSimulator sim;
    final VirtualMachine vm;
    final Repository repo;
    final ProxyService service;
    final ManagedChannel channel;
    private final ProxyServer server;

    ProxyFixture(Path dir) throws Exception {
        this(dir, new HostSpec(11, 1, 1, DISK, Profile.MIXED, true), new JobLimits(2, 16, 8, 100), NbdAccess.DEFAULT);
    }

    /** The proxy with these limits over an emulated host of this shape; every caller an operator. */
    ProxyFixture(Path dir, HostSpec host, JobLimits limits, NbdAccess nbd) throws Exception {
        sim = EsxSimulator.start(EsxSimulator.Options.plain(host));
        Repository r = null;
        ProxyServer s = null;
        try {
            vm = sim.host().requireVm("vm01");
            r = Repository.init(dir.resolve("repo"), InitOptions.defaults().withChunkSize(CHUNK));
            service = new ProxyService(r, new PipelineSettings(16, 2, 2), nbd, limits, Optional.of(dir),
                    dir.resolve("jobs"), ProxyService.SnapshotRemover.NONE, SourcePolicy.of(List.of("127.0.0.1:*"), List.of()));
            s = ProxyServer.start(new InetSocketAddress("127.0.0.1", 0), service, Optional.empty(), Credentials.none());
        } catch (Exception | Error e) {
            if (r != null) {
                r.close();
            }
            sim.close();
            throw e;
        }
        repo = r;
        server = s;
        channel = NettyChannelBuilder.forAddress(server.address()).usePlaintext().build();
    }

    /** A blocking stub whose calls fail after {@code seconds} instead of hanging a broken test. */
    BackupProxyGrpc.BackupProxyBlockingStub stub(long seconds) {
        return BackupProxyGrpc.newBlockingStub(channel).withDeadlineAfter(seconds, TimeUnit.SECONDS);
    }

    String export(Snapshot s) {
        return "nbd://127.0.0.1:" + sim.nbdAddress().getPort() + "/vm01/disk-2000@" + s.name();
    }

    BackupRequest backupOf(Snapshot s, BackupMode mode) {
        return BackupRequest.newBuilder().setVm("vm01").setMode(mode).addDisks(DiskSource.newBuilder().setDisk("disk-2000")
                .setUri(export(s)).setChangeId(s.disks().getFirst().changeId().orElseThrow().toString())).build();
    }

    /** Runs a streaming backup to its end; the result is the last event. */
    static BackupResult backup(BackupProxyGrpc.BackupProxyBlockingStub stub, BackupRequest request) {
        List<BackupEvent> events = new ArrayList<>();
        stub.backup(request).forEachRemaining(events::add);
        assertTrue(events.getLast().hasResult(), events.toString());
        return events.getLast().getResult();
    }

    @Override
    public void close() throws Exception {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        server.close();
        repo.close();
        sim.close();
    }
}

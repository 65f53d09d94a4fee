package io.blockmover.mover.api;

import io.blockmover.index.repo.InitOptions;
import io.blockmover.index.repo.Repository;
import io.blockmover.mover.api.v1.BackupMode;
import io.blockmover.mover.api.v1.BackupProxyGrpc;
import io.blockmover.mover.api.v1.BackupRequest;
import io.blockmover.mover.api.v1.BackupResult;
import io.blockmover.mover.api.v1.DiskBackupResult;
import io.blockmover.mover.api.v1.DiskSource;
import io.blockmover.mover.pipeline.PipelineSettings;
import io.blockmover.mover.transport.nbd.NbdAccess;
import io.blockmover.mover.transport.vddk.TransportChoice;
import io.blockmover.mover.transport.vddk.VddkFixture;
import io.blockmover.mover.transport.vddk.VddkSettings;
import io.blockmover.nbd.esx.EsxSimulator;
import io.blockmover.nbd.esx.HostSpec;
import io.blockmover.nbd.esx.Profile;
import io.blockmover.nbd.esx.Snapshot;
import io.blockmover.nbd.esx.VirtualMachine;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The gRPC result says how each disk was read: VDDK and its mode, or NBD and why it fell back. */
class VddkProxyTest {

    @Test
    void theBackupResultNamesTheTransportAndMode(@TempDir Path dir) throws Exception {
        try (EsxSimulator sim = EsxSimulator.start(EsxSimulator.Options.plain(new HostSpec(3, 1, 1, 16L << 20, Profile.MIXED, true)));
             Repository repo = Repository.init(dir.resolve("repo"), InitOptions.defaults())) {
            VirtualMachine vm = sim.host().requireVm("vm01");
            VddkFixture vddk = new VddkFixture(sim, dir.resolve("fixture.conf"));
            Snapshot s1 = vm.createSnapshot("s1");
            vddk.write();
            VddkSettings settings = new VddkSettings(TransportChoice.VDDK, Optional.of(VddkFixture.libDir()), Optional.of(vddk.config()),
                    VddkSettings.DEFAULT_MODES, Optional.empty(), 2, true);
            try (ProxyService service = new ProxyService(repo, new PipelineSettings(16, 2, 2), NbdAccess.DEFAULT,
                         new JobLimits(1, 4, 8, 10), Optional.empty(), dir.resolve("jobs"), ProxyService.SnapshotRemover.NONE, settings,
                         SourcePolicy.of(List.of("127.0.0.1:*"), List.of()));
                 ProxyServer server = ProxyServer.start(new InetSocketAddress("127.0.0.1", 0), service, Optional.empty(),
                         Credentials.none())) {
                ManagedChannel channel = NettyChannelBuilder.forAddress(server.address()).usePlaintext().build();
                try {
                    BackupProxyGrpc.BackupProxyBlockingStub stub = BackupProxyGrpc.newBlockingStub(channel)
                            .withDeadlineAfter(60, TimeUnit.SECONDS);
                    DiskBackupResult viaVddk = only(ProxyFixture.backup(stub, request(vddk, vm, s1, "").setVddkModes("nbdssl:nbd").build()));
                    assertEquals("vddk", viaVddk.getTransport());
                    assertEquals("nbdssl", viaVddk.getTransportMode());
                    assertEquals("", viaVddk.getFallbackFromVddk());

                    vddk.refuse("nbd");
                    DiskBackupResult fellBack = only(ProxyFixture.backup(stub, request(vddk, vm, s1, vddk.nbdUri(vm, s1))
                            .setVddkModes("nbd").build()));
                    assertEquals("nbd", fellBack.getTransport());
                    assertTrue(fellBack.getFallbackFromVddk().contains("VIX_E_FILE_ACCESS_ERROR (13)"), fellBack.toString());
                } finally {
                    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
                }
            }
        }
    }

    private static BackupRequest.Builder request(VddkFixture vddk, VirtualMachine vm, Snapshot s, String fallback) {
        return BackupRequest.newBuilder().setVm("vm01").setMode(BackupMode.BACKUP_MODE_FULL).addDisks(DiskSource.newBuilder()
                .setDisk("disk-2000").setUri(vddk.uri(vm, s)).setNbdFallback(fallback)
                .setChangeId(s.disks().getFirst().changeId().orElseThrow().toString()));
    }

    private static DiskBackupResult only(BackupResult r) {
        assertEquals(1, r.getDisksCount(), r.toString());
        return r.getDisks(0);
    }
}

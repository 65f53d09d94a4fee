package io.blockmover.mover.transport;

import io.blockmover.mover.transport.nbd.NbdAccess;
import io.blockmover.mover.transport.vddk.ChangedAreas;
import io.blockmover.mover.transport.vddk.TransportChoice;
import io.blockmover.mover.transport.vddk.VddkDiskSource;
import io.blockmover.mover.transport.vddk.VddkDiskTarget;
import io.blockmover.mover.transport.vddk.VddkSettings;
import io.blockmover.mover.transport.vddk.VddkUri;
import io.blockmover.nativebridge.vddk.VddkUnavailableException;
import io.blockmover.nativebridge.vddk.VixException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.List;
import java.util.Optional;

/**
 * Picks the transport of each disk: VDDK for a vddk:// source (in the allowed modes, which VDDK
 * tries in order), falling back to the disk's NBD endpoint when VDDK is absent or no mode can
 * open the disk, unless the choice is {@code vddk-only}; the NBD client for an NBD URI.
 */
public record TransportSelection(NbdAccess nbd, VddkSettings vddk) {
    private static final Logger log = LoggerFactory.getLogger(TransportSelection.class);

    /** A source, opened, and how it was reached. */
    public record Opened(DiskSource source, TransportUsed used) {}

    /**
     * Opens one disk to back up.
     *
     * @param uri           vddk://..., or an NBD URI
     * @param nbdFallback   the same disk as an NBD export, for a vddk:// source
     * @param metaContexts  NBD meta contexts to ask for (changed areas), when NBD is used
     * @param changes       changed areas of a VDDK-read disk (VDDK cannot tell by itself)
     */
    public Opened openSource(String uri, Optional<String> nbdFallback, List<String> metaContexts,
                             Optional<ChangedAreas> changes) throws IOException {
        if (!VddkUri.isVddk(uri)) {
            if (vddk.choice() == TransportChoice.VDDK_ONLY) {
                throw new IllegalArgumentException("--transport vddk-only needs vddk:// sources, not " + uri);
            }
            return new Opened(nbd.openSource(uri, metaContexts), TransportUsed.NBD);
        }
        VddkUri v = VddkUri.parse(uri);
        if (vddk.choice() == TransportChoice.NBD) {
            String fallback = nbdFallback.orElseThrow(() -> new IllegalArgumentException(
                    "--transport nbd needs an NBD endpoint for " + uri + " (--nbd-fallback)"));
            return new Opened(nbd.openSource(fallback, metaContexts), TransportUsed.nbdFallback("--transport nbd"));
        }
        try {
            VddkDiskSource source = VddkDiskSource.open(v, vddk, changes);
            return new Opened(source, TransportUsed.vddk(source.mode()));
        } catch (VddkUnavailableException | VixException e) {
            String why = e.getMessage();
            if (vddk.choice() == TransportChoice.VDDK_ONLY || nbdFallback.isEmpty()) {
                throw new IOException("VDDK cannot open " + v.describe() + " in modes " + vddk.modes() + ": " + why
                        + (vddk.choice() == TransportChoice.VDDK_ONLY ? " (--transport vddk-only)" : " and no NBD endpoint to fall back to"),
                        e);
            }
            log.warn("VDDK cannot open {} in modes {}: {}; falling back to NBD {}", v.describe(), vddk.modes(), why, nbdFallback.get());
            return new Opened(nbd.openSource(nbdFallback.get(), metaContexts), TransportUsed.nbdFallback(why));
        }
    }

    /** Opens a restore target through VDDK (the live disk a vddk:// URI names). */
    public DiskTarget openVddkTarget(String uri, long capacity) throws IOException {
        VddkUri v = VddkUri.parse(uri);
        try {
            VddkDiskTarget target = VddkDiskTarget.open(v, vddk);
            if (target.capacity() < capacity) {
                target.close();
                throw new IOException(v.describe() + " holds " + target.capacity() + " bytes; the disk needs " + capacity);
            }
            log.info("restoring to {} through VDDK in mode {}", v.describe(), target.mode());
            return target;
        } catch (VddkUnavailableException | VixException e) {
            throw new IOException("VDDK cannot open " + v.describe() + " for writing: " + e.getMessage(), e);
        }
    }
}

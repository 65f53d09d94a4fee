package io.blockmover.mover.transport;

import java.util.Optional;

/**
 * How a disk was actually reached, for the job's result: the transport ({@code vddk} or
 * {@code nbd}), VDDK's mode when it was VDDK ({@code san}, {@code hotadd}, {@code nbdssl},
 * {@code nbd}), and why the job fell back to NBD when it did.
 */
public record TransportUsed(String transport, Optional<String> mode, Optional<String> fallbackReason) {
    public static final TransportUsed NBD = new TransportUsed("nbd", Optional.empty(), Optional.empty());

    public static TransportUsed vddk(String mode) {
        return new TransportUsed("vddk", Optional.of(mode), Optional.empty());
    }

    public static TransportUsed nbdFallback(String reason) {
        return new TransportUsed("nbd", Optional.empty(), Optional.of(reason));
    }

    /** One line: {@code vddk (mode nbdssl)} or {@code nbd (fell back from VDDK: ...)}. */
    public String describe() {
        return transport + mode.map(m -> " (mode " + m + ")").orElse("")
                + fallbackReason.map(r -> " (fell back from VDDK: " + r + ")").orElse("");
    }
}

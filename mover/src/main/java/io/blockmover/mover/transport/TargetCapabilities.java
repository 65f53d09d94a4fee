package io.blockmover.mover.transport;

/** Optional operations a {@link DiskTarget} offers natively. */
public record TargetCapabilities(boolean flush, boolean fua, boolean trim, boolean writeZeroes, boolean fastZero) {}

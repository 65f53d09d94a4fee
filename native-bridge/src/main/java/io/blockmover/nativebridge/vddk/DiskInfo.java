package io.blockmover.nativebridge.vddk;

import java.util.Optional;

/** VixDiskLib_GetInfo in bytes: capacity, sector sizes, adapter, link count, uuid, parent hint. */
public record DiskInfo(long capacity, int logicalSectorSize, int physicalSectorSize, int adapterType, int links,
                       Optional<String> uuid, Optional<String> parentHint) {}

package io.blockmover.nativebridge.vddk;

import java.lang.foreign.AddressLayout;
import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;

/**
 * The VixDiskLib structs of VDDK 7/8 on Linux x86-64 (natural alignment) as MemoryLayouts.
 * VixLayoutsTest compares every offset and size here with gcc's offsetof/sizeof of the same
 * declarations, so a wrong pad shows up as a failing test instead of corrupt memory.
 */
final class VixLayouts {
    private VixLayouts() {}

    static final AddressLayout C_STRING = ValueLayout.ADDRESS;

    /** {@code uid{userName,password}}, {@code sessionId{cookie,userName,key}} or {@code ticketId}: 24 bytes. */
    static final GroupLayout CREDS = MemoryLayout.unionLayout(
            MemoryLayout.structLayout(C_STRING.withName("userName"), C_STRING.withName("password")).withName("uid"),
            MemoryLayout.structLayout(C_STRING.withName("cookie"), C_STRING.withName("userName"), C_STRING.withName("key"))
                    .withName("sessionId"),
            ValueLayout.ADDRESS.withName("ticketId")).withName("creds");

    static final GroupLayout SPEC = MemoryLayout.unionLayout(
            MemoryLayout.structLayout(C_STRING.withName("id"), C_STRING.withName("datastoreMoRef"), C_STRING.withName("ssId"))
                    .withName("vStorageObjSpec")).withName("spec");

    static final StructLayout CONNECT_PARAMS = MemoryLayout.structLayout(
            C_STRING.withName("vmxSpec"),
            C_STRING.withName("serverName"),
            C_STRING.withName("thumbPrint"),
            ValueLayout.JAVA_LONG.withName("privateUse"),
            ValueLayout.JAVA_INT.withName("credType"),
            MemoryLayout.paddingLayout(4),
            CREDS,
            ValueLayout.JAVA_INT.withName("port"),
            ValueLayout.JAVA_INT.withName("nfcHostPort"),
            C_STRING.withName("vimApiVer"),
            MemoryLayout.sequenceLayout(8, ValueLayout.JAVA_BYTE).withName("reserved"),
            ValueLayout.ADDRESS.withName("state"),
            SPEC,
            ValueLayout.JAVA_INT.withName("specType"),
            MemoryLayout.paddingLayout(4)).withName("VixDiskLibConnectParams");

    static final StructLayout GEOMETRY = MemoryLayout.structLayout(
            ValueLayout.JAVA_INT.withName("cylinders"),
            ValueLayout.JAVA_INT.withName("heads"),
            ValueLayout.JAVA_INT.withName("sectors")).withName("VixDiskLibGeometry");

    static final StructLayout INFO = MemoryLayout.structLayout(
            GEOMETRY.withName("biosGeo"),
            GEOMETRY.withName("physGeo"),
            ValueLayout.JAVA_LONG.withName("capacity"),
            ValueLayout.JAVA_INT.withName("adapterType"),
            ValueLayout.JAVA_INT.withName("numLinks"),
            C_STRING.withName("parentFileNameHint"),
            C_STRING.withName("uuid"),
            ValueLayout.JAVA_INT.withName("logicalSectorSize"),
            ValueLayout.JAVA_INT.withName("physicalSectorSize")).withName("VixDiskLibInfo");

    static final StructLayout BLOCK = MemoryLayout.structLayout(
            ValueLayout.JAVA_LONG.withName("offset"),
            ValueLayout.JAVA_LONG.withName("length")).withName("VixDiskLibBlock");

    /** {@code {u32 numBlocks; Block blocks[]}}: the array starts at 8 (padding for the u64s). */
    static final StructLayout BLOCK_LIST_HEADER = MemoryLayout.structLayout(
            ValueLayout.JAVA_INT.withName("numBlocks"),
            MemoryLayout.paddingLayout(4)).withName("VixDiskLibBlockList");

    static final long BLOCK_LIST_BLOCKS = BLOCK_LIST_HEADER.byteSize();

    static long offset(MemoryLayout layout, String... path) {
        PathElement[] elements = new PathElement[path.length];
        for (int i = 0; i < path.length; i++) {
            elements[i] = PathElement.groupElement(path[i]);
        }
        return layout.byteOffset(elements);
    }
}

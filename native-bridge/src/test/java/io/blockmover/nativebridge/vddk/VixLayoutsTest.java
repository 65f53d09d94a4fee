package io.blockmover.nativebridge.vddk;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.MemoryLayout;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The Java layouts against gcc's own offsetof/sizeof of the same declarations (vddk-layout-probe). */
class VixLayoutsTest {

    @Test
    void layoutsMatchTheCompiler() throws IOException, InterruptedException {
        Map<String, Long> gcc = probe();
        assertEquals(128, gcc.get("VixDiskLibConnectParams"), "the probe itself disagrees with VDDK 7's size");
        assertEquals(gcc.get("VixDiskLibConnectParams"), VixLayouts.CONNECT_PARAMS.byteSize());
        for (String f : new String[] {"vmxSpec", "serverName", "thumbPrint", "privateUse", "credType", "port", "nfcHostPort",
                "vimApiVer", "state", "specType"}) {
            assertEquals(gcc.get("VixDiskLibConnectParams." + f), VixLayouts.offset(VixLayouts.CONNECT_PARAMS, f), f);
        }
        assertEquals(gcc.get("VixDiskLibConnectParams.creds.uid.userName"),
                VixLayouts.offset(VixLayouts.CONNECT_PARAMS, "creds", "uid", "userName"));
        assertEquals(gcc.get("VixDiskLibConnectParams.creds.uid.password"),
                VixLayouts.offset(VixLayouts.CONNECT_PARAMS, "creds", "uid", "password"));
        assertEquals(gcc.get("VixDiskLibConnectParams.spec.vStorageObjSpec.id"),
                VixLayouts.offset(VixLayouts.CONNECT_PARAMS, "spec", "vStorageObjSpec", "id"));

        assertEquals(gcc.get("VixDiskLibInfo"), VixLayouts.INFO.byteSize());
        for (String f : new String[] {"biosGeo", "physGeo", "capacity", "adapterType", "numLinks", "parentFileNameHint", "uuid",
                "logicalSectorSize", "physicalSectorSize"}) {
            assertEquals(gcc.get("VixDiskLibInfo." + f), VixLayouts.offset(VixLayouts.INFO, f), f);
        }
        assertEquals(gcc.get("VixDiskLibBlock"), VixLayouts.BLOCK.byteSize());
        assertEquals(gcc.get("VixDiskLibBlock.offset"), VixLayouts.offset(VixLayouts.BLOCK, "offset"));
        assertEquals(gcc.get("VixDiskLibBlock.length"), VixLayouts.offset(VixLayouts.BLOCK, "length"));
        assertEquals(gcc.get("VixDiskLibBlockList.numBlocks"), VixLayouts.offset(VixLayouts.BLOCK_LIST_HEADER, "numBlocks"));
        assertEquals(gcc.get("VixDiskLibBlockList.blocks"), VixLayouts.BLOCK_LIST_BLOCKS);
        assertEquals(8, sizeOf(VixLayouts.C_STRING));
    }

    private static long sizeOf(MemoryLayout l) {
        return l.byteSize();
    }

    private static Map<String, Long> probe() throws IOException, InterruptedException {
        Process p = new ProcessBuilder(System.getProperty("bm.vddkLayoutProbe", "target/vddk-layout-probe")).start();
        Map<String, Long> out = new HashMap<>();
        for (String line : new String(p.getInputStream().readAllBytes()).split("\n")) {
            String[] kv = line.trim().split(" ");
            out.put(kv[0], Long.parseLong(kv[1]));
        }
        assertEquals(0, p.waitFor());
        return out;
    }
}

/* Prints what gcc makes of the VixDiskLib declarations, one "name value" per line, for
   VixLayoutsTest to compare with the Java MemoryLayouts. */
#include <stddef.h>
#include <stdio.h>
#include "vddk_abi.h"

#define OFF(type, field) printf("%s.%s %zu\n", #type, #field, offsetof(type, field))
#define SIZE(type) printf("%s %zu\n", #type, sizeof(type))

int main(void)
{
    SIZE(VixDiskLibConnectParams);
    OFF(VixDiskLibConnectParams, vmxSpec);
    OFF(VixDiskLibConnectParams, serverName);
    OFF(VixDiskLibConnectParams, thumbPrint);
    OFF(VixDiskLibConnectParams, privateUse);
    OFF(VixDiskLibConnectParams, credType);
    OFF(VixDiskLibConnectParams, creds.uid.userName);
    OFF(VixDiskLibConnectParams, creds.uid.password);
    OFF(VixDiskLibConnectParams, port);
    OFF(VixDiskLibConnectParams, nfcHostPort);
    OFF(VixDiskLibConnectParams, vimApiVer);
    OFF(VixDiskLibConnectParams, state);
    OFF(VixDiskLibConnectParams, spec.vStorageObjSpec.id);
    OFF(VixDiskLibConnectParams, specType);
    SIZE(VixDiskLibInfo);
    OFF(VixDiskLibInfo, biosGeo);
    OFF(VixDiskLibInfo, physGeo);
    OFF(VixDiskLibInfo, capacity);
    OFF(VixDiskLibInfo, adapterType);
    OFF(VixDiskLibInfo, numLinks);
    OFF(VixDiskLibInfo, parentFileNameHint);
    OFF(VixDiskLibInfo, uuid);
    OFF(VixDiskLibInfo, logicalSectorSize);
    OFF(VixDiskLibInfo, physicalSectorSize);
    SIZE(VixDiskLibBlock);
    OFF(VixDiskLibBlock, offset);
    OFF(VixDiskLibBlock, length);
    OFF(VixDiskLibBlockList, numBlocks);
    OFF(VixDiskLibBlockList, blocks);
    return 0;
}

/*
 * The slice of the VixDiskLib 7/8 ABI (Linux x86-64) that blockmover binds, written from the
 * facts in docs/reference (natural alignment, Bool = char, VixError = uint64). The test fixture
 * implements these declarations and the layout probe prints their offsets, so the Java
 * MemoryLayouts are checked against what gcc makes of the same declarations.
 */
#ifndef BM_VDDK_ABI_H
#define BM_VDDK_ABI_H

#include <stdarg.h>
#include <stdint.h>

typedef uint64_t VixError;
typedef uint64_t VixDiskLibSectorType;
typedef char Bool;

#define VIX_OK 0
#define VIX_E_FAIL 1
#define VIX_E_OUT_OF_MEMORY 2
#define VIX_E_INVALID_ARG 3
#define VIX_E_FILE_NOT_FOUND 4
#define VIX_E_NOT_SUPPORTED 6
#define VIX_E_FILE_ERROR 7
#define VIX_E_FILE_READ_ONLY 11
#define VIX_E_FILE_ACCESS_ERROR 13
#define VIX_E_AUTHENTICATION_FAIL 35
#define VIX_E_HOST_NETWORK_CONN_REFUSED 14009
#define VIX_E_HOST_TCP_CONN_LOST 14011
#define VIX_E_DISK_INVAL 16000
#define VIX_E_DISK_OUTOFRANGE 16007
#define VIX_ASYNC 25000

#define VIXDISKLIB_SECTOR_SIZE 512
#define VIXDISKLIB_FLAG_OPEN_UNBUFFERED 1
#define VIXDISKLIB_FLAG_OPEN_SINGLE_LINK 2
#define VIXDISKLIB_FLAG_OPEN_READ_ONLY 4
#define VIXDISKLIB_MIN_CHUNK_SIZE 128
#define VIXDISKLIB_MAX_CHUNK_SIZE 131072
#define VIXDISKLIB_MAX_CHUNK_NUMBER 524288

typedef void VixDiskLibGenericLogFunc(const char *fmt, va_list args);
typedef void (*VixDiskLibCompletionCB)(void *cbData, VixError result);

typedef enum {
    VIXDISKLIB_CRED_UID = 1,
    VIXDISKLIB_CRED_SESSIONID = 2,
    VIXDISKLIB_CRED_TICKETID = 3,
    VIXDISKLIB_CRED_SSPI = 4,
    VIXDISKLIB_CRED_UNKNOWN = 256
} VixDiskLibCredType;

typedef enum {
    VIXDISKLIB_SPEC_VMX = 0,
    VIXDISKLIB_SPEC_VSTORAGE_OBJECT = 1,
    VIXDISKLIB_SPEC_UNKNOWN = 2
} VixDiskLibSpecType;

typedef struct {
    char *userName;
    char *password;
} VixDiskLibUidPasswdCreds;

typedef struct {
    char *cookie;
    char *userName;
    char *key;
} VixDiskLibSessionIdCreds;

typedef struct {
    char *id;
    char *datastoreMoRef;
    char *ssId;
} VixDiskLibVStorageObjectSpec;

typedef struct {
    char *vmxSpec;
    char *serverName;
    char *thumbPrint;
    long privateUse;
    VixDiskLibCredType credType;
    union {
        VixDiskLibUidPasswdCreds uid;
        VixDiskLibSessionIdCreds sessionId;
        void *ticketId;
    } creds;
    uint32_t port;
    uint32_t nfcHostPort;
    char *vimApiVer;
    char reserved[8];
    void *state;
    union {
        VixDiskLibVStorageObjectSpec vStorageObjSpec;
    } spec;
    VixDiskLibSpecType specType;
} VixDiskLibConnectParams;

typedef struct {
    uint32_t cylinders;
    uint32_t heads;
    uint32_t sectors;
} VixDiskLibGeometry;

typedef struct {
    VixDiskLibGeometry biosGeo;
    VixDiskLibGeometry physGeo;
    VixDiskLibSectorType capacity;
    int adapterType;
    int numLinks;
    char *parentFileNameHint;
    char *uuid;
    uint32_t logicalSectorSize;
    uint32_t physicalSectorSize;
} VixDiskLibInfo;

typedef struct {
    VixDiskLibSectorType offset;
    VixDiskLibSectorType length;
} VixDiskLibBlock;

typedef struct {
    uint32_t numBlocks;
    VixDiskLibBlock blocks[1];
} VixDiskLibBlockList;

typedef struct VixDiskLibConnectParamsOpaque *VixDiskLibConnection;
typedef struct VixDiskLibHandleStruct *VixDiskLibHandle;

#define VIXDISKLIB_ADAPTER_SCSI_LSILOGIC 3

#endif

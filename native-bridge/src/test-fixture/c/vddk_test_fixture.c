/*
 * blockmover's VDDK test fixture: a library with the symbols, signatures and struct layouts of
 * VixDiskLib (see vddk_abi.h) that serves the disks of blockmover's emulated ESX host. It is a
 * test fixture, not VMware's VDDK: every disk it opens is an NBD export of the emulated host,
 * reached through libnbd. It exists so that the FFM bridge is exercised against real native code
 * that behaves the way VDDK documents:
 *
 *  - I/O in 512-byte sectors; ReadAsync/WriteAsync answer VIX_ASYNC and call the completion
 *    callback later, from the handle's own I/O thread (never the caller's);
 *  - QueryAllocatedBlocks answers in chunks, from NBD block status (base:allocation);
 *  - transport modes are tried in the order asked; any mode can be refused by configuration to
 *    exercise failover;
 *  - errors carry VixDiskLib's codes and GetErrorText gives their texts;
 *  - messages go through the log/warning callbacks given to InitEx, with printf arguments.
 *
 * Configuration: the configFile given to InitEx (read again at every ConnectEx, so that a test
 * can change it between connections), lines "key = value":
 *    fixture.disk = <vm moref>|<snapshot moref or ->|<disk path>|<NBD export name>   (repeatable)
 *    fixture.refuseModes = san:hotadd                                                  (optional)
 * and the environment variable BLOCKMOVER_VDDK_FIXTURE_REFUSE_MODES (added to the file's list).
 * The NBD server is ConnectParams.serverName at ConnectParams.nfcHostPort (VDDK's data port).
 */
#define _GNU_SOURCE
#include "vddk_abi.h"

#include <errno.h>
#include <libnbd.h>
#include <poll.h>
#include <stddef.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define FIXTURE "vddk-test-fixture"
#define MODES "file:san:hotadd:nbdssl:nbd"
#define DEFAULT_MODES "san:hotadd:nbdssl:nbd"
/* One NBD request moves at most this much; bigger VixDiskLib requests are split. */
#define NBD_MAX_REQUEST (4u << 20)
#define MAX_DISKS 256

/* ---- library state (InitEx .. Exit) ---- */

static VixDiskLibGenericLogFunc *log_fn, *warn_fn, *panic_fn;
static char *config_path;
static int initialised;

static void say(VixDiskLibGenericLogFunc *fn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Calls a VDDK log callback with a real va_list, as VixDiskLib does. */
static void say(VixDiskLibGenericLogFunc *fn, const char *fmt, ...)
{
    if (fn == NULL) {
        return;
    }
    va_list args;
    va_start(args, fmt);
    fn(fmt, args);
    va_end(args);
}

#define LOG(...) say(log_fn, __VA_ARGS__)
#define WARN(...) say(warn_fn, __VA_ARGS__)

/* ---- configuration ---- */

struct disk_map {
    char *vm;
    char *snapshot; /* "-" for the live disk */
    char *path;
    char *export_name;
};

struct config {
    struct disk_map disks[MAX_DISKS];
    int ndisks;
    char refused[256];
};

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r')) {
        s[--n] = '\0';
    }
    return s;
}

static void config_free(struct config *c)
{
    for (int i = 0; i < c->ndisks; i++) {
        free(c->disks[i].vm);
        free(c->disks[i].snapshot);
        free(c->disks[i].path);
        free(c->disks[i].export_name);
    }
    free(c);
}

static struct config *config_read(void)
{
    struct config *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return NULL;
    }
    const char *env = getenv("BLOCKMOVER_VDDK_FIXTURE_REFUSE_MODES");
    if (env != NULL) {
        snprintf(c->refused, sizeof c->refused, "%s", env);
    }
    if (config_path == NULL) {
        return c;
    }
    FILE *f = fopen(config_path, "r");
    if (f == NULL) {
        WARN(FIXTURE ": cannot read config file %s: %s\n", config_path, strerror(errno));
        return c;
    }
    char line[4096];
    while (fgets(line, sizeof line, f) != NULL) {
        char *eq = strchr(line, '=');
        if (line[0] == '#' || eq == NULL) {
            continue;
        }
        *eq = '\0';
        char *key = trim(line), *value = trim(eq + 1);
        if (strcmp(key, "fixture.refuseModes") == 0) {
            size_t used = strlen(c->refused);
            snprintf(c->refused + used, sizeof c->refused - used, "%s%s", used ? ":" : "", value);
        } else if (strcmp(key, "fixture.disk") == 0 && c->ndisks < MAX_DISKS) {
            char *parts[4];
            char *rest = value;
            int n = 0;
            for (; n < 4 && rest != NULL; n++) {
                parts[n] = rest;
                char *bar = n < 3 ? strchr(rest, '|') : NULL;
                if (bar != NULL) {
                    *bar = '\0';
                    rest = bar + 1;
                } else {
                    rest = NULL;
                }
            }
            if (n != 4) {
                WARN(FIXTURE ": ignoring malformed fixture.disk line in %s\n", config_path);
                continue;
            }
            struct disk_map *d = &c->disks[c->ndisks++];
            d->vm = strdup(trim(parts[0]));
            d->snapshot = strdup(trim(parts[1]));
            d->path = strdup(trim(parts[2]));
            d->export_name = strdup(trim(parts[3]));
        }
    }
    fclose(f);
    return c;
}

static int mode_listed(const char *list, const char *mode)
{
    size_t n = strlen(mode);
    for (const char *p = list; p != NULL && *p != '\0';) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t) (colon - p) : strlen(p);
        if (len == n && strncmp(p, mode, n) == 0) {
            return 1;
        }
        p = colon ? colon + 1 : NULL;
    }
    return 0;
}

/* ---- errors ---- */

static const struct {
    unsigned code;
    const char *text;
} error_texts[] = {
    {VIX_OK, "The operation was successful"},
    {VIX_E_FAIL, "Unknown error"},
    {VIX_E_OUT_OF_MEMORY, "Memory allocation failed. Out of memory."},
    {VIX_E_INVALID_ARG, "One of the parameters was invalid"},
    {VIX_E_FILE_NOT_FOUND, "The file was not found"},
    {VIX_E_NOT_SUPPORTED, "The operation is not supported"},
    {VIX_E_FILE_ERROR, "A file access error occurred on the host or guest operating system"},
    {VIX_E_FILE_READ_ONLY, "The file is write-protected"},
    {VIX_E_FILE_ACCESS_ERROR, "Cannot access file"},
    {VIX_E_AUTHENTICATION_FAIL, "Authentication failed"},
    {VIX_E_HOST_NETWORK_CONN_REFUSED, "The server refused connection"},
    {VIX_E_HOST_TCP_CONN_LOST, "The network connection to the server was lost"},
    {VIX_E_DISK_INVAL, "One of the parameters supplied is invalid"},
    {VIX_E_DISK_OUTOFRANGE, "The sector is out of range"},
    {VIX_ASYNC, "Asynchronous operation pending"},
};

char *VixDiskLib_GetErrorText(VixError err, const char *locale)
{
    (void) locale;
    unsigned code = (unsigned) (err & 0xFFFF);
    for (size_t i = 0; i < sizeof error_texts / sizeof error_texts[0]; i++) {
        if (error_texts[i].code == code) {
            return strdup(error_texts[i].text);
        }
    }
    char buf[64];
    snprintf(buf, sizeof buf, "Unknown error %u", code);
    return strdup(buf);
}

void VixDiskLib_FreeErrorText(char *text)
{
    free(text);
}

/* An NBD errno as the VixError VDDK would give for it. */
static VixError vix_of_errno(int e)
{
    switch (e) {
    case 0:
        return VIX_OK;
    case ENOTCONN:
    case ESHUTDOWN:
    case ECONNRESET:
    case EPIPE:
        return VIX_E_HOST_TCP_CONN_LOST;
    case EROFS:
    case EPERM:
        return VIX_E_FILE_READ_ONLY;
    case EINVAL:
        return VIX_E_INVALID_ARG;
    case ENOMEM:
        return VIX_E_OUT_OF_MEMORY;
    default:
        return VIX_E_FILE_ERROR;
    }
}

/* ---- library lifecycle ---- */

VixError VixDiskLib_InitEx(uint32_t major, uint32_t minor, VixDiskLibGenericLogFunc *log,
                           VixDiskLibGenericLogFunc *warn, VixDiskLibGenericLogFunc *panic,
                           const char *libDir, const char *configFile)
{
    (void) libDir;
    if (initialised) {
        return VIX_OK; /* VDDK tolerates a second InitEx and keeps the first callbacks */
    }
    log_fn = log;
    warn_fn = warn;
    panic_fn = panic;
    free(config_path);
    config_path = configFile != NULL ? strdup(configFile) : NULL;
    initialised = 1;
    struct config *c = config_read();
    LOG(FIXTURE ": initialised for API %u.%u with %d disks from config file %s\n", major, minor,
        c ? c->ndisks : 0, configFile ? configFile : "(none)");
    if (c != NULL) {
        config_free(c);
    }
    return VIX_OK;
}

void VixDiskLib_Exit(void)
{
    LOG(FIXTURE ": exit\n");
    initialised = 0;
    free(config_path);
    config_path = NULL;
    log_fn = warn_fn = panic_fn = NULL;
}

const char *VixDiskLib_ListTransportModes(void)
{
    return MODES;
}

/* vMotion locks by VM moref; PrepareForAccess/EndAccess only record and log them. */
static pthread_mutex_t access_lock = PTHREAD_MUTEX_INITIALIZER;
static int access_count;

static VixError check_params(const VixDiskLibConnectParams *p)
{
    if (p == NULL || p->serverName == NULL || p->vmxSpec == NULL || strncmp(p->vmxSpec, "moref=", 6) != 0) {
        return VIX_E_INVALID_ARG;
    }
    return VIX_OK;
}

VixError VixDiskLib_PrepareForAccess(const VixDiskLibConnectParams *params, const char *identity)
{
    VixError err = check_params(params);
    if (err != VIX_OK || identity == NULL || strlen(identity) > 50) {
        return VIX_E_INVALID_ARG;
    }
    pthread_mutex_lock(&access_lock);
    access_count++;
    pthread_mutex_unlock(&access_lock);
    LOG(FIXTURE ": PrepareForAccess %s by %s (relocation disabled)\n", params->vmxSpec + 6, identity);
    return VIX_OK;
}

VixError VixDiskLib_EndAccess(const VixDiskLibConnectParams *params, const char *identity)
{
    VixError err = check_params(params);
    if (err != VIX_OK || identity == NULL) {
        return VIX_E_INVALID_ARG;
    }
    pthread_mutex_lock(&access_lock);
    access_count--;
    pthread_mutex_unlock(&access_lock);
    LOG(FIXTURE ": EndAccess %s by %s (relocation enabled)\n", params->vmxSpec + 6, identity);
    return VIX_OK;
}

VixError VixDiskLib_Cleanup(const VixDiskLibConnectParams *params, uint32_t *cleaned, uint32_t *remaining)
{
    (void) params;
    if (cleaned != NULL) {
        *cleaned = 0;
    }
    if (remaining != NULL) {
        *remaining = 0;
    }
    return VIX_OK;
}

/* ---- connections ---- */

struct connection {
    char *server;
    uint32_t port;
    char *vm;
    char *snapshot;
    char *modes;
    int read_only;
    struct config *config;
};

VixError VixDiskLib_ConnectEx(const VixDiskLibConnectParams *params, Bool readOnly, const char *snapshotRef,
                              const char *transportModes, VixDiskLibConnection *out)
{
    if (!initialised) {
        return VIX_E_FAIL;
    }
    if (out == NULL || check_params(params) != VIX_OK) {
        return VIX_E_INVALID_ARG;
    }
    struct connection *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return VIX_E_OUT_OF_MEMORY;
    }
    c->server = strdup(params->serverName);
    c->port = params->nfcHostPort != 0 ? params->nfcHostPort : 10809;
    c->vm = strdup(params->vmxSpec + 6);
    c->snapshot = strdup(snapshotRef != NULL && *snapshotRef != '\0' ? snapshotRef : "-");
    c->modes = strdup(transportModes != NULL ? transportModes : DEFAULT_MODES);
    c->read_only = readOnly != 0;
    c->config = config_read();
    if (c->config == NULL) {
        free(c->server), free(c->vm), free(c->snapshot), free(c->modes), free(c);
        return VIX_E_OUT_OF_MEMORY;
    }
    LOG(FIXTURE ": connected to %s:%u for VM %s snapshot %s (%s), modes %s\n", c->server, c->port, c->vm,
        c->snapshot, c->read_only ? "read-only" : "read-write", c->modes);
    *out = (VixDiskLibConnection) c;
    return VIX_OK;
}

VixError VixDiskLib_Disconnect(VixDiskLibConnection connection)
{
    struct connection *c = (struct connection *) connection;
    if (c == NULL) {
        return VIX_E_INVALID_ARG;
    }
    free(c->server), free(c->vm), free(c->snapshot), free(c->modes);
    config_free(c->config);
    free(c);
    return VIX_OK;
}

/* ---- disk handles: one I/O thread per handle owns the libnbd handle ---- */

enum op_kind { OP_READ, OP_WRITE, OP_FLUSH, OP_STATUS };

struct handle;

/* One VixDiskLib request; split into NBD commands of at most NBD_MAX_REQUEST. */
struct op {
    enum op_kind kind;
    uint8_t *buf;
    uint64_t offset; /* bytes */
    uint64_t length;
    uint64_t submitted; /* bytes already sent as NBD commands */
    unsigned outstanding;
    int error; /* first errno seen */
    VixDiskLibCompletionCB cb;
    void *cb_data;
    /* synchronous callers wait on done */
    int done;
    VixError result;
    /* block status: allocated byte ranges as pairs, grown as extents arrive */
    uint64_t *ranges;
    size_t nranges, cap;
    uint64_t status_end;
    struct handle *h;
    struct op *next;
};

struct handle {
    struct nbd_handle *nbd;
    const char *mode;
    uint64_t size;
    int read_only;
    char *path;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    struct op *queue_head, *queue_tail;
    unsigned pending; /* ops accepted and not yet completed */
    int stopping;
    int wake_fd;
};

static void op_finish(struct op *op);

static int on_command_done(void *user_data, int *error)
{
    struct op *op = user_data;
    if (*error != 0 && op->error == 0) {
        op->error = *error;
    }
    op->outstanding--;
    if (op->outstanding == 0 && op->submitted == op->length) {
        op_finish(op);
    }
    return 1; /* retire the command */
}

static int on_extent(void *user_data, const char *context, uint64_t offset, uint32_t *entries, size_t n, int *error)
{
    struct op *op = user_data;
    (void) context;
    (void) error;
    uint64_t at = offset;
    for (size_t i = 0; i + 1 < n; i += 2) {
        uint64_t len = entries[i];
        int hole = (entries[i + 1] & LIBNBD_STATE_HOLE) != 0;
        if (!hole) {
            if (op->nranges > 0 && op->ranges[2 * op->nranges - 1] == at) {
                op->ranges[2 * op->nranges - 1] = at + len;
            } else {
                if (op->nranges == op->cap) {
                    size_t cap = op->cap ? op->cap * 2 : 64;
                    uint64_t *grown = realloc(op->ranges, cap * 2 * sizeof *grown);
                    if (grown == NULL) {
                        op->error = ENOMEM;
                        return -1;
                    }
                    op->ranges = grown;
                    op->cap = cap;
                }
                op->ranges[2 * op->nranges] = at;
                op->ranges[2 * op->nranges + 1] = at + len;
                op->nranges++;
            }
        }
        at += len;
    }
    if (at > op->status_end) {
        op->status_end = at;
    }
    return 0;
}

/* Sends as many NBD commands of op as fit; returns -1 when libnbd refused one. */
static int op_submit(struct handle *h, struct op *op)
{
    if (op->kind == OP_FLUSH) {
        op->submitted = op->length;
        op->outstanding++;
        nbd_completion_callback done = {.callback = on_command_done, .user_data = op};
        if (nbd_aio_flush(h->nbd, done, 0) == -1) {
            op->outstanding--;
            return -1;
        }
        return 0;
    }
    if (op->kind == OP_STATUS) {
        /* one command at a time: the server may answer less than asked, so resume from where it stopped */
        uint64_t at = op->status_end;
        uint64_t n = op->offset + op->length - at;
        if (n > (1u << 30)) {
            n = 1u << 30;
        }
        op->outstanding++;
        nbd_extent_callback ext = {.callback = on_extent, .user_data = op};
        nbd_completion_callback done = {.callback = on_command_done, .user_data = op};
        if (nbd_aio_block_status(h->nbd, n, at, ext, done, 0) == -1) {
            op->outstanding--;
            return -1;
        }
        op->submitted = op->length; /* op_finish resubmits while status_end < end */
        return 0;
    }
    while (op->submitted < op->length) {
        uint64_t n = op->length - op->submitted;
        if (n > NBD_MAX_REQUEST) {
            n = NBD_MAX_REQUEST;
        }
        nbd_completion_callback done = {.callback = on_command_done, .user_data = op};
        op->outstanding++;
        int64_t r = op->kind == OP_READ
            ? nbd_aio_pread(h->nbd, op->buf + op->submitted, n, op->offset + op->submitted, done, 0)
            : nbd_aio_pwrite(h->nbd, op->buf + op->submitted, n, op->offset + op->submitted, done, 0);
        if (r == -1) {
            op->outstanding--;
            return -1;
        }
        op->submitted += n;
    }
    return 0;
}

/* Runs on the I/O thread once every NBD command of op has completed. */
static void op_finish(struct op *op)
{
    struct handle *h = op->h;
    if (op->kind == OP_STATUS && op->error == 0 && op->status_end < op->offset + op->length) {
        /* The server answered part of the range; libnbd may not be called from its own callback,
           so the I/O thread sends the next command from its queue (the op stays pending). */
        pthread_mutex_lock(&h->lock);
        op->next = h->queue_head;
        h->queue_head = op;
        if (h->queue_tail == NULL) {
            h->queue_tail = op;
        }
        pthread_mutex_unlock(&h->lock);
        return;
    }
    VixError result = vix_of_errno(op->error);
    if (op->error != 0) {
        WARN(FIXTURE ": %s of %llu bytes at offset %llu on %s failed: %s\n",
             op->kind == OP_READ ? "read" : op->kind == OP_WRITE ? "write" : op->kind == OP_FLUSH ? "flush" : "block status",
             (unsigned long long) op->length, (unsigned long long) op->offset, h->path, strerror(op->error));
    }
    if (op->cb != NULL) {
        VixDiskLibCompletionCB cb = op->cb;
        void *data = op->cb_data;
        free(op);
        cb(data, result);
        pthread_mutex_lock(&h->lock);
        h->pending--;
        pthread_cond_broadcast(&h->changed);
        pthread_mutex_unlock(&h->lock);
    } else {
        pthread_mutex_lock(&h->lock);
        op->result = result;
        op->done = 1;
        h->pending--;
        pthread_cond_broadcast(&h->changed);
        pthread_mutex_unlock(&h->lock);
    }
}

static void *io_thread(void *arg)
{
    struct handle *h = arg;
    for (;;) {
        pthread_mutex_lock(&h->lock);
        struct op *ops = h->queue_head;
        h->queue_head = h->queue_tail = NULL;
        int stop = h->stopping && ops == NULL && h->pending == 0;
        pthread_mutex_unlock(&h->lock);
        if (stop) {
            return NULL;
        }
        while (ops != NULL) {
            struct op *op = ops;
            ops = ops->next;
            if (op_submit(h, op) == -1) {
                op->error = nbd_get_errno() ? nbd_get_errno() : EIO;
                WARN(FIXTURE ": libnbd refused a command on %s: %s\n", h->path, nbd_get_error());
                if (op->outstanding == 0) {
                    op->submitted = op->length;
                    op_finish(op);
                } else {
                    op->submitted = op->length; /* the rest completes through on_command_done */
                }
            }
        }
        struct pollfd fds[2] = {{.fd = h->wake_fd, .events = POLLIN}, {.fd = nbd_aio_get_fd(h->nbd)}};
        unsigned dir = nbd_aio_get_direction(h->nbd);
        fds[1].events = ((dir & LIBNBD_AIO_DIRECTION_READ) ? POLLIN : 0) | ((dir & LIBNBD_AIO_DIRECTION_WRITE) ? POLLOUT : 0);
        int nfds = fds[1].fd >= 0 ? 2 : 1;
        if (poll(fds, nfds, -1) == -1 && errno != EINTR) {
            continue;
        }
        if (fds[0].revents & POLLIN) {
            uint64_t v;
            if (read(h->wake_fd, &v, sizeof v) < 0) {
                /* nothing to do: the counter is only a wake-up */
            }
        }
        if (nfds == 2) {
            if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
                nbd_aio_notify_read(h->nbd);
            } else if (fds[1].revents & POLLOUT) {
                nbd_aio_notify_write(h->nbd);
            }
        }
    }
}

static void enqueue(struct handle *h, struct op *op)
{
    op->h = h;
    pthread_mutex_lock(&h->lock);
    op->next = NULL;
    if (h->queue_tail != NULL) {
        h->queue_tail->next = op;
    } else {
        h->queue_head = op;
    }
    h->queue_tail = op;
    h->pending++;
    pthread_mutex_unlock(&h->lock);
    uint64_t one = 1;
    if (write(h->wake_fd, &one, sizeof one) < 0) {
        /* an eventfd write fails only when the counter would overflow: the thread is awake anyway */
    }
}

/* Runs op on the I/O thread and waits for it; returns its result. */
static VixError run_sync(struct handle *h, struct op *op)
{
    enqueue(h, op);
    pthread_mutex_lock(&h->lock);
    while (!op->done) {
        pthread_cond_wait(&h->changed, &h->lock);
    }
    pthread_mutex_unlock(&h->lock);
    return op->result;
}

static struct disk_map *find_disk(struct connection *c, const char *path)
{
    for (int i = 0; i < c->config->ndisks; i++) {
        struct disk_map *d = &c->config->disks[i];
        if (strcmp(d->vm, c->vm) == 0 && strcmp(d->snapshot, c->snapshot) == 0 && strcmp(d->path, path) == 0) {
            return d;
        }
    }
    return NULL;
}

static const char *const known_modes[] = {"file", "san", "hotadd", "nbdssl", "nbd"};

VixError VixDiskLib_Open(const VixDiskLibConnection connection, const char *path, uint32_t flags, VixDiskLibHandle *out)
{
    struct connection *c = (struct connection *) connection;
    if (c == NULL || path == NULL || out == NULL) {
        return VIX_E_INVALID_ARG;
    }
    struct disk_map *d = find_disk(c, path);
    if (d == NULL) {
        WARN(FIXTURE ": no disk %s in VM %s snapshot %s\n", path, c->vm, c->snapshot);
        return VIX_E_FILE_NOT_FOUND;
    }
    int read_only = c->read_only || (flags & VIXDISKLIB_FLAG_OPEN_READ_ONLY);
    const char *mode = NULL;
    struct nbd_handle *nbd = NULL;
    VixError last = VIX_E_FILE_ACCESS_ERROR;
    /* Try the asked modes in their order, as VDDK does. */
    for (const char *p = c->modes; p != NULL && *p != '\0' && mode == NULL;) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t) (colon - p) : strlen(p);
        const char *candidate = NULL;
        for (size_t i = 0; i < sizeof known_modes / sizeof known_modes[0]; i++) {
            if (strlen(known_modes[i]) == len && strncmp(known_modes[i], p, len) == 0) {
                candidate = known_modes[i];
            }
        }
        p = colon ? colon + 1 : NULL;
        if (candidate == NULL || strcmp(candidate, "file") == 0) {
            continue; /* "file" is for local vmdk files, which the fixture has none of */
        }
        if (mode_listed(c->config->refused, candidate)) {
            WARN(FIXTURE ": cannot use mode %s to access %s: refused by the fixture's configuration\n", candidate, path);
            continue;
        }
        nbd = nbd_create();
        if (nbd == NULL) {
            return VIX_E_OUT_OF_MEMORY;
        }
        char port[16];
        snprintf(port, sizeof port, "%u", c->port);
        if (nbd_set_export_name(nbd, d->export_name) == -1 || nbd_add_meta_context(nbd, LIBNBD_CONTEXT_BASE_ALLOCATION) == -1
            || nbd_connect_tcp(nbd, c->server, port) == -1) {
            WARN(FIXTURE ": mode %s cannot reach %s:%s export %s: %s\n", candidate, c->server, port, d->export_name,
                 nbd_get_error());
            last = VIX_E_HOST_NETWORK_CONN_REFUSED;
            nbd_close(nbd);
            nbd = NULL;
            continue;
        }
        mode = candidate;
    }
    if (mode == NULL) {
        WARN(FIXTURE ": no transport mode among %s can open %s\n", c->modes, path);
        return last;
    }
    int64_t size = nbd_get_size(nbd);
    if (size < 0 || (!read_only && nbd_is_read_only(nbd) == 1)) {
        nbd_close(nbd);
        return size < 0 ? VIX_E_FAIL : VIX_E_FILE_READ_ONLY;
    }
    struct handle *h = calloc(1, sizeof *h);
    if (h == NULL) {
        nbd_close(nbd);
        return VIX_E_OUT_OF_MEMORY;
    }
    h->nbd = nbd;
    h->mode = mode;
    h->size = (uint64_t) size;
    h->read_only = read_only;
    h->path = strdup(path);
    h->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->changed, NULL);
    if (h->wake_fd < 0 || pthread_create(&h->thread, NULL, io_thread, h) != 0) {
        if (h->wake_fd >= 0) {
            close(h->wake_fd);
        }
        nbd_close(nbd);
        free(h->path);
        free(h);
        return VIX_E_FAIL;
    }
    LOG(FIXTURE ": opened %s (export %s, %llu sectors) with transport mode %s\n", path, d->export_name,
        (unsigned long long) (h->size / VIXDISKLIB_SECTOR_SIZE), mode);
    *out = (VixDiskLibHandle) h;
    return VIX_OK;
}

VixError VixDiskLib_Wait(VixDiskLibHandle handle)
{
    struct handle *h = (struct handle *) handle;
    if (h == NULL) {
        return VIX_E_INVALID_ARG;
    }
    pthread_mutex_lock(&h->lock);
    while (h->pending > 0) {
        pthread_cond_wait(&h->changed, &h->lock);
    }
    pthread_mutex_unlock(&h->lock);
    return VIX_OK;
}

VixError VixDiskLib_Close(VixDiskLibHandle handle)
{
    struct handle *h = (struct handle *) handle;
    if (h == NULL) {
        return VIX_E_INVALID_ARG;
    }
    VixDiskLib_Wait(handle);
    pthread_mutex_lock(&h->lock);
    h->stopping = 1;
    pthread_mutex_unlock(&h->lock);
    uint64_t one = 1;
    if (write(h->wake_fd, &one, sizeof one) < 0) {
        /* see enqueue */
    }
    pthread_join(h->thread, NULL);
    nbd_shutdown(h->nbd, 0);
    nbd_close(h->nbd);
    close(h->wake_fd);
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->changed);
    free(h->path);
    free(h);
    return VIX_OK;
}

VixError VixDiskLib_GetInfo(VixDiskLibHandle handle, VixDiskLibInfo **info)
{
    struct handle *h = (struct handle *) handle;
    if (h == NULL || info == NULL) {
        return VIX_E_INVALID_ARG;
    }
    VixDiskLibInfo *i = calloc(1, sizeof *i);
    if (i == NULL) {
        return VIX_E_OUT_OF_MEMORY;
    }
    i->capacity = h->size / VIXDISKLIB_SECTOR_SIZE;
    i->biosGeo.heads = i->physGeo.heads = 255;
    i->biosGeo.sectors = i->physGeo.sectors = 63;
    i->biosGeo.cylinders = i->physGeo.cylinders = (uint32_t) (i->capacity / (255 * 63));
    i->adapterType = VIXDISKLIB_ADAPTER_SCSI_LSILOGIC;
    i->numLinks = 1;
    i->parentFileNameHint = NULL;
    i->uuid = strdup("60 00 C2 9b 1c 2d 3e 4f-50 61 72 83 94 a5 b6 c7");
    i->logicalSectorSize = VIXDISKLIB_SECTOR_SIZE;
    i->physicalSectorSize = VIXDISKLIB_SECTOR_SIZE;
    *info = i;
    return VIX_OK;
}

void VixDiskLib_FreeInfo(VixDiskLibInfo *info)
{
    if (info != NULL) {
        free(info->parentFileNameHint);
        free(info->uuid);
        free(info);
    }
}

const char *VixDiskLib_GetTransportMode(VixDiskLibHandle handle)
{
    struct handle *h = (struct handle *) handle;
    return h != NULL ? h->mode : NULL;
}

static VixError check_io(struct handle *h, VixDiskLibSectorType start, VixDiskLibSectorType n, const void *buf, int write)
{
    if (h == NULL || buf == NULL) {
        return VIX_E_INVALID_ARG;
    }
    if (write && h->read_only) {
        return VIX_E_FILE_READ_ONLY;
    }
    uint64_t sectors = h->size / VIXDISKLIB_SECTOR_SIZE;
    if (start > sectors || n > sectors - start) {
        return VIX_E_DISK_OUTOFRANGE;
    }
    return VIX_OK;
}

static struct op *new_io(enum op_kind kind, VixDiskLibSectorType start, VixDiskLibSectorType n, const uint8_t *buf)
{
    struct op *op = calloc(1, sizeof *op);
    if (op != NULL) {
        op->kind = kind;
        op->buf = (uint8_t *) buf;
        op->offset = start * VIXDISKLIB_SECTOR_SIZE;
        op->length = n * VIXDISKLIB_SECTOR_SIZE;
    }
    return op;
}

static VixError sync_io(struct handle *h, enum op_kind kind, VixDiskLibSectorType start, VixDiskLibSectorType n,
                        const uint8_t *buf)
{
    VixError err = check_io(h, start, n, buf, kind == OP_WRITE);
    if (err != VIX_OK || n == 0) {
        return err;
    }
    struct op *op = new_io(kind, start, n, buf);
    if (op == NULL) {
        return VIX_E_OUT_OF_MEMORY;
    }
    err = run_sync(h, op);
    free(op);
    return err;
}

static VixError async_io(struct handle *h, enum op_kind kind, VixDiskLibSectorType start, VixDiskLibSectorType n,
                         const uint8_t *buf, VixDiskLibCompletionCB cb, void *data)
{
    VixError err = check_io(h, start, n, buf, kind == OP_WRITE);
    if (err != VIX_OK) {
        return err;
    }
    if (cb == NULL || n == 0) {
        return VIX_E_INVALID_ARG;
    }
    struct op *op = new_io(kind, start, n, buf);
    if (op == NULL) {
        return VIX_E_OUT_OF_MEMORY;
    }
    op->cb = cb;
    op->cb_data = data;
    enqueue(h, op);
    return VIX_ASYNC;
}

VixError VixDiskLib_Read(VixDiskLibHandle handle, VixDiskLibSectorType start, VixDiskLibSectorType n, uint8_t *buf)
{
    return sync_io((struct handle *) handle, OP_READ, start, n, buf);
}

VixError VixDiskLib_Write(VixDiskLibHandle handle, VixDiskLibSectorType start, VixDiskLibSectorType n, const uint8_t *buf)
{
    return sync_io((struct handle *) handle, OP_WRITE, start, n, buf);
}

VixError VixDiskLib_ReadAsync(VixDiskLibHandle handle, VixDiskLibSectorType start, VixDiskLibSectorType n,
                              uint8_t *buf, VixDiskLibCompletionCB cb, void *data)
{
    return async_io((struct handle *) handle, OP_READ, start, n, buf, cb, data);
}

VixError VixDiskLib_WriteAsync(VixDiskLibHandle handle, VixDiskLibSectorType start, VixDiskLibSectorType n,
                               const uint8_t *buf, VixDiskLibCompletionCB cb, void *data)
{
    return async_io((struct handle *) handle, OP_WRITE, start, n, buf, cb, data);
}

VixError VixDiskLib_Flush(VixDiskLibHandle handle)
{
    struct handle *h = (struct handle *) handle;
    if (h == NULL) {
        return VIX_E_INVALID_ARG;
    }
    VixDiskLib_Wait(handle);
    if (h->read_only) {
        return VIX_OK;
    }
    struct op *op = calloc(1, sizeof *op);
    if (op == NULL) {
        return VIX_E_OUT_OF_MEMORY;
    }
    op->kind = OP_FLUSH;
    VixError err = run_sync(h, op);
    free(op);
    return err;
}

VixError VixDiskLib_QueryAllocatedBlocks(VixDiskLibHandle handle, VixDiskLibSectorType start,
                                         VixDiskLibSectorType numSectors, VixDiskLibSectorType chunkSize,
                                         VixDiskLibBlockList **out)
{
    struct handle *h = (struct handle *) handle;
    if (h == NULL || out == NULL) {
        return VIX_E_INVALID_ARG;
    }
    uint64_t sectors = h->size / VIXDISKLIB_SECTOR_SIZE;
    if (chunkSize < VIXDISKLIB_MIN_CHUNK_SIZE || chunkSize > VIXDISKLIB_MAX_CHUNK_SIZE || start % chunkSize != 0
        || numSectors == 0 || start > sectors || numSectors > sectors - start
        || (numSectors % chunkSize != 0 && start + numSectors != sectors)
        || (numSectors + chunkSize - 1) / chunkSize > VIXDISKLIB_MAX_CHUNK_NUMBER) {
        return VIX_E_INVALID_ARG;
    }
    struct op *op = calloc(1, sizeof *op);
    if (op == NULL) {
        return VIX_E_OUT_OF_MEMORY;
    }
    op->kind = OP_STATUS;
    op->offset = start * VIXDISKLIB_SECTOR_SIZE;
    op->length = numSectors * VIXDISKLIB_SECTOR_SIZE;
    op->status_end = op->offset;
    VixError err = run_sync(h, op);
    if (err != VIX_OK) {
        free(op->ranges);
        free(op);
        return err;
    }
    /* Round every allocated range out to whole chunks and merge the chunks that touch. */
    size_t max = op->nranges > 0 ? op->nranges : 1;
    VixDiskLibBlockList *list = malloc(offsetof(VixDiskLibBlockList, blocks) + max * sizeof(VixDiskLibBlock));
    if (list == NULL) {
        free(op->ranges);
        free(op);
        return VIX_E_OUT_OF_MEMORY;
    }
    uint32_t n = 0;
    uint64_t chunk = chunkSize * VIXDISKLIB_SECTOR_SIZE, end = op->offset + op->length;
    for (size_t i = 0; i < op->nranges; i++) {
        uint64_t from = op->ranges[2 * i] / chunk * chunk;
        uint64_t to = (op->ranges[2 * i + 1] + chunk - 1) / chunk * chunk;
        if (to > end) {
            to = end;
        }
        if (from < op->offset) {
            from = op->offset;
        }
        if (from >= to) {
            continue;
        }
        uint64_t s = from / VIXDISKLIB_SECTOR_SIZE, len = (to - from + VIXDISKLIB_SECTOR_SIZE - 1) / VIXDISKLIB_SECTOR_SIZE;
        if (n > 0 && list->blocks[n - 1].offset + list->blocks[n - 1].length >= s) {
            uint64_t e = s + len;
            if (e > list->blocks[n - 1].offset + list->blocks[n - 1].length) {
                list->blocks[n - 1].length = e - list->blocks[n - 1].offset;
            }
        } else {
            list->blocks[n].offset = s;
            list->blocks[n].length = len;
            n++;
        }
    }
    list->numBlocks = n;
    free(op->ranges);
    free(op);
    *out = list;
    return VIX_OK;
}

VixError VixDiskLib_FreeBlockList(VixDiskLibBlockList *list)
{
    free(list);
    return VIX_OK;
}

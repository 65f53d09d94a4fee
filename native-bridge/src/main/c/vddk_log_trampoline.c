/*
 * VDDK's log, warning and panic callbacks receive a printf format and a va_list. Java's FFM
 * cannot read a va_list (there has been no VaList since JDK 21), so these three functions do the
 * formatting here, in C, and hand the finished line to one Java upcall with its level.
 *
 * The sink is installed once, before VixDiskLib_InitEx, and never changes afterwards; VDDK may
 * call these functions from any of its threads, so they keep no state besides the sink.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*bm_vddk_sink)(int level, const char *line);

enum { BM_VDDK_LOG = 0, BM_VDDK_WARN = 1, BM_VDDK_PANIC = 2 };

static bm_vddk_sink volatile sink;

void bm_vddk_set_sink(bm_vddk_sink s)
{
    sink = s;
}

static void deliver(int level, const char *fmt, va_list args)
{
    bm_vddk_sink s = sink;
    if (s == NULL || fmt == NULL) {
        return;
    }
    char small[512];
    va_list copy;
    va_copy(copy, args);
    int n = vsnprintf(small, sizeof small, fmt, copy);
    va_end(copy);
    if (n < 0) {
        s(level, fmt); /* an unformattable message still says something */
        return;
    }
    char *line = small;
    if ((size_t) n >= sizeof small) {
        line = malloc((size_t) n + 1);
        if (line == NULL) {
            s(level, small); /* truncated beats lost */
            return;
        }
        vsnprintf(line, (size_t) n + 1, fmt, args);
    }
    /* VDDK ends most messages with a newline; SLF4J adds its own. */
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
        line[--n] = '\0';
    }
    s(level, line);
    if (line != small) {
        free(line);
    }
}

void bm_vddk_log(const char *fmt, va_list args)
{
    deliver(BM_VDDK_LOG, fmt, args);
}

void bm_vddk_warn(const char *fmt, va_list args)
{
    deliver(BM_VDDK_WARN, fmt, args);
}

void bm_vddk_panic(const char *fmt, va_list args)
{
    deliver(BM_VDDK_PANIC, fmt, args);
}

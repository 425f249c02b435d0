/* err.c: errbuf formatting (see err.h). */
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include "core/banned.h"

void errbuf_set(struct errbuf *err, const char *fmt, ...)
{
    if (err == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
}

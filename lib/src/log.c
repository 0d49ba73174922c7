/* SPDX-License-Identifier: MIT */
/*
 * The library's only way to say anything: structured records handed to a
 * sink. The default sink writes logfmt lines to stderr with one write(2).
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static co_log_sink_fn_t sink_fn;
static void *sink_userdata;
static _Atomic int max_level = CO_LOG_INFO;

void co_log_set_sink(co_log_sink_fn_t fn, void *userdata) {
        sink_fn = fn;
        sink_userdata = userdata;
}

void co_log_set_max_level(co_log_level_t level) {
        atomic_store(&max_level, (int) level);
}

co_log_level_t co_log_get_max_level(void) {
        return (co_log_level_t) atomic_load(&max_level);
}

const char *co_log_level_to_string(co_log_level_t level) {
        switch (level) {
        case CO_LOG_ERR: return "err";
        case CO_LOG_WARNING: return "warning";
        case CO_LOG_NOTICE: return "notice";
        case CO_LOG_INFO: return "info";
        case CO_LOG_DEBUG: return "debug";
        }
        return "?";
}

typedef struct buf {
        char *p;
        size_t n;
        size_t cap;
} buf_t;

static void buf_putc(buf_t *b, char c) {
        if (b->n + 1 < b->cap)
                b->p[b->n++] = c;
}

static void buf_puts(buf_t *b, const char *s) {
        while (*s)
                buf_putc(b, *s++);
}

/* logfmt: quote when the value has a space, '=', '"' or a control char. */
static void buf_put_value(buf_t *b, const char *v) {
        bool quote = *v == '\0';

        for (const char *s = v; *s && !quote; s++)
                quote = *s == ' ' || *s == '=' || *s == '"' || (unsigned char) *s < 0x20;
        if (!quote) {
                buf_puts(b, v);
                return;
        }
        buf_putc(b, '"');
        for (; *v; v++) {
                if (*v == '"' || *v == '\\') {
                        buf_putc(b, '\\');
                        buf_putc(b, *v);
                } else if (*v == '\n') {
                        buf_puts(b, "\\n");
                } else if ((unsigned char) *v < 0x20) {
                        buf_putc(b, ' ');
                } else {
                        buf_putc(b, *v);
                }
        }
        buf_putc(b, '"');
}

static void sink_stderr_logfmt(const co_log_record_t *rec) {
        char line[4096], ts[40];
        buf_t b = { line, 0, sizeof line - 1 };
        time_t secs = (time_t) (rec->realtime / CO_USEC_PER_SEC);
        struct tm tm;

        gmtime_r(&secs, &tm);
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
        buf_puts(&b, "ts=");
        buf_puts(&b, ts);
        snprintf(ts, sizeof ts, ".%06uZ", (unsigned) (rec->realtime % CO_USEC_PER_SEC));
        buf_puts(&b, ts);
        buf_puts(&b, " level=");
        buf_puts(&b, co_log_level_to_string(rec->level));
        if (rec->task) {
                buf_puts(&b, " task=");
                buf_put_value(&b, rec->task);
        }
        buf_puts(&b, " msg=");
        buf_put_value(&b, rec->message);
        for (size_t i = 0; i < rec->n_fields; i++) {
                if (rec->task && strcmp(rec->fields[i].key, "task") == 0)
                        continue;
                buf_putc(&b, ' ');
                buf_puts(&b, rec->fields[i].key);
                buf_putc(&b, '=');
                buf_put_value(&b, rec->fields[i].value ? rec->fields[i].value : "");
        }
        line[b.n++] = '\n';
        (void) !write(STDERR_FILENO, line, b.n);
}

/* Formats and emits a record that passed the level check. Out of line: its
 * 2 KB buffer would otherwise sit in the frame of every co_log call, and
 * a task deep in its stack that logs nothing (a debug line, below the
 * level) would still page in the stack below it. */
static __attribute__((noinline)) void log_emit(co_log_level_t level, const char *file, unsigned line,
                                               const char *func, const co_log_field_t *fields,
                                               size_t n_fields, const char *fmt, va_list ap) {
        char msg[2048];
        co_task_t *t = co__current();
        struct timespec ts;
        co_log_record_t rec;

        vsnprintf(msg, sizeof msg, fmt, ap);
        clock_gettime(CLOCK_REALTIME, &ts);
        rec = (co_log_record_t) {
                .level = level,
                .message = msg,
                .task = t ? t->name : NULL,
                .file = file,
                .line = line,
                .func = func,
                .fields = fields,
                .n_fields = n_fields,
                .realtime = (co_usec_t) ts.tv_sec * CO_USEC_PER_SEC + (co_usec_t) ts.tv_nsec / 1000,
        };
        /* A record about another task says which: that wins. */
        for (size_t i = 0; i < n_fields; i++)
                if (strcmp(fields[i].key, "task") == 0)
                        rec.task = fields[i].value;
        if (sink_fn)
                sink_fn(&rec, sink_userdata);
        else
                sink_stderr_logfmt(&rec);
}

void co_log_fullv(co_log_level_t level, const char *file, unsigned line, const char *func,
                  const co_log_field_t *fields, size_t n_fields, const char *fmt, va_list ap) {
        if ((int) level > atomic_load(&max_level))
                return;
        log_emit(level, file, line, func, fields, n_fields, fmt, ap);
}

void co_log_full(co_log_level_t level, const char *file, unsigned line, const char *func,
                 const co_log_field_t *fields, size_t n_fields, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        co_log_fullv(level, file, line, func, fields, n_fields, fmt, ap);
        va_end(ap);
}

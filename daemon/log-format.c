/* SPDX-License-Identifier: MIT */
/*
 * Turning a co_log record into bytes: a logfmt line, a JSON line, or the
 * journal's "KEY=value" fields. Pure functions on a growable buffer, run
 * on the thread that logs; no locks, no I/O.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

void dlog_buf_done(dlog_buf_t *b) {
        free(b->data);
        free(b->ends);
        *b = (dlog_buf_t) { 0 };
}

static void buf_put(dlog_buf_t *b, const char *s, size_t n) {
        if (b->oom)
                return;
        if (b->len + n > b->cap) {
                size_t cap = b->cap ? b->cap : 256;
                char *p;

                while (cap < b->len + n)
                        cap *= 2;
                p = realloc(b->data, cap);
                if (!p) {
                        b->oom = true;
                        return;
                }
                b->data = p;
                b->cap = cap;
        }
        memcpy(b->data + b->len, s, n);
        b->len += n;
}

static void buf_puts(dlog_buf_t *b, const char *s) {
        buf_put(b, s, strlen(s));
}

static void buf_putc(dlog_buf_t *b, char c) {
        buf_put(b, &c, 1);
}

/* Closes the current segment (a line, or a journal field). */
static void buf_end_segment(dlog_buf_t *b) {
        if (b->oom)
                return;
        if (b->n_ends == b->cap_ends) {
                size_t cap = b->cap_ends ? b->cap_ends * 2 : 16;
                size_t *p = realloc(b->ends, cap * sizeof *p);

                if (!p) {
                        b->oom = true;
                        return;
                }
                b->ends = p;
                b->cap_ends = cap;
        }
        b->ends[b->n_ends++] = b->len;
}

static void buf_put_ts(dlog_buf_t *b, co_usec_t realtime) {
        time_t secs = (time_t) (realtime / CO_USEC_PER_SEC);
        char ts[64], frac[16];
        struct tm tm;

        gmtime_r(&secs, &tm);
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(frac, sizeof frac, ".%06uZ", (unsigned) (realtime % CO_USEC_PER_SEC));
        buf_puts(b, ts);
        buf_puts(b, frac);
}

static void buf_put_u_escape(dlog_buf_t *b, unsigned char c) {
        char esc[8];

        snprintf(esc, sizeof esc, "\\u%04x", c);
        buf_puts(b, esc);
}

/* Keys are [a-z0-9_] by convention; anything else would break the line's
 * syntax, so it becomes '_' (upper case is lowered). */
static void buf_put_key(dlog_buf_t *b, const char *key) {
        if (!*key)
                buf_putc(b, '_');
        for (; *key; key++) {
                char c = *key;

                if (c >= 'A' && c <= 'Z')
                        c = (char) (c - 'A' + 'a');
                else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
                        c = '_';
                buf_putc(b, c);
        }
}

/* ---- logfmt ------------------------------------------------------------ */

/* Quoted when it has a space, '=', '"' or a control char (or is empty), as
 * the library's default sink does; inside quotes, escapes as in Go's
 * logfmt, so nothing is lost and a line stays one line. */
static void logfmt_put_value(dlog_buf_t *b, const char *v) {
        bool quote = *v == '\0';

        for (const char *s = v; *s && !quote; s++)
                quote = *s == ' ' || *s == '=' || *s == '"' || (unsigned char) *s < 0x20 || *s == 0x7f;
        if (!quote) {
                buf_puts(b, v);
                return;
        }
        buf_putc(b, '"');
        for (; *v; v++) {
                unsigned char c = (unsigned char) *v;

                if (c == '"' || c == '\\') {
                        buf_putc(b, '\\');
                        buf_putc(b, (char) c);
                } else if (c == '\n') {
                        buf_puts(b, "\\n");
                } else if (c == '\r') {
                        buf_puts(b, "\\r");
                } else if (c == '\t') {
                        buf_puts(b, "\\t");
                } else if (c < 0x20 || c == 0x7f) {
                        buf_put_u_escape(b, c);
                } else {
                        buf_putc(b, (char) c);
                }
        }
        buf_putc(b, '"');
}

static void format_logfmt(const co_log_record_t *rec, dlog_buf_t *b) {
        buf_puts(b, "ts=");
        buf_put_ts(b, rec->realtime);
        buf_puts(b, " level=");
        buf_puts(b, co_log_level_to_string(rec->level));
        if (rec->task) {
                buf_puts(b, " task=");
                logfmt_put_value(b, rec->task);
        }
        buf_puts(b, " msg=");
        logfmt_put_value(b, rec->message ? rec->message : "");
        for (size_t i = 0; i < rec->n_fields; i++) {
                /* The record's task already says it. */
                if (strcmp(rec->fields[i].key, "task") == 0)
                        continue;
                buf_putc(b, ' ');
                buf_put_key(b, rec->fields[i].key);
                buf_putc(b, '=');
                logfmt_put_value(b, rec->fields[i].value ? rec->fields[i].value : "");
        }
        buf_putc(b, '\n');
        buf_end_segment(b);
}

/* ---- JSON -------------------------------------------------------------- */

/* Length of the well-formed UTF-8 sequence at s (1-4), 0 if there is none:
 * no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_len(const unsigned char *s) {
        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                return (s[1] & 0xc0) == 0x80 ? 2 : 0;
        if (s[0] >= 0xe0 && s[0] <= 0xef) {
                unsigned lo = s[0] == 0xe0 ? 0xa0 : 0x80, hi = s[0] == 0xed ? 0x9f : 0xbf;

                return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
        }
        if (s[0] >= 0xf0 && s[0] <= 0xf4) {
                unsigned lo = s[0] == 0xf0 ? 0x90 : 0x80, hi = s[0] == 0xf4 ? 0x8f : 0xbf;

                return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80 ? 4 : 0;
        }
        return 0;
}

/* A JSON string: UTF-8 passes through; bytes that are not UTF-8 (a child
 * process may print anything) become U+FFFD, so every line stays valid. */
static void json_put_string(dlog_buf_t *b, const char *v) {
        const unsigned char *s = (const unsigned char *) v;

        buf_putc(b, '"');
        while (*s) {
                size_t n = utf8_len(s);

                if (n == 0) {
                        buf_puts(b, "\\ufffd");
                        s++;
                } else if (n > 1) {
                        buf_put(b, (const char *) s, n);
                        s += n;
                } else {
                        switch (*s) {
                        case '"': buf_puts(b, "\\\""); break;
                        case '\\': buf_puts(b, "\\\\"); break;
                        case '\n': buf_puts(b, "\\n"); break;
                        case '\r': buf_puts(b, "\\r"); break;
                        case '\t': buf_puts(b, "\\t"); break;
                        case '\b': buf_puts(b, "\\b"); break;
                        case '\f': buf_puts(b, "\\f"); break;
                        default:
                                if (*s < 0x20)
                                        buf_put_u_escape(b, *s);
                                else
                                        buf_putc(b, (char) *s);
                        }
                        s++;
                }
        }
        buf_putc(b, '"');
}

static void format_json(const co_log_record_t *rec, dlog_buf_t *b) {
        buf_puts(b, "{\"ts\":\"");
        buf_put_ts(b, rec->realtime);
        buf_puts(b, "\",\"level\":\"");
        buf_puts(b, co_log_level_to_string(rec->level));
        buf_putc(b, '"');
        if (rec->task) {
                buf_puts(b, ",\"task\":");
                json_put_string(b, rec->task);
        }
        buf_puts(b, ",\"msg\":");
        json_put_string(b, rec->message ? rec->message : "");
        for (size_t i = 0; i < rec->n_fields; i++) {
                if (strcmp(rec->fields[i].key, "task") == 0)
                        continue;
                buf_puts(b, ",\"");
                buf_put_key(b, rec->fields[i].key);
                buf_puts(b, "\":");
                json_put_string(b, rec->fields[i].value ? rec->fields[i].value : "");
        }
        buf_puts(b, "}\n");
        buf_end_segment(b);
}

/* ---- journal ----------------------------------------------------------- */

void dlog_journal_key(const char *key, char *ret) {
        size_t n = 0;

        /* journald ignores fields starting with '_' (trusted ones) and
         * refuses a leading digit: give those a prefix. */
        if (*key == '\0' || *key == '_' || (*key >= '0' && *key <= '9')) {
                ret[n++] = 'F';
                ret[n++] = '_';
        }
        for (; *key && n < 64; key++) {
                char c = *key;

                if (c >= 'a' && c <= 'z')
                        c = (char) (c - 'a' + 'A');
                else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
                        c = '_';
                ret[n++] = c;
        }
        ret[n] = '\0';
}

static void journal_put(dlog_buf_t *b, const char *key, const char *value) {
        buf_puts(b, key);
        buf_putc(b, '=');
        buf_puts(b, value);
        buf_end_segment(b);
}

static void format_journal(const co_log_record_t *rec, dlog_buf_t *b) {
        char num[32], key[65];

        journal_put(b, "MESSAGE", rec->message ? rec->message : "");
        snprintf(num, sizeof num, "%d", (int) rec->level);
        journal_put(b, "PRIORITY", num);
        journal_put(b, "SYSLOG_IDENTIFIER", "cotaskd");
        if (rec->file)
                journal_put(b, "CODE_FILE", rec->file);
        if (rec->line > 0) {
                snprintf(num, sizeof num, "%u", rec->line);
                journal_put(b, "CODE_LINE", num);
        }
        if (rec->func)
                journal_put(b, "CODE_FUNC", rec->func);
        if (rec->task)
                journal_put(b, "TASK", rec->task);
        for (size_t i = 0; i < rec->n_fields; i++) {
                if (strcmp(rec->fields[i].key, "task") == 0)
                        continue;
                dlog_journal_key(rec->fields[i].key, key);
                journal_put(b, key, rec->fields[i].value ? rec->fields[i].value : "");
        }
}

int dlog_format_record(dlog_format_t format, const co_log_record_t *rec, dlog_buf_t *b) {
        switch (format) {
        case DLOG_FORMAT_JOURNAL:
                format_journal(rec, b);
                break;
        case DLOG_FORMAT_JSON:
                format_json(rec, b);
                break;
        case DLOG_FORMAT_LOGFMT:
        case DLOG_FORMAT_AUTO:
        default:
                format_logfmt(rec, b);
                break;
        }
        return b->oom ? -ENOMEM : 0;
}

/* SPDX-License-Identifier: MIT */
#pragma once

/* The daemon's log sink: every co_log record goes to journald natively
 * (when stderr is the journal, or when forced) or to stderr as logfmt or
 * JSON lines. Records are formatted on the calling thread into a bounded
 * queue and written by a writer thread: logging never blocks the loop, and
 * records that do not fit are counted and reported as dropped. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cotask/cotask.h>

typedef enum dlog_format {
        DLOG_FORMAT_AUTO,       /* journal if $JOURNAL_STREAM is our fd, else logfmt */
        DLOG_FORMAT_JOURNAL,
        DLOG_FORMAT_LOGFMT,
        DLOG_FORMAT_JSON,
        _DLOG_FORMAT_MAX,
} dlog_format_t;

typedef struct dlog_options {
        int fd;                 /* where lines go; 0: STDERR_FILENO (never stdin) */
        size_t max_records;     /* queued records; 0: 4096 */
        size_t max_bytes;       /* queued bytes; 0: 4 MiB */
        co_usec_t close_timeout; /* how long dlog_close waits for the writer; 0: 1 s */
} dlog_options_t;

typedef struct dlog_stats {
        uint64_t written;       /* records handed to the fd or journald */
        uint64_t dropped;       /* records lost: queue full, or out of memory */
        uint64_t queued;        /* records waiting now */
} dlog_stats_t;

/* Installs the sink (co_log_set_sink) and sets co_log's max level. opts may
 * be NULL. -EBUSY if already open, -EINVAL for a bad format. */
int dlog_open(dlog_format_t format, co_log_level_t max_level, const dlog_options_t *opts);
/* Switches format for records logged from now on (AUTO is re-detected). */
int dlog_set_format(dlog_format_t format);
/* The format in use, AUTO resolved; AUTO itself when not open. */
dlog_format_t dlog_get_format(void);
void dlog_set_max_level(co_log_level_t level);
/* Restores the library's default sink, writes what is queued until the
 * close_timeout passes (the rest is dropped), stops the writer. Safe when
 * not open. */
void dlog_close(void);
void dlog_get_stats(dlog_stats_t *ret);

const char *dlog_format_to_string(dlog_format_t format);
int dlog_format_from_string(const char *s, dlog_format_t *ret);
/* debug|info|notice|warning|err (also "error", "warn"). */
int dlog_level_from_string(const char *s, co_log_level_t *ret);

/* Whether journal_stream ("dev:ino", as in $JOURNAL_STREAM) names fd. */
bool dlog_journal_stream_matches(const char *journal_stream, int fd);

/* ---- MESSAGE_IDs of the lifecycle events --------------------------------
 * Stable forever (journalctl MESSAGE_ID=...). A record carries one as the
 * field "message_id": MESSAGE_ID in the journal, message_id= elsewhere. */
#define DLOG_MSGID_STARTED              "2b8f9218e6874eaebdc2e911ef645d97"
#define DLOG_MSGID_READY                "2c7df5f6e9ec4b3fa9f3cb2cae1a6c53"
#define DLOG_MSGID_RELOADING            "0960d126e0944f3996ca3a61380dbee2"
#define DLOG_MSGID_RELOAD_FAILED        "bb9a843e9e7f4b3b82ec7b012d611e8e"
#define DLOG_MSGID_TASK_STARTED         "ecf8fa0d111f494e9b87f4462732fad0"
#define DLOG_MSGID_TASK_EXITED          "588a59bc321b4c1c8bb2b9511afaff01"
#define DLOG_MSGID_TASK_RESTARTING      "bb81f34e12d54a458b5c42813337bfda"
#define DLOG_MSGID_TASK_GAVE_UP         "d91e4072ee49419d8d53b58fd4ec2446"
#define DLOG_MSGID_STOPPING             "7328ca1d4710454dbf8dd33ac9dc573b"
#define DLOG_MSGID_STOPPED              "1de9b9f12f244137baa673a2b5bffd76"

/* For a co_log_field_t array: DLOG_FIELD_MSGID(DLOG_MSGID_READY). */
#define DLOG_FIELD_MSGID(id) { "message_id", (id) }

/* ---- formatting (log-format.c), for log.c and the tests ------------------ */

/* A formatted record: data[0..len) split into segments ending at ends[]:
 * one line for logfmt/JSON, one "KEY=value" per field for the journal. */
typedef struct dlog_buf {
        char *data;
        size_t len, cap;
        size_t *ends;
        size_t n_ends, cap_ends;
        bool oom;               /* an allocation failed: the record is lost */
} dlog_buf_t;

void dlog_buf_done(dlog_buf_t *b);
/* Appends rec as one '\n'-terminated line (format logfmt or JSON), or as
 * journal fields. -ENOMEM if out of memory. */
int dlog_format_record(dlog_format_t format, const co_log_record_t *rec, dlog_buf_t *b);
/* A field key as a journal field name: upper case, [A-Z0-9_], at most 64
 * characters, never with a leading '_' or digit (journald would refuse it).
 * ret must hold 65 bytes. */
void dlog_journal_key(const char *key, char *ret);

/* SPDX-License-Identifier: MIT */
/*
 * The daemon's log sink: a bounded queue between the threads that log and
 * one writer thread.
 *
 * Why a writer thread rather than non-blocking writes: stderr's file
 * description is shared (with systemd's journal stream, a terminal, our
 * exec children), so setting O_NONBLOCK on it would change it under them;
 * and sd_journal_sendv() has no non-blocking form (journald throttles by
 * letting its socket fill). A thread may block in write(2) for as long as
 * it likes while the loop only ever takes a mutex for a pointer push.
 *
 * Records are formatted by the caller, so the writer needs nothing that
 * could change under it (the record's strings live on the caller's stack).
 * When the queue is full a record is dropped and counted; the next record
 * that gets in carries the count, and the writer puts a warning
 * "dropped N log records" before it.
 *
 * dlog_close waits for the writer until a deadline. A writer still stuck
 * then (nobody reads our stderr) is abandoned, not cancelled: unwinding a
 * thread out of write(2) trips AddressSanitizer, and nothing it holds is
 * needed. It writes to its own dup of the fd, drops what it has when
 * write returns, and exits; it never touches the queue again.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* The record's own CODE_* fields, not the place in this file that sends. */
#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-journal.h>

#include "log.h"

typedef struct entry {
        struct entry *next;
        dlog_format_t format;           /* resolved: journal, logfmt or json */
        co_usec_t realtime;
        uint64_t dropped_before;        /* records lost just before this one */
        size_t len;
        size_t n_ends;
        size_t ends[];                  /* then len bytes of data */
} entry_t;

static char *entry_data(entry_t *e) {
        return (char *) (e->ends + e->n_ends);
}

static struct {
        pthread_mutex_t lock;
        pthread_cond_t work;            /* writer: something queued, or closing */
        pthread_cond_t idle;            /* dlog_close: the queue got empty */
        bool open, closing, writer_busy;
        struct writer *writer;          /* the current one */
        entry_t *head, **tail;
        size_t n_records, n_bytes;
        uint64_t dropped_pending;       /* to report with the next record */
        uint64_t written, dropped;
        dlog_options_t opts;
        _Atomic int format;             /* read by every logging thread */
} dlog = {
        .lock = PTHREAD_MUTEX_INITIALIZER,
};

typedef struct writer {
        pthread_t thread;
        int fd;                 /* ours: a dup of opts.fd */
        bool abandoned;         /* under dlog.lock: dlog_close gave up on us */
} writer_t;

static pthread_once_t conds_once = PTHREAD_ONCE_INIT;

/* Condition variables on CLOCK_MONOTONIC, made once and never destroyed:
 * a thread may still be inside the sink while dlog_close runs. */
static void conds_init(void) {
        pthread_condattr_t attr;

        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&dlog.work, &attr);
        pthread_cond_init(&dlog.idle, &attr);
        pthread_condattr_destroy(&attr);
}

const char *dlog_format_to_string(dlog_format_t format) {
        static const char *const names[_DLOG_FORMAT_MAX] = {
                [DLOG_FORMAT_AUTO] = "auto",
                [DLOG_FORMAT_JOURNAL] = "journal",
                [DLOG_FORMAT_LOGFMT] = "logfmt",
                [DLOG_FORMAT_JSON] = "json",
        };

        return (unsigned) format < _DLOG_FORMAT_MAX ? names[format] : NULL;
}

int dlog_format_from_string(const char *s, dlog_format_t *ret) {
        for (int f = 0; f < _DLOG_FORMAT_MAX; f++)
                if (s && strcmp(s, dlog_format_to_string((dlog_format_t) f)) == 0) {
                        *ret = (dlog_format_t) f;
                        return 0;
                }
        return -EINVAL;
}

int dlog_level_from_string(const char *s, co_log_level_t *ret) {
        static const struct {
                const char *name;
                co_log_level_t level;
        } table[] = {
                { "err", CO_LOG_ERR }, { "error", CO_LOG_ERR },
                { "warning", CO_LOG_WARNING }, { "warn", CO_LOG_WARNING },
                { "notice", CO_LOG_NOTICE }, { "info", CO_LOG_INFO }, { "debug", CO_LOG_DEBUG },
        };

        for (size_t i = 0; s && i < sizeof table / sizeof table[0]; i++)
                if (strcasecmp(s, table[i].name) == 0) {
                        *ret = table[i].level;
                        return 0;
                }
        return -EINVAL;
}

bool dlog_journal_stream_matches(const char *journal_stream, int fd) {
        unsigned long long dev, ino;
        struct stat st;
        char *end;

        if (!journal_stream || !*journal_stream)
                return false;
        errno = 0;
        dev = strtoull(journal_stream, &end, 10);
        if (errno != 0 || end == journal_stream || *end != ':')
                return false;
        journal_stream = end + 1;
        ino = strtoull(journal_stream, &end, 10);
        if (errno != 0 || end == journal_stream || *end != '\0')
                return false;
        if (fstat(fd, &st) < 0)
                return false;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

static dlog_format_t resolve(dlog_format_t format, int fd) {
        if (format != DLOG_FORMAT_AUTO)
                return format;
        return dlog_journal_stream_matches(getenv("JOURNAL_STREAM"), fd) ? DLOG_FORMAT_JOURNAL
                                                                          : DLOG_FORMAT_LOGFMT;
}

/* ---- the writer ----------------------------------------------------------- */

static int write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        /* Someone made the fd non-blocking: wait here, in
                         * the writer, which is what it is for. */
                        if (errno == EAGAIN) {
                                struct pollfd pfd = { .fd = fd, .events = POLLOUT };

                                (void) poll(&pfd, 1, -1);
                                continue;
                        }
                        return -errno;
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

static void emit(int fd, dlog_format_t format, const char *data, const size_t *ends, size_t n_ends) {
        if (n_ends == 0)
                return;
        if (format == DLOG_FORMAT_JOURNAL) {
                /* On the writer thread: an allocation here costs the loop nothing. */
                struct iovec *iov = calloc(n_ends, sizeof *iov);
                size_t start = 0;

                if (!iov)
                        return;
                for (size_t i = 0; i < n_ends; i++) {
                        iov[i] = (struct iovec) { (void *) (data + start), ends[i] - start };
                        start = ends[i];
                }
                pthread_cleanup_push(free, iov);
                (void) sd_journal_sendv(iov, (int) n_ends);
                pthread_cleanup_pop(1);
        } else {
                (void) write_all(fd, data, ends[n_ends - 1]);
        }
}

/* The warning for records lost before e, in e's format. */
static void emit_dropped(int fd, const entry_t *e) {
        char n[32];
        co_log_field_t field = { "dropped", n };
        co_log_record_t rec = {
                .level = CO_LOG_WARNING,
                .message = NULL,
                .file = __FILE__,
                .line = __LINE__,
                .func = __func__,
                .fields = &field,
                .n_fields = 1,
                .realtime = e->realtime,
        };
        char msg[64];
        dlog_buf_t b = { 0 };

        snprintf(n, sizeof n, "%llu", (unsigned long long) e->dropped_before);
        snprintf(msg, sizeof msg, "dropped %s log records", n);
        rec.message = msg;
        if (dlog_format_record(e->format, &rec, &b) == 0)
                emit(fd, e->format, b.data, b.ends, b.n_ends);
        dlog_buf_done(&b);
}

static void free_list(entry_t *e) {
        while (e) {
                entry_t *next = e->next;

                free(e);
                e = next;
        }
}

static void *writer_main(void *arg) {
        writer_t *w = arg;
        entry_t *batch = NULL;

        pthread_mutex_lock(&dlog.lock);
        for (;;) {
                while (!w->abandoned && !dlog.head && !dlog.closing) {
                        dlog.writer_busy = false;
                        pthread_cond_broadcast(&dlog.idle);
                        pthread_cond_wait(&dlog.work, &dlog.lock);
                }
                if (w->abandoned || !dlog.head)
                        break;
                /* Take everything: the loggers never wait for the writer. */
                batch = dlog.head;
                dlog.head = NULL;
                dlog.tail = &dlog.head;
                dlog.writer_busy = true;
                pthread_mutex_unlock(&dlog.lock);

                while (batch) {
                        entry_t *e = batch;
                        size_t len = e->len;

                        if (e->dropped_before > 0)
                                emit_dropped(w->fd, e);
                        emit(w->fd, e->format, entry_data(e), e->ends, e->n_ends);
                        batch = e->next;
                        free(e);

                        pthread_mutex_lock(&dlog.lock);
                        if (w->abandoned)
                                goto out;
                        /* The queue's budget counts records until written. */
                        dlog.n_records--;
                        dlog.n_bytes -= len;
                        dlog.written++;
                        /* Batch done: keep the lock for the wait above. */
                        if (batch)
                                pthread_mutex_unlock(&dlog.lock);
                }
        }
out:
        /* Not yet written and abandoned: dlog_close counted them dropped. */
        if (!w->abandoned)
                dlog.writer_busy = false;
        pthread_cond_broadcast(&dlog.idle);
        pthread_mutex_unlock(&dlog.lock);
        free_list(batch);
        close(w->fd);
        free(w);
        return NULL;
}

/* ---- the sink ------------------------------------------------------------- */

static void sink(const co_log_record_t *rec, void *userdata) {
        dlog_format_t format = (dlog_format_t) atomic_load(&dlog.format);
        dlog_buf_t b = { 0 };
        entry_t *e = NULL;
        bool queued = false;

        (void) userdata;
        if (dlog_format_record(format, rec, &b) == 0)
                e = malloc(sizeof *e + b.n_ends * sizeof(size_t) + b.len);
        if (e) {
                *e = (entry_t) {
                        .format = format,
                        .realtime = rec->realtime,
                        .len = b.len,
                        .n_ends = b.n_ends,
                };
                memcpy(e->ends, b.ends, b.n_ends * sizeof(size_t));
                memcpy(entry_data(e), b.data, b.len);
        }
        dlog_buf_done(&b);

        pthread_mutex_lock(&dlog.lock);
        if (e && dlog.open && !dlog.closing && dlog.n_records < dlog.opts.max_records &&
            dlog.n_bytes + e->len <= dlog.opts.max_bytes) {
                e->dropped_before = dlog.dropped_pending;
                dlog.dropped_pending = 0;
                *dlog.tail = e;
                dlog.tail = &e->next;
                dlog.n_records++;
                dlog.n_bytes += e->len;
                queued = true;
                pthread_cond_signal(&dlog.work);
        } else {
                dlog.dropped_pending++;
                dlog.dropped++;
        }
        pthread_mutex_unlock(&dlog.lock);
        if (!queued)
                free(e);
}

/* ---- the API ---------------------------------------------------------------- */

int dlog_open(dlog_format_t format, co_log_level_t max_level, const dlog_options_t *opts) {
        dlog_options_t o = opts ? *opts : (dlog_options_t) { 0 };
        sigset_t all, saved;
        writer_t *w;
        int r;

        if ((unsigned) format >= _DLOG_FORMAT_MAX)
                return -EINVAL;
        if (o.fd <= 0)
                o.fd = STDERR_FILENO;
        if (o.max_records == 0)
                o.max_records = 4096;
        if (o.max_bytes == 0)
                o.max_bytes = 4u << 20;
        if (o.close_timeout == 0)
                o.close_timeout = CO_USEC_PER_SEC;

        w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        /* The writer's own fd: a later dup2 onto stderr, or an abandoned
         * writer outliving dlog_close, changes nothing for the other. */
        w->fd = fcntl(o.fd, F_DUPFD_CLOEXEC, 3);
        if (w->fd < 0) {
                r = -errno;
                free(w);
                return r;
        }

        pthread_once(&conds_once, conds_init);
        pthread_mutex_lock(&dlog.lock);
        if (dlog.open) {
                pthread_mutex_unlock(&dlog.lock);
                close(w->fd);
                free(w);
                return -EBUSY;
        }
        dlog.opts = o;
        dlog.head = NULL;
        dlog.tail = &dlog.head;
        dlog.n_records = dlog.n_bytes = 0;
        dlog.dropped_pending = dlog.written = dlog.dropped = 0;
        dlog.closing = false;
        dlog.writer_busy = false;
        dlog.writer = w;
        atomic_store(&dlog.format, (int) resolve(format, o.fd));
        /* Signals are for the loop's thread; SIGPIPE from a closed stderr
         * becomes EPIPE here. The writer inherits this mask. */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &saved);
        r = -pthread_create(&w->thread, NULL, writer_main, w);
        pthread_sigmask(SIG_SETMASK, &saved, NULL);
        dlog.open = r == 0;
        pthread_mutex_unlock(&dlog.lock);
        if (r < 0) {
                close(w->fd);
                free(w);
                return r;
        }

        co_log_set_max_level(max_level);
        co_log_set_sink(sink, NULL);
        return 0;
}

int dlog_set_format(dlog_format_t format) {
        if ((unsigned) format >= _DLOG_FORMAT_MAX)
                return -EINVAL;
        pthread_mutex_lock(&dlog.lock);
        atomic_store(&dlog.format, (int) resolve(format, dlog.opts.fd ? dlog.opts.fd : STDERR_FILENO));
        pthread_mutex_unlock(&dlog.lock);
        return 0;
}

dlog_format_t dlog_get_format(void) {
        dlog_format_t f;

        pthread_mutex_lock(&dlog.lock);
        f = dlog.open ? (dlog_format_t) atomic_load(&dlog.format) : DLOG_FORMAT_AUTO;
        pthread_mutex_unlock(&dlog.lock);
        return f;
}

void dlog_set_max_level(co_log_level_t level) {
        co_log_set_max_level(level);
}

void dlog_get_stats(dlog_stats_t *ret) {
        pthread_mutex_lock(&dlog.lock);
        *ret = (dlog_stats_t) {
                .written = dlog.written,
                .dropped = dlog.dropped,
                .queued = dlog.n_records,
        };
        pthread_mutex_unlock(&dlog.lock);
}

void dlog_close(void) {
        struct timespec deadline;
        bool timed_out = false;
        pthread_t thread;
        co_usec_t t;

        pthread_mutex_lock(&dlog.lock);
        if (!dlog.open || dlog.closing) {
                pthread_mutex_unlock(&dlog.lock);
                return;
        }
        thread = dlog.writer->thread;
        pthread_mutex_unlock(&dlog.lock);
        co_log_set_sink(NULL, NULL);

        clock_gettime(CLOCK_MONOTONIC, &deadline);
        t = (co_usec_t) deadline.tv_sec * CO_USEC_PER_SEC + (co_usec_t) deadline.tv_nsec / 1000 +
            dlog.opts.close_timeout;
        deadline.tv_sec = (time_t) (t / CO_USEC_PER_SEC);
        deadline.tv_nsec = (long) (t % CO_USEC_PER_SEC) * 1000;

        pthread_mutex_lock(&dlog.lock);
        while ((dlog.head || dlog.writer_busy) && !timed_out)
                timed_out = pthread_cond_timedwait(&dlog.idle, &dlog.lock, &deadline) == ETIMEDOUT;
        /* A record a thread is logging right now is dropped from here on. */
        dlog.closing = true;
        if (timed_out && (dlog.head || dlog.writer_busy)) {
                /* Stuck in write(2): leave it; it exits when write returns. */
                dlog.writer->abandoned = true;
                dlog.dropped += dlog.n_records;
                free_list(dlog.head);
                dlog.head = NULL;
                pthread_detach(thread);
        } else
                timed_out = false;
        dlog.writer = NULL;
        pthread_cond_broadcast(&dlog.work);
        pthread_mutex_unlock(&dlog.lock);

        if (!timed_out)
                pthread_join(thread, NULL);

        pthread_mutex_lock(&dlog.lock);
        dlog.tail = &dlog.head;
        dlog.n_records = dlog.n_bytes = 0;
        dlog.writer_busy = false;
        dlog.open = false;
        dlog.closing = false;
        pthread_mutex_unlock(&dlog.lock);
}

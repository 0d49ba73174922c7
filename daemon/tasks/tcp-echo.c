/* SPDX-License-Identifier: MIT */
/*
 * tcp-echo: a TCP echo service, one task per connection.
 *
 * The run task owns the listening socket (bound to host:port, or passed by
 * systemd as "systemd:NAME", see listen.h) and accepts through a co_fd_t,
 * which stays registered between bursts of connections; every connection is
 * a child task, so cancelling the run cancels them. A semaphore holds
 * max_connections permits: the accept loop takes one before accepting, so
 * that past the limit new connections wait in the kernel's backlog; a
 * connection gives its permit back when it ends.
 *
 * A connection reads a chunk (up to ECHO_CHUNK bytes, under idle_timeout)
 * and writes all of it back, until end of file. It reads through a
 * co_fd_t of the run's poller, whose descriptor stays registered for the
 * connection's life, so a message costs a read and a write, no epoll_ctl
 * and no read that fails with EAGAIN; its end costs no epoll_ctl either,
 * as its close unregisters it (10k connections ending at a shutdown: some
 * 10 ms less on the loop). The chunk is read into one buffer all the
 * connections share (an idle connection costs its stack page and little
 * more) and sent back at once as a rule; only what the socket cannot take
 * is copied and written through the co_fd_t as it drains, since the
 * buffer is another connection's once this one waits. On shutdown (the
 * run cancelled) the listening socket is closed first; a connection
 * waiting in read closes at once, one writing a chunk back finishes it
 * (shielded, under its grace deadline) and then closes. A close after data
 * is a lingering one: shutdown(SHUT_WR) and read to the peer's end of file
 * (for a while), since closing with unread input would reset the
 * connection and throw away echoed data the peer has not received yet. On
 * shutdown the plain closes go to a thread in batches (see close_batch_t);
 * the run's cleanup closes the batches the thread has not got to and waits
 * for the rest, so every connection is closed before the run ends (unless
 * the run's grace period runs out first: the thread may then still be
 * closing a batch).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listen.h"
#include "tasks.h"

#define ECHO_CHUNK ((size_t) 16 * 1024)
#define ECHO_BACKLOG 512
/* How long a closing connection waits for its peer's end of file. */
#define ECHO_LINGER_USEC (2 * CO_USEC_PER_SEC)
/* Descriptors closed by one pool job on shutdown. */
#define ECHO_CLOSE_BATCH 128
/* Descriptors of a batch claimed at once by the thread or the loop: few,
 * so that neither waits long for the other at the end; the claim is one
 * atomic add, next to the 8-10 us of closing one connection. */
#define ECHO_CLOSE_CLAIM 8

typedef struct tcp_echo_conf {
        conf_listen_t listen;
        unsigned max_connections;
        co_usec_t idle_timeout_usec;    /* 0: none */
} tcp_echo_conf_t;

#define C(field) offsetof(tcp_echo_conf_t, field)

static const conf_key_t tcp_echo_keys[] = {
        { "listen", &conf_kind_listen, NULL, .required = true, .offset = C(listen),
          .help = "host:port, [IPv6]:port, or systemd:NAME for a socket from systemd. Required." },
        { "max_connections", &conf_kind_uint, "1024", .min = 1, .max = 1000000, .offset = C(max_connections),
          .help = "Connections served at once; more wait in the backlog." },
        { "idle_timeout", &conf_kind_duration, "5min", .max = CONF_FOREVER, .offset = C(idle_timeout_usec),
          .help = "Close a connection silent this long; 0: never." },
        {},
};

/* On shutdown the kernel's share of closing a TCP connection (its FIN
 * through the stack) dominates: the connections' descriptors are closed
 * in batches by a thread of their own, on another core, while the loop
 * goes on stopping the rest. One thread: more would take the loop's core
 * (the default pool has at least 4). Once every connection has ended,
 * the loop has nothing left to do but wait, so it closes the batches the
 * thread has not got to, from the last one back while the thread goes
 * on from the first, and where they meet both close the same batch,
 * ECHO_CLOSE_CLAIM descriptors at a time: whoever claims them first. */
typedef struct close_batch {
        atomic_size_t claimed;          /* fds[0, claimed) are someone's, or closed */
        atomic_int refs;                /* the run's, and the job's while it is not over */
        size_t n;
        int fds[ECHO_CLOSE_BATCH];
} close_batch_t;

typedef struct close_queued {
        close_batch_t *batch;
        co_future_t *job;               /* NULL: not handed to the thread */
} close_queued_t;

typedef struct echo {
        const conf_task_t *conf;
        const tcp_echo_conf_t *echo_conf;
        int fd;                         /* listening socket */
        co_fd_t *listener;              /* fd, registered while accepting */
        co_poller_t *poller;            /* the connections' */
        bool polled_at_stop;            /* co_poller_poll'ed since the cancellation */
        co_sem_t *slots;                /* max_connections permits */
        char *chunk;                    /* ECHO_CHUNK bytes: every connection reads into it */
        char address[INET6_ADDRSTRLEN + 16];
        unsigned long long n_accepted;
        struct conn *conns;             /* spawned, body not yet ended */
        size_t n_conns;                 /* in conns */
        size_t n_lingering;             /* of them, closing lingering */
        close_batch_t *closing;         /* being filled */
        co_pool_t *closer;              /* one thread, made on the first batch */
        close_queued_t *queued;         /* the full batches, until the run's end */
        size_t n_queued;
} echo_t;

typedef struct conn {
        echo_t *echo;
        struct conn *prev, *next;
        int fd;
        co_fd_t *io;                    /* registered by the body, NULL before */
        char peer[INET6_ADDRSTRLEN + 16];
} conn_t;

static void format_sockaddr(const struct sockaddr *sa, socklen_t len, char *buf, size_t size) {
        char host[INET6_ADDRSTRLEN];

        if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
                const struct sockaddr_in *in = (const struct sockaddr_in *) sa;

                inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
                snprintf(buf, size, "%s:%u", host, ntohs(in->sin_port));
        } else if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) sa;

                inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
                snprintf(buf, size, "[%s]:%u", host, ntohs(in6->sin6_port));
        } else if (sa->sa_family == AF_UNIX) {
                snprintf(buf, size, "unix");
        } else {
                snprintf(buf, size, "family %d", sa->sa_family);
        }
}

static void format_fd_address(int fd, char *buf, size_t size) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;

        if (getsockname(fd, (struct sockaddr *) &ss, &len) < 0)
                snprintf(buf, size, "fd %d", fd);
        else
                format_sockaddr((struct sockaddr *) &ss, len, buf, size);
}

/* ---- the connection --------------------------------------------------- */

static void conn_debug(const conn_t *c, const char *what, int error, unsigned long long bytes) {
        char nbuf[32];
        co_log_field_t f[3] = { { "peer", c->peer } };
        size_t n = 1;

        /* Thousands of these at a shutdown: nothing formatted for nothing. */
        if (co_log_get_max_level() < CO_LOG_DEBUG)
                return;
        snprintf(nbuf, sizeof nbuf, "%llu", bytes);
        f[n++] = (co_log_field_t) { "bytes", nbuf };
        if (error)
                f[n++] = (co_log_field_t) { "error", strerror(-error) };
        co_log_fields(CO_LOG_DEBUG, f, n, "connection from %s %s", c->peer, what);
}

/* Writes all of buf to a socket that was just found full: waits for room
 * first, then for each bit of progress, at most idle_timeout each time. A
 * cancellation does not stop it: the rest is written under a shield bound
 * by the grace deadline. Returns 0 or -errno. */
static int conn_write_waiting(conn_t *c, const char *buf, size_t size) {
        co_usec_t idle = c->echo->echo_conf->idle_timeout_usec;
        co_usec_t deadline = idle ? co_deadline_after(idle) : CO_USEC_INFINITY;
        bool full = true, shielded = false;
        co_shield_t shield;
        int r = 0;

        while (size > 0) {
                ssize_t k = full ? co_fd_wait_writable(c->io, deadline) : co_fd_write(c->io, buf, size, deadline);

                if (k == -ECANCELED && !shielded) {
                        co_shield_begin(&shield, co_task_grace_deadline());
                        shielded = true;
                        continue;
                }
                if (k < 0) {
                        r = (int) k;
                        break;
                }
                if (full) {
                        full = false;
                        continue;
                }
                buf += k;
                size -= (size_t) k;
                /* Progress: the idle timeout starts over. */
                if (size > 0 && idle)
                        deadline = co_deadline_after(idle);
        }
        if (shielded)
                co_shield_end(&shield);
        return r;
}

/* Writes back the size bytes just read into the shared chunk: at once if
 * the socket takes them all, else the rest from a copy of its own, as the
 * chunk is another connection's as soon as this task waits. 0 or -errno. */
static int conn_write(conn_t *c, size_t size) {
        ssize_t k = send(c->fd, c->echo->chunk, size, MSG_NOSIGNAL | MSG_DONTWAIT);
        char *rest;
        int r;

        if (k == (ssize_t) size)
                return 0;
        if (k < 0) {
                if (errno != EAGAIN && errno != EINTR)
                        return -errno;
                k = 0;
        }
        rest = malloc(size - (size_t) k);
        if (!rest)
                return -ENOMEM;
        memcpy(rest, c->echo->chunk + k, size - (size_t) k);
        r = conn_write_waiting(c, rest, size - (size_t) k);
        free(rest);
        return r;
}

static bool close_batch_all_claimed(close_batch_t *b) {
        return atomic_load(&b->claimed) >= b->n;
}

/* Closes what is left of the batch, sharing it with whoever else closes it. */
static void close_batch_take(close_batch_t *b) {
        for (;;) {
                size_t i = atomic_fetch_add(&b->claimed, ECHO_CLOSE_CLAIM);

                if (i >= b->n)
                        return;
                for (size_t end = i + ECHO_CLOSE_CLAIM < b->n ? i + ECHO_CLOSE_CLAIM : b->n; i < end; i++)
                        close(b->fds[i]);
        }
}

static int close_batch_run(void *arg, void **ret_result) {
        (void) ret_result;
        close_batch_take(arg);
        return 0;
}

static void close_batch_unref(void *arg) {
        close_batch_t *b = arg;

        if (atomic_fetch_sub(&b->refs, 1) == 1)
                free(b);
}

/* Queues the batch being filled and hands it to the closing thread. Without
 * room to queue it, its descriptors are closed here, at once; without a
 * thread, by close_batches_wait. */
static void close_batch_submit(echo_t *e) {
        close_batch_t *b = e->closing;
        close_queued_t *more;

        e->closing = NULL;
        if (!b)
                return;
        more = realloc(e->queued, (e->n_queued + 1) * sizeof *more);
        if (!more) {
                close_batch_take(b);
                free(b);
                return;
        }
        e->queued = more;
        more += e->n_queued++;
        *more = (close_queued_t) { .batch = b };
        if (!e->closer) {
                if (co_pool_new(&e->closer, NULL, 1) < 0)
                        return;
                (void) co_pool_set_avoid_submitter_cpu(e->closer, true);
        }
        atomic_fetch_add(&b->refs, 1);
        if (co_pool_submit_with(e->closer, "tcp-echo close", close_batch_run, b,
                                &(co_pool_job_opts_t) { .free_arg = close_batch_unref }, &more->job) < 0) {
                atomic_fetch_sub(&b->refs, 1);
                more->job = NULL;
        }
}

/* Queues fd for a pool thread to close: 0, or -ENOMEM (close it yourself). */
static int close_later(echo_t *e, int fd) {
        if (!e->closing) {
                e->closing = malloc(sizeof *e->closing);
                if (!e->closing)
                        return -ENOMEM;
                atomic_init(&e->closing->claimed, 0);
                atomic_init(&e->closing->refs, 1);
                e->closing->n = 0;
        }
        e->closing->fds[e->closing->n++] = fd;
        if (e->closing->n == ECHO_CLOSE_BATCH)
                close_batch_submit(e);
        return 0;
}

/* On shutdown, when every other connection still open is closing
 * lingering, nobody fills the batch being filled until they are done (up
 * to ECHO_LINGER_USEC): it goes to the thread now, so that the idle
 * connections' peers have their end of file without waiting for them. */
static void close_batch_submit_if_alone(echo_t *e) {
        if (e->closing && e->n_conns - 1 <= e->n_lingering)
                close_batch_submit(e);
}

/* Every queued descriptor closed before the run's end is reported: waits
 * for the first batch not done (the thread's, in hand or next), then closes
 * what the thread has not claimed, from the last batch back, letting the
 * other tasks run between two, then shuts the thread's pool down, which
 * waits for the descriptors it is closing. Runs in the run's cleanup
 * (shielded, under its grace deadline), after the last connection. */
static void close_batches_wait(echo_t *e) {
        close_batch_submit(e);
        /* First the thread's batch, then the stacks of the tasks that
         * ended (at a shutdown, the bulk of what is left to do): unmapping
         * them is better done while the thread closes than after it. The
         * loop would give them back when it goes idle, but with other
         * tasks still stopping it may not before the thread is done. */
        for (size_t i = 0; i < e->n_queued; i++)
                if (e->queued[i].job && !co_future_is_done(e->queued[i].job)) {
                        (void) co_future_wait(e->queued[i].job, CO_USEC_INFINITY, NULL);
                        break;
                }
        (void) co_loop_trim(co_loop_current());
        for (size_t i = e->n_queued; i > 0; i--) {
                if (close_batch_all_claimed(e->queued[i - 1].batch))
                        break;
                close_batch_take(e->queued[i - 1].batch);
                (void) co_task_yield();
        }
        /* Every descriptor handed to the thread is claimed by now (a batch
         * that could not be handed over is closed below): its jobs not
         * started have nothing left to close, and the shutdown drops them.
         * Said now, while the thread still closes its last claim, it exits
         * as soon as that is done, rather than going to sleep and having to
         * be woken to exit. */
        if (e->closer)
                (void) co_pool_shutdown(e->closer, CO_USEC_INFINITY);
        for (size_t i = 0; i < e->n_queued; i++) {
                if (e->queued[i].job) {
                        (void) co_future_wait(e->queued[i].job, CO_USEC_INFINITY, NULL);
                        co_future_unref(e->queued[i].job);
                }
                /* A job the pool dropped, or none: the descriptors are still open. */
                close_batch_take(e->queued[i].batch);
                close_batch_unref(e->queued[i].batch);
        }
        free(e->queued);
        e->queued = NULL;
        e->n_queued = 0;
        e->closer = co_pool_free(e->closer);
}

/* Whether input came that nobody read: what the handle knows, without a
 * system call (a MSG_PEEK each cost 7 ms on the loop when 10k connections
 * ended at a shutdown). On shutdown, the first connection to get here
 * first has the poller hand out what its epoll holds, so that input that
 * came before the stop counts even if the loop has not polled since; what
 * comes later is seen as the loop polls between connections. Input that
 * comes after its connection's check resets the connection, as it would
 * have after a MSG_PEEK (the close itself comes later, from the thread). */
static bool conn_input_unread(conn_t *c) {
        if (!c->io)
                return false;
        if (co_task_is_cancelled(co_task_current()) && !c->echo->polled_at_stop) {
                (void) co_poller_poll(c->echo->poller);
                c->echo->polled_at_stop = true;
        }
        return co_fd_is_readable(c->io);
}

/* With unread input, a lingering close: send our FIN after what is queued,
 * read (and drop) until the peer's, for a while; a plain close would reset
 * the connection, dropping echoed data the peer has not read yet. Runs
 * shielded (from the finally block). */
static void conn_close(conn_t *c, bool linger) {
        /* Nothing unread (the usual case, an idle connection): a plain close
         * sends what is queued, then FIN. */
        if (linger && !conn_input_unread(c))
                linger = false;
        /* What is read is dropped: into the shared chunk. */
        if (linger && c->io && shutdown(c->fd, SHUT_WR) >= 0) {
                co_usec_t deadline = co_deadline_after(ECHO_LINGER_USEC);

                close_batch_submit_if_alone(c->echo);
                c->echo->n_lingering++;

                for (;;) {
                        ssize_t k = co_fd_read(c->io, c->echo->chunk, ECHO_CHUNK, deadline);

                        if (k <= 0)
                                break;
                }
                c->echo->n_lingering--;
        }
        /* Freed before the number can be reused; the close unregisters it. */
        c->io = co_fd_free(c->io);
        if (linger || !co_task_is_cancelled(co_task_current()) || close_later(c->echo, c->fd) < 0)
                close(c->fd);
        else
                close_batch_submit_if_alone(c->echo);
        c->fd = -1;
}

static void conn_unlink(conn_t *c) {
        c->echo->n_conns--;
        if (c->prev)
                c->prev->next = c->next;
        else
                c->echo->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->prev = c->next = NULL;
}

static int conn_run(void *arg) {
        conn_t *c = arg;
        co_usec_t idle = c->echo->echo_conf->idle_timeout_usec;
        unsigned long long bytes = 0;
        bool linger = false;
        int r = 0;

        CO_TRY {
                r = co_fd_new_polled(&c->io, c->echo->poller, c->fd);
                if (r < 0)
                        CO_LEAVE;
                for (;;) {
                        ssize_t n = co_fd_read(c->io, c->echo->chunk, ECHO_CHUNK,
                                               idle ? co_deadline_after(idle) : CO_USEC_INFINITY);

                        if (n == 0) {
                                conn_debug(c, "closed by the peer", 0, bytes);
                                /* Nothing after the end of file to read. */
                                linger = false;
                                break;
                        }
                        if (n == -ETIMEDOUT) {
                                conn_debug(c, "closed: idle timeout", 0, bytes);
                                break;
                        }
                        if (n == -ECANCELED) {
                                conn_debug(c, "closed: shutting down", 0, bytes);
                                break;
                        }
                        if (n < 0) {
                                conn_debug(c, "failed", (int) n, bytes);
                                break;
                        }
                        linger = true;
                        r = conn_write(c, (size_t) n);
                        if (r == -ENOMEM) {
                                /* The echo is cut short: a reset, not an end
                                 * of file that would pass for all of it. */
                                (void) setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &(struct linger) { 1, 0 },
                                                  sizeof(struct linger));
                                linger = false;
                                break;
                        }
                        if (r < 0) {
                                conn_debug(c, r == -ETIMEDOUT ? "closed: write timeout" : "failed", r, bytes);
                                r = 0;
                                break;
                        }
                        bytes += (unsigned long long) n;
                        if (co_task_is_cancelled(co_task_current())) {
                                conn_debug(c, "closed: shutting down", 0, bytes);
                                break;
                        }
                }
        } CO_FINALLY {
                if (r == -ENOMEM)
                        co_log(CO_LOG_WARNING, "connection from %s: out of memory", c->peer);
                conn_close(c, linger);
                co_sem_release(c->echo->slots);
                conn_unlink(c);
                free(c);
        } CO_END_TRY;
        /* Errors of one connection are not the service's: never fail the
         * run (nor, in a group, the siblings). */
        return 0;
}

/* ---- the listening socket ------------------------------------------------ */

typedef struct resolve {
        const char *host;
        char port[8];
        struct addrinfo *ai;
        int gai;
} resolve_t;

static int resolve_blocking(void *arg, void **ret_result) {
        resolve_t *x = arg;
        struct addrinfo hints = {
                .ai_family = AF_UNSPEC,
                .ai_socktype = SOCK_STREAM,
                .ai_flags = AI_PASSIVE | AI_NUMERICSERV | AI_ADDRCONFIG,
        };

        x->gai = getaddrinfo(x->host, x->port, &hints, &x->ai);
        return 0;
}

static int gai_to_errno(int gai) {
        switch (gai) {
        case EAI_MEMORY: return -ENOMEM;
        case EAI_SYSTEM: return errno > 0 ? -errno : -EIO;
        case EAI_AGAIN: return -EAGAIN;
        default: return -EADDRNOTAVAIL;
        }
}

static int bind_one(const struct addrinfo *ai) {
        int fd, one = 1, zero = 0;

        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
                return -errno;
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
                goto fail;
        /* "::" serves IPv4 too. */
        if (ai->ai_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) < 0)
                goto fail;
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0)
                goto fail;
        if (listen(fd, ECHO_BACKLOG) < 0)
                goto fail;
        return fd;
fail:;
        int r = -errno;

        close(fd);
        return r;
}

static int open_listener(echo_t *e) {
        const conf_listen_t *l = &e->echo_conf->listen;
        struct addrinfo hints = {
                .ai_family = AF_UNSPEC,
                .ai_socktype = SOCK_STREAM,
                .ai_flags = AI_PASSIVE | AI_NUMERICSERV | AI_NUMERICHOST,
        };
        resolve_t x = { .host = l->host };
        int r = -EADDRNOTAVAIL;

        if (l->fd_name) {
                int fd = listen_fd_get(l->fd_name);

                if (fd < 0) {
                        co_task_set_error("no socket named '%s' passed by systemd", l->fd_name);
                        return fd;
                }
                format_fd_address(fd, e->address, sizeof e->address);
                return fd;
        }

        snprintf(x.port, sizeof x.port, "%u", l->port);
        if (l->host && strchr(l->host, ':'))
                snprintf(e->address, sizeof e->address, "[%s]:%u", l->host, l->port);
        else
                snprintf(e->address, sizeof e->address, "%s:%u", l->host ?: "*", l->port);

        /* Literals at once; names in a thread, not to block the loop. */
        x.gai = getaddrinfo(x.host, x.port, &hints, &x.ai);
        if (x.gai == EAI_NONAME) {
                r = co_to_thread("tcp-echo resolve", resolve_blocking, &x, NULL);
                if (r < 0) {
                        if (x.ai)
                                freeaddrinfo(x.ai);
                        return r;
                }
        }
        if (x.gai != 0) {
                r = gai_to_errno(x.gai);
                co_task_set_error("cannot resolve %s: %s", e->address, gai_strerror(x.gai));
                return r;
        }
        for (const struct addrinfo *ai = x.ai; ai; ai = ai->ai_next) {
                r = bind_one(ai);
                if (r >= 0)
                        break;
        }
        freeaddrinfo(x.ai);
        if (r < 0)
                co_task_set_error("cannot listen on %s: %s", e->address, strerror(-r));
        else
                format_fd_address(r, e->address, sizeof e->address);
        return r;
}

/* ---- the run ------------------------------------------------------------- */

static void echo_free(void *arg) {
        echo_t *e = arg;

        /* Connections whose task was cancelled before it ran: their body,
         * which owns them, never will. */
        while (e->conns) {
                conn_t *c = e->conns;

                conn_unlink(c);
                close(c->fd);
                free(c);
        }
        close_batches_wait(e);
        e->poller = co_poller_free(e->poller);
        e->listener = co_fd_free(e->listener);
        if (e->fd >= 0)
                close(e->fd);
        co_sem_free(e->slots);
        free(e->chunk);
        free(e);
}

/* Past these accept errors the listener goes on (after a pause for the
 * resource shortages). */
static bool accept_error_is_transient(int r) {
        switch (r) {
        case -ECONNABORTED: case -EPROTO: case -EPERM: case -EINTR:
        case -ENETDOWN: case -ENOPROTOOPT: case -EHOSTDOWN: case -ENONET:
        case -EHOSTUNREACH: case -EOPNOTSUPP: case -ENETUNREACH:
        case -EMFILE: case -ENFILE: case -ENOBUFS: case -ENOMEM:
                return true;
        default:
                return false;
        }
}

static int tcp_echo_run(const conf_task_t *conf) {
        echo_t *e;
        int r;

        e = calloc(1, sizeof *e);
        if (!e)
                return -ENOMEM;
        e->conf = conf;
        e->echo_conf = TASK_CONF(conf, tcp_echo_conf_t);
        e->fd = -1;
        e->chunk = malloc(ECHO_CHUNK);
        r = e->chunk ? co_sem_new(&e->slots, e->echo_conf->max_connections ?: 1) : -ENOMEM;
        if (r >= 0)
                r = co_poller_new(&e->poller, NULL);
        if (r < 0) {
                echo_free(e);
                return r;
        }
        /* Freed after every connection task (a child) has ended. */
        r = co_defer(echo_free, e);
        if (r < 0) {
                echo_free(e);
                return r;
        }

        r = open_listener(e);
        if (r < 0)
                return r;
        e->fd = r;
        r = co_fd_new(&e->listener, NULL, e->fd);
        if (r < 0) {
                co_task_set_error("cannot watch %s: %s", e->address, strerror(-r));
                return r;
        }
        co_log_fields(CO_LOG_INFO, (&(co_log_field_t) { "address", e->address }), 1,
                      "listening on %s", e->address);

        CO_TRY {
                for (;;) {
                        struct sockaddr_storage ss;
                        socklen_t len = sizeof ss;
                        char name[64];
                        conn_t *c;
                        int fd;

                        r = co_sem_acquire(e->slots, CO_USEC_INFINITY);
                        if (r < 0)
                                CO_LEAVE;
                        fd = co_fd_accept(e->listener, (struct sockaddr *) &ss, &len, CO_USEC_INFINITY);
                        if (fd < 0) {
                                co_sem_release(e->slots);
                                r = fd;
                                if (r == -ECANCELED)
                                        CO_LEAVE;
                                if (!accept_error_is_transient(r)) {
                                        co_task_set_error("accept on %s: %s", e->address, strerror(-r));
                                        CO_LEAVE;
                                }
                                co_log_fields(CO_LOG_WARNING,
                                              ((co_log_field_t[]) { { "address", e->address },
                                                                    { "error", strerror(-r) } }), 2,
                                              "accept on %s: %s", e->address, strerror(-r));
                                if (r == -EMFILE || r == -ENFILE || r == -ENOBUFS || r == -ENOMEM) {
                                        r = co_sleep(100 * CO_USEC_PER_MSEC);
                                        if (r < 0)
                                                CO_LEAVE;
                                }
                                continue;
                        }
                        c = calloc(1, sizeof *c);
                        if (!c) {
                                close(fd);
                                co_sem_release(e->slots);
                                continue;
                        }
                        c->echo = e;
                        c->fd = fd;
                        format_sockaddr((struct sockaddr *) &ss, len, c->peer, sizeof c->peer);
                        snprintf(name, sizeof name, "%s conn %llu", conf->name ?: "tcp-echo", ++e->n_accepted);
                        co_log_fields(CO_LOG_DEBUG, ((co_log_field_t[]) { { "peer", c->peer } }), 1,
                                      "connection from %s", c->peer);
                        r = co_spawn(NULL, name, conn_run, c);
                        if (r < 0) {
                                close(fd);
                                free(c);
                                co_sem_release(e->slots);
                                if (r == -ECANCELED)
                                        CO_LEAVE;
                                continue;
                        }
                        c->next = e->conns;
                        if (c->next)
                                c->next->prev = c;
                        e->conns = c;
                        e->n_conns++;
                }
        } CO_FINALLY {
                /* Stop accepting at once: new connections are refused from
                 * here, while the open ones finish (they are children: the
                 * task's end cancels and waits for them). */
                e->listener = co_fd_free(e->listener);
                close(e->fd);
                e->fd = -1;
        } CO_END_TRY;
        return r;
}

TASK_TYPE(tcp_echo, "tcp-echo", tcp_echo_conf_t, tcp_echo_keys, tcp_echo_run);

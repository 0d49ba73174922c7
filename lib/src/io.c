/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "internal.h"

/* After a call failed with errno: 0 to try it again (it was interrupted,
 * or the descriptor is ready now), else the error. */
static int again(int fd, unsigned events, co_usec_t deadline) {
        int r;

        if (errno == EINTR)
                return 0;
        if (errno != EAGAIN)
                return -errno;
        r = co_fd_wait(fd, events, deadline);
        return r < 0 ? r : 0;
}

ssize_t co_read(int fd, void *buf, size_t size, co_usec_t deadline) {
        for (;;) {
                ssize_t n = read(fd, buf, size);
                int r;

                if (n >= 0)
                        return n;
                r = again(fd, CO_FD_READABLE, deadline);
                if (r < 0)
                        return r;
        }
}

ssize_t co_write_all(int fd, const void *buf, size_t size, co_usec_t deadline) {
        const char *p = buf;
        size_t done = 0;
        bool socket = true;

        while (done < size) {
                /* A peer that went away is -EPIPE, not a SIGPIPE. */
                ssize_t n = socket ? send(fd, p + done, size - done, MSG_NOSIGNAL) : write(fd, p + done, size - done);
                int r;

                if (n >= 0) {
                        done += (size_t) n;
                        continue;
                }
                if (errno == ENOTSOCK) {
                        socket = false;
                        continue;
                }
                r = again(fd, CO_FD_WRITABLE, deadline);
                if (r < 0)
                        return r;
        }
        return (ssize_t) size;
}

int co_accept(int fd, struct sockaddr *ret_addr, socklen_t *ret_len, co_usec_t deadline) {
        for (;;) {
                int c = accept4(fd, ret_addr, ret_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
                int r;

                if (c >= 0)
                        return c;
                /* The client gave up before we got to it: next one. */
                if (errno == ECONNABORTED)
                        continue;
                r = again(fd, CO_FD_READABLE, deadline);
                if (r < 0)
                        return r;
        }
}

int co_connect(int fd, const struct sockaddr *addr, socklen_t len, co_usec_t deadline) {
        int err = 0, r;
        socklen_t elen = sizeof err;

        if (connect(fd, addr, len) == 0)
                return 0;
        if (errno != EINPROGRESS && errno != EINTR)
                return -errno;
        r = co_fd_wait(fd, CO_FD_WRITABLE, deadline);
        if (r < 0)
                return r;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
                return -errno;
        return err ? -err : 0;
}

/* ---- registered descriptors ---------------------------------------------
 * A handle holds two libevent events on its descriptor: a persistent
 * level-triggered EV_READ, added by the first wait for input and kept, and
 * a one-shot EV_WRITE, added only when a write would block (as a
 * hand-written server does). `ready` remembers what the kernel said last:
 * a bit is cleared by EAGAIN or a short read or write (the buffer was
 * drained or filled at that moment) and set again by a report from the
 * loop; calls try the system call only with their bit set.
 *
 * Level-triggered rather than edge-triggered: a cleared bit is only ever
 * a guess that saves a system call, never a lost wake-up. Whatever the
 * guess, the loop reports the descriptor again while it stays readable,
 * so a short read that did not drain (TCP urgent data stops a read at its
 * mark, a Unix socket at a change of sender) costs a trip through the
 * loop, not a hang. And it works on every libevent backend. The price of
 * level triggering is that input nobody waits for is reported on every
 * poll: a report that finds no task waiting, nor one woken and yet to run,
 * removes EV_READ until a task waits again.
 *
 * A handle of a poller (co_fd_new_polled) keeps the same rules, with the
 * poller's epoll in place of the two events: `watched` is what that epoll
 * has it registered for (nothing: not registered). The difference is at
 * the end: freeing such a handle unregisters nothing, since closing the
 * descriptor does (the kernel drops a file from every epoll when its last
 * descriptor closes); a report that still comes for the number meanwhile
 * finds no handle there and is dropped, and comes again on every poll
 * until the close. */

struct co_poller {
        co_loop_t *loop;
        int epfd;
        struct event ev;        /* epfd readable: reports to hand out */
        co_fd_t **by_fd;        /* the handles, by descriptor number */
        size_t n_by_fd;
        size_t n_handles;
};

struct co_fd {
        co_loop_t *loop;
        co_poller_t *poller;    /* NULL: the loop's own events */
        int fd;
        unsigned ready;         /* CO_FD_* bits worth a system call */
        unsigned watched;       /* CO_FD_* bits the poller's epoll has */
        unsigned refs;          /* the owner's, plus one per waiting task */
        unsigned rd_woken;      /* readers woken by a report, yet to run */
        bool rd_armed;
        bool freed;
        bool not_socket;        /* send said ENOTSOCK: write() it is */
        co__waitq_t readers, writers;
        struct event rd, wr;
};

/* Registers h with its poller's epoll for `want` (CO_FD_* bits), or, for
 * none, unregisters it. 0 or -errno. */
static int poller_watch(co_fd_t *h, unsigned want) {
        struct epoll_event ev = {
                .events = ((want & CO_FD_READABLE) ? EPOLLIN | EPOLLRDHUP : 0) |
                          ((want & CO_FD_WRITABLE) ? EPOLLOUT : 0),
                .data.fd = h->fd,
        };
        int op = !h->watched ? EPOLL_CTL_ADD : want ? EPOLL_CTL_MOD : EPOLL_CTL_DEL;

        if (want == h->watched)
                return 0;
        if (epoll_ctl(h->poller->epfd, op, h->fd, &ev) < 0) {
                /* Still registered from a freed handle of the same open
                 * descriptor; or no longer, as it failed (EPOLLERR). */
                if (op == EPOLL_CTL_ADD && errno == EEXIST)
                        op = EPOLL_CTL_MOD;
                else if (op != EPOLL_CTL_ADD && errno == ENOENT)
                        op = want ? EPOLL_CTL_ADD : -1;
                else
                        return -errno;
                if (op >= 0 && epoll_ctl(h->poller->epfd, op, h->fd, &ev) < 0)
                        return -errno;
        }
        h->watched = want;
        return 0;
}

/* Stops watching `what` after a report nobody waits for. */
static void unwatch(co_fd_t *h, unsigned what) {
        if (!h->poller) {
                if (what == CO_FD_READABLE)
                        event_del(&h->rd);
                return;
        }
        /* On failure it stays registered: one more report, no harm. */
        (void) poller_watch(h, h->watched & ~what);
}

static void fd_unref(co_fd_t *h) {
        if (--h->refs == 0)
                free(h);
}

static void fd_readable(evutil_socket_t fd, short what, void *arg) {
        co_fd_t *h = arg;

        (void) fd;
        (void) what;
        h->ready |= CO_FD_READABLE;
        if (h->readers.head) {
                h->rd_woken += co__waitq_wake_all(&h->readers, 0);
        } else if (h->rd_woken == 0) {
                unwatch(h, CO_FD_READABLE);
                h->rd_armed = false;
        }
}

static void fd_writable(evutil_socket_t fd, short what, void *arg) {
        co_fd_t *h = arg;

        (void) fd;
        (void) what;
        h->ready |= CO_FD_WRITABLE;
        /* One-shot, as the loop's EV_WRITE. */
        if (h->poller)
                unwatch(h, CO_FD_WRITABLE);
        co__waitq_wake_all(&h->writers, 0);
}

int co_fd_new(co_fd_t **ret_handle, co_loop_t *loop, int fd) {
        co_fd_t *h;

        if (!ret_handle || fd < 0)
                return -EINVAL;
        if (!loop)
                loop = co_loop_current();
        if (!loop)
                return -EPERM;
        h = calloc(1, sizeof *h);
        if (!h)
                return -ENOMEM;
        h->loop = loop;
        h->fd = fd;
        h->refs = 1;
        /* Unknown yet: worth a try. */
        h->ready = CO_FD_READABLE | CO_FD_WRITABLE;
        if (event_assign(&h->rd, loop->base, fd, EV_READ | EV_PERSIST, fd_readable, h) < 0 ||
            event_assign(&h->wr, loop->base, fd, EV_WRITE, fd_writable, h) < 0) {
                free(h);
                return -EINVAL;
        }
        *ret_handle = h;
        return 0;
}

co_fd_t *co_fd_free(co_fd_t *h) {
        if (!h)
                return NULL;
        /* No-ops for events never added. After this the descriptor may be
         * closed and its number reused: nothing of ours refers to it. A
         * poller's report for it finds no handle. */
        if (h->poller) {
                h->poller->by_fd[h->fd] = NULL;
                h->poller->n_handles--;
        } else {
                event_del(&h->rd);
                event_del(&h->wr);
        }
        h->rd_armed = false;
        h->freed = true;
        h->rd_woken += co__waitq_wake_all(&h->readers, -EBADF);
        co__waitq_wake_all(&h->writers, -EBADF);
        /* Waiters hold references: they look at `freed` when they run. */
        fd_unref(h);
        return NULL;
}

int co_fd_get_fd(const co_fd_t *h) {
        return h ? h->fd : -EINVAL;
}

bool co_fd_is_readable(const co_fd_t *h) {
        return h && (h->ready & CO_FD_READABLE);
}

static int fd_arm(co_fd_t *h, unsigned what) {
        struct event *ev = what == CO_FD_READABLE ? &h->rd : &h->wr;

        if (what == CO_FD_READABLE && h->rd_armed)
                return 0;
        if (h->poller) {
                int r = poller_watch(h, h->watched | what);

                if (r < 0)
                        return r;
        } else {
                /* A pending one-shot EV_WRITE: event_add does nothing. */
                errno = 0;
                if (event_add(ev, NULL) < 0)
                        return errno > 0 ? -errno : -EINVAL;
        }
        if (what == CO_FD_READABLE)
                h->rd_armed = true;
        return 0;
}

/* Waits for a report of `what` (one CO_FD_* bit). 0, or -errno: -EBADF
 * once the handle has been freed, which must then not be touched. */
static int fd_wait(co_fd_t *h, unsigned what, co_usec_t deadline) {
        co_task_t *self = co__current();
        co__waitq_t *q = what == CO_FD_READABLE ? &h->readers : &h->writers;
        co__wnode_t w = { .task = self };
        co_loop_t *l = h->loop;
        bool freed;
        int r;

        if (!self)
                return -EPERM;
        if (self->loop != l)
                return -EINVAL;
        /* Before registering anything with libevent. */
        r = co__checkpoint(self);
        if (r < 0)
                return r;
        r = fd_arm(h, what);
        if (r < 0)
                return r;
        co__waitq_link(q, &w);
        h->refs++;
        l->n_fd_waits++;
        self->wait_kind = CO__WAIT_FD;
        self->wait_fd = h->fd;
        self->wait_events = what;
        r = co__suspend(self, deadline);
        l->n_fd_waits--;
        if (w.linked)
                co__waitq_unlink(q, &w);
        else if (what == CO_FD_READABLE)
                h->rd_woken--;
        freed = h->freed;
        fd_unref(h);
        if (freed && r >= 0)
                r = -EBADF;
        return r;
}

/* After a call on h for `what` that failed with errno (tried), or that was
 * not made because the handle knows it would fail with EAGAIN: waits for a
 * report of `what` (0: try again), or returns the error. */
static int fd_await(co_fd_t *h, unsigned what, bool tried, co_usec_t deadline) {
        if (tried) {
                if (errno != EAGAIN)
                        return -errno;
                h->ready &= ~what;
        }
        return fd_wait(h, what, deadline);
}

ssize_t co_fd_read(co_fd_t *h, void *buf, size_t size, co_usec_t deadline) {
        if (!h || (!buf && size > 0))
                return -EINVAL;
        for (;;) {
                bool tried = false;
                int r;

                if (h->ready & CO_FD_READABLE) {
                        ssize_t n = read(h->fd, buf, size);

                        if (n >= 0) {
                                /* Short: the kernel had no more. */
                                if (n > 0 && (size_t) n < size)
                                        h->ready &= ~(unsigned) CO_FD_READABLE;
                                return n;
                        }
                        if (errno == EINTR)
                                continue;
                        tried = true;
                }
                r = fd_await(h, CO_FD_READABLE, tried, deadline);
                if (r < 0)
                        return r;
        }
}

ssize_t co_fd_write(co_fd_t *h, const void *buf, size_t size, co_usec_t deadline) {
        if (!h || (!buf && size > 0))
                return -EINVAL;
        for (;;) {
                bool tried = false;
                int r;

                if (h->ready & CO_FD_WRITABLE) {
                        /* A peer that went away is -EPIPE, not a SIGPIPE. */
                        ssize_t n = h->not_socket ? write(h->fd, buf, size)
                                                  : send(h->fd, buf, size, MSG_NOSIGNAL);

                        if (n >= 0) {
                                /* Short: the buffer is full. */
                                if ((size_t) n < size)
                                        h->ready &= ~(unsigned) CO_FD_WRITABLE;
                                return n;
                        }
                        if (errno == ENOTSOCK && !h->not_socket) {
                                h->not_socket = true;
                                continue;
                        }
                        if (errno == EINTR)
                                continue;
                        tried = true;
                }
                r = fd_await(h, CO_FD_WRITABLE, tried, deadline);
                if (r < 0)
                        return r;
        }
}

ssize_t co_fd_write_all(co_fd_t *h, const void *buf, size_t size, co_usec_t deadline) {
        const char *p = buf;
        size_t done = 0;

        if (!h || (!buf && size > 0))
                return -EINVAL;
        while (done < size) {
                ssize_t n = co_fd_write(h, p + done, size - done, deadline);

                if (n < 0)
                        return n;
                done += (size_t) n;
        }
        return (ssize_t) size;
}

int co_fd_accept(co_fd_t *h, struct sockaddr *ret_addr, socklen_t *ret_len, co_usec_t deadline) {
        if (!h)
                return -EINVAL;
        for (;;) {
                bool tried = false;
                int r;

                if (h->ready & CO_FD_READABLE) {
                        int c = accept4(h->fd, ret_addr, ret_len, SOCK_NONBLOCK | SOCK_CLOEXEC);

                        if (c >= 0)
                                return c;
                        /* ECONNABORTED: the client gave up before we got
                         * to it; the next one may be there. */
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        tried = true;
                }
                r = fd_await(h, CO_FD_READABLE, tried, deadline);
                if (r < 0)
                        return r;
        }
}

int co_fd_wait_readable(co_fd_t *h, co_usec_t deadline) {
        if (!h)
                return -EINVAL;
        h->ready &= ~(unsigned) CO_FD_READABLE;
        return fd_wait(h, CO_FD_READABLE, deadline);
}

int co_fd_wait_writable(co_fd_t *h, co_usec_t deadline) {
        if (!h)
                return -EINVAL;
        h->ready &= ~(unsigned) CO_FD_WRITABLE;
        return fd_wait(h, CO_FD_WRITABLE, deadline);
}

/* ---- pollers ----------------------------------------------------------- */

/* Hands out what the poller's epoll reports, in up to `rounds` calls of
 * POLLER_BATCH: each report to its handle, as the loop's events would. A
 * report for a number without a handle (freed, its descriptor not closed
 * yet) is dropped, nothing more: another thread may be closing that
 * descriptor, so it is not ours to touch. Level-triggered, the epoll
 * hands out what is still ready again on its next call, in turn: a round
 * per call from the loop, which calls again while there is more. */
#define POLLER_BATCH 256

static int poller_dispatch(co_poller_t *p, size_t rounds) {
        struct epoll_event evs[POLLER_BATCH];
        int n;

        do {
                n = epoll_wait(p->epfd, evs, POLLER_BATCH, 0);
                if (n < 0)
                        return errno == EINTR ? 0 : -errno;
                for (int i = 0; i < n; i++) {
                        int efd = evs[i].data.fd;
                        co_fd_t *h = (size_t) efd < p->n_by_fd ? p->by_fd[efd] : NULL;
                        uint32_t e = evs[i].events;

                        if (!h)
                                continue;
                        if ((h->watched & CO_FD_READABLE) && (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
                                fd_readable(efd, EV_READ, h);
                        if ((h->watched & CO_FD_WRITABLE) && (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)))
                                fd_writable(efd, EV_WRITE, h);
                }
        } while (n == POLLER_BATCH && --rounds > 0);
        return 0;
}

static void poller_ready(evutil_socket_t fd, short what, void *arg) {
        (void) fd;
        (void) what;
        (void) poller_dispatch(arg, 1);
}

int co_poller_poll(co_poller_t *p) {
        if (!p)
                return -EINVAL;
        /* Enough rounds for every handle's turn. */
        return poller_dispatch(p, p->n_handles / POLLER_BATCH + 2);
}

int co_poller_new(co_poller_t **ret_poller, co_loop_t *loop) {
        co_poller_t *p;

        if (!ret_poller)
                return -EINVAL;
        if (!loop)
                loop = co_loop_current();
        if (!loop)
                return -EPERM;
        p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        p->loop = loop;
        p->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (p->epfd < 0) {
                int r = -errno;

                free(p);
                return r;
        }
        if (event_assign(&p->ev, loop->base, p->epfd, EV_READ | EV_PERSIST, poller_ready, p) < 0 ||
            event_add(&p->ev, NULL) < 0) {
                close(p->epfd);
                free(p);
                return -ENOMEM;
        }
        *ret_poller = p;
        return 0;
}

co_poller_t *co_poller_free(co_poller_t *p) {
        if (!p)
                return NULL;
        if (p->n_handles > 0) {
                /* Their handles still point here: leaked, not freed under them. */
                co_log(CO_LOG_ERR, "co_poller_free: %zu handles not freed first; the poller is leaked",
                       p->n_handles);
                return NULL;
        }
        event_del(&p->ev);
        close(p->epfd);
        free(p->by_fd);
        free(p);
        return NULL;
}

int co_fd_new_polled(co_fd_t **ret_handle, co_poller_t *p, int fd) {
        co_fd_t *h;
        int r;

        if (!ret_handle || !p || fd < 0)
                return -EINVAL;
        if ((size_t) fd < p->n_by_fd && p->by_fd[fd])
                return -EBUSY;
        if ((size_t) fd >= p->n_by_fd) {
                size_t n = p->n_by_fd ? p->n_by_fd : 64;
                co_fd_t **v;

                while (n <= (size_t) fd)
                        n *= 2;
                v = realloc(p->by_fd, n * sizeof *v);
                if (!v)
                        return -ENOMEM;
                memset(v + p->n_by_fd, 0, (n - p->n_by_fd) * sizeof *v);
                p->by_fd = v;
                p->n_by_fd = n;
        }
        r = co_fd_new(&h, p->loop, fd);
        if (r < 0)
                return r;
        h->poller = p;
        p->by_fd[fd] = h;
        p->n_handles++;
        *ret_handle = h;
        return 0;
}

/* SPDX-License-Identifier: MIT */

/* co_fd_t, the registered descriptor: reads and writes, end of file and
 * errors, deadlines and cancellation, several tasks on one handle, a handle
 * freed under its waiters, input nobody waits for, a short read that did
 * not drain, every backend, accepting through a handle. */

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include "test-util.h"

static void pipe_nb(int p[2]) {
        assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
}

static void socketpair_nb(int s[2]) {
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, s), 0);
}

/* The tests run twice: with handles of the loop, then with handles of a
 * poller (test_io_poller_*), which the run's main task makes and frees. */
static bool polled;
static co_poller_t *poller;

static int handle_new(co_fd_t **ret_handle, int fd) {
        return polled ? co_fd_new_polled(ret_handle, poller, fd) : co_fd_new(ret_handle, NULL, fd);
}

typedef struct polled_run {
        co_task_fn_t fn;
        void *arg;
} polled_run_t;

static int polled_main(void *arg) {
        polled_run_t *p = arg;
        int r;

        assert_int_equal(co_poller_new(&poller, NULL), 0);
        r = p->fn(p->arg);
        poller = co_poller_free(poller);
        return r;
}

static co_outcome_t run_io(co_task_fn_t fn, void *arg) {
        polled_run_t p = { .fn = fn, .arg = arg };

        return polled ? run_main(polled_main, &p) : run_main(fn, arg);
}

/* ---- reads and writes ------------------------------------------------------ */

static int pipe_basics(void *arg) {
        int *p = arg;
        co_fd_t *rd = NULL, *wr = NULL;
        char buf[16];

        assert_int_equal(handle_new(&rd, p[0]), 0);
        assert_int_equal(handle_new(&wr, p[1]), 0);
        assert_int_equal(co_fd_get_fd(rd), p[0]);
        assert_int_equal(co_fd_write_all(wr, "hello", 5, CO_USEC_INFINITY), 5);
        /* Short: the handle now knows the pipe is empty and waits. */
        assert_int_equal(co_fd_read(rd, buf, sizeof buf, CO_USEC_INFINITY), 5);
        assert_memory_equal(buf, "hello", 5);
        assert_int_equal(co_fd_read(rd, buf, sizeof buf, co_deadline_after(msec(10))), -ETIMEDOUT);
        /* A full read keeps going without a wait. */
        assert_int_equal(co_fd_write(wr, "0123456789", 10, CO_USEC_INFINITY), 10);
        assert_int_equal(co_fd_read(rd, buf, 4, CO_USEC_INFINITY), 4);
        assert_memory_equal(buf, "0123", 4);
        assert_int_equal(co_fd_read(rd, buf, sizeof buf, CO_USEC_INFINITY), 6);
        assert_memory_equal(buf, "456789", 6);
        /* End of file, as often as asked. */
        wr = co_fd_free(wr);
        assert_null(wr);
        close(p[1]);
        p[1] = -1;
        assert_int_equal(co_fd_read(rd, buf, sizeof buf, co_deadline_after(5 * CO_USEC_PER_SEC)), 0);
        assert_int_equal(co_fd_read(rd, buf, sizeof buf, co_deadline_after(5 * CO_USEC_PER_SEC)), 0);
        co_fd_free(rd);
        return 0;
}

static void test_io_pipe_read_write_eof(void **state) {
        int p[2];

        pipe_nb(p);
        assert_int_equal(run_io(pipe_basics, p).kind, CO_OUTCOME_RESULT);
        close(p[0]);
}

typedef struct pingpong {
        int s[2];
        unsigned rounds;
} pingpong_t;

static int pong(void *arg) {
        pingpong_t *pp = arg;
        co_fd_t *h = NULL;
        char buf[64];
        ssize_t n;

        assert_int_equal(handle_new(&h, pp->s[1]), 0);
        while ((n = co_fd_read(h, buf, sizeof buf, co_deadline_after(5 * CO_USEC_PER_SEC))) > 0)
                assert_int_equal(co_fd_write_all(h, buf, (size_t) n, CO_USEC_INFINITY), n);
        assert_int_equal(n, 0);
        co_fd_free(h);
        return 0;
}

static int ping(void *arg) {
        pingpong_t *pp = arg;
        _cleanup_task_ co_task_t *t = NULL;
        co_outcome_t o;
        co_fd_t *h = NULL;

        assert_int_equal(co_spawn(&t, "pong", pong, pp), 0);
        assert_int_equal(handle_new(&h, pp->s[0]), 0);
        for (unsigned i = 0; i < pp->rounds; i++) {
                char out[32], in[32];
                int len = snprintf(out, sizeof out, "message %u", i);
                size_t got = 0;

                assert_int_equal(co_fd_write_all(h, out, (size_t) len, CO_USEC_INFINITY), len);
                while (got < (size_t) len) {
                        ssize_t n = co_fd_read(h, in + got, (size_t) len - got, co_deadline_after(5 * CO_USEC_PER_SEC));

                        assert_true(n > 0);
                        got += (size_t) n;
                }
                assert_memory_equal(in, out, (size_t) len);
        }
        co_fd_free(h);
        /* Our end of file ends pong. */
        assert_int_equal(shutdown(pp->s[0], SHUT_WR), 0);
        assert_int_equal(co_task_join(t, &o), 0);
        assert_int_equal(o.kind, CO_OUTCOME_RESULT);
        return 0;
}

static void test_io_socket_ping_pong(void **state) {
        pingpong_t pp = { .rounds = 1000 };

        socketpair_nb(pp.s);
        assert_int_equal(run_io(ping, &pp).kind, CO_OUTCOME_RESULT);
        close(pp.s[0]);
        close(pp.s[1]);
}

/* Every backend: the handle's events are level-triggered, poll and select
 * have no other kind. */
static void test_io_backends(void **state) {
        static const char *const backends[] = { "epoll", "poll", "select" };

        for (size_t i = 0; i < ELEMENTSOF(backends); i++) {
                co_loop_opts_t opts = { .backend = backends[i] };
                _cleanup_loop_ co_loop_t *loop = NULL;
                _cleanup_task_ co_task_t *t = NULL;
                pingpong_t pp = { .rounds = 100 };
                co_outcome_t o;

                assert_int_equal(co_loop_new_with(&loop, &opts), 0);
                socketpair_nb(pp.s);
                assert_int_equal(co_loop_spawn(loop, &t, "ping", ping, &pp, NULL), 0);
                assert_int_equal(co_loop_run(loop), 0);
                assert_int_equal(co_task_get_outcome(t, &o), 0);
                assert_int_equal(o.kind, CO_OUTCOME_RESULT);
                close(pp.s[0]);
                close(pp.s[1]);
        }
}

/* A writer that fills the buffer waits for room, and gets all of it
 * across to a slow reader. */
typedef struct bulk {
        int s[2];
        size_t size;
        char *data;
} bulk_t;

static int bulk_reader(void *arg) {
        bulk_t *b = arg;
        co_fd_t *h = NULL;
        size_t got = 0;
        char *back = malloc(b->size);

        assert_non_null(back);
        assert_int_equal(handle_new(&h, b->s[1]), 0);
        while (got < b->size) {
                ssize_t n = co_fd_read(h, back + got, b->size - got, co_deadline_after(10 * CO_USEC_PER_SEC));

                assert_true(n > 0);
                got += (size_t) n;
                /* Slow: the writer finds the buffer full. */
                if (got < b->size / 2)
                        assert_int_equal(co_sleep(100), 0);
        }
        assert_memory_equal(back, b->data, b->size);
        free(back);
        co_fd_free(h);
        return 0;
}

static int bulk_writer(void *arg) {
        bulk_t *b = arg;
        _cleanup_task_ co_task_t *t = NULL;
        co_outcome_t o;
        co_fd_t *h = NULL;

        assert_int_equal(co_spawn(&t, "reader", bulk_reader, b), 0);
        assert_int_equal(handle_new(&h, b->s[0]), 0);
        assert_int_equal(co_fd_write_all(h, b->data, b->size, co_deadline_after(10 * CO_USEC_PER_SEC)),
                         (ssize_t) b->size);
        co_fd_free(h);
        assert_int_equal(co_task_join(t, &o), 0);
        assert_int_equal(o.kind, CO_OUTCOME_RESULT);
        return 0;
}

static void test_io_write_all_waits_for_room(void **state) {
        bulk_t b = { .size = 4 << 20 };

        b.data = malloc(b.size);
        assert_non_null(b.data);
        for (size_t i = 0; i < b.size; i++)
                b.data[i] = (char) (i * 7 + i / 4096);
        socketpair_nb(b.s);
        assert_int_equal(run_io(bulk_writer, &b).kind, CO_OUTCOME_RESULT);
        close(b.s[0]);
        close(b.s[1]);
        free(b.data);
}

/* ---- errors ------------------------------------------------------------------ */

static int error_calls(void *arg) {
        int *s = arg;
        co_fd_t *h = NULL;
        char buf[8] = "";

        assert_int_equal(co_fd_new(NULL, NULL, s[0]), -EINVAL);
        assert_int_equal(co_fd_new(&h, NULL, -1), -EINVAL);
        assert_null(h);
        assert_int_equal(co_fd_read(NULL, buf, sizeof buf, CO_USEC_INFINITY), -EINVAL);
        assert_int_equal(co_fd_write(NULL, buf, sizeof buf, CO_USEC_INFINITY), -EINVAL);
        assert_int_equal(co_fd_write_all(NULL, buf, sizeof buf, CO_USEC_INFINITY), -EINVAL);
        assert_int_equal(co_fd_wait_readable(NULL, CO_USEC_INFINITY), -EINVAL);
        assert_int_equal(co_fd_wait_writable(NULL, CO_USEC_INFINITY), -EINVAL);
        assert_int_equal(co_fd_get_fd(NULL), -EINVAL);
        assert_null(co_fd_free(NULL));

        /* A vanished peer: -EPIPE, no SIGPIPE. */
        assert_int_equal(co_fd_new(&h, NULL, s[0]), 0);
        close(s[1]);
        s[1] = -1;
        assert_int_equal(co_fd_read(h, buf, sizeof buf, CO_USEC_INFINITY), 0);
        assert_int_equal(co_fd_write_all(h, "x", 1, CO_USEC_INFINITY), -EPIPE);
        co_fd_free(h);

        /* Not a socket: write(); a bad descriptor: its errno. */
        assert_int_equal(co_fd_new(&h, NULL, 1000), 0);
        assert_int_equal(co_fd_read(h, buf, sizeof buf, CO_USEC_INFINITY), -EBADF);
        assert_int_equal(co_fd_write(h, buf, sizeof buf, CO_USEC_INFINITY), -EBADF);
        co_fd_free(h);
        return 0;
}

static void test_io_errors(void **state) {
        int s[2], p[2];
        co_fd_t *h = NULL;
        char buf[8];

        socketpair_nb(s);
        assert_int_equal(run_main(error_calls, s).kind, CO_OUTCOME_RESULT);
        close(s[0]);

        /* Outside a task: a loop must be named, and nothing may wait. */
        pipe_nb(p);
        assert_int_equal(co_fd_new(&h, NULL, p[0]), -EPERM);
        {
                _cleanup_loop_ co_loop_t *loop = NULL;

                assert_int_equal(co_loop_new(&loop), 0);
                assert_int_equal(co_fd_new(&h, loop, p[0]), 0);
                assert_int_equal(co_fd_read(h, buf, sizeof buf, CO_USEC_INFINITY), -EPERM);
                assert_int_equal(write(p[1], "ab", 2), 2);
                /* Known empty after EAGAIN: -EPERM again, as it would wait. */
                assert_int_equal(co_fd_read(h, buf, sizeof buf, CO_USEC_INFINITY), -EPERM);
                h = co_fd_free(h);
                assert_int_equal(co_fd_new(&h, loop, p[0]), 0);
                assert_int_equal(co_fd_read(h, buf, sizeof buf, CO_USEC_INFINITY), 2);
                co_fd_free(h);
        }
        close(p[0]);
        close(p[1]);
}

/* ---- deadlines and cancellation ---------------------------------------------------- */

static int deadline_calls(void *arg) {
        int *s = arg;
        co_fd_t *h = NULL;
        char buf[4096];
        co_usec_t start;
        ssize_t n;

        assert_int_equal(handle_new(&h, s[0]), 0);
        start = co_now();
        assert_int_equal(co_fd_read(h, buf, sizeof buf, co_deadline_after(msec(20))), -ETIMEDOUT);
        assert_true(co_now() - start >= msec(20));
        /* Fill the socket: then a write waits, until its deadline. */
        memset(buf, 'x', sizeof buf);
        while ((n = send(s[0], buf, sizeof buf, MSG_DONTWAIT)) > 0)
                ;
        assert_int_equal(co_fd_write(h, buf, sizeof buf, co_deadline_after(msec(20))), -ETIMEDOUT);
        assert_int_equal(co_fd_wait_writable(h, co_deadline_after(msec(20))), -ETIMEDOUT);
        /* A deadline already passed does not stop a call that need not
         * wait, like co_read. */
        assert_int_equal(write(s[1], "abc", 3), 3);
        assert_int_equal(co_fd_wait_readable(h, co_deadline_after(5 * CO_USEC_PER_SEC)), 0);
        assert_int_equal(co_fd_read(h, buf, 2, 1), 2);
        assert_int_equal(co_fd_read(h, buf, sizeof buf, 1), 1);
        assert_int_equal(co_fd_read(h, buf, sizeof buf, 1), -ETIMEDOUT);
        co_fd_free(h);
        return 0;
}

static void test_io_deadlines(void **state) {
        int s[2];

        socketpair_nb(s);
        assert_int_equal(run_io(deadline_calls, s).kind, CO_OUTCOME_RESULT);
        close(s[0]);
        close(s[1]);
}

typedef struct cancel_case {
        int s[2];
        co_fd_t *h;
        ssize_t read_result, after, shielded;
} cancel_case_t;

static int cancelled_reader(void *arg) {
        cancel_case_t *c = arg;
        co_shield_t sh;
        char buf[8];

        c->read_result = co_fd_read(c->h, buf, sizeof buf, CO_USEC_INFINITY);
        /* Level-triggered: every later wait fails at once, too. */
        c->after = co_fd_wait_readable(c->h, CO_USEC_INFINITY);
        /* A shield lets it wait again. */
        co_shield_begin(&sh, co_deadline_after(5 * CO_USEC_PER_SEC));
        c->shielded = co_fd_read(c->h, buf, sizeof buf, CO_USEC_INFINITY);
        co_shield_end(&sh);
        return 0;
}

static int cancel_main(void *arg) {
        cancel_case_t *c = arg;
        _cleanup_task_ co_task_t *t = NULL;
        char want[32];

        assert_int_equal(handle_new(&c->h, c->s[0]), 0);
        assert_int_equal(co_spawn(&t, "reader", cancelled_reader, c), 0);
        assert_int_equal(co_sleep(msec(5)), 0);
        snprintf(want, sizeof want, "fd %d readable", c->s[0]);
        assert_string_equal(co_task_get_wait(t), want);
        co_task_cancel(t, "test");
        assert_int_equal(co_sleep(msec(5)), 0);
        assert_int_equal(write(c->s[1], "late", 4), 4);
        assert_int_equal(co_task_join(t, NULL), 0);
        c->h = co_fd_free(c->h);
        return 0;
}

static void test_io_cancel(void **state) {
        cancel_case_t c = { .read_result = 1, .after = 1, .shielded = -1 };

        socketpair_nb(c.s);
        assert_int_equal(run_io(cancel_main, &c).kind, CO_OUTCOME_RESULT);
        assert_int_equal(c.read_result, -ECANCELED);
        assert_int_equal(c.after, -ECANCELED);
        assert_int_equal(c.shielded, 4);
        close(c.s[0]);
        close(c.s[1]);
}

/* ---- several tasks on one handle ------------------------------------------------ */

typedef struct shared {
        int s[2];
        co_fd_t *h;
        char got[2];
        unsigned n_got;
        ssize_t results[2];
        bool free_after_read;
} shared_t;

typedef struct reader_arg {
        shared_t *sh;
        unsigned i;
} reader_arg_t;

static int shared_reader(void *arg) {
        reader_arg_t *a = arg;
        shared_t *sh = a->sh;
        char c;

        a->sh->results[a->i] = co_fd_read(sh->h, &c, 1, co_deadline_after(5 * CO_USEC_PER_SEC));
        if (sh->results[a->i] == 1) {
                sh->got[sh->n_got++] = c;
                /* The other reader was woken by the same report and has
                 * not run: it must get -EBADF, and not touch the handle. */
                if (sh->free_after_read)
                        sh->h = co_fd_free(sh->h);
        }
        return 0;
}

static int two_readers(void *arg) {
        shared_t *sh = arg;
        _cleanup_task_ co_task_t *a = NULL;
        _cleanup_task_ co_task_t *b = NULL;
        reader_arg_t aa = { sh, 0 }, ba = { sh, 1 };
        char want[32];

        assert_int_equal(handle_new(&sh->h, sh->s[0]), 0);
        assert_int_equal(co_spawn(&a, "reader a", shared_reader, &aa), 0);
        assert_int_equal(co_spawn(&b, "reader b", shared_reader, &ba), 0);
        assert_int_equal(co_sleep(msec(5)), 0);
        snprintf(want, sizeof want, "fd %d readable", sh->s[0]);
        assert_string_equal(co_task_get_wait(a), want);
        assert_string_equal(co_task_get_wait(b), want);
        /* One byte: both are woken, one gets it, the other waits again. */
        assert_int_equal(write(sh->s[1], "1", 1), 1);
        assert_int_equal(co_sleep(msec(5)), 0);
        if (!sh->free_after_read) {
                assert_int_equal(sh->n_got, 1);
                assert_true(co_task_get_state(a) == CO_TASK_SUSPENDED || co_task_get_state(b) == CO_TASK_SUSPENDED);
                assert_int_equal(write(sh->s[1], "2", 1), 1);
        }
        assert_int_equal(co_task_join(a, NULL), 0);
        assert_int_equal(co_task_join(b, NULL), 0);
        sh->h = co_fd_free(sh->h);
        return 0;
}

static void test_io_two_readers(void **state) {
        shared_t sh = {};

        socketpair_nb(sh.s);
        assert_int_equal(run_io(two_readers, &sh).kind, CO_OUTCOME_RESULT);
        assert_int_equal(sh.n_got, 2);
        assert_int_equal(sh.results[0], 1);
        assert_int_equal(sh.results[1], 1);
        assert_true((sh.got[0] == '1' && sh.got[1] == '2'));
        close(sh.s[0]);
        close(sh.s[1]);
}

/* A reader and a writer at once on one handle: full duplex. */
typedef struct duplex {
        int s[2];
        co_fd_t *h;
        size_t size;
} duplex_t;

static int duplex_writer(void *arg) {
        duplex_t *d = arg;
        char *buf = calloc(1, d->size);

        assert_non_null(buf);
        assert_int_equal(co_fd_write_all(d->h, buf, d->size, co_deadline_after(10 * CO_USEC_PER_SEC)),
                         (ssize_t) d->size);
        free(buf);
        return 0;
}

static int duplex_main(void *arg) {
        duplex_t *d = arg;
        _cleanup_task_ co_task_t *w = NULL;
        _cleanup_task_ co_task_t *peer = NULL;
        pingpong_t pp = { .s = { -1, d->s[1] } };
        co_outcome_t o;
        char buf[4096];
        size_t got = 0;

        assert_int_equal(handle_new(&d->h, d->s[0]), 0);
        /* The peer echoes all we write, so that our writer fills its
         * buffer while we read. */
        assert_int_equal(co_spawn(&peer, "peer", pong, &pp), 0);
        assert_int_equal(co_spawn(&w, "writer", duplex_writer, d), 0);
        while (got < d->size) {
                ssize_t n = co_fd_read(d->h, buf, sizeof buf, co_deadline_after(10 * CO_USEC_PER_SEC));

                assert_true(n > 0);
                got += (size_t) n;
        }
        assert_int_equal(co_task_join(w, &o), 0);
        assert_int_equal(o.kind, CO_OUTCOME_RESULT);
        assert_int_equal(shutdown(d->s[0], SHUT_WR), 0);
        assert_int_equal(co_task_join(peer, &o), 0);
        assert_int_equal(o.kind, CO_OUTCOME_RESULT);
        d->h = co_fd_free(d->h);
        return 0;
}

static void test_io_reader_and_writer(void **state) {
        duplex_t d = { .size = 2 << 20 };

        socketpair_nb(d.s);
        assert_int_equal(run_io(duplex_main, &d).kind, CO_OUTCOME_RESULT);
        close(d.s[0]);
        close(d.s[1]);
}

/* ---- a handle freed under its waiters ---------------------------------------------------- */

typedef struct freed {
        int s[2];
        co_fd_t *h;
        ssize_t r_read, r_write;
} freed_t;

static int freed_reader(void *arg) {
        freed_t *f = arg;
        char buf[8];

        f->r_read = co_fd_read(f->h, buf, sizeof buf, CO_USEC_INFINITY);
        return 0;
}

static int freed_writer(void *arg) {
        freed_t *f = arg;
        char buf[4096] = { 0 };
        ssize_t n;

        do
                n = co_fd_write(f->h, buf, sizeof buf, CO_USEC_INFINITY);
        while (n > 0);
        f->r_write = n;
        return 0;
}

static int free_under_waiters(void *arg) {
        freed_t *f = arg;
        _cleanup_task_ co_task_t *r = NULL;
        _cleanup_task_ co_task_t *w = NULL;

        assert_int_equal(handle_new(&f->h, f->s[0]), 0);
        assert_int_equal(co_spawn(&r, "reader", freed_reader, f), 0);
        assert_int_equal(co_spawn(&w, "writer", freed_writer, f), 0);
        assert_int_equal(co_sleep(msec(20)), 0);
        assert_int_equal(co_task_get_state(r), CO_TASK_SUSPENDED);
        assert_int_equal(co_task_get_state(w), CO_TASK_SUSPENDED);
        f->h = co_fd_free(f->h);
        /* Unregistered: the descriptor may be closed, its number reused. */
        close(f->s[0]);
        assert_int_equal(co_task_join(r, NULL), 0);
        assert_int_equal(co_task_join(w, NULL), 0);
        return 0;
}

static void test_io_free_wakes_waiters(void **state) {
        freed_t f = { .r_read = 1, .r_write = 1 };

        socketpair_nb(f.s);
        assert_int_equal(run_io(free_under_waiters, &f).kind, CO_OUTCOME_RESULT);
        assert_int_equal(f.r_read, -EBADF);
        assert_int_equal(f.r_write, -EBADF);
        close(f.s[1]);
}

/* Two readers woken by one report; the first frees the handle before the
 * second runs. */
static void test_io_free_after_wake(void **state) {
        shared_t sh = { .free_after_read = true };

        socketpair_nb(sh.s);
        assert_int_equal(run_io(two_readers, &sh).kind, CO_OUTCOME_RESULT);
        assert_int_equal(sh.n_got, 1);
        assert_int_equal(sh.results[0], 1);
        assert_int_equal(sh.results[1], -EBADF);
        close(sh.s[0]);
        close(sh.s[1]);
}

/* ---- what level triggering must not cost ----------------------------------------------- */

static co_usec_t cpu_now(void) {
        struct timespec ts;

        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return (co_usec_t) ts.tv_sec * CO_USEC_PER_SEC + (co_usec_t) ts.tv_nsec / 1000;
}

/* Input arrives that nobody waits for: the loop sleeps all the same. */
static int unwanted_input(void *arg) {
        int *s = arg;
        co_fd_t *h = NULL;
        co_usec_t cpu;
        char buf[8];

        assert_int_equal(handle_new(&h, s[0]), 0);
        /* Registered by a wait. */
        assert_int_equal(co_fd_read(h, buf, sizeof buf, co_deadline_after(msec(5))), -ETIMEDOUT);
        assert_int_equal(write(s[1], "x", 1), 1);
        cpu = cpu_now();
        assert_int_equal(co_sleep(msec(200)), 0);
        cpu = cpu_now() - cpu;
        /* A spinning loop would have burnt about 200 ms. */
        assert_true(cpu < msec(50));
        assert_int_equal(co_fd_read(h, buf, sizeof buf, co_deadline_after(msec(5))), 1);
        co_fd_free(h);
        return 0;
}

static void test_io_unwanted_input_does_not_spin(void **state) {
        int s[2];

        socketpair_nb(s);
        assert_int_equal(run_io(unwanted_input, s).kind, CO_OUTCOME_RESULT);
        close(s[0]);
        close(s[1]);
}

/* A reader woken by a report, queued behind more ready tasks than the
 * scheduler resumes between two polls: the loop polls with the descriptor
 * still readable and nobody waiting on it, and must still come back to run
 * the reader (libevent's EVLOOP_NONBLOCK alone would dispatch for ever). */
static int spinner(void *arg) {
        for (int i = 0; i < 20; i++)
                assert_int_equal(co_task_yield(), 0);
        return 0;
}

typedef struct behind {
        int s[2];
        co_fd_t *h;
        ssize_t r;
} behind_t;

static int behind_reader(void *arg) {
        behind_t *b = arg;
        char buf[8];

        b->r = co_fd_read(b->h, buf, sizeof buf, co_deadline_after(10 * CO_USEC_PER_SEC));
        return 0;
}

static int reader_behind_busy_tasks(void *arg) {
        behind_t *b = arg;
        _cleanup_task_ co_task_t *r = NULL;
        co_task_t *spinners[400];

        assert_int_equal(handle_new(&b->h, b->s[0]), 0);
        assert_int_equal(co_spawn(&r, "reader", behind_reader, b), 0);
        assert_int_equal(co_sleep(msec(5)), 0);
        for (size_t i = 0; i < ELEMENTSOF(spinners); i++)
                assert_int_equal(co_spawn(&spinners[i], "spinner", spinner, NULL), 0);
        assert_int_equal(write(b->s[1], "x", 1), 1);
        assert_int_equal(co_task_join(r, NULL), 0);
        for (size_t i = 0; i < ELEMENTSOF(spinners); i++) {
                assert_int_equal(co_task_join(spinners[i], NULL), 0);
                co_task_unref(spinners[i]);
        }
        b->h = co_fd_free(b->h);
        return 0;
}

static void test_io_woken_reader_behind_busy_tasks(void **state) {
        behind_t b = { .r = -1 };

        socketpair_nb(b.s);
        assert_int_equal(run_io(reader_behind_busy_tasks, &b).kind, CO_OUTCOME_RESULT);
        assert_int_equal(b.r, 1);
        close(b.s[0]);
        close(b.s[1]);
}

/* A short read that did not drain: TCP stops a read at the urgent mark,
 * with more data queued behind it. The handle guesses "drained", and the
 * level-triggered registration corrects the guess without new input. */
static int urgent_reader(void *arg) {
        int *s = arg;
        co_fd_t *h = NULL;
        char buf[64];

        assert_int_equal(send(s[1], "abc", 3, 0), 3);
        assert_int_equal(send(s[1], "X", 1, MSG_OOB), 1);
        assert_int_equal(send(s[1], "def", 3, 0), 3);
        assert_int_equal(co_sleep(msec(20)), 0);
        assert_int_equal(handle_new(&h, s[0]), 0);
        assert_int_equal(co_fd_read(h, buf, sizeof buf, co_deadline_after(CO_USEC_PER_SEC)), 3);
        assert_memory_equal(buf, "abc", 3);
        assert_int_equal(co_fd_read(h, buf, sizeof buf, co_deadline_after(CO_USEC_PER_SEC)), 3);
        assert_memory_equal(buf, "def", 3);
        co_fd_free(h);
        return 0;
}

static void test_io_short_read_that_did_not_drain(void **state) {
        struct sockaddr_in in = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof in;
        int l, s[2];

        l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(l >= 0);
        assert_int_equal(bind(l, (struct sockaddr *) &in, sizeof in), 0);
        assert_int_equal(listen(l, 1), 0);
        assert_int_equal(getsockname(l, (struct sockaddr *) &in, &len), 0);
        s[1] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(s[1] >= 0);
        assert_int_equal(connect(s[1], (struct sockaddr *) &in, sizeof in), 0);
        s[0] = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        assert_true(s[0] >= 0);
        assert_int_equal(run_io(urgent_reader, s).kind, CO_OUTCOME_RESULT);
        close(s[0]);
        close(s[1]);
        close(l);
}

/* ---- accept ---------------------------------------------------------------- */

typedef struct acceptor {
        int listener;
        unsigned want;
        unsigned accepted;
        int after;              /* an accept with nobody left to come */
} acceptor_t;

static int acceptor(void *arg) {
        acceptor_t *a = arg;
        co_fd_t *h = NULL;

        assert_int_equal(handle_new(&h, a->listener), 0);
        while (a->accepted < a->want) {
                struct sockaddr_in peer;
                socklen_t len = sizeof peer;
                int c = co_fd_accept(h, (struct sockaddr *) &peer, &len, co_deadline_after(5 * CO_USEC_PER_SEC));

                assert_true(c >= 0);
                assert_int_equal(peer.sin_family, AF_INET);
                assert_true(fcntl(c, F_GETFL) & O_NONBLOCK);
                assert_true(fcntl(c, F_GETFD) & FD_CLOEXEC);
                close(c);
                a->accepted++;
        }
        a->after = co_fd_accept(h, NULL, NULL, co_deadline_after(msec(10)));
        co_fd_free(h);
        return 0;
}

static int connect_loopback(const struct sockaddr_in *to) {
        int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

        assert_true(c >= 0);
        assert_int_equal(co_connect(c, (const struct sockaddr *) to, sizeof *to, co_deadline_after(CO_USEC_PER_SEC)), 0);
        return c;
}

/* Two bursts of three connections: the acceptor takes each burst, waits
 * between them, and times out after the last. */
static int accept_bursts(void *arg) {
        acceptor_t a = { .listener = *(int *) arg, .want = 6, .after = NOT_YET };
        _cleanup_task_ co_task_t *t = NULL;
        struct sockaddr_in to;
        socklen_t len = sizeof to;
        int c[6];

        assert_int_equal(getsockname(a.listener, (struct sockaddr *) &to, &len), 0);
        assert_int_equal(co_spawn(&t, "acceptor", acceptor, &a), 0);
        for (unsigned i = 0; i < ELEMENTSOF(c); i++) {
                c[i] = connect_loopback(&to);
                if (i % 3 == 2) {
                        assert_int_equal(co_sleep(msec(5)), 0);
                        assert_int_equal(a.accepted, i + 1);
                }
        }
        join_ok(t);
        assert_int_equal(a.after, -ETIMEDOUT);
        for (unsigned i = 0; i < ELEMENTSOF(c); i++)
                close(c[i]);
        return 0;
}

static int listen_loopback(void) {
        struct sockaddr_in in = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

        assert_true(l >= 0);
        assert_int_equal(bind(l, (struct sockaddr *) &in, sizeof in), 0);
        assert_int_equal(listen(l, 16), 0);
        return l;
}

static void test_io_accept_bursts(void **state) {
        int l = listen_loopback();

        assert_int_equal(run_io(accept_bursts, &l).kind, CO_OUTCOME_RESULT);
        close(l);
}

/* Whether an epoll instance of this process watches fd, from the tfd
 * lines of its /proc/self/fdinfo. */
static bool epoll_watches(int fd) {
        char path[64], target[64], line[256];
        bool found = false;

        for (int e = 0; e < 1024 && !found; e++) {
                ssize_t n;
                FILE *f;

                snprintf(path, sizeof path, "/proc/self/fd/%d", e);
                n = readlink(path, target, sizeof target - 1);
                if (n < 0)
                        continue;
                target[n] = '\0';
                if (strcmp(target, "anon_inode:[eventpoll]") != 0)
                        continue;
                snprintf(path, sizeof path, "/proc/self/fdinfo/%d", e);
                f = fopen(path, "re");
                assert_non_null(f);
                while (!found && fgets(line, sizeof line, f)) {
                        int tfd;

                        found = sscanf(line, "tfd: %d", &tfd) == 1 && tfd == fd;
                }
                fclose(f);
        }
        return found;
}

typedef struct between_bursts {
        int listener;
        bool accepted;
        bool registered_between;
} between_bursts_t;

/* Accepts one connection and, before the next accept, looks whether the
 * listener is still watched: what saves the epoll_ctl pair per burst. */
static int accept_then_look(void *arg) {
        between_bursts_t *b = arg;
        co_fd_t *h = NULL;
        int c;

        assert_int_equal(handle_new(&h, b->listener), 0);
        c = co_fd_accept(h, NULL, NULL, co_deadline_after(5 * CO_USEC_PER_SEC));
        assert_true(c >= 0);
        close(c);
        b->accepted = true;
        b->registered_between = epoll_watches(b->listener);
        co_fd_free(h);
        /* A poller's handle leaves unregistering to the descriptor's close. */
        assert_int_equal(epoll_watches(b->listener), polled);
        return 0;
}

static int accept_stays_registered(void *arg) {
        between_bursts_t b = { .listener = *(int *) arg };
        _cleanup_task_ co_task_t *t = NULL;
        _cleanup_close_ int c = -1;
        struct sockaddr_in to;
        socklen_t len = sizeof to;

        assert_int_equal(getsockname(b.listener, (struct sockaddr *) &to, &len), 0);
        assert_int_equal(co_spawn(&t, "acceptor", accept_then_look, &b), 0);
        /* The acceptor waits (registers the listener) before anyone comes. */
        assert_int_equal(co_sleep(msec(5)), 0);
        c = connect_loopback(&to);
        join_ok(t);
        assert_true(b.accepted);
        assert_true(b.registered_between);
        return 0;
}

static void test_io_accept_stays_registered(void **state) {
        int l = listen_loopback();

        assert_int_equal(run_io(accept_stays_registered, &l).kind, CO_OUTCOME_RESULT);
        close(l);
}

static int cancelled_acceptor(void *arg) {
        co_fd_t *h = NULL;
        int r;

        assert_int_equal(handle_new(&h, *(int *) arg), 0);
        r = co_fd_accept(h, NULL, NULL, CO_USEC_INFINITY);
        co_fd_free(h);
        return r;
}

static int accept_cancel(void *arg) {
        _cleanup_task_ co_task_t *t = NULL;
        co_outcome_t o;

        assert_int_equal(co_spawn(&t, "acceptor", cancelled_acceptor, arg), 0);
        assert_int_equal(co_sleep(msec(5)), 0);
        co_task_cancel(t, "test");
        assert_int_equal(co_task_join(t, &o), 0);
        assert_int_equal(o.kind, CO_OUTCOME_CANCELLED);
        assert_int_equal(co_fd_accept(NULL, NULL, NULL, CO_USEC_INFINITY), -EINVAL);
        return 0;
}

static void test_io_accept_cancel(void **state) {
        int l = listen_loopback();

        assert_int_equal(run_io(accept_cancel, &l).kind, CO_OUTCOME_RESULT);
        close(l);
}

/* ---- pollers ----------------------------------------------------------------- */

/* A freed handle of a poller leaves its descriptor registered, and the
 * poller leaves the descriptor alone (another thread may be closing it):
 * a report for it is dropped; a new handle for the same open descriptor
 * takes the registration over; a close from another thread unregisters
 * it, and the loop sleeps again. */
static int close_it(void *arg, void **ret_result) {
        int *fd = arg;

        (void) ret_result;
        close(*fd);
        *fd = -1;
        return 0;
}

static int poller_freed_handles(void *arg) {
        int *s = arg;
        co_poller_t *p = NULL;
        co_fd_t *h = NULL, *h2 = NULL;
        co_usec_t cpu;
        char buf[8];
        int fd = s[0];

        assert_int_equal(co_poller_new(NULL, NULL), -EINVAL);
        assert_int_equal(co_poller_new(&p, NULL), 0);
        assert_int_equal(co_fd_new_polled(NULL, p, s[0]), -EINVAL);
        assert_int_equal(co_fd_new_polled(&h, NULL, s[0]), -EINVAL);
        assert_int_equal(co_fd_new_polled(&h, p, -1), -EINVAL);
        assert_int_equal(co_fd_new_polled(&h, p, s[0]), 0);
        assert_int_equal(co_fd_new_polled(&h2, p, s[0]), -EBUSY);
        assert_null(h2);

        /* Registered by a wait, and left so by the free, report or not. */
        assert_int_equal(co_fd_read(h, buf, sizeof buf, co_deadline_after(msec(5))), -ETIMEDOUT);
        h = co_fd_free(h);
        assert_true(epoll_watches(fd));
        assert_int_equal(write(s[1], "x", 1), 1);
        assert_int_equal(co_sleep(msec(10)), 0);
        assert_true(epoll_watches(fd));

        /* A new handle: its first read finds the input; its wait finds the
         * descriptor registered (EEXIST) and takes the registration over. */
        assert_int_equal(co_fd_new_polled(&h, p, fd), 0);
        assert_int_equal(co_fd_read(h, buf, sizeof buf, co_deadline_after(msec(5))), 1);
        assert_int_equal(co_fd_read(h, buf, sizeof buf, co_deadline_after(msec(5))), -ETIMEDOUT);
        assert_int_equal(write(s[1], "yz", 2), 2);
        assert_int_equal(co_fd_read(h, buf, sizeof buf, co_deadline_after(5 * CO_USEC_PER_SEC)), 2);
        assert_memory_equal(buf, "yz", 2);

        /* Freed with input on the way, closed by another thread. */
        assert_int_equal(co_fd_read(h, buf, sizeof buf, co_deadline_after(msec(5))), -ETIMEDOUT);
        h = co_fd_free(h);
        assert_int_equal(write(s[1], "w", 1), 1);
        assert_int_equal(co_to_thread("close", close_it, &s[0], NULL), 0);
        assert_false(epoll_watches(fd));
        cpu = cpu_now();
        assert_int_equal(co_sleep(msec(200)), 0);
        /* A loop that did not sleep would have burnt about 200 ms. */
        assert_true(cpu_now() - cpu < msec(50));
        p = co_poller_free(p);
        assert_null(p);
        return 0;
}

static void test_io_poller_freed_handles(void **state) {
        int s[2];

        socketpair_nb(s);
        assert_int_equal(run_main(poller_freed_handles, s).kind, CO_OUTCOME_RESULT);
        assert_int_equal(s[0], -1);
        close(s[1]);
}

/* Closing the descriptor of a freed handle unregisters it, and its number,
 * given to the next socket, gets a handle of its own that works. */
static int poller_number_reused(void *arg) {
        co_poller_t *p = NULL;
        co_fd_t *h = NULL;
        int s[2], t[2];
        char buf[8];

        (void) arg;
        assert_int_equal(co_poller_new(&p, NULL), 0);
        socketpair_nb(s);
        assert_int_equal(co_fd_new_polled(&h, p, s[0]), 0);
        assert_int_equal(co_fd_read(h, buf, sizeof buf, co_deadline_after(msec(5))), -ETIMEDOUT);
        h = co_fd_free(h);
        close(s[0]);
        assert_false(epoll_watches(s[0]));
        socketpair_nb(t);
        assert_int_equal(t[0], s[0]);
        assert_int_equal(co_fd_new_polled(&h, p, t[0]), 0);
        assert_int_equal(co_fd_read(h, buf, sizeof buf, co_deadline_after(msec(5))), -ETIMEDOUT);
        /* The old peer's close is nothing to the new socket. */
        close(s[1]);
        assert_int_equal(write(t[1], "ok", 2), 2);
        assert_int_equal(co_fd_read(h, buf, sizeof buf, co_deadline_after(5 * CO_USEC_PER_SEC)), 2);
        h = co_fd_free(h);
        p = co_poller_free(p);
        close(t[0]);
        close(t[1]);
        return 0;
}

static void test_io_poller_number_reused(void **state) {
        assert_int_equal(run_main(poller_number_reused, NULL).kind, CO_OUTCOME_RESULT);
}

/* What a handle knows of its input, and a poll that brings it up to date
 * without going through the loop. */
static int poller_poll_now(void *arg) {
        int *s = arg;
        co_poller_t *p = NULL;
        co_fd_t *h = NULL;
        char buf[8];

        assert_int_equal(co_poller_poll(NULL), -EINVAL);
        assert_false(co_fd_is_readable(NULL));
        assert_int_equal(co_poller_new(&p, NULL), 0);
        assert_int_equal(co_fd_new_polled(&h, p, s[0]), 0);
        /* Nothing known yet: worth a try. */
        assert_true(co_fd_is_readable(h));
        assert_int_equal(co_fd_read(h, buf, sizeof buf, co_deadline_after(msec(5))), -ETIMEDOUT);
        assert_false(co_fd_is_readable(h));
        assert_int_equal(write(s[1], "ab", 2), 2);
        /* The loop has not polled since. */
        assert_false(co_fd_is_readable(h));
        assert_int_equal(co_poller_poll(p), 0);
        assert_true(co_fd_is_readable(h));
        /* Short: drained. Full: maybe more. */
        assert_int_equal(co_fd_read(h, buf, sizeof buf, CO_USEC_INFINITY), 2);
        assert_false(co_fd_is_readable(h));
        assert_int_equal(write(s[1], "cdef", 4), 4);
        assert_int_equal(co_poller_poll(p), 0);
        assert_int_equal(co_fd_read(h, buf, 2, CO_USEC_INFINITY), 2);
        assert_true(co_fd_is_readable(h));
        assert_int_equal(co_fd_read(h, buf, sizeof buf, CO_USEC_INFINITY), 2);
        assert_false(co_fd_is_readable(h));
        h = co_fd_free(h);
        p = co_poller_free(p);
        return 0;
}

static void test_io_poller_poll_now(void **state) {
        int s[2];

        socketpair_nb(s);
        assert_int_equal(run_main(poller_poll_now, s).kind, CO_OUTCOME_RESULT);
        close(s[0]);
        close(s[1]);
}

/* More handles ready at once than the poller takes in one call: each
 * reader is woken, and a poll with nobody waiting reaches every handle and
 * returns. */
#define MANY 300

typedef struct many {
        int s[MANY][2];
        co_fd_t *h[MANY];
        unsigned got;
} many_t;

static int many_reader(void *arg) {
        co_fd_t *h = arg;
        char c;

        assert_int_equal(co_fd_read(h, &c, 1, co_deadline_after(5 * CO_USEC_PER_SEC)), 1);
        return 0;
}

static int poller_many_ready(void *arg) {
        many_t *m = arg;
        co_task_t *t[MANY];
        co_poller_t *p = NULL;

        assert_int_equal(co_poller_new(&p, NULL), 0);
        for (size_t i = 0; i < MANY; i++) {
                socketpair_nb(m->s[i]);
                assert_int_equal(co_fd_new_polled(&m->h[i], p, m->s[i][0]), 0);
                assert_int_equal(co_spawn(&t[i], "reader", many_reader, m->h[i]), 0);
        }
        assert_int_equal(co_sleep(msec(5)), 0);
        for (size_t i = 0; i < MANY; i++)
                assert_int_equal(write(m->s[i][1], "ab", 2), 2);
        for (size_t i = 0; i < MANY; i++) {
                join_ok(t[i]);
                co_task_unref(t[i]);
        }
        /* One byte left in each, and nobody waits. */
        for (size_t i = 0; i < MANY; i++) {
                char c;

                assert_int_equal(co_fd_read(m->h[i], &c, 1, CO_USEC_INFINITY), 1);
                assert_int_equal(c, 'b');
                assert_int_equal(co_fd_read(m->h[i], &c, 1, co_deadline_after(msec(1))), -ETIMEDOUT);
                assert_int_equal(write(m->s[i][1], "c", 1), 1);
        }
        assert_int_equal(co_poller_poll(p), 0);
        for (size_t i = 0; i < MANY; i++) {
                assert_true(co_fd_is_readable(m->h[i]));
                m->h[i] = co_fd_free(m->h[i]);
                close(m->s[i][0]);
                close(m->s[i][1]);
        }
        p = co_poller_free(p);
        return 0;
}

static void test_io_poller_many_ready(void **state) {
        many_t *m = calloc(1, sizeof *m);

        assert_non_null(m);
        assert_int_equal(run_main(poller_many_ready, m).kind, CO_OUTCOME_RESULT);
        free(m);
}

/* ---- the same through a poller ----------------------------------------------- */

#define POLLED(name)                                            \
        static void test_io_poller_##name(void **state) {      \
                polled = true;                                  \
                test_io_##name(state);                          \
                polled = false;                                 \
        }
POLLED(pipe_read_write_eof)
POLLED(socket_ping_pong)
POLLED(write_all_waits_for_room)
POLLED(deadlines)
POLLED(cancel)
POLLED(two_readers)
POLLED(reader_and_writer)
POLLED(free_wakes_waiters)
POLLED(free_after_wake)
POLLED(unwanted_input_does_not_spin)
POLLED(woken_reader_behind_busy_tasks)
POLLED(short_read_that_did_not_drain)
POLLED(accept_bursts)
POLLED(accept_stays_registered)
POLLED(accept_cancel)

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_io_pipe_read_write_eof),
                cmocka_unit_test(test_io_socket_ping_pong),
                cmocka_unit_test(test_io_backends),
                cmocka_unit_test(test_io_write_all_waits_for_room),
                cmocka_unit_test(test_io_errors),
                cmocka_unit_test(test_io_deadlines),
                cmocka_unit_test(test_io_cancel),
                cmocka_unit_test(test_io_two_readers),
                cmocka_unit_test(test_io_reader_and_writer),
                cmocka_unit_test(test_io_free_wakes_waiters),
                cmocka_unit_test(test_io_free_after_wake),
                cmocka_unit_test(test_io_unwanted_input_does_not_spin),
                cmocka_unit_test(test_io_woken_reader_behind_busy_tasks),
                cmocka_unit_test(test_io_short_read_that_did_not_drain),
                cmocka_unit_test(test_io_accept_bursts),
                cmocka_unit_test(test_io_accept_stays_registered),
                cmocka_unit_test(test_io_accept_cancel),
                cmocka_unit_test(test_io_poller_freed_handles),
                cmocka_unit_test(test_io_poller_number_reused),
                cmocka_unit_test(test_io_poller_poll_now),
                cmocka_unit_test(test_io_poller_many_ready),
                cmocka_unit_test(test_io_poller_pipe_read_write_eof),
                cmocka_unit_test(test_io_poller_socket_ping_pong),
                cmocka_unit_test(test_io_poller_write_all_waits_for_room),
                cmocka_unit_test(test_io_poller_deadlines),
                cmocka_unit_test(test_io_poller_cancel),
                cmocka_unit_test(test_io_poller_two_readers),
                cmocka_unit_test(test_io_poller_reader_and_writer),
                cmocka_unit_test(test_io_poller_free_wakes_waiters),
                cmocka_unit_test(test_io_poller_free_after_wake),
                cmocka_unit_test(test_io_poller_unwanted_input_does_not_spin),
                cmocka_unit_test(test_io_poller_woken_reader_behind_busy_tasks),
                cmocka_unit_test(test_io_poller_short_read_that_did_not_drain),
                cmocka_unit_test(test_io_poller_accept_bursts),
                cmocka_unit_test(test_io_poller_accept_stays_registered),
                cmocka_unit_test(test_io_poller_accept_cancel),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}

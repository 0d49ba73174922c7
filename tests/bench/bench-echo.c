/* SPDX-License-Identifier: MIT */
/*
 * bench-echo [--cotaskd PATH] [--python PATH --peer SCRIPT] [N]: TCP echo
 * servers under the same client, one after the other on fresh loopback
 * ports:
 *   raw      a libevent server forked from this program: one persistent
 *            EV_READ event per connection, read and write at once, EV_WRITE
 *            only when a write would block (the floor for a libevent loop);
 *   cotaskd  PATH (build/cotaskd) on a conf with only a tcp-echo task;
 *   uvloop   SCRIPT (peer-echo.py, an asyncio.Protocol server) on PYTHON.
 * The client, here, keeps 50 connections each with one 64-byte message in
 * flight (ping-pong) over one epoll loop; every reply must equal what was
 * sent. After a warm-up of N/10 messages it times N more (default 100,000)
 * and reads the server's CPU time (every thread's, in ns, from
 * /proc/PID/task/TID/schedstat) before and after. Prints, per server,
 * msg/s, p50 and p99 round trip (us) and server CPU us per message:
 *   echo, echo_p50, echo_p99, echo_cpu          cotaskd
 *   echo_raw, echo_p50_raw, ...                 raw libevent
 *   echo_uvloop, echo_p50_uvloop, ...           uvloop
 * then echo_cpu_vs_raw (cotaskd's CPU per message / raw's, this run).
 * msg/s is bound by this single-threaded client on a 2-core machine: CPU
 * per message is the figure to compare. Every server must exit 0 on
 * SIGTERM.
 */
#include <getopt.h>
#include <sys/epoll.h>

#include <event2/event.h>

#include "bench-proc.h"

#define N_CONNS 50
#define MSG 64
#define CHUNK ((size_t) 16 * 1024)

/* ---- the raw libevent server (a forked child) ------------------------------- */

typedef struct raw_conn {
        struct event *rd, *wr;
        int fd;
        size_t off, len;        /* what a blocked write left to send */
        char buf[CHUNK];
} raw_conn_t;

static void raw_close(raw_conn_t *c) {
        event_free(c->rd);
        event_free(c->wr);
        close(c->fd);
        free(c);
}

/* Sends what is pending; false once the connection is dead. Arms EV_WRITE
 * (and stops reading) only while the socket's buffer is full. */
static bool raw_flush(raw_conn_t *c) {
        while (c->off < c->len) {
                ssize_t k = send(c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0 && errno == EAGAIN) {
                        event_del(c->rd);
                        event_add(c->wr, NULL);
                        return true;
                }
                if (k < 0)
                        return false;
                c->off += (size_t) k;
        }
        c->off = c->len = 0;
        return true;
}

static void raw_writable(evutil_socket_t fd, short what, void *arg) {
        raw_conn_t *c = arg;

        if (!raw_flush(c)) {
                raw_close(c);
                return;
        }
        if (c->len == 0) {
                event_del(c->wr);
                event_add(c->rd, NULL);
        }
}

static void raw_readable(evutil_socket_t fd, short what, void *arg) {
        raw_conn_t *c = arg;
        ssize_t n = read(fd, c->buf, sizeof c->buf);

        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (n <= 0) {
                raw_close(c);
                return;
        }
        c->off = 0;
        c->len = (size_t) n;
        if (!raw_flush(c))
                raw_close(c);
}

static void raw_accept(evutil_socket_t lfd, short what, void *arg) {
        struct event_base *base = arg;

        for (;;) {
                int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                raw_conn_t *c;

                if (fd < 0)
                        return;
                c = calloc(1, sizeof *c);
                if (!c) {
                        close(fd);
                        continue;
                }
                c->fd = fd;
                c->rd = event_new(base, fd, EV_READ | EV_PERSIST, raw_readable, c);
                c->wr = event_new(base, fd, EV_WRITE | EV_PERSIST, raw_writable, c);
                if (!c->rd || !c->wr || event_add(c->rd, NULL) < 0)
                        raw_close(c);
        }
}

static void raw_stop(evutil_socket_t sig, short what, void *arg) {
        event_base_loopbreak(arg);
}

/* The child's whole life: serve until SIGTERM, exit 0. */
static __attribute__((noreturn)) void raw_serve(uint16_t port) {
        struct sockaddr_in in = loopback(port);
        struct event_base *base = event_base_new();
        struct event *lev, *sig;
        int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

        if (!base || fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
            bind(fd, (struct sockaddr *) &in, sizeof in) < 0 || listen(fd, 512) < 0)
                _exit(1);
        lev = event_new(base, fd, EV_READ | EV_PERSIST, raw_accept, base);
        sig = evsignal_new(base, SIGTERM, raw_stop, base);
        if (!lev || !sig || event_add(lev, NULL) < 0 || event_add(sig, NULL) < 0)
                _exit(1);
        event_base_dispatch(base);
        _exit(0);
}

/* ---- the client ---------------------------------------------------------------- */

typedef struct conn {
        int fd;
        uint32_t id;
        uint64_t seq;           /* messages sent on this connection */
        uint64_t sent_at;
        size_t got;
        unsigned char out[MSG], in[MSG];
} conn_t;

typedef struct client {
        pid_t server;
        size_t warmup, n;       /* messages: not timed, timed */
        size_t sent, done;
        uint64_t *lat;          /* ns, one per timed message */
        uint64_t t0, t1, cpu0, cpu1;
        conn_t conns[N_CONNS];
} client_t;

/* Every message differs: connection, sequence number, then a pattern of both. */
static void fill(unsigned char *m, uint32_t id, uint64_t seq) {
        memcpy(m, &id, sizeof id);
        memcpy(m + sizeof id, &seq, sizeof seq);
        for (size_t i = sizeof id + sizeof seq; i < MSG; i++)
                m[i] = (unsigned char) (id * 131u + seq * 7u + i);
}

static void send_next(client_t *cl, conn_t *c) {
        fill(c->out, c->id, c->seq++);
        c->got = 0;
        c->sent_at = now_ns();
        /* With one message in flight the socket buffer is empty: all of it goes. */
        if (send(c->fd, c->out, MSG, MSG_NOSIGNAL) != MSG)
                fail("send on connection %u: %s", c->id, strerror(errno));
        cl->sent++;
}

/* The warm-up is over, or the timed part: the server's CPU time then. */
static void mark(client_t *cl, uint64_t *t, uint64_t *cpu) {
        *cpu = proc_cpu_ns(cl->server);
        *t = now_ns();
}

static void on_reply(client_t *cl, conn_t *c) {
        uint64_t t = now_ns();

        if (memcmp(c->in, c->out, MSG) != 0)
                fail("connection %u: reply %" PRIu64 " differs from what was sent", c->id, c->seq - 1);
        cl->done++;
        if (cl->done > cl->warmup)
                cl->lat[cl->done - cl->warmup - 1] = t - c->sent_at;
        if (cl->done == cl->warmup)
                mark(cl, &cl->t0, &cl->cpu0);
        if (cl->sent < cl->warmup + cl->n)
                send_next(cl, c);
}

static void on_readable(client_t *cl, conn_t *c) {
        ssize_t k = read(c->fd, c->in + c->got, MSG - c->got);

        if (k < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (k < 0)
                fail("read on connection %u: %s", c->id, strerror(errno));
        if (k == 0)
                fail("connection %u closed by the server", c->id);
        c->got += (size_t) k;
        if (c->got == MSG)
                on_reply(cl, c);
}

static void client_connect(client_t *cl, uint16_t port, int ep) {
        for (uint32_t i = 0; i < N_CONNS; i++) {
                conn_t *c = &cl->conns[i];
                int one = 1;

                c->id = i;
                c->fd = connect_loopback(port);
                if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0 ||
                    fcntl(c->fd, F_SETFL, O_NONBLOCK) < 0 ||
                    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &(struct epoll_event) { EPOLLIN, { .ptr = c } }) < 0)
                        fail("connection %u: %s", i, strerror(errno));
        }
}

/* warmup + n ping-pongs over the 50 connections. */
static void client_run(client_t *cl, uint16_t port) {
        struct epoll_event evs[N_CONNS];
        int ep = epoll_create1(EPOLL_CLOEXEC);

        if (ep < 0)
                fail("epoll_create1: %s", strerror(errno));
        client_connect(cl, port, ep);
        for (size_t i = 0; i < N_CONNS && cl->sent < cl->warmup + cl->n; i++)
                send_next(cl, &cl->conns[i]);
        while (cl->done < cl->warmup + cl->n) {
                int k = epoll_wait(ep, evs, N_CONNS, 10000);

                if (k < 0 && errno != EINTR)
                        fail("epoll_wait: %s", strerror(errno));
                if (k == 0)
                        fail("no reply for 10 s (%zu of %zu messages)", cl->done, cl->warmup + cl->n);
                for (int i = 0; i < k; i++)
                        on_readable(cl, evs[i].data.ptr);
        }
        mark(cl, &cl->t1, &cl->cpu1);
        for (size_t i = 0; i < N_CONNS; i++)
                close(cl->conns[i].fd);
        close(ep);
}

/* ---- one server ----------------------------------------------------------------- */

typedef struct server {
        const char *label;      /* "": cotaskd; else the name suffix */
        const char *cotaskd;
        const char *python, *peer;
} server_t;

static pid_t server_start(const server_t *s, uint16_t port, conf_dir_t *conf) {
        char text[256], portbuf[8];
        pid_t pid;

        if (s->cotaskd) {
                snprintf(text, sizeof text,
                         "[daemon]\nlog_level = warning\n\n"
                         "[task echo]\ntype = tcp-echo\nlisten = 127.0.0.1:%u\n", port);
                conf_write(conf, text);
                return spawn_cotaskd(s->cotaskd, conf->path);
        }
        if (s->python) {
                char *argv[] = { (char *) s->python, (char *) s->peer, portbuf, NULL };

                snprintf(portbuf, sizeof portbuf, "%u", port);
                return spawn_quiet(argv);
        }
        pid = fork();
        if (pid < 0)
                fail("fork: %s", strerror(errno));
        if (pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                raw_serve(port);
        }
        return pid;
}

/* Runs the client against one server; prints its lines; returns its CPU
 * ns per message. */
static double bench_server(const server_t *s, size_t n) {
        client_t *cl = calloc(1, sizeof *cl);
        uint16_t port = free_port();
        conf_dir_t conf = {};
        char name[64];
        double secs, cpu;

        if (!cl || !(cl->lat = calloc(n, sizeof *cl->lat)))
                fail("out of memory");
        cl->n = n;
        cl->warmup = n / 10 > 500 ? n / 10 : 500;
        cl->server = server_start(s, port, &conf);
        client_run(cl, port);
        stop_server(cl->server, s->cotaskd ? "cotaskd" : s->python ? "the uvloop peer" : "the raw server");
        if (s->cotaskd)
                conf_remove(&conf);

        secs = (double) (cl->t1 - cl->t0) / 1e9;
        cpu = (double) (cl->cpu1 - cl->cpu0) / (double) n;
        snprintf(name, sizeof name, "echo%s", s->label);
        report(name, (double) n / secs, "msg/s");
        snprintf(name, sizeof name, "echo_p50%s", s->label);
        report(name, (double) quantile(cl->lat, n, 0.50) / 1e3, "us");
        snprintf(name, sizeof name, "echo_p99%s", s->label);
        report(name, (double) quantile(cl->lat, n, 0.99) / 1e3, "us");
        snprintf(name, sizeof name, "echo_cpu%s", s->label);
        report(name, cpu / 1e3, "us");
        free(cl->lat);
        free(cl);
        return cpu;
}

static __attribute__((noreturn)) void usage(void) {
        fprintf(stderr, "usage: bench-echo [--cotaskd PATH] [--python PATH --peer SCRIPT] [N >= 1000]\n");
        exit(2);
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "cotaskd", required_argument, NULL, 'c' },
                { "python", required_argument, NULL, 'p' },
                { "peer", required_argument, NULL, 's' },
                {},
        };
        server_t raw = { .label = "_raw" }, daemon = { .label = "" }, uvloop = { .label = "_uvloop" };
        double cpu_raw, cpu_daemon;
        size_t n;
        int c;

        bench_name = "bench-echo";
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                switch (c) {
                case 'c': daemon.cotaskd = optarg; break;
                case 'p': uvloop.python = optarg; break;
                case 's': uvloop.peer = optarg; break;
                default: usage();
                }
        }
        if (!uvloop.python != !uvloop.peer || argc - optind > 1)
                usage();
        n = 100 * 1000;
        if (optind < argc) {
                char *end;

                n = strtoull(argv[optind], &end, 10);
                if (*end || n < 1000)
                        usage();
        }
        signal(SIGPIPE, SIG_IGN);

        cpu_raw = bench_server(&raw, n);
        if (daemon.cotaskd) {
                cpu_daemon = bench_server(&daemon, n);
                report("echo_cpu_vs_raw", cpu_daemon / cpu_raw, "x");
        }
        if (uvloop.python)
                bench_server(&uvloop, n);
        return 0;
}

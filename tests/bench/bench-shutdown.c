/* SPDX-License-Identifier: MIT */
/*
 * bench-shutdown [CONNS [TASKS]]: how long cotaskd takes from SIGTERM to
 * its exit with CONNS idle echo connections (default 10,000) open on a
 * tcp-echo task and TASKS parked tasks (default 100,000) in another.
 *
 * No built-in task type parks tasks, so this program is a cotaskd of its
 * own: linked with libcotaskd.a, it adds the type "bench-parked" with
 * task_type_register() and calls daemon_run(), as "bench-shutdown --daemon
 * CONF" (re-executed from /proc/self/exe, so the daemon is a fresh process
 * with nothing of the client's). A bench-parked task spawns `tasks`
 * children that sleep forever, yields until every one of them has run (is
 * parked), then says BENCH_PARKED=1 on $NOTIFY_SOCKET.
 *
 * The client waits for READY=1 and BENCH_PARKED=1 from the daemon, opens
 * the connections (in batches smaller than the listen backlog, each with
 * one round trip that must echo what was sent: every connection then has
 * its task, parked in read), sends SIGTERM and times it until the process
 * has exited (a pidfd). The exit status must be 0 and every connection
 * must end with a clean end of file, no reset. The same client does the
 * same first with the floor, a raw server (see floor_main) started as
 * "bench-shutdown --floor PORT CONNS TASKS". Prints "shutdown" (ms),
 * "shutdown_floor" (ms), their ratio "shutdown_vs_floor", and
 * "echo_conn_rss": the daemon's resident memory per open idle connection
 * (measured before and after opening them).
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>

#include "bench-proc.h"
#include "daemon.h"
#include "tasks/tasks.h"

#define BATCH 256       /* connections in flight at once (tcp-echo's backlog is 512) */

/* ---- the daemon side: the bench-parked task type ---------------------------- */

typedef struct parked_conf {
        unsigned tasks;
} parked_conf_t;

static const conf_key_t parked_keys[] = {
        { "tasks", &conf_kind_uint, "100000", .min = 1, .max = 10000000,
          .offset = offsetof(parked_conf_t, tasks), .help = "Tasks parked until cancelled." },
        {},
};

/* Children that have started: a global, not on the run's stack, which is
 * gone while its cancelled children end. */
static size_t n_started;

static int parked_child(void *arg) {
        n_started++;
        return co_sleep_until(CO_USEC_INFINITY);
}

static int parked_run(const conf_task_t *conf) {
        const parked_conf_t *p = TASK_CONF(conf, parked_conf_t);
        int r;

        n_started = 0;
        for (unsigned i = 0; i < p->tasks; i++) {
                r = co_spawn(NULL, "parked", parked_child, NULL);
                if (r < 0)
                        return r;
        }
        while (n_started < p->tasks) {
                r = co_task_yield();
                if (r < 0)
                        return r;
        }
        (void) sd_notify(0, "BENCH_PARKED=1");
        return co_sleep_until(CO_USEC_INFINITY);
}

TASK_TYPE(bench_parked, "bench-parked", parked_conf_t, parked_keys, parked_run);

static int daemon_main(const char *conf) {
        daemon_opts_t opts = { .config_path = conf, .log_level = -1, .log_format = -1 };
        int r = task_type_register(&bench_parked_task_type);

        if (r < 0) {
                fprintf(stderr, "bench-shutdown: task_type_register: %s\n", strerror(-r));
                return 1;
        }
        return daemon_run(&opts);
}

/* ---- the floor: the same shutdown with nothing but system calls ------------- */

/* A raw epoll server holding what the daemon holds at the SIGTERM, at the
 * least: the same echo connections, registered, and for each parked task
 * one page (a stack's top page, the least a stackful task can keep), in
 * slots as far apart as the daemon's default stacks (64 KiB + a guard
 * page), mapped 16 MiB at a time as the stack arenas are. On SIGTERM it
 * gives the pages back (adjacent arenas in one munmap) while a second
 * thread, started off this one's CPU as tcp-echo's is, closes the
 * connections; then both close what is left, a chunk at a time, so that
 * neither core idles while the other works. Then it exits: no task
 * resumed, no cleanup, no log, no guard. What the kernel alone spends on
 * this shutdown, spread as evenly as two cores allow, so that the daemon's
 * time has a figure to be held against on the same machine in the same
 * run. */

#define FLOOR_SLOT (CO_STACK_SIZE_DEFAULT + 4096)
#define FLOOR_ARENA ((size_t) 16 << 20)     /* as lib/src/stack.c's */
#define FLOOR_CHUNK 64                      /* connections closed per take */

typedef struct floor_closing {
        int *fds;
        size_t n;
        atomic_size_t next;     /* the first fd no thread has taken */
} floor_closing_t;

static void *floor_close_run(void *arg) {
        floor_closing_t *c = arg;
        size_t i;

        while ((i = atomic_fetch_add(&c->next, FLOOR_CHUNK)) < c->n)
                for (size_t end = i + FLOOR_CHUNK < c->n ? i + FLOOR_CHUNK : c->n; i < end; i++)
                        close(c->fds[i]);
        return NULL;
}

static int cmp_addr(const void *x, const void *y) {
        const char *a = *(char *const *) x, *b = *(char *const *) y;

        return (a > b) - (a < b);
}

/* As lib/src/stack.c gives arenas back: one munmap per run of adjacent
 * ones, each munmap being a TLB shootdown on every core of the process. */
static void floor_unmap(char **arenas, size_t n) {
        qsort(arenas, n, sizeof *arenas, cmp_addr);
        for (size_t i = 0, j; i < n; i = j) {
                for (j = i + 1; j < n && arenas[j] == arenas[j - 1] + FLOOR_ARENA; j++)
                        ;
                munmap(arenas[i], (j - i) * FLOOR_ARENA);
        }
}

/* Attributes that start a thread off this thread's CPU, as tcp-echo's
 * closing thread is started (co_pool_set_avoid_submitter_cpu): else it
 * may share this CPU for milliseconds while the other one idles. */
static pthread_attr_t *away_from_here(pthread_attr_t *attr) {
        int here = sched_getcpu();
        cpu_set_t cpus;

        if (pthread_attr_init(attr) != 0)
                fail("floor: pthread_attr_init");
        if (here >= 0 && here < CPU_SETSIZE && sched_getaffinity(0, sizeof cpus, &cpus) == 0 &&
            CPU_ISSET(here, &cpus) && CPU_COUNT(&cpus) > 1) {
                CPU_CLR(here, &cpus);
                (void) pthread_attr_setaffinity_np(attr, sizeof cpus, &cpus);
        }
        return attr;
}

static void floor_watch(int ep, int fd) {
        struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
                fail("floor: epoll_ctl: %s", strerror(errno));
}

static int floor_main(uint16_t port, unsigned conns, unsigned tasks) {
        struct sockaddr_in sa = loopback(port);
        size_t per_arena = FLOOR_ARENA / FLOOR_SLOT, n_arenas = (tasks + per_arena - 1) / per_arena;
        char **arenas = calloc(n_arenas, sizeof *arenas);
        int *fds = calloc(conns, sizeof *fds);
        size_t n_fds = 0;
        floor_closing_t closing;
        pthread_attr_t attr;
        pthread_t closer;
        sigset_t term;
        int one = 1, lfd, sfd, ep;

        if (!arenas || !fds)
                fail("floor: out of memory");
        sigemptyset(&term);
        sigaddset(&term, SIGTERM);
        if (sigprocmask(SIG_BLOCK, &term, NULL) < 0 || (sfd = signalfd(-1, &term, SFD_CLOEXEC)) < 0 ||
            (ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
            (lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0 ||
            setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
            bind(lfd, (struct sockaddr *) &sa, sizeof sa) < 0 || listen(lfd, 512) < 0)
                fail("floor: set-up: %s", strerror(errno));
        for (size_t a = 0; a < n_arenas; a++) {
                arenas[a] = mmap(NULL, FLOOR_ARENA, PROT_READ | PROT_WRITE,
                                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
                if (arenas[a] == MAP_FAILED)
                        fail("floor: mmap: %s", strerror(errno));
                (void) madvise(arenas[a], FLOOR_ARENA, MADV_NOHUGEPAGE);
                for (size_t i = 0; i < per_arena && a * per_arena + i < tasks; i++)
                        arenas[a][(i + 1) * FLOOR_SLOT - 64] = 1;
        }
        floor_watch(ep, lfd);
        floor_watch(ep, sfd);
        (void) sd_notify(0, "READY=1\nBENCH_PARKED=1");

        for (;;) {
                struct epoll_event evs[64];
                int n = epoll_wait(ep, evs, 64, -1);

                if (n < 0 && errno != EINTR)
                        fail("floor: epoll_wait: %s", strerror(errno));
                for (int i = 0; i < n; i++) {
                        int fd = evs[i].data.fd;
                        char buf[512];
                        ssize_t k;

                        if (fd == sfd)
                                goto stop;
                        if (fd == lfd) {
                                while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                                        if (n_fds == conns)
                                                fail("floor: more than %u connections", conns);
                                        fds[n_fds++] = fd;
                                        floor_watch(ep, fd);
                                }
                                continue;
                        }
                        /* The client's round trips: small, and the socket has room. */
                        k = read(fd, buf, sizeof buf);
                        if (k <= 0 || write(fd, buf, (size_t) k) != k)
                                fail("floor: echo on a connection: %s", k == 0 ? "end of file" : strerror(errno));
                }
        }
stop:
        close(lfd);
        closing = (floor_closing_t) { .fds = fds, .n = n_fds };
        if (pthread_create(&closer, away_from_here(&attr), floor_close_run, &closing) != 0)
                fail("floor: pthread_create");
        floor_unmap(arenas, n_arenas);
        (void) floor_close_run(&closing);
        pthread_join(closer, NULL);
        pthread_attr_destroy(&attr);
        return 0;
}

/* ---- the client ------------------------------------------------------------------ */

/* Sends a message naming connection i, reads it back. */
static void round_trip(int fd, unsigned i) {
        char msg[16], back[16];
        int len = snprintf(msg, sizeof msg, "conn %u", i);

        if (write(fd, msg, (size_t) len) != len || recv(fd, back, (size_t) len, MSG_WAITALL) != len ||
            memcmp(msg, back, (size_t) len) != 0)
                fail("connection %u: no echo", i);
}

/* CONNS echo connections, each with a round trip done. */
static int *open_connections(uint16_t port, unsigned conns) {
        int *fds = calloc(conns, sizeof *fds);

        if (!fds)
                fail("out of memory");
        for (unsigned b = 0; b < conns; b += BATCH) {
                unsigned end = b + BATCH < conns ? b + BATCH : conns;

                for (unsigned i = b; i < end; i++) {
                        fds[i] = connect_loopback(port);
                        if (setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &(struct timeval) { .tv_sec = 5 },
                                       sizeof(struct timeval)) < 0)
                                fail("SO_RCVTIMEO: %s", strerror(errno));
                }
                for (unsigned i = b; i < end; i++)
                        round_trip(fds[i], i);
        }
        return fds;
}

/* After the daemon's exit: an end of file on each, not a reset. Then
 * each is reset from this side: closed with a FIN, the server's end would
 * wait in TIME_WAIT for 60 s, and the kernel would expire these 10k (up
 * to tcp_max_tw_buckets of them, from every run of the last minute) in
 * timer interrupts on the cores of the next runs, inside their windows. */
static void check_closed(int *fds, unsigned conns) {
        for (unsigned i = 0; i < conns; i++) {
                char b;
                ssize_t k = recv(fds[i], &b, 1, 0);

                if (k != 0)
                        fail("connection %u: %s after the shutdown, want a clean end of file", i,
                             k < 0 ? strerror(errno) : "data");
                if (setsockopt(fds[i], SOL_SOCKET, SO_LINGER, &(struct linger) { 1, 0 }, sizeof(struct linger)) < 0)
                        fail("SO_LINGER: %s", strerror(errno));
                close(fds[i]);
        }
        free(fds);
}

static unsigned parse_arg(const char *s, unsigned min) {
        char *end;
        unsigned long v = strtoul(s, &end, 10);

        if (*end || v < min || v > 1000000) {
                fprintf(stderr, "usage: bench-shutdown [CONNS [TASKS]]\n");
                exit(2);
        }
        return (unsigned) v;
}

/* Starts the server `what` (argv), opens the connections, sends SIGTERM:
 * the ms to its exit, which must be clean. ret_conn_rss (may be NULL): its
 * RSS per connection. */
static double shutdown_ms(const char *what, char *const argv[], uint16_t port, unsigned conns,
                          double *ret_conn_rss) {
        uint64_t t0, t1, rss0;
        notify_t n;
        int *fds, code;
        pid_t pid;

        notify_open(&n);
        pid = spawn_quiet(argv);
        notify_wait(&n, pid, (const char *const[]) { "READY=1", "BENCH_PARKED=1", NULL }, 60000);
        rss0 = proc_rss_bytes(pid);
        fds = open_connections(port, conns);
        if (ret_conn_rss)
                *ret_conn_rss = ((double) proc_rss_bytes(pid) - (double) rss0) / conns;

        t0 = now_ns();
        if (kill(pid, SIGTERM) < 0)
                fail("kill: %s", strerror(errno));
        code = wait_exit_at(pid, 30000, &t1);
        if (code != 0)
                fail("%s exited with status %d after SIGTERM, want 0", what, code);
        check_closed(fds, conns);
        notify_close(&n);
        return (double) (t1 - t0) / 1e6;
}

int main(int argc, char **argv) {
        unsigned conns = 10000, tasks = 100000;
        char text[512], port_s[8], conns_s[16], tasks_s[16];
        double ms, floor_ms, conn_rss;
        conf_dir_t conf = {};
        uint16_t port, floor_port;

        bench_name = "bench-shutdown";
        if (argc == 3 && strcmp(argv[1], "--daemon") == 0)
                return daemon_main(argv[2]);
        if (argc == 5 && strcmp(argv[1], "--floor") == 0)
                return floor_main((uint16_t) parse_arg(argv[2], 1), parse_arg(argv[3], 1), parse_arg(argv[4], 1));
        if (argc > 1)
                conns = parse_arg(argv[1], 1);
        if (argc > 2)
                tasks = parse_arg(argv[2], 1);
        if (argc > 3)
                parse_arg("", 1);
        signal(SIGPIPE, SIG_IGN);
        raise_nofile(conns + 64);

        port = free_port();
        floor_port = free_port();
        snprintf(text, sizeof text,
                 "[daemon]\nlog_level = warning\n\n"
                 "[task echo]\ntype = tcp-echo\nlisten = 127.0.0.1:%u\nmax_connections = %u\n\n"
                 "[task parked]\ntype = bench-parked\ntasks = %u\n", port, conns + 16, tasks);
        conf_write(&conf, text);

        /* The floor, then the daemon, each with connections of its own. */
        snprintf(port_s, sizeof port_s, "%u", floor_port);
        snprintf(conns_s, sizeof conns_s, "%u", conns);
        snprintf(tasks_s, sizeof tasks_s, "%u", tasks);
        floor_ms = shutdown_ms("the floor",
                               (char *const[]) { "/proc/self/exe", "--floor", port_s, conns_s, tasks_s, NULL },
                               floor_port, conns, NULL);
        ms = shutdown_ms("cotaskd", (char *const[]) { "/proc/self/exe", "--daemon", conf.path, NULL }, port, conns,
                         &conn_rss);
        conf_remove(&conf);

        report("shutdown", ms, "ms");
        report("shutdown_floor", floor_ms, "ms");
        report("shutdown_vs_floor", ms / floor_ms, "x");
        report("echo_conn_rss", conn_rss, "B");
        return 0;
}

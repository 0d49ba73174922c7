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
 * must end with a clean end of file, no reset. Prints "shutdown" (ms), and
 * "echo_conn_rss": the daemon's resident memory per open idle connection
 * (measured before and after opening them).
 */
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

/* After the daemon's exit: an end of file on each, not a reset. */
static void check_closed(int *fds, unsigned conns) {
        for (unsigned i = 0; i < conns; i++) {
                char b;
                ssize_t k = recv(fds[i], &b, 1, 0);

                if (k != 0)
                        fail("connection %u: %s after the shutdown, want a clean end of file", i,
                             k < 0 ? strerror(errno) : "data");
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

int main(int argc, char **argv) {
        unsigned conns = 10000, tasks = 100000;
        uint16_t port;
        conf_dir_t conf = {};
        char text[512];
        uint64_t t0, t1, rss0, rss1;
        notify_t n;
        int *fds, code;
        pid_t pid;

        bench_name = "bench-shutdown";
        if (argc == 3 && strcmp(argv[1], "--daemon") == 0)
                return daemon_main(argv[2]);
        if (argc > 1)
                conns = parse_arg(argv[1], 1);
        if (argc > 2)
                tasks = parse_arg(argv[2], 1);
        if (argc > 3)
                parse_arg("", 1);
        signal(SIGPIPE, SIG_IGN);
        raise_nofile(conns + 64);

        port = free_port();
        snprintf(text, sizeof text,
                 "[daemon]\nlog_level = warning\n\n"
                 "[task echo]\ntype = tcp-echo\nlisten = 127.0.0.1:%u\nmax_connections = %u\n\n"
                 "[task parked]\ntype = bench-parked\ntasks = %u\n", port, conns + 16, tasks);
        conf_write(&conf, text);
        notify_open(&n);
        pid = spawn_quiet((char *const[]) { "/proc/self/exe", "--daemon", conf.path, NULL });
        notify_wait(&n, pid, (const char *const[]) { "READY=1", "BENCH_PARKED=1", NULL }, 60000);
        rss0 = proc_rss_bytes(pid);
        fds = open_connections(port, conns);
        rss1 = proc_rss_bytes(pid);

        t0 = now_ns();
        if (kill(pid, SIGTERM) < 0)
                fail("kill: %s", strerror(errno));
        code = wait_exit(pid, 30000);
        t1 = now_ns();
        if (code != 0)
                fail("the daemon exited with status %d after SIGTERM, want 0", code);
        check_closed(fds, conns);
        notify_close(&n);
        conf_remove(&conf);
        report("shutdown", (double) (t1 - t0) / 1e6, "ms");
        report("echo_conn_rss", ((double) rss1 - (double) rss0) / conns, "B");
        return 0;
}

/* SPDX-License-Identifier: MIT */
/* cotaskd, the real binary: command line, exit codes, the sd_notify
 * sequence, reload (good and broken), supervision, shutdown. */
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "test-util.h"

typedef struct daemon_proc {
        pid_t pid;
        char dir[64];
        char conf[128];
        char log[128];
        int notify_fd;
} daemon_proc_t;

static const char *cotaskd(void) {
        static char path[512];

        snprintf(path, sizeof path, "%s/cotaskd", getenv("COTASK_BUILD") ?: "build");
        return path;
}

static void write_conf(daemon_proc_t *d, const char *text) {
        FILE *f;

        snprintf(d->conf, sizeof d->conf, "%s/cotaskd.conf", d->dir);
        f = fopen(d->conf, "we");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
        assert_int_equal(chmod(d->conf, 0600), 0);
}

static void setup_dir(daemon_proc_t *d) {
        *d = (daemon_proc_t) { .notify_fd = -1 };
        snprintf(d->dir, sizeof d->dir, "/tmp/cotaskd-test-XXXXXX");
        assert_non_null(mkdtemp(d->dir));
        snprintf(d->log, sizeof d->log, "%s/log", d->dir);
}

static void test_daemon_command_line(void **state) {
        daemon_proc_t d;
        char *out = NULL;

        setup_dir(&d);
        write_conf(&d, "[task hb]\ntype = heartbeat\n");
        assert_int_equal(run_ours((char *[]) { (char *) cotaskd(), (char *) "--config", d.conf,
                                               (char *) "--check-config", NULL }, NULL), 0);
        assert_int_equal(run_ours((char *[]) { (char *) cotaskd(), (char *) "--bogus", NULL }, NULL), 2);
        assert_int_equal(run_ours((char *[]) { (char *) cotaskd(), (char *) "--log-level", (char *) "loud",
                                               NULL }, NULL), 2);
        assert_int_equal(run_ours((char *[]) { (char *) cotaskd(), (char *) "--version", NULL }, &out), 0);
        assert_non_null(strstr(out, "cotaskd "));
        free(out);
        assert_int_equal(run_ours((char *[]) { (char *) cotaskd(), (char *) "--help", NULL }, &out), 0);
        assert_non_null(strstr(out, "--check-config"));
        free(out);

        /* Every error, with file and line; exit 1. */
        write_conf(&d, "[task hb]\ntype = heartbeat\nintervall = 5s\n[task x]\nrestart = sometimes\n");
        assert_int_equal(run_ours((char *[]) { (char *) cotaskd(), (char *) "--config", d.conf,
                                               (char *) "--check-config", NULL }, &out), 1);
        assert_non_null(strstr(out, "cotaskd.conf:3:"));
        assert_non_null(strstr(out, "cotaskd.conf:5:"));
        free(out);
        /* Running with it is a configuration error too. */
        assert_int_equal(run_ours((char *[]) { (char *) cotaskd(), (char *) "--config", d.conf, NULL }, NULL), 1);
}

static void test_daemon_dump_config_round_trip(void **state) {
        daemon_proc_t d;
        char *first = NULL, *second = NULL;

        setup_dir(&d);
        write_conf(&d, "[task hb]\ntype = heartbeat\ninterval = 2min\n");
        assert_int_equal(run_ours((char *[]) { (char *) cotaskd(), (char *) "--config", d.conf,
                                               (char *) "--dump-config", NULL }, &first), 0);
        assert_non_null(strstr(first, "shutdown_timeout"));
        write_conf(&d, first);
        assert_int_equal(run_ours((char *[]) { (char *) cotaskd(), (char *) "--config", d.conf,
                                               (char *) "--dump-config", NULL }, &second), 0);
        assert_string_equal(first, second);
        free(first);
        free(second);
}

/* ---- a running daemon ------------------------------------------------------ */

static void start(daemon_proc_t *d, const char *watchdog_usec) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char notify_path[100];
        int one = 1, logfd;

        snprintf(notify_path, sizeof notify_path, "%s/notify", d->dir);
        d->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", notify_path);
        assert_int_equal(bind(d->notify_fd, (struct sockaddr *) &sa, sizeof sa), 0);
        assert_int_equal(setsockopt(d->notify_fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one), 0);
        logfd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(logfd >= 0);
        d->pid = fork();
        assert_true(d->pid >= 0);
        if (d->pid == 0) {
                /* A failed assertion must not leave a daemon behind. */
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                setenv("NOTIFY_SOCKET", notify_path, 1);
                setenv("RUNTIME_DIRECTORY", d->dir, 1);
                if (watchdog_usec) {
                        char pid[16];

                        snprintf(pid, sizeof pid, "%d", (int) getpid());
                        setenv("WATCHDOG_PID", pid, 1);
                        setenv("WATCHDOG_USEC", watchdog_usec, 1);
                }
                dup2(logfd, STDERR_FILENO);
                exec_program((char *[]) { (char *) cotaskd(), (char *) "--config", d->conf,
                                          (char *) "--log-format", (char *) "logfmt", NULL });
                _exit(127);
        }
        close(logfd);
}

/* The next notify message (fails after 10 s). */
static void next_notify(daemon_proc_t *d, char *buf, size_t size) {
        struct pollfd p = { .fd = d->notify_fd, .events = POLLIN };
        ssize_t n;

        assert_int_equal(poll(&p, 1, 10000), 1);
        n = recv(d->notify_fd, buf, size - 1, 0);
        assert_true(n > 0);
        buf[n] = '\0';
}

/* Skips other messages (STATUS=, WATCHDOG=1) until one starts with want. */
static void expect_notify(daemon_proc_t *d, const char *want) {
        char buf[512];

        for (;;) {
                next_notify(d, buf, sizeof buf);
                if (strncmp(buf, want, strlen(want)) == 0)
                        return;
                if (strncmp(buf, "STATUS=", 7) != 0 && strncmp(buf, "WATCHDOG=1", 10) != 0)
                        fail_msg("got '%s' while waiting for '%s'", buf, want);
        }
}

/* Waits for the exit; with a SIGTERM first if send_term. */
static int finish(daemon_proc_t *d, bool send_term) {
        int status;

        if (send_term)
                kill(d->pid, SIGTERM);
        assert_int_equal(waitpid(d->pid, &status, 0), d->pid);
        close(d->notify_fd);
        assert_true(WIFEXITED(status));
        return WEXITSTATUS(status);
}

static char *read_log(const daemon_proc_t *d) {
        return read_text_file(d->log, 1 << 20);
}

static bool wait_log(const daemon_proc_t *d, const char *needle) {
        for (int i = 0; i < 500; i++) {
                char *log = read_log(d);
                bool found = strstr(log, needle) != NULL;

                free(log);
                if (found)
                        return true;
                usleep(10 * 1000);
        }
        return false;
}

static void test_daemon_notify_sequence_and_reload(void **state) {
        daemon_proc_t d;
        char buf[512], *log;

        setup_dir(&d);
        write_conf(&d, "[task hb]\ntype = heartbeat\ninterval = 50ms\n");
        start(&d, "200000");
        expect_notify(&d, "READY=1");
        /* A watchdog ping at half of WATCHDOG_USEC. */
        expect_notify(&d, "WATCHDOG=1");

        /* A valid reload: a new task, the unchanged one untouched. */
        write_conf(&d, "[task hb]\ntype = heartbeat\ninterval = 50ms\n[task hb2]\ntype = heartbeat\ninterval = 1h\n");
        kill(d.pid, SIGHUP);
        expect_notify(&d, "RELOADING=1\nMONOTONIC_USEC=");
        expect_notify(&d, "READY=1");
        assert_true(wait_log(&d, "task 'hb2' started"));

        /* A broken one: the old configuration goes on. */
        write_conf(&d, "[task hb]\ntype = heartbeat\ninterval = fast\n");
        kill(d.pid, SIGHUP);
        expect_notify(&d, "RELOADING=1");
        expect_notify(&d, "READY=1");
        assert_true(wait_log(&d, "reload failed"));

        kill(d.pid, SIGUSR1);
        assert_true(wait_log(&d, "supervised 'hb2': running"));
        kill(d.pid, SIGTERM);
        expect_notify(&d, "STOPPING=1");
        assert_int_equal(finish(&d, false), 0);
        log = read_log(&d);
        assert_non_null(strstr(log, "cotaskd.conf:3:"));
        /* hb was never restarted: one start only. */
        assert_null(strstr(strstr(log, "task 'hb' started") + 1, "task 'hb' started"));
        assert_non_null(strstr(log, "task 'hb2' exited: stopped"));
        assert_non_null(strstr(log, "cotaskd stopped (exit 0)"));
        (void) buf;
        free(log);
}

static void test_daemon_gives_up_and_exits_4(void **state) {
        daemon_proc_t d;
        char *log;

        setup_dir(&d);
        write_conf(&d, "[task flaky]\ntype = exec\ncommand = /bin/false\nrestart = on-failure\n"
                       "restart_delay = 10ms\nrestart_delay_max = 40ms\nrestart_intensity = 3/10s\n"
                       "on_give_up = exit\n");
        start(&d, NULL);
        {
                int status;

                assert_int_equal(waitpid(d.pid, &status, 0), d.pid);
                assert_true(WIFEXITED(status));
                assert_int_equal(WEXITSTATUS(status), 4);
        }
        close(d.notify_fd);
        log = read_log(&d);
        /* Back-off doubling up to its maximum, then the limit. */
        assert_non_null(strstr(log, "restarting in 10 ms"));
        assert_non_null(strstr(log, "restarting in 20 ms"));
        assert_non_null(strstr(log, "restarting in 40 ms"));
        assert_non_null(strstr(log, "giving up"));
        free(log);
}

static unsigned free_port(void) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof sa;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof sa), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
        close(fd);
        return ntohs(sa.sin_port);
}

static int count(const char *haystack, const char *needle) {
        int n = 0;

        for (const char *p = haystack; (p = strstr(p, needle)); p++)
                n++;
        return n;
}

/* One echo round trip on a connected blocking socket. */
static void echo_once(int fd, int i) {
        char out[32], in[32] = "";
        size_t len = (size_t) snprintf(out, sizeof out, "ping %d\n", i), got = 0;

        assert_int_equal(write(fd, out, len), (ssize_t) len);
        while (got < len) {
                ssize_t n = read(fd, in + got, len - got);

                assert_true(n > 0);
                got += (size_t) n;
        }
        assert_memory_equal(in, out, len);
}

/* Every broken file of the corpus, sent by SIGHUP to a running daemon: it
 * keeps the old configuration, and an echo client connected all along
 * loses nothing. */
/* cotaskd --reload PID returns only once the reload has been applied (a
 * task the new configuration adds already listens) or rejected. */
static void test_daemon_reload_waits_until_applied(void **state) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        unsigned port1 = free_port(), port2 = free_port();
        char text[256], pid[16], state_path[128], *out = NULL;
        char *const reload[] = { (char *) cotaskd(), (char *) "--reload", pid, NULL };
        daemon_proc_t d;
        int fd;

        setup_dir(&d);
        snprintf(text, sizeof text, "[task one]\ntype = tcp-echo\nlisten = 127.0.0.1:%u\n", port1);
        write_conf(&d, text);
        start(&d, NULL);
        expect_notify(&d, "READY=1");
        snprintf(pid, sizeof pid, "%d", (int) d.pid);
        snprintf(state_path, sizeof state_path, "%s/reload-state", d.dir);
        assert_int_equal(access(state_path, F_OK), 0);

        /* Without the daemon's runtime directory there is nothing to wait on. */
        unsetenv("RUNTIME_DIRECTORY");
        assert_int_equal(run_ours(reload, &out), 1);
        assert_non_null(strstr(out, "RUNTIME_DIRECTORY"));
        free(out);
        setenv("RUNTIME_DIRECTORY", d.dir, 1);

        snprintf(text, sizeof text, "[task one]\ntype = tcp-echo\nlisten = 127.0.0.1:%u\n"
                 "[task two]\ntype = tcp-echo\nlisten = 127.0.0.1:%u\n", port1, port2);
        write_conf(&d, text);
        assert_int_equal(run_ours(reload, NULL), 0);
        /* No retry: listening is part of "applied". */
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sa.sin_port = htons((uint16_t) port2);
        assert_int_equal(connect(fd, (struct sockaddr *) &sa, sizeof sa), 0);
        echo_once(fd, 1);
        expect_notify(&d, "RELOADING=1");
        expect_notify(&d, "READY=1");

        write_conf(&d, "[task one]\ntype = tcp-echo\nlisten = nowhere\n");
        assert_int_equal(run_ours(reload, &out), 1);
        assert_non_null(strstr(out, "rejected"));
        free(out);
        echo_once(fd, 2);
        close(fd);

        assert_int_equal(run_ours((char *[]) { (char *) cotaskd(), (char *) "--reload", (char *) "12x", NULL },
                                  NULL), 2);
        assert_int_equal(finish(&d, true), 0);
        /* A stale state file must never answer for a later daemon. */
        assert_int_equal(access(state_path, F_OK), -1);
        assert_int_equal(run_ours(reload, &out), 1);
        free(out);
        unsetenv("RUNTIME_DIRECTORY");
}

static void test_daemon_broken_reloads_keep_serving(void **state) {
        const char *data = getenv("COTASK_TESTDATA") ?: "tests/data/conf";
        char good[256], path[512], *log;
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        unsigned port = free_port();
        daemon_proc_t d;
        int fd, n = 0, files = 0;
        struct dirent *de;
        DIR *dir;

        setup_dir(&d);
        snprintf(good, sizeof good, "[task echo]\ntype = tcp-echo\nlisten = 127.0.0.1:%u\n", port);
        write_conf(&d, good);
        start(&d, NULL);
        expect_notify(&d, "READY=1");
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sa.sin_port = htons((uint16_t) port);
        assert_int_equal(connect(fd, (struct sockaddr *) &sa, sizeof sa), 0);
        echo_once(fd, n++);
        dir = opendir(data);
        assert_non_null(dir);
        while ((de = readdir(dir))) {
                char *text;

                if (strncmp(de->d_name, "bad-", 4) != 0)
                        continue;
                snprintf(path, sizeof path, "%s/%s", data, de->d_name);
                text = read_text_file(path, 65536);
                write_conf(&d, text);
                free(text);
                kill(d.pid, SIGHUP);
                expect_notify(&d, "RELOADING=1");
                expect_notify(&d, "READY=1");
                files++;
                echo_once(fd, n++);
        }
        closedir(dir);
        assert_true(files >= 30);
        log = read_log(&d);
        /* Each was refused, and the echo task never restarted. */
        assert_true(count(log, "reload failed") >= files);
        assert_int_equal(count(log, "task 'echo' started"), 1);
        free(log);
        close(fd);
        assert_int_equal(finish(&d, true), 0);
}

/* SIGTERM with a thousand open echo connections and an exec child: every
 * connection gets a clean end of stream, the child is stopped, every task's
 * end is logged, and the daemon exits 0 well within shutdown_timeout. */
static void test_daemon_sigterm_with_1000_connections(void **state) {
        enum { N = 1000 };
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        struct rlimit rl;
        unsigned port = free_port();
        char conf[512], *log;
        static int fds[N];
        daemon_proc_t d;
        co_usec_t t0;

        /* Room for a thousand sockets on each side (the daemon inherits). */
        assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
        if (rl.rlim_max < 4 * N)
                skip();
        rl.rlim_cur = rl.rlim_max;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
        setup_dir(&d);
        snprintf(conf, sizeof conf,
                 "[daemon]\nshutdown_timeout = 10s\n"
                 "[task echo]\ntype = tcp-echo\nlisten = 127.0.0.1:%u\nmax_connections = 2000\n"
                 "[task child]\ntype = exec\ncommand = /bin/sh -c 'echo up; while :; do sleep 0.1; done'\n", port);
        write_conf(&d, conf);
        start(&d, NULL);
        expect_notify(&d, "READY=1");
        assert_true(wait_log(&d, "msg=up"));
        sa.sin_port = htons((uint16_t) port);
        for (int i = 0; i < N; i++) {
                fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                assert_true(fds[i] >= 0);
                assert_int_equal(connect(fds[i], (struct sockaddr *) &sa, sizeof sa), 0);
        }
        /* Each one served before the stop. */
        for (int i = 0; i < N; i++)
                echo_once(fds[i], i);
        t0 = co_now();
        kill(d.pid, SIGTERM);
        expect_notify(&d, "STOPPING=1");
        assert_int_equal(finish(&d, false), 0);
        assert_true(co_now() - t0 < 10 * CO_USEC_PER_SEC);
        for (int i = 0; i < N; i++) {
                char c;

                /* A clean end of stream, not a reset. */
                assert_int_equal(read(fds[i], &c, 1), 0);
                close(fds[i]);
        }
        log = read_log(&d);
        assert_non_null(strstr(log, "task 'echo' exited: stopped"));
        assert_non_null(strstr(log, "task 'child' exited: stopped"));
        assert_non_null(strstr(log, "cotaskd stopped (exit 0)"));
        free(log);
}

static void test_daemon_gives_up_and_stays_up(void **state) {
        daemon_proc_t d;
        char *log;

        setup_dir(&d);
        write_conf(&d, "[task flaky]\ntype = exec\ncommand = /bin/false\nrestart = always\n"
                       "restart_delay = 10ms\nrestart_intensity = 2/10s\non_give_up = stop\n"
                       "[task hb]\ntype = heartbeat\ninterval = 1h\n");
        start(&d, NULL);
        expect_notify(&d, "READY=1");
        assert_true(wait_log(&d, "giving up"));
        /* The rest goes on; the status line says what happened. */
        expect_notify(&d, "STATUS=2 tasks: 1 running, 0 restarting, 0 stopped, 1 failed");
        kill(d.pid, SIGUSR1);
        assert_true(wait_log(&d, "supervised 'flaky': failed, 2 restarts"));
        assert_int_equal(finish(&d, true), 0);
        log = read_log(&d);
        assert_non_null(strstr(log, "cotaskd stopped (exit 0)"));
        free(log);
}

static void test_daemon_second_sigterm_forces_exit_3(void **state) {
        daemon_proc_t d;

        setup_dir(&d);
        write_conf(&d, "[daemon]\nshutdown_timeout = 30s\n"
                       "[task stubborn]\ntype = exec\ncommand = /bin/sh -c \"trap '' TERM; echo up; "
                       "while :; do sleep 0.1; done\"\nstop_timeout = 20s\n");
        start(&d, NULL);
        expect_notify(&d, "READY=1");
        assert_true(wait_log(&d, "msg=up"));
        kill(d.pid, SIGTERM);
        expect_notify(&d, "STOPPING=1");
        usleep(100 * 1000);
        /* The child ignores TERM: the second signal stops the waiting. */
        assert_int_equal(finish(&d, true), 3);
        assert_true(wait_log(&d, "still alive"));
}

/* The daemon takes the whole hard RLIMIT_NOFILE; its exec children get
 * the soft limit it was started with back. */
static void test_daemon_fd_limit_raised_children_get_theirs(void **state) {
        struct rlimit saved, rl;
        daemon_proc_t d;
        char path[64], line[256];
        unsigned long soft = 0;
        bool found = false;
        FILE *f;

        setup_dir(&d);
        write_conf(&d, "[task limits]\ntype = exec\ncommand = /bin/sh -c 'echo \"soft=$(ulimit -Sn)\"; exec sleep 1000'\n");
        assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
        /* Valgrind keeps descriptors of its own and shows us a limit of
         * its making: what we set is not what the daemon inherits. */
        if (saved.rlim_max < 2048 || RUNNING_ON_VALGRIND)
                skip();
        rl = (struct rlimit) { .rlim_cur = 1000, .rlim_max = saved.rlim_max };
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
        start(&d, NULL);
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
        expect_notify(&d, "READY=1");
        assert_true(wait_log(&d, "soft=1000"));
        snprintf(path, sizeof path, "/proc/%d/limits", (int) d.pid);
        f = fopen(path, "re");
        assert_non_null(f);
        while (fgets(line, sizeof line, f))
                if (strncmp(line, "Max open files", 14) == 0)
                        found = sscanf(line + 14, "%lu", &soft) == 1;
        fclose(f);
        assert_true(found);
        assert_true(soft == saved.rlim_max);
        assert_int_equal(finish(&d, true), 0);
}

/* A SIGTERM that arrives while an exec child is between fork() and exec()
 * must not reach the daemon twice (the child once ran the daemon's signal
 * handler, which wrote to the signal socket it shares with the daemon). */
static void test_daemon_sigterm_while_child_starts(void **state) {
        for (int i = 0; i < 20; i++) {
                daemon_proc_t d;

                setup_dir(&d);
                write_conf(&d, "[task a]\ntype = exec\ncommand = sleep 1000\n"
                               "[task b]\ntype = exec\ncommand = sleep 1000\nrestart_delay = 1ms\n");
                start(&d, NULL);
                expect_notify(&d, "READY=1");
                assert_int_equal(finish(&d, true), 0);
        }
}

static void test_daemon_sigkill_leaves_no_child(void **state) {
        daemon_proc_t d;
        char pidfile[128], conf[512];
        FILE *f;
        int child = 0, status;

        setup_dir(&d);
        snprintf(pidfile, sizeof pidfile, "%s/child.pid", d.dir);
        snprintf(conf, sizeof conf, "[task sleeper]\ntype = exec\ncommand = /bin/sh -c 'echo $$ > %s; exec sleep 1000'\n",
                 pidfile);
        write_conf(&d, conf);
        start(&d, NULL);
        expect_notify(&d, "READY=1");
        for (int i = 0; i < 500 && child == 0; i++) {
                f = fopen(pidfile, "re");
                if (f && fscanf(f, "%d", &child) != 1)
                        child = 0;
                if (f)
                        fclose(f);
                usleep(10 * 1000);
        }
        assert_true(child > 0);
        assert_int_equal(kill(child, 0), 0);
        kill(d.pid, SIGKILL);
        assert_int_equal(waitpid(d.pid, &status, 0), d.pid);
        close(d.notify_fd);
        /* PR_SET_PDEATHSIG: the child goes with the daemon. */
        for (int i = 0; i < 500 && kill(child, 0) == 0; i++)
                usleep(10 * 1000);
        assert_int_equal(kill(child, 0), -1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_daemon_command_line),
                cmocka_unit_test(test_daemon_dump_config_round_trip),
                cmocka_unit_test(test_daemon_notify_sequence_and_reload),
                cmocka_unit_test(test_daemon_reload_waits_until_applied),
                cmocka_unit_test(test_daemon_gives_up_and_exits_4),
                cmocka_unit_test(test_daemon_gives_up_and_stays_up),
                cmocka_unit_test(test_daemon_broken_reloads_keep_serving),
                cmocka_unit_test(test_daemon_sigterm_with_1000_connections),
                cmocka_unit_test(test_daemon_second_sigterm_forces_exit_3),
                cmocka_unit_test(test_daemon_sigkill_leaves_no_child),
                cmocka_unit_test(test_daemon_sigterm_while_child_starts),
                cmocka_unit_test(test_daemon_fd_limit_raised_children_get_theirs),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
#pragma once

/* What the cotaskd benchmarks share: another process's CPU time and
 * context switches from /proc, a free loopback port, a private conf file,
 * and starting and stopping a server process. Failures end the program
 * (exit 1): a benchmark that cannot measure must not print a figure. */

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

static const char *bench_name = "bench";

static inline __attribute__((format(printf, 1, 2), noreturn)) void fail(const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, "%s: ", bench_name);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        exit(1);
}

/* Sums a field over every thread of PID: field(path, userdata) reads one
 * /proc/PID/task/TID/<file>. Threads that ended are gone from the sum, so
 * use it on processes whose threads live as long as they do. */
static inline uint64_t proc_sum_threads(pid_t pid, const char *file, uint64_t (*field)(FILE *f)) {
        char path[64];
        struct dirent *de;
        uint64_t sum = 0;
        DIR *d;

        snprintf(path, sizeof path, "/proc/%d/task", (int) pid);
        d = opendir(path);
        if (!d)
                fail("%s: %s", path, strerror(errno));
        while ((de = readdir(d))) {
                char p[sizeof de->d_name + 32];
                FILE *f;
                int fd;

                if (de->d_name[0] == '.')
                        continue;
                snprintf(p, sizeof p, "%s/%s", de->d_name, file);
                fd = openat(dirfd(d), p, O_RDONLY | O_CLOEXEC);
                if (fd < 0 || !(f = fdopen(fd, "r"))) {
                        if (fd >= 0)
                                close(fd);
                        continue;       /* the thread just ended */
                }
                sum += field(f);
                fclose(f);
        }
        closedir(d);
        return sum;
}

/* schedstat's first field: nanoseconds on a CPU, exact (not in ticks). */
static inline uint64_t schedstat_cpu(FILE *f) {
        unsigned long long ns = 0;

        if (fscanf(f, "%llu", &ns) != 1)
                fail("cannot parse a schedstat file");
        return ns;
}

static inline uint64_t status_ctxt(FILE *f) {
        char line[256];
        unsigned long long v, sum = 0;

        while (fgets(line, sizeof line, f))
                if (sscanf(line, "voluntary_ctxt_switches: %llu", &v) == 1 ||
                    sscanf(line, "nonvoluntary_ctxt_switches: %llu", &v) == 1)
                        sum += v;
        return sum;
}

/* CPU time of every thread of PID, ns. */
static inline uint64_t proc_cpu_ns(pid_t pid) {
        return proc_sum_threads(pid, "schedstat", schedstat_cpu);
}

/* Voluntary + involuntary context switches of every thread of PID: each
 * time a thread went to sleep and woke, or was preempted. */
static inline uint64_t proc_ctxt_switches(pid_t pid) {
        return proc_sum_threads(pid, "status", status_ctxt);
}

/* Resident memory of PID, bytes. */
static inline uint64_t proc_rss_bytes(pid_t pid) {
        char path[64], line[256];
        unsigned long long kib = 0;
        bool found = false;
        FILE *f;

        snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
        f = fopen(path, "re");
        if (!f)
                fail("%s: %s", path, strerror(errno));
        while (!found && fgets(line, sizeof line, f))
                found = sscanf(line, "VmRSS: %llu kB", &kib) == 1;
        fclose(f);
        if (!found)
                fail("%s: no VmRSS", path);
        return (uint64_t) kib * 1024;
}

static inline struct sockaddr_in loopback(uint16_t port) {
        return (struct sockaddr_in) {
                .sin_family = AF_INET,
                .sin_port = htons(port),
                .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
        };
}

/* A loopback port nobody listens on right now (the kernel's pick). */
static inline uint16_t free_port(void) {
        struct sockaddr_in in = loopback(0);
        socklen_t len = sizeof in;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0 || bind(fd, (struct sockaddr *) &in, sizeof in) < 0 ||
            getsockname(fd, (struct sockaddr *) &in, &len) < 0)
                fail("free port: %s", strerror(errno));
        close(fd);
        return ntohs(in.sin_port);
}

/* A blocking connection to 127.0.0.1:port, retried while nobody listens
 * yet (a server just started), for up to 10 s. */
static inline int connect_loopback(uint16_t port) {
        struct sockaddr_in in = loopback(port);

        for (int i = 0; i < 2000; i++) {
                int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

                if (fd < 0)
                        fail("socket: %s", strerror(errno));
                if (connect(fd, (struct sockaddr *) &in, sizeof in) == 0)
                        return fd;
                if (errno != ECONNREFUSED)
                        fail("connect to port %u: %s", port, strerror(errno));
                close(fd);
                usleep(5000);
        }
        fail("nobody listens on port %u", port);
}

/* Soft RLIMIT_NOFILE up to the hard limit; fails if that is below need. */
static inline void raise_nofile(rlim_t need) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                fail("getrlimit: %s", strerror(errno));
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                fail("setrlimit: %s", strerror(errno));
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
                fail("RLIMIT_NOFILE hard limit %llu < %llu: raise it (ulimit -Hn)",
                     (unsigned long long) rl.rlim_cur, (unsigned long long) need);
}

/* A private directory with one conf file, mode 0600 (cotaskd refuses a conf
 * writable by others). */
typedef struct conf_dir {
        char dir[64];
        char path[96];
} conf_dir_t;

static inline void conf_remove(conf_dir_t *c);

/* The conf written last, removed at exit if the program fails first. */
static conf_dir_t *conf_current;

static void conf_remove_at_exit(void) {
        if (conf_current)
                conf_remove(conf_current);
}

static inline void conf_write(conf_dir_t *c, const char *text) {
        FILE *f;
        int fd;

        snprintf(c->dir, sizeof c->dir, "/tmp/%s-XXXXXX", bench_name);
        if (!mkdtemp(c->dir))
                fail("mkdtemp: %s", strerror(errno));
        if (!conf_current)
                atexit(conf_remove_at_exit);
        conf_current = c;
        snprintf(c->path, sizeof c->path, "%s/cotaskd.conf", c->dir);
        fd = open(c->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 || !(f = fdopen(fd, "w")))
                fail("%s: %s", c->path, strerror(errno));
        if (fputs(text, f) < 0 || fclose(f) != 0)
                fail("%s: write failed", c->path);
}

static inline void conf_remove(conf_dir_t *c) {
        unlink(c->path);
        rmdir(c->dir);
        if (conf_current == c)
                conf_current = NULL;
}

/* Runs argv with stdout and stderr to /dev/null (only our result lines go
 * to stdout) and the environment as it is. $BENCH_LOG, if set, is a file
 * that gets their stderr instead (appended), to see why a daemon failed. */
static inline pid_t spawn_quiet(char *const argv[]) {
        pid_t pid = fork();

        if (pid < 0)
                fail("fork: %s", strerror(errno));
        if (pid == 0) {
                const char *log = getenv("BENCH_LOG");
                int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
                int err = log ? open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600) : null;

                /* A bench that fails half-way must not leave a server behind. */
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || null < 0 || err < 0 || dup2(null, STDOUT_FILENO) < 0 ||
                    dup2(err, STDERR_FILENO) < 0)
                        _exit(127);
                execv(argv[0], argv);
                _exit(127);
        }
        return pid;
}

/* build/cotaskd --config PATH, quiet. */
static inline pid_t spawn_cotaskd(const char *cotaskd, const char *conf) {
        char *argv[] = { (char *) cotaskd, "--config", (char *) conf, NULL };

        return spawn_quiet(argv);
}

/* Waits for PID, at most timeout_ms (then kills it); its exit status, or
 * 128 + the signal that ended it. A pidfd wakes us the moment it has
 * exited (its memory and descriptors released, a zombie): the shutdown
 * bench times that, in *ret_exited_ns (may be NULL). Reaping it comes after
 * and is our work, not its: it also drops the kernel's cache of its /proc
 * entries, which here can hold one entry per descriptor (something on
 * this VM reads /proc/PID/fd of every process that lives a second or
 * more: reaping one with 10k sockets then takes 10-14 ms, against 0.01 ms
 * for one that lived 0.2 s). */
static inline int wait_exit_at(pid_t pid, int timeout_ms, uint64_t *ret_exited_ns) {
        int pidfd = (int) syscall(SYS_pidfd_open, pid, 0), status;
        struct pollfd p = { .fd = pidfd, .events = POLLIN };

        if (pidfd < 0)
                fail("pidfd_open: %s", strerror(errno));
        while (poll(&p, 1, timeout_ms) < 0)
                if (errno != EINTR)
                        fail("poll: %s", strerror(errno));
        if (ret_exited_ns)
                *ret_exited_ns = now_ns();
        close(pidfd);
        if (!(p.revents & POLLIN)) {
                kill(pid, SIGKILL);
                fprintf(stderr, "%s: process %d still running after %d ms: killed\n", bench_name, (int) pid,
                        timeout_ms);
        }
        if (waitpid(pid, &status, 0) != pid)
                fail("waitpid: %s", strerror(errno));
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static inline int wait_exit(pid_t pid, int timeout_ms) {
        return wait_exit_at(pid, timeout_ms, NULL);
}

/* SIGTERM, then the exit status, which must be 0. */
static inline void stop_server(pid_t pid, const char *what) {
        int code;

        if (kill(pid, SIGTERM) < 0)
                fail("kill %s: %s", what, strerror(errno));
        code = wait_exit(pid, 10000);
        if (code != 0)
                fail("%s exited with status %d after SIGTERM, want 0", what, code);
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? -1 : x > y;
}

/* The q-quantile (0..1) of v[0..n), which it sorts. */
static inline uint64_t quantile(uint64_t *v, size_t n, double q) {
        size_t i;

        qsort(v, n, sizeof *v, cmp_u64);
        i = (size_t) (q * (double) (n - 1) + 0.5);
        return v[i < n ? i : n - 1];
}

/* ---- a NOTIFY_SOCKET listener, as systemd's ---------------------------------- */

typedef struct notify {
        int fd;
        char path[108];
} notify_t;

/* The socket's path goes at exit, whatever ended the program. */
static void notify_unlink_at_exit(void) {
        const char *path = getenv("NOTIFY_SOCKET");

        if (path)
                unlink(path);
}

/* Binds a datagram socket and points NOTIFY_SOCKET at it for the daemons
 * started from now on; no watchdog (a daemon with WATCHDOG_USEC pings). */
static inline void notify_open(notify_t *n) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int one = 1;

        snprintf(n->path, sizeof n->path, "/tmp/%s-notify-%d", bench_name, (int) getpid());
        unlink(n->path);
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", n->path);
        n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (n->fd < 0 || bind(n->fd, (struct sockaddr *) &sa, sizeof sa) < 0 ||
            setsockopt(n->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0)
                fail("notify socket %s: %s", n->path, strerror(errno));
        setenv("NOTIFY_SOCKET", n->path, 1);
        atexit(notify_unlink_at_exit);
        unsetenv("WATCHDOG_USEC");
        unsetenv("WATCHDOG_PID");
}

static inline void notify_close(notify_t *n) {
        close(n->fd);
        unlink(n->path);
        unsetenv("NOTIFY_SOCKET");
}

/* Does datagram BUF hold the line WANT? */
static inline bool notify_has(const char *buf, const char *want) {
        size_t len = strlen(want);

        for (const char *p = buf;; p++) {
                if (strncmp(p, want, len) == 0 && (p[len] == '\n' || p[len] == '\0'))
                        return true;
                p = strchr(p, '\n');
                if (!p)
                        return false;
        }
}

/* Waits (at most timeout_ms) until PID has sent every line of WANTS (NULL
 * ended), in any order and datagrams; other states (STATUS=...) are
 * skipped. The time the last one arrived, ns. */
static inline uint64_t notify_wait(notify_t *n, pid_t pid, const char *const *wants, int timeout_ms) {
        uint64_t deadline = now_ns() + (uint64_t) timeout_ms * 1000000u;
        int pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        unsigned seen = 0, all = 0;

        if (pidfd < 0)
                fail("pidfd_open: %s", strerror(errno));
        for (unsigned i = 0; wants[i]; i++)
                all |= 1u << i;
        for (;;) {
                char buf[512], cbuf[CMSG_SPACE(sizeof(struct ucred))];
                struct iovec iov = { buf, sizeof buf - 1 };
                struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                                     .msg_controllen = sizeof cbuf };
                /* A process that dies before it says it is ready fails the bench at once. */
                struct pollfd p[2] = { { .fd = n->fd, .events = POLLIN }, { .fd = pidfd, .events = POLLIN } };
                uint64_t now = now_ns();
                struct cmsghdr *c;
                ssize_t k;

                if (now >= deadline || poll(p, 2, (int) ((deadline - now) / 1000000u) + 1) == 0)
                        fail("no %s from process %d within %d ms", wants[__builtin_ctz(all & ~seen)], (int) pid,
                             timeout_ms);
                if (!(p[0].revents & POLLIN) && (p[1].revents & POLLIN))
                        fail("process %d exited before it sent %s", (int) pid, wants[__builtin_ctz(all & ~seen)]);
                k = recvmsg(n->fd, &mh, MSG_DONTWAIT);
                if (k < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                continue;
                        fail("recvmsg: %s", strerror(errno));
                }
                now = now_ns();
                buf[k] = '\0';
                c = CMSG_FIRSTHDR(&mh);
                if (!c || c->cmsg_type != SCM_CREDENTIALS || ((struct ucred *) CMSG_DATA(c))->pid != pid)
                        fail("a notification ('%s') not from process %d", buf, (int) pid);
                for (unsigned i = 0; wants[i]; i++)
                        if (notify_has(buf, wants[i]))
                                seen |= 1u << i;
                if (seen == all) {
                        close(pidfd);
                        return now;
                }
        }
}

/* READY=1 from PID: the time it arrived, ns. */
static inline uint64_t notify_wait_ready(notify_t *n, pid_t pid, int timeout_ms) {
        return notify_wait(n, pid, (const char *const[]) { "READY=1", NULL }, timeout_ms);
}

/* Drops what a daemon that has exited sent last (STOPPING=1, STATUS=...). */
static inline void notify_drain(notify_t *n) {
        char buf[512];

        while (recv(n->fd, buf, sizeof buf, MSG_DONTWAIT) >= 0)
                ;
}

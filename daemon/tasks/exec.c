/* SPDX-License-Identifier: MIT */
/*
 * The exec task type: runs its command as a child process and supervises
 * it. Its stdout and stderr lines become log records; its exit status is the
 * run's outcome; cancelling the task stops it (stop_signal, stop_timeout,
 * SIGKILL) and reaps it, so it never leaves a zombie or an orphan.
 *
 * Process creation: fork(). posix_spawn cannot set PR_SET_PDEATHSIG nor check
 * getppid() in the child; clone3(CLONE_PIDFD) would save the pidfd_open call
 * but needs its own child-stack handling and is not needed here: the child is
 * ours and unreaped until we waitid() it, so its pid cannot be reused between
 * fork() and pidfd_open(). Everything that allocates (environment, PATH
 * lookup, /dev/null, pipes) is done before fork(); the child only calls
 * async-signal-safe functions before execve().
 *
 * Watching: one async generator ("child events") multiplexes the stdout pipe,
 * the stderr pipe, the exec-error pipe and the pidfd through an epoll fd that
 * the generator awaits with co_fd_wait. It yields one event per output line,
 * and, once the pidfd says the child has exited, drains what is left in the
 * pipes (lines first, so nothing is lost), reaps the child with
 * waitid(P_PIDFD) and yields the exit event last. Output written after the
 * child's exit by grandchildren that kept the pipes is not read.
 *
 * The generator is created detached, so the cancellation of the task does not
 * reach it: the stop sequence in CO_FINALLY goes on reading and logging lines
 * while it waits for the child to obey stop_signal.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cotask/cotask.h>

#include "conf.h"
#include "daemon.h"
#include "tasks/tasks.h"

#ifndef P_PIDFD
#  define P_PIDFD 3
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#  define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* Longer lines are split into records of this many bytes: co_log_fullv
 * formats a message into 2048 bytes and would truncate a longer one. */
#define EXEC_LINE_MAX 2047

extern char **environ;

typedef struct exec_conf {
        char **argv;                    /* NULL-terminated, argv[0] set */
        char *working_directory;        /* NULL: inherit */
        char **environment;             /* NULL-terminated "NAME=value" */
        int stop_signal;
        co_usec_t stop_timeout_usec;
} exec_conf_t;

#define E(field) offsetof(exec_conf_t, field)

static const conf_key_t exec_keys[] = {
        { "command", &conf_kind_argv, NULL, .required = true, .offset = E(argv),
          .help = "Program and arguments; '...' and \"...\" quote, \\ escapes; no shell. Required." },
        { "working_directory", &conf_kind_path, "", .offset = E(working_directory),
          .help = "Absolute directory to run in; empty: the daemon's." },
        { "environment", &conf_kind_env, "", .offset = E(environment),
          .help = "NAME=value pairs added to the daemon's environment, quoted as command." },
        { "stop_signal", &conf_kind_signal, "SIGTERM", .offset = E(stop_signal),
          .help = "Signal asking the program to stop (SIGKILL follows after stop_timeout)." },
        { "stop_timeout", &conf_kind_duration, "5s", .max = CONF_FOREVER, .offset = E(stop_timeout_usec),
          .help = "How long to wait after stop_signal before SIGKILL." },
        {},
};

typedef enum exec_stream {
        EXEC_STDOUT,
        EXEC_STDERR,
        _EXEC_STREAM_MAX,
} exec_stream_t;

static const char *const stream_names[_EXEC_STREAM_MAX] = { "stdout", "stderr" };

/* What the child reports on the error pipe before it exits 127. */
enum { CHILD_STAGE_CHDIR = 1, CHILD_STAGE_EXEC, CHILD_STAGE_PARENT_GONE };
typedef struct child_error {
        int stage;
        int error;
} child_error_t;

typedef struct stream_buf {
        int fd;                 /* -1 once at EOF (closed) */
        size_t len;             /* bytes in buf */
        size_t consumed;        /* bytes of buf yielded, dropped on the next fill */
        char buf[EXEC_LINE_MAX + 1];
} stream_buf_t;

typedef enum exec_event_kind {
        EXEC_EVENT_LINE,
        EXEC_EVENT_EXIT,
} exec_event_kind_t;

typedef struct exec_event {
        exec_event_kind_t kind;
        exec_stream_t stream;   /* LINE */
        const char *line;       /* LINE: NUL-terminated, no newline */
} exec_event_t;

typedef struct exec_child {
        const conf_task_t *conf;
        const exec_conf_t *exec;
        pid_t pid;
        int pidfd;
        int errfd;              /* read end of the exec-error pipe, -1 after EOF */
        int epfd;
        bool reaped;
        siginfo_t status;       /* once reaped */
        child_error_t child_error; /* stage 0: none reported */
        stream_buf_t streams[_EXEC_STREAM_MAX];
} exec_child_t;

/* Without pidfd_open (ENOSYS: Linux < 5.3, or valgrind < 3.20), the child's
 * exit is polled for with waitid(WNOHANG) this often. */
#define EXEC_POLL_USEC (20 * CO_USEC_PER_MSEC)

static void close_fd(int *fd) {
        if (*fd >= 0) {
                close(*fd);
                *fd = -1;
        }
}

static const char *signal_name(int sig, char *buf, size_t size) {
        const char *abbrev = sigabbrev_np(sig);

        if (abbrev)
                snprintf(buf, size, "SIG%s", abbrev);
        else
                snprintf(buf, size, "signal %d", sig);
        return buf;
}

/* ---- the child ------------------------------------------------------------- */

/* Moves fd to a number above stdio (close-on-exec kept), so the dup2s in the
 * child cannot clobber one another. */
static int fd_move_above_stdio(int *fd) {
        int nfd;

        if (*fd > STDERR_FILENO)
                return 0;
        nfd = fcntl(*fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
        if (nfd < 0)
                return -errno;
        close(*fd);
        *fd = nfd;
        return 0;
}

static _Noreturn void child_fail(int errfd, int stage, int error) {
        child_error_t e = { stage, error };
        ssize_t n = write(errfd, &e, sizeof e);

        (void) n;
        _exit(127);
}

/* Runs in the child after fork(): async-signal-safe calls only. */
static _Noreturn void child_exec(const char *path, char *const argv[], char *const envp[], const char *workdir,
                                 pid_t parent, int null_fd, int out_fd, int err_fd, int errpipe) {
        struct sigaction sa = { .sa_handler = SIG_DFL };
        sigset_t none;

        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                child_fail(errpipe, CHILD_STAGE_PARENT_GONE, errno);
        /* The parent may have died before the prctl: then nobody will kill us. */
        if (getppid() != parent)
                _exit(127);

        for (int sig = 1; sig < NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void) sigaction(sig, &sa, NULL);
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        if (daemon_nofile_soft != RLIM_INFINITY) {
                struct rlimit rl;

                if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
                        rl.rlim_cur = daemon_nofile_soft;
                        (void) setrlimit(RLIMIT_NOFILE, &rl);
                }
        }

        if (dup2(null_fd, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 || dup2(err_fd, STDERR_FILENO) < 0)
                child_fail(errpipe, CHILD_STAGE_EXEC, errno);
        /* Whatever the daemon opened without O_CLOEXEC stays out of the child
         * (best effort: needs Linux 5.11). */
        (void) syscall(SYS_close_range, STDERR_FILENO + 1, ~0U, CLOSE_RANGE_CLOEXEC);

        if (workdir && chdir(workdir) < 0)
                child_fail(errpipe, CHILD_STAGE_CHDIR, errno);
        execve(path, argv, envp);
        child_fail(errpipe, CHILD_STAGE_EXEC, errno);
}

/* waitid() on the child, by pidfd if we have one: 1 when reaped (c->status
 * filled in), 0 when it has not exited (WNOHANG), or -errno. */
static int child_reap(exec_child_t *c, int flags) {
        siginfo_t si = {};
        int r;

        do
                r = c->pidfd >= 0 ? waitid((idtype_t) P_PIDFD, (id_t) c->pidfd, &si, WEXITED | flags)
                                  : waitid(P_PID, (id_t) c->pid, &si, WEXITED | flags);
        while (r < 0 && errno == EINTR);
        if (r < 0)
                return -errno;
        if (si.si_pid == 0)
                return 0;
        if (!(flags & WNOWAIT)) {
                c->status = si;
                c->reaped = true;
        }
        return 1;
}

/* ---- preparing ----------------------------------------------------------------- */

/* The daemon's environment with conf's entries added (replacing same names). */
static char **env_merge(char **extra) {
        size_t n_env = 0, n_extra = 0, n = 0;
        char **v;

        for (char **e = environ; e && *e; e++)
                n_env++;
        for (char **e = extra; e && *e; e++)
                n_extra++;
        v = calloc(n_env + n_extra + 1, sizeof *v);
        if (!v)
                return NULL;
        for (char **e = environ; e && *e; e++) {
                size_t klen = strcspn(*e, "=");
                bool overridden = false;

                for (char **x = extra; x && *x && !overridden; x++)
                        overridden = strncmp(*x, *e, klen) == 0 && (*x)[klen] == '=';
                if (!overridden)
                        v[n++] = *e;
        }
        for (char **x = extra; x && *x; x++)
                v[n++] = *x;
        v[n] = NULL;
        return v;
}

/* argv[0] as execve wants it: as is with a slash, else searched in $PATH.
 * Returns 0 and *ret (free it) or -errno. */
static int find_program(const char *name, char **ret) {
        const char *path = getenv("PATH");
        int r = -ENOENT;

        if (strchr(name, '/')) {
                *ret = strdup(name);
                return *ret ? 0 : -ENOMEM;
        }
        if (!path || !*path)
                path = "/usr/local/bin:/usr/bin:/bin";
        for (const char *p = path; *p;) {
                size_t len = strcspn(p, ":");
                char *candidate = NULL;
                struct stat st;

                if (asprintf(&candidate, "%.*s%s%s", (int) len, p, len ? "/" : "", name) < 0)
                        return -ENOMEM;
                if (stat(candidate, &st) == 0 && S_ISREG(st.st_mode)) {
                        if (access(candidate, X_OK) == 0) {
                                *ret = candidate;
                                return 0;
                        }
                        r = -EACCES;
                }
                free(candidate);
                p += len;
                if (*p == ':')
                        p++;
        }
        return r;
}

static int epoll_add(int epfd, int fd) {
        struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

        return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* Forks the child and fills c. On failure everything is undone and
 * co_task_set_error says why. */
static int child_start(exec_child_t *c) {
        const conf_task_t *conf = c->conf;
        const exec_conf_t *exec = c->exec;
        int out[2] = { -1, -1 }, err[2] = { -1, -1 }, ep[2] = { -1, -1 }, null_fd = -1;
        char **envp = NULL, *path = NULL;
        pid_t parent = getpid(), pid;
        sigset_t all, mask;
        int r;

        r = find_program(exec->argv[0], &path);
        if (r < 0) {
                co_task_set_error("cannot execute '%s': %s", exec->argv[0], strerror(-r));
                return r;
        }
        envp = env_merge(exec->environment);
        if (!envp) {
                r = -ENOMEM;
                goto fail;
        }
        null_fd = open("/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (null_fd < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 || pipe2(ep, O_CLOEXEC) < 0) {
                r = -errno;
                goto fail;
        }
        if ((r = fd_move_above_stdio(&null_fd)) < 0 || (r = fd_move_above_stdio(&out[1])) < 0 ||
            (r = fd_move_above_stdio(&err[1])) < 0)
                goto fail;
        /* Our ends only: the child's must block. */
        if (fcntl(out[0], F_SETFL, O_NONBLOCK) < 0 || fcntl(err[0], F_SETFL, O_NONBLOCK) < 0 ||
            fcntl(ep[0], F_SETFL, O_NONBLOCK) < 0) {
                r = -errno;
                goto fail;
        }
        c->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (c->epfd < 0) {
                r = -errno;
                goto fail;
        }

        /* Until the child has reset the dispositions, a signal must not run
         * the daemon's handlers in it: libevent's would write to the
         * signal socket the child shares with us, a phantom signal here. */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &mask);
        pid = fork();
        if (pid == 0)
                child_exec(path, exec->argv, envp, exec->working_directory, parent, null_fd, out[1],
                           err[1], ep[1]);
        r = -errno;
        pthread_sigmask(SIG_SETMASK, &mask, NULL);
        if (pid < 0)
                goto fail;

        c->pid = pid;
        close_fd(&null_fd);
        close_fd(&out[1]);
        close_fd(&err[1]);
        close_fd(&ep[1]);
        c->streams[EXEC_STDOUT].fd = out[0];
        c->streams[EXEC_STDERR].fd = err[0];
        c->errfd = ep[0];
        out[0] = err[0] = ep[0] = -1;
        free(envp);
        free(path);
        envp = NULL;
        path = NULL;

        c->pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (c->pidfd < 0 && errno == ENOSYS) {
                co_log(CO_LOG_DEBUG, "pidfd_open: %s; polling for the exit of pid %d", strerror(errno), (int) pid);
        } else if (c->pidfd < 0) {
                r = -errno;
                /* Cannot watch it without blocking: do not run it at all. */
                kill(pid, SIGKILL);
                (void) waitid(P_PID, (id_t) pid, &c->status, WEXITED);
                c->reaped = true;
                co_task_set_error("pidfd_open: %s", strerror(-r));
                return r;
        }
        if ((c->pidfd >= 0 && (r = epoll_add(c->epfd, c->pidfd)) < 0) || (r = epoll_add(c->epfd, c->errfd)) < 0 ||
            (r = epoll_add(c->epfd, c->streams[EXEC_STDOUT].fd)) < 0 ||
            (r = epoll_add(c->epfd, c->streams[EXEC_STDERR].fd)) < 0) {
                kill(pid, SIGKILL);
                (void) child_reap(c, 0);
                co_task_set_error("epoll_ctl: %s", strerror(-r));
                return r;
        }
        co_log(CO_LOG_DEBUG, "started '%s' (pid %d)", conf->name, (int) pid);
        return 0;

fail:
        co_task_set_error("cannot start '%s': %s", exec->argv[0], strerror(-r));
        close_fd(&null_fd);
        close_fd(&out[0]);
        close_fd(&out[1]);
        close_fd(&err[0]);
        close_fd(&err[1]);
        close_fd(&ep[0]);
        close_fd(&ep[1]);
        close_fd(&c->epfd);
        free(envp);
        free(path);
        return r;
}

/* ---- the generator of child events ------------------------------------------------ */

/* Reads the exec-error pipe without waiting: the child's report, or EOF
 * (it exec'ed or exited). */
static void read_child_error(exec_child_t *c) {
        child_error_t e;
        ssize_t n;

        if (c->errfd < 0)
                return;
        n = read(c->errfd, &e, sizeof e);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (n == (ssize_t) sizeof e)
                c->child_error = e;
        (void) epoll_ctl(c->epfd, EPOLL_CTL_DEL, c->errfd, NULL);
        close_fd(&c->errfd);
}

/* Yields every complete line buffered in s (and, when flush is set, the rest
 * as a last line). Returns 0 or the (negative) result of co_gen_yield. */
static int yield_lines(co_gen_t *gen, exec_child_t *c, exec_stream_t stream, bool flush) {
        stream_buf_t *s = &c->streams[stream];

        for (;;) {
                char *start = s->buf + s->consumed, *nl;
                size_t avail = s->len - s->consumed, n;
                exec_event_t ev = { .kind = EXEC_EVENT_LINE, .stream = stream, .line = start };
                int r;

                if (avail == 0)
                        break;
                nl = memchr(start, '\n', avail);
                if (nl)
                        n = (size_t) (nl - start) + 1;
                else if (avail >= EXEC_LINE_MAX || flush)
                        n = avail;     /* too long a line, split; or the last one */
                else
                        break;
                /* Terminate in place: the byte after the line is the newline,
                 * or spare room (buf has one byte more than EXEC_LINE_MAX). */
                if (nl) {
                        *nl = '\0';
                } else {
                        /* Not needed past the end of the line: move it to
                         * the front so that buf[n] is free. */
                        memmove(s->buf, start, n);
                        s->len = n;
                        s->consumed = 0;
                        start = s->buf;
                        ev.line = start;
                        start[n] = '\0';
                }
                s->consumed += n;
                r = co_gen_yield(gen, &ev);
                if (r < 0)
                        return r;
        }
        /* Keep the partial line at the front. */
        if (s->consumed > 0) {
                memmove(s->buf, s->buf + s->consumed, s->len - s->consumed);
                s->len -= s->consumed;
                s->consumed = 0;
        }
        return 0;
}

/* Reads what s's pipe has now (no waiting) and yields its lines. At EOF the
 * last partial line is flushed and the fd closed. */
static int pump_stream(co_gen_t *gen, exec_child_t *c, exec_stream_t stream) {
        stream_buf_t *s = &c->streams[stream];

        while (s->fd >= 0) {
                ssize_t n = read(s->fd, s->buf + s->len, EXEC_LINE_MAX - s->len);
                bool eof = n == 0;
                int r;

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return 0;
                        eof = true;     /* treat a read error as the end */
                }
                if (eof) {
                        (void) epoll_ctl(c->epfd, EPOLL_CTL_DEL, s->fd, NULL);
                        close_fd(&s->fd);
                } else {
                        s->len += (size_t) n;
                }
                r = yield_lines(gen, c, stream, eof);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int child_events(co_gen_t *gen, void *arg) {
        exec_child_t *c = arg;

        for (;;) {
                struct epoll_event evs[4];
                bool exited = false;
                int n, r;

                r = co_fd_wait(c->epfd, CO_FD_READABLE,
                               c->pidfd >= 0 ? CO_USEC_INFINITY : co_deadline_after(EXEC_POLL_USEC));
                if (r == -ETIMEDOUT)
                        r = 0;
                if (r < 0)
                        return r;
                if (c->pidfd < 0) {
                        r = child_reap(c, WNOHANG | WNOWAIT);
                        if (r < 0)
                                return r;
                        exited = r > 0;
                }
                n = epoll_wait(c->epfd, evs, (int) (sizeof evs / sizeof evs[0]), 0);
                if (n < 0 && errno != EINTR)
                        return -errno;
                for (int i = 0; i < n; i++) {
                        int fd = evs[i].data.fd;

                        if (fd == c->pidfd)
                                exited = true;
                        else if (fd == c->errfd)
                                read_child_error(c);
                }
                for (exec_stream_t s = 0; s < _EXEC_STREAM_MAX; s++) {
                        r = pump_stream(gen, c, s);
                        if (r < 0)
                                return r;
                }
                if (!exited)
                        continue;

                /* Exited: what it wrote is in the pipes now; take it all,
                 * including a partial last line, before the exit event. */
                read_child_error(c);
                for (exec_stream_t s = 0; s < _EXEC_STREAM_MAX; s++) {
                        r = pump_stream(gen, c, s);
                        if (r < 0)
                                return r;
                        r = yield_lines(gen, c, s, true);
                        if (r < 0)
                                return r;
                }
                r = child_reap(c, WNOHANG);
                if (r < 0)
                        return r;
                if (r == 0)
                        continue;       /* not really (cannot happen) */
                r = co_gen_yield(gen, &(exec_event_t) { .kind = EXEC_EVENT_EXIT });
                return r < 0 ? r : 0;
        }
}

/* ---- the task --------------------------------------------------------------------- */

static void log_line(const exec_child_t *c, const exec_event_t *ev) {
        const co_log_field_t fields[] = {
                { "task", c->conf->name },
                { "stream", stream_names[ev->stream] },
        };

        co_log_fields(ev->stream == EXEC_STDOUT ? CO_LOG_INFO : CO_LOG_WARNING, fields, 2, "%s", ev->line);
}

/* Takes the generator's events until the child has been reaped or deadline
 * (absolute). Returns 0 once reaped, or a negative errno. */
static int pump_until_exit(co_gen_t *gen, exec_child_t *c, co_usec_t deadline) {
        while (!c->reaped) {
                void *v;
                int r = co_gen_next_until(gen, deadline, &v);

                if (r < 0)
                        return r;
                if (r == 0)
                        return -ESRCH;  /* the generator ended without the exit */
                if (((exec_event_t *) v)->kind == EXEC_EVENT_LINE)
                        log_line(c, v);
        }
        return 0;
}

static void child_stop(co_gen_t *gen, exec_child_t *c) {
        const conf_task_t *conf = c->conf;
        const exec_conf_t *exec = c->exec;
        char sig[32], dur[32];
        int r;

        if (c->reaped)
                return;
        if (conf_format_duration(exec->stop_timeout_usec, dur, sizeof dur) < 0)
                snprintf(dur, sizeof dur, "%" PRIu64 "us", (uint64_t) exec->stop_timeout_usec);
        co_log(CO_LOG_INFO, "stopping '%s' (pid %d) with %s", conf->name, (int) c->pid,
               signal_name(exec->stop_signal, sig, sizeof sig));
        if (kill(c->pid, exec->stop_signal) < 0)
                co_log(CO_LOG_WARNING, "kill(%d, %s): %s", (int) c->pid, sig, strerror(errno));
        r = pump_until_exit(gen, c, co_deadline_after(exec->stop_timeout_usec));
        if (r == 0) {
                co_log(CO_LOG_INFO, "'%s' (pid %d) stopped", conf->name, (int) c->pid);
                return;
        }
        co_log(CO_LOG_WARNING, "'%s' (pid %d) did not exit within %s: SIGKILL", conf->name, (int) c->pid, dur);
        (void) kill(c->pid, SIGKILL);
        /* Until the task's grace deadline (the shield's: -ETIMEDOUT after). */
        r = pump_until_exit(gen, c, CO_USEC_INFINITY);
        if (r == 0)
                co_log(CO_LOG_INFO, "'%s' (pid %d) killed", conf->name, (int) c->pid);
}

static int child_outcome(const exec_child_t *c) {
        const conf_task_t *conf = c->conf;
        const exec_conf_t *exec = c->exec;
        char sig[32];

        switch (c->child_error.stage) {
        case CHILD_STAGE_CHDIR:
                co_task_set_error("cannot change to directory '%s': %s", exec->working_directory,
                                  strerror(c->child_error.error));
                return -c->child_error.error;
        case CHILD_STAGE_EXEC:
                co_task_set_error("cannot execute '%s': %s", exec->argv[0], strerror(c->child_error.error));
                return -c->child_error.error;
        case CHILD_STAGE_PARENT_GONE:
                co_task_set_error("prctl(PR_SET_PDEATHSIG): %s", strerror(c->child_error.error));
                return -c->child_error.error;
        }
        if (c->status.si_code == CLD_EXITED) {
                if (c->status.si_status == 0) {
                        co_log(CO_LOG_INFO, "'%s' (pid %d) exited", conf->name, (int) c->pid);
                        return 0;
                }
                co_task_set_error("exited with status %d", c->status.si_status);
                return -EIO;
        }
        co_task_set_error("killed by signal %s%s", signal_name(c->status.si_status, sig, sizeof sig),
                          c->status.si_code == CLD_DUMPED ? " (core dumped)" : "");
        return -EIO;
}

static int exec_run(const conf_task_t *conf) {
        const exec_conf_t *exec = TASK_CONF(conf, exec_conf_t);
        exec_child_t c = {
                .conf = conf,
                .exec = exec,
                .pid = -1,
                .pidfd = -1,
                .errfd = -1,
                .epfd = -1,
                .streams = { [EXEC_STDOUT].fd = -1, [EXEC_STDERR].fd = -1 },
        };
        static const co_task_opts_t gen_opts = { .flags = CO_TASK_DETACHED };
        co_gen_t *gen = NULL;
        char name[128];
        int r;

        if (!exec->argv || !exec->argv[0])
                return -EINVAL;
        if (co_task_is_cancelled(co_task_current()))
                return -ECANCELED;
        r = child_start(&c);
        if (r < 0)
                goto done;

        snprintf(name, sizeof name, "%s:output", conf->name);
        CO_TRY {
                r = co_gen_new_with(&gen, name, child_events, &c, &gen_opts);
                if (r < 0)
                        CO_LEAVE;
                r = pump_until_exit(gen, &c, CO_USEC_INFINITY);
                if (r == 0)
                        r = child_outcome(&c);
                else if (r != -ECANCELED)
                        co_task_set_error("watching the child: %s", strerror(-r));
        } CO_FINALLY {
                if (!c.reaped && gen)
                        child_stop(gen, &c);
                if (gen) {
                        (void) co_gen_close(gen);
                        gen = co_gen_unref(gen);
                }
                if (!c.reaped) {
                        /* Out of grace (or no generator): never a zombie,
                         * even if that means blocking for a SIGKILLed one. */
                        co_log(CO_LOG_WARNING, "'%s' (pid %d): out of time, SIGKILL and wait", conf->name,
                               (int) c.pid);
                        (void) kill(c.pid, SIGKILL);
                        (void) child_reap(&c, 0);
                        c.reaped = true;
                }
        } CO_END_TRY;

done:
        close_fd(&c.pidfd);
        close_fd(&c.errfd);
        close_fd(&c.epfd);
        close_fd(&c.streams[EXEC_STDOUT].fd);
        close_fd(&c.streams[EXEC_STDERR].fd);
        return r;
}

/* The supervisor's grace for a stopping exec task covers the wait for the
 * child to obey stop_signal. */
static co_usec_t exec_stop_usec(const conf_task_t *conf) {
        return TASK_CONF(conf, exec_conf_t)->stop_timeout_usec;
}

TASK_TYPE(exec, "exec", exec_conf_t, exec_keys, exec_run, .stop_usec = exec_stop_usec);

/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared by the cmocka test programs: cleanup helpers in the manner of
 * systemd's src/basic, and small process helpers. */

#include <dirent.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <cotask/cotask.h>
#include <valgrind/valgrind.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

static inline void co_loop_freep(co_loop_t **l) {
        co_loop_free(*l);
}
#define _cleanup_loop_ _cleanup_(co_loop_freep)

static inline void co_task_unrefp(co_task_t **t) {
        co_task_unref(*t);
}
#define _cleanup_task_ _cleanup_(co_task_unrefp)

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd) {
        if (*fd >= 0)
                close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

static inline int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

/* Removes dir and everything below it, as rm -r; returns 0 or -1. */
static inline int remove_tree(const char *dir) {
        return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* execv, through $TEST_WRAPPER when set (e.g. qemu-aarch64 for a cross
 * build): tests that run programs of this build go through here. */
static inline void exec_program(char *const argv[]) {
        const char *wrapper = getenv("TEST_WRAPPER");
        char *args[16];
        size_t n = 0;

        if (wrapper && *wrapper)
                args[n++] = (char *) wrapper;
        for (size_t i = 0; argv[i] && n < ELEMENTSOF(args) - 1; i++)
                args[n++] = argv[i];
        args[n] = NULL;
        execvp(args[0], args);
}

/* ---- a test in a process of its own, under a seccomp filter ---------------- */

/* The exit status of a child test process that found nothing to test. */
#define CHILD_SKIP 77

/* Runs the test program again as "self flag" (through exec_program) and
 * skips the calling test if it exits with CHILD_SKIP; else it must exit 0. */
static inline void run_self_child(const char *self, const char *flag) {
        int status;
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0) {
                /* A cross build runs under its emulator here too. */
                exec_program((char *[]) { (char *) self, (char *) flag, NULL });
                _exit(127);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        if (WEXITSTATUS(status) == CHILD_SKIP)
                skip();
        assert_int_equal(WEXITSTATUS(status), 0);
}

#if defined(__x86_64__)
#  define SECCOMP_THIS_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#  define SECCOMP_THIS_ARCH AUDIT_ARCH_AARCH64
#else
#  define SECCOMP_THIS_ARCH 0
#endif

/* Puts this process under the filter f, which must check that the arch is
 * SECCOMP_THIS_ARCH. False where no filter can be tested: on other
 * architectures, and under an emulator (qemu-user refuses filters, or
 * hands them to the host's kernel, which sees other system calls). */
static inline bool seccomp_load(struct sock_filter *f, unsigned short n) {
        struct sock_fprog prog = { .len = n, .filter = f };

        if (SECCOMP_THIS_ARCH == 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
            prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
                fprintf(stderr, "no seccomp filter here (%m): skipped\n");
                return false;
        }
        return true;
}

/* The whole of a small text file, NUL-terminated (free it); at most
 * max - 1 bytes of it. */
static inline char *read_text_file(const char *path, size_t max) {
        FILE *f = fopen(path, "re");
        char *text = calloc(1, max);
        size_t n;

        assert_non_null(f);
        assert_non_null(text);
        n = fread(text, 1, max - 1, f);
        text[n] = '\0';
        fclose(f);
        return text;
}

/* Runs argv to its end, through exec_program when through_wrapper;
 * returns its exit status. Its stdout goes to *ret_out and its stderr to
 * *ret_err, or both to *ret_out when ret_err is NULL (free them; ret_out
 * may be NULL too). Into files: a pipe could fill while we wait. */
static inline int run_and_capture(bool through_wrapper, char *const argv[], char **ret_out, char **ret_err) {
        char out_path[] = "/tmp/cotask-test-out-XXXXXX", err_path[] = "/tmp/cotask-test-err-XXXXXX";
        int out = mkstemp(out_path), err = ret_err ? mkstemp(err_path) : out, status;
        pid_t pid;

        assert_true(out >= 0);
        assert_true(err >= 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                dup2(out, STDOUT_FILENO);
                dup2(err, STDERR_FILENO);
                if (through_wrapper)
                        exec_program(argv);
                else
                        execvp(argv[0], argv);
                _exit(127);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        close(out);
        if (ret_out)
                *ret_out = read_text_file(out_path, 65536);
        unlink(out_path);
        if (ret_err) {
                close(err);
                *ret_err = read_text_file(err_path, 65536);
                unlink(err_path);
        }
        /* Killed by a signal: 128 + its number, as a shell says. */
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* A program of this build: under $TEST_WRAPPER where one is set. */
static inline int run_ours(char *const argv[], char **ret_out) {
        return run_and_capture(true, argv, ret_out, NULL);
}

/* A tool of the host (systemd-analyze): never under $TEST_WRAPPER, which
 * is for programs of a cross build. */
static inline int run_host_tool(char *const argv[], char **ret_out) {
        return run_and_capture(false, argv, ret_out, NULL);
}

/* Runs $COTASK_BUILD/examples/NAME ARG (ARG may be NULL), expects exit 0;
 * returns its stdout, and its stderr in *ret_err if that is not NULL
 * (free both). */
static inline char *run_example_full(const char *name, const char *arg, char **ret_err) {
        const char *build = getenv("COTASK_BUILD") ?: "build";
        char path[512], *out = NULL, *err = NULL;
        int status;

        snprintf(path, sizeof path, "%s/examples/%s", build, name);
        status = run_and_capture(true, (char *[]) { path, (char *) arg, NULL }, &out, &err);
        if (status != 0)
                fprintf(stderr, "%s failed; its stderr:\n%s", name, err);
        assert_int_equal(status, 0);
        if (ret_err)
                *ret_err = err;
        else
                free(err);
        return out;
}

static inline char *run_example(const char *name, const char *arg) {
        return run_example_full(name, arg, NULL);
}

/* cmocka writes to both stdout and stderr: keep their lines in order. */
static void __attribute__((constructor)) stdout_line_buffered(void) {
        setvbuf(stdout, NULL, _IOLBF, 0);
}

/* Runs fn as the main task of a fresh loop until every task has ended;
 * returns fn's outcome. */
static inline co_outcome_t run_main(co_task_fn_t fn, void *arg) {
        _cleanup_loop_ co_loop_t *loop = NULL;
        _cleanup_task_ co_task_t *t = NULL;
        co_outcome_t o = { .kind = CO_OUTCOME_ERROR, .value = -EIO };

        assert_int_equal(co_loop_new(&loop), 0);
        assert_int_equal(co_loop_spawn(loop, &t, "main", fn, arg, NULL), 0);
        assert_int_equal(co_loop_run(loop), 0);
        assert_int_equal(co_task_get_outcome(t, &o), 0);
        assert_int_equal(co_loop_get_n_tasks(loop), 0);
        return o;
}

/* The errors the library logged: how many, and the last one's message
 * and task field. */
typedef struct logged_errors {
        int n;
        char message[256];
        char task[64];
} logged_errors_t;

/* Keeps rec in e if it is an error; returns whether it was, for a sink
 * that keeps more of it. */
static inline bool keep_logged_error(logged_errors_t *e, const co_log_record_t *rec) {
        if (rec->level != CO_LOG_ERR)
                return false;
        e->n++;
        snprintf(e->message, sizeof e->message, "%s", rec->message);
        for (size_t i = 0; i < rec->n_fields; i++)
                if (strcmp(rec->fields[i].key, "task") == 0)
                        snprintf(e->task, sizeof e->task, "%s", rec->fields[i].value);
        return true;
}

/* A log sink for co_log_set_sink, userdata a logged_errors_t. */
static inline void log_errors_sink(const co_log_record_t *rec, void *userdata) {
        keep_logged_error(userdata, rec);
}

/* run_main with the library's log records going to sink for the run,
 * and to the default sink again after it. */
static inline co_outcome_t run_main_logging_to(co_log_sink_fn_t sink, void *userdata, co_task_fn_t fn, void *arg) {
        co_outcome_t o;

        co_log_set_sink(sink, userdata);
        o = run_main(fn, arg);
        co_log_set_sink(NULL, NULL);
        return o;
}

/* Descriptors open in this process. */
static inline int count_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        struct dirent *de;
        int n = 0;

        assert_non_null(d);
        while ((de = readdir(d)))
                n += de->d_name[0] != '.';
        closedir(d);
        return n - 1;   /* the DIR's own */
}

static inline co_usec_t msec(unsigned ms) {
        return (co_usec_t) ms * CO_USEC_PER_MSEC;
}

#if defined(__SANITIZE_ADDRESS__)
#  define HAVE_ASAN 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define HAVE_ASAN 1
#  endif
#endif

#if defined(__SANITIZE_THREAD__)
#  define HAVE_TSAN 1
#elif defined(__has_feature)
#  if __has_feature(thread_sanitizer)
#    define HAVE_TSAN 1
#  endif
#endif

/* ThreadSanitizer counts every fiber as a thread, and stops at 8128. */
#if HAVE_TSAN
#  define MANY_TASKS 4000
#else
#  define MANY_TASKS 100000
#endif

/* Whether /proc/self/maps counts only what the program mapped: the
 * sanitizers' allocators and valgrind keep mappings of their own. */
static inline bool mappings_are_ours(void) {
#if HAVE_ASAN || HAVE_TSAN
        return false;
#else
        return !RUNNING_ON_VALGRIND;
#endif
}

/* Lines of /proc/self/maps: one per mapping. */
static inline size_t count_mappings(void) {
        FILE *f = fopen("/proc/self/maps", "re");
        size_t n = 0;
        int c;

        assert_non_null(f);
        while ((c = fgetc(f)) != EOF)
                n += c == '\n';
        fclose(f);
        return n;
}

/* ---- for the tests of waiting primitives (sync, queue) ---- */

/* Lets every ready task run until it blocks (each blocks at once). */
static inline void settle(void) {
        for (int i = 0; i < 3; i++)
                assert_int_equal(co_task_yield(), 0);
}

/* Joins a task that must end soon: a broken primitive fails the test
 * rather than hanging it. */
static inline void join_ok(co_task_t *t) {
        co_outcome_t o;

        assert_int_equal(co_task_join_until(t, co_deadline_after(10 * CO_USEC_PER_SEC), &o), 0);
        assert_int_equal(o.kind, CO_OUTCOME_RESULT);
}

static inline void assert_waits_on(co_task_t *t, const char *what) {
        assert_int_equal(co_task_get_state(t), CO_TASK_SUSPENDED);
        assert_string_equal(co_task_get_wait(t), what);
}

static inline void assert_main_ok(co_task_fn_t fn) {
        co_outcome_t o = run_main(fn, NULL);

        assert_int_equal(o.kind, CO_OUTCOME_RESULT);
        assert_int_equal(o.value, 0);
}

/* What a waiting call's result holds before the call has returned. */
#define NOT_YET INT_MIN

/* A few tasks, unreferenced together at the end of scope. */
typedef struct tasks {
        co_task_t *t[4];
} tasks_t;

static inline void tasks_unrefp(tasks_t *ts) {
        for (size_t i = 0; i < ELEMENTSOF(ts->t); i++)
                co_task_unref(ts->t[i]);
}
#define _cleanup_tasks_ _cleanup_(tasks_unrefp)

static inline co_task_t *spawn_named(const char *name, co_task_fn_t fn, void *arg) {
        co_task_t *t = NULL;

        assert_int_equal(co_spawn(&t, name, fn, arg), 0);
        return t;
}

/* Spawns fn, lets it run for a while, then cancels it and joins it: for
 * the tests of what a task does when cancelled part-way. */
static inline void spawn_and_cancel_after(const char *name, co_task_fn_t fn, void *arg, co_usec_t after) {
        _cleanup_task_ co_task_t *t = spawn_named(name, fn, arg);

        assert_int_equal(co_sleep(after), 0);
        co_task_cancel(t, NULL);
        assert_int_equal(co_task_join(t, NULL), 0);
}

/* A task that ends at once: its done callback then runs on the loop,
 * outside any task. */
static inline int do_nothing(void *arg) {
        return 0;
}


/* SPDX-License-Identifier: MIT */
/* The exec task type: output lines as records, exit statuses, stopping,
 * PDEATHSIG, no zombies and no leaked descriptors. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "conf.h"
#include "tasks/tasks.h"
#include "test-util.h"

static inline void conf_freep(conf_t **c) {
        conf_free(*c);
}

/* ---- fixtures ------------------------------------------------------------- */

static char tmpdir[64];

static int n_fds_before;

static int setup(void **state) {
        strcpy(tmpdir, "/tmp/test-exec-XXXXXX");
        n_fds_before = count_fds();
        return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
        int r = remove_tree(tmpdir);

        /* Every test: no descriptor leaked, no child left unreaped. */
        assert_int_equal(count_fds(), n_fds_before);
        assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
        assert_int_equal(errno, ECHILD);
        return r;
}

/* Loads "[task t] type = exec" plus BODY (more keys) from a mode 0600 file
 * in tmpdir; returns the conf (conf_free it) and the task in *ret_task. */
static conf_t *load_task(const char *body, const conf_task_t **ret_task) {
        _cleanup_free_ char *path = NULL;
        conf_t *c = NULL;
        conf_errors_t *e = NULL;
        int fd;

        assert_true(asprintf(&path, "%s/main.conf", tmpdir) > 0);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_true(dprintf(fd, "[task t]\ntype = exec\n%s\n", body) > 0);
        assert_int_equal(close(fd), 0);
        if (conf_load(path, &c, &e) < 0) {
                conf_errors_print(e, stderr);
                conf_errors_free(e);
                fail();
        }
        *ret_task = conf_task_by_name(c, "t");
        assert_non_null(*ret_task);
        return c;
}

/* ---- captured records -------------------------------------------------------- */

typedef struct rec {
        co_log_level_t level;
        char *message;
        char *task;
        char *stream;           /* NULL: not an output line */
} rec_t;

static rec_t recs[20000];
static size_t n_recs;

static void sink(const co_log_record_t *r, void *userdata) {
        rec_t *x;

        if (n_recs >= ELEMENTSOF(recs))
                return;
        x = &recs[n_recs++];
        *x = (rec_t) { .level = r->level, .message = strdup(r->message) };
        if (r->task)
                x->task = strdup(r->task);
        for (size_t i = 0; i < r->n_fields; i++)
                if (strcmp(r->fields[i].key, "stream") == 0)
                        x->stream = strdup(r->fields[i].value);
}

static void recs_clear(void) {
        for (size_t i = 0; i < n_recs; i++) {
                free(recs[i].message);
                free(recs[i].task);
                free(recs[i].stream);
        }
        n_recs = 0;
}

/* The I-th output line of STREAM, or NULL. */
static const rec_t *line_of(const char *stream, size_t i) {
        for (size_t k = 0; k < n_recs; k++)
                if (recs[k].stream && strcmp(recs[k].stream, stream) == 0 && i-- == 0)
                        return &recs[k];
        return NULL;
}

static size_t n_lines_of(const char *stream) {
        size_t n = 0;

        while (line_of(stream, n))
                n++;
        return n;
}

/* A record (not an output line) whose message contains TEXT. */
static const rec_t *find_rec(const char *text) {
        for (size_t k = 0; k < n_recs; k++)
                if (!recs[k].stream && strstr(recs[k].message, text))
                        return &recs[k];
        return NULL;
}

static void dump_recs(void) {
        for (size_t k = 0; k < n_recs; k++)
                fprintf(stderr, "  [%d] %s %s: %s\n", recs[k].level, recs[k].task ?: "-",
                        recs[k].stream ?: "-", recs[k].message);
}

/* ---- running exec_run -------------------------------------------------------------- */

typedef struct run {
        const conf_task_t *conf;
        const char *cancel_after_line;  /* cancel once this stdout line is seen */
        co_outcome_t outcome;
        char *message;                  /* the outcome's, copied */
} run_t;

static int exec_body(void *arg) {
        const conf_task_t *conf = arg;

        return conf->type->run(conf);
}

static int run_body(void *arg) {
        run_t *run = arg;
        _cleanup_task_ co_task_t *t = NULL;
        co_task_opts_t opts = { .grace_usec = task_stop_usec(run->conf) + CO_USEC_PER_SEC };

        assert_int_equal(co_spawn_with(&t, "t", exec_body, (void *) run->conf, &opts), 0);
        if (run->cancel_after_line) {
                for (;;) {
                        bool seen = false;

                        for (size_t i = 0; !seen && line_of("stdout", i); i++)
                                seen = strcmp(line_of("stdout", i)->message, run->cancel_after_line) == 0;
                        if (seen || co_task_get_state(t) == CO_TASK_DONE)
                                break;
                        assert_int_equal(co_sleep(msec(5)), 0);
                }
                co_task_cancel(t, "test");
        }
        assert_int_equal(co_task_join(t, &run->outcome), 0);
        if (run->outcome.message)
                run->message = strdup(run->outcome.message);
        return 0;
}

/* Runs the task of conf; returns its outcome's value (the message in
 * run->message). */
static int run_exec(run_t *run) {
        recs_clear();
        assert_int_equal(run_main_logging_to(sink, NULL, run_body, run).kind, CO_OUTCOME_RESULT);
        return run->outcome.value;
}

static void run_done(run_t *run) {
        free(run->message);
        recs_clear();
}

/* A fresh run of the task BODY describes (see load_task); returns the
 * conf, which must outlive the run. */
static conf_t *load_run(const char *body, run_t *run) {
        const conf_task_t *t;
        conf_t *c = load_task(body, &t);

        *run = (run_t) { .conf = t };
        return c;
}

/* ---- cases ------------------------------------------------------------------------ */

static void test_exec_output_lines(void **state) {
        _cleanup_(conf_freep) conf_t *c = NULL;
        run_t run = { 0 };

        c = load_run("command = /bin/sh -c 'echo out1; echo err1 >&2; echo out2; echo; echo err2 >&2; "
                     "printf last'",
                     &run);
        assert_int_equal(run_exec(&run), 0);
        assert_int_equal(run.outcome.kind, CO_OUTCOME_RESULT);

        assert_int_equal(n_lines_of("stdout"), 4);
        assert_string_equal(line_of("stdout", 0)->message, "out1");
        assert_string_equal(line_of("stdout", 1)->message, "out2");
        assert_string_equal(line_of("stdout", 2)->message, "");
        assert_string_equal(line_of("stdout", 3)->message, "last");
        for (size_t i = 0; i < 4; i++) {
                assert_int_equal(line_of("stdout", i)->level, CO_LOG_INFO);
                assert_string_equal(line_of("stdout", i)->task, "t");
        }
        assert_int_equal(n_lines_of("stderr"), 2);
        assert_string_equal(line_of("stderr", 0)->message, "err1");
        assert_string_equal(line_of("stderr", 1)->message, "err2");
        assert_int_equal(line_of("stderr", 0)->level, CO_LOG_WARNING);
        assert_int_equal(line_of("stderr", 1)->level, CO_LOG_WARNING);
        assert_string_equal(line_of("stderr", 1)->task, "t");
        run_done(&run);
}

static void test_exec_long_lines_split(void **state) {
        _cleanup_(conf_freep) conf_t *c = NULL;
        run_t run = { 0 };

        c = load_run("command = /bin/sh -c 'head -c 10000 /dev/zero | tr \"\\\\0\" x; echo; "
                     "seq 1 3000'",
                     &run);
        assert_int_equal(run_exec(&run), 0);
        if (n_lines_of("stdout") != 5 + 3000)
                dump_recs();
        /* Split at 2047 bytes (co_log's message limit), nothing lost. */
        assert_int_equal(n_lines_of("stdout"), 5 + 3000);
        for (size_t i = 0; i < 4; i++) {
                assert_int_equal(strlen(line_of("stdout", i)->message), 2047);
                assert_int_equal(strspn(line_of("stdout", i)->message, "x"), 2047);
        }
        assert_int_equal(strlen(line_of("stdout", 4)->message), 10000 - 4 * 2047);
        assert_int_equal(strspn(line_of("stdout", 4)->message, "x"), 10000 - 4 * 2047);
        for (int i = 1; i <= 3000; i++) {
                char want[16];

                snprintf(want, sizeof want, "%d", i);
                assert_string_equal(line_of("stdout", 4 + (size_t) i)->message, want);
        }
        run_done(&run);
}

static void test_exec_exit_status(void **state) {
        _cleanup_(conf_freep) conf_t *c = NULL;
        run_t run = { 0 };

        c = load_run("command = /bin/sh -c 'exit 3'", &run);
        assert_int_equal(run_exec(&run), -EIO);
        assert_int_equal(run.outcome.kind, CO_OUTCOME_ERROR);
        assert_string_equal(run.message, "exited with status 3");
        run_done(&run);
}

static void test_exec_true(void **state) {
        _cleanup_(conf_freep) conf_t *c = NULL;
        run_t run = { 0 };

        c = load_run("command = true", &run);      /* found in $PATH */
        assert_int_equal(run_exec(&run), 0);
        assert_int_equal(run.outcome.kind, CO_OUTCOME_RESULT);
        run_done(&run);
}

static void test_exec_killed_by_signal(void **state) {
        _cleanup_(conf_freep) conf_t *c = NULL;
        run_t run = { 0 };

        c = load_run("command = /bin/sh -c 'kill -USR1 $$'", &run);
        assert_int_equal(run_exec(&run), -EIO);
        assert_string_equal(run.message, "killed by signal SIGUSR1");
        run_done(&run);
}

static void test_exec_bad_program(void **state) {
        _cleanup_(conf_freep) conf_t *c = NULL;
        run_t run = { 0 };

        c = load_run("command = /nonexistent/program arg", &run);
        assert_int_equal(run_exec(&run), -ENOENT);
        assert_string_equal(run.message, "cannot execute '/nonexistent/program': No such file or directory");
        run_done(&run);
        c = conf_free(c);

        c = load_run("command = no-such-program-in-path", &run);
        assert_int_equal(run_exec(&run), -ENOENT);
        assert_string_equal(run.message, "cannot execute 'no-such-program-in-path': No such file or directory");
        run_done(&run);
}

static void test_exec_bad_working_directory(void **state) {
        _cleanup_(conf_freep) conf_t *c = NULL;
        run_t run = { 0 };

        c = load_run("command = /bin/true\nworking_directory = /nonexistent/dir", &run);
        assert_int_equal(run_exec(&run), -ENOENT);
        assert_string_equal(run.message,
                            "cannot change to directory '/nonexistent/dir': No such file or directory");
        run_done(&run);
}

static void test_exec_workdir_and_environment(void **state) {
        _cleanup_(conf_freep) conf_t *c = NULL;
        _cleanup_free_ char *body = NULL;
        run_t run = { 0 };

        setenv("EXEC_TEST_KEPT", "kept", 1);
        setenv("EXEC_TEST_REPLACED", "old", 1);
        assert_true(asprintf(&body,
                             "command = /bin/sh -c 'pwd; echo \"$EXEC_TEST_A|$EXEC_TEST_KEPT|$EXEC_TEST_REPLACED\"; "
                             "read x; echo \"stdin:$?:$x\"'\n"
                             "working_directory = %s\n"
                             "environment = EXEC_TEST_A=\"a b\" EXEC_TEST_REPLACED=new",
                             tmpdir) > 0);
        c = load_run(body, &run);
        assert_int_equal(run_exec(&run), 0);
        assert_int_equal(n_lines_of("stdout"), 3);
        assert_string_equal(line_of("stdout", 0)->message, tmpdir);
        assert_string_equal(line_of("stdout", 1)->message, "a b|kept|new");
        assert_string_equal(line_of("stdout", 2)->message, "stdin:1:");        /* /dev/null */
        run_done(&run);
        unsetenv("EXEC_TEST_KEPT");
        unsetenv("EXEC_TEST_REPLACED");
}

static void test_exec_cancel_stop_signal(void **state) {
        _cleanup_(conf_freep) conf_t *c = NULL;
        run_t run = { 0 };

        c = load_run("command = /bin/sh -c 'trap \"echo got-term; exit 0\" TERM; echo ready; "
                     "while :; do sleep 0.02; done'\n"
                     "stop_timeout = 5s",
                     &run);
        run.cancel_after_line = "ready";
        assert_int_equal(run_exec(&run), -ECANCELED);
        assert_int_equal(run.outcome.kind, CO_OUTCOME_CANCELLED);
        assert_int_equal(n_lines_of("stdout"), 2);
        assert_string_equal(line_of("stdout", 1)->message, "got-term");
        assert_non_null(find_rec("stopping 't' (pid "));
        assert_non_null(strstr(find_rec("stopping 't' (pid ")->message, ") with SIGTERM"));
        assert_int_equal(find_rec("stopping 't'")->level, CO_LOG_INFO);
        assert_null(find_rec("SIGKILL"));
        run_done(&run);
}

static void test_exec_cancel_custom_signal(void **state) {
        _cleanup_(conf_freep) conf_t *c = NULL;
        run_t run = { 0 };

        c = load_run("command = /bin/sh -c 'trap \"echo got-int; exit 0\" INT; echo ready; "
                     "while :; do sleep 0.02; done'\n"
                     "stop_signal = SIGINT",
                     &run);
        run.cancel_after_line = "ready";
        assert_int_equal(run_exec(&run), -ECANCELED);
        assert_string_equal(line_of("stdout", 1)->message, "got-int");
        assert_non_null(strstr(find_rec("stopping 't'")->message, "with SIGINT"));
        run_done(&run);
}

static void test_exec_cancel_sigkill_after_timeout(void **state) {
        _cleanup_(conf_freep) conf_t *c = NULL;
        run_t run = { 0 };
        co_usec_t start;
        const rec_t *r;

        c = load_run("command = /bin/sh -c 'trap \"echo ignoring\" TERM; echo ready; "
                     "while :; do sleep 0.02; done'\n"
                     "stop_timeout = 100ms",
                     &run);
        run.cancel_after_line = "ready";
        start = co_now();
        assert_int_equal(run_exec(&run), -ECANCELED);
        assert_true(co_now() - start < 3 * CO_USEC_PER_SEC);
        r = find_rec("did not exit within 100ms: SIGKILL");
        if (!r)
                dump_recs();
        assert_non_null(r);
        assert_int_equal(r->level, CO_LOG_WARNING);
        /* The trap ran (and its output was still logged) but did not exit. */
        assert_string_equal(line_of("stdout", 1)->message, "ignoring");
        /* teardown: no zombie, no fd left. */
        run_done(&run);
}

static void test_exec_cancel_after_exit(void **state) {
        _cleanup_(conf_freep) conf_t *c = NULL;
        run_t run = { 0 };

        /* Exits at once: nothing to stop whatever the timing. */
        c = load_run("command = /bin/sh -c 'echo ready'", &run);
        run.cancel_after_line = "ready";
        int r = run_exec(&run);
        assert_true(r == 0 || r == -ECANCELED);
        run_done(&run);
}

/* The daemon SIGKILLed: the child dies with it (PR_SET_PDEATHSIG). */
static void test_exec_pdeathsig(void **state) {
        const conf_task_t *t;
        _cleanup_(conf_freep) conf_t *c = NULL;
        _cleanup_free_ char *body = NULL, *pidfile = NULL;
        pid_t helper, child = 0;
        int status;

        assert_true(asprintf(&pidfile, "%s/pid", tmpdir) > 0);
        assert_true(asprintf(&body, "command = /bin/sh -c 'echo $$ > %s.tmp; mv %s.tmp %s; exec sleep 1000'",
                             pidfile, pidfile, pidfile) > 0);
        c = load_task(body, &t);

        helper = fork();
        assert_true(helper >= 0);
        if (helper == 0) {
                run_t run = { .conf = t };

                run_exec(&run);
                _exit(0);
        }
        for (int i = 0; i < 1000 && !child; i++) {
                FILE *f = fopen(pidfile, "re");

                if (f) {
                        assert_int_equal(fscanf(f, "%d", &child), 1);
                        fclose(f);
                } else {
                        usleep(10000);
                }
        }
        assert_true(child > 0);
        assert_int_equal(kill(child, 0), 0);
        assert_int_equal(kill(helper, SIGKILL), 0);
        assert_int_equal(waitpid(helper, &status, 0), helper);
        assert_true(WIFSIGNALED(status));

        /* Gone: no such process, or a zombie its new parent has not reaped. */
        for (int i = 0; i < 500; i++) {
                char path[64], buf[512], *p;
                FILE *f;

                snprintf(path, sizeof path, "/proc/%d/stat", child);
                f = fopen(path, "re");
                if (!f)
                        return;
                p = fgets(buf, sizeof buf, f);
                fclose(f);
                if (p && (p = strrchr(buf, ')')) && (p[2] == 'Z' || p[2] == 'X'))
                        return;
                usleep(10000);
        }
        kill(child, SIGKILL);
        fail_msg("child %d survived its parent", child);
}

/* Many runs: the descriptor count stays put (checked by teardown too). */
static void test_exec_no_fd_leak(void **state) {
        const conf_task_t *t;
        _cleanup_(conf_freep) conf_t *c = NULL;
        int before = count_fds();

        c = load_task("command = /bin/sh -c 'echo hi; echo ho >&2; exit 1'", &t);
        for (int i = 0; i < 20; i++) {
                run_t run = { .conf = t };

                assert_int_equal(run_exec(&run), -EIO);
                assert_int_equal(n_lines_of("stdout"), 1);
                assert_int_equal(n_lines_of("stderr"), 1);
                run_done(&run);
        }
        assert_int_equal(count_fds(), before);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_exec_output_lines, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exec_long_lines_split, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exec_exit_status, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exec_true, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exec_killed_by_signal, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exec_bad_program, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exec_bad_working_directory, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exec_workdir_and_environment, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exec_cancel_stop_signal, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exec_cancel_custom_signal, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exec_cancel_sigkill_after_timeout, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exec_cancel_after_exit, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exec_pdeathsig, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exec_no_fd_leak, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}

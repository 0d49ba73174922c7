/* SPDX-License-Identifier: MIT */

/* The conf file: values and units, quoting, defaults, drop-ins, every kind
 * of error with its file:line, permissions, the dump round trip, task
 * comparison for reloads, the shipped config/cotaskd.conf and the corpus of
 * broken files in tests/data/conf/bad-*.conf. */

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <syslog.h>

#include "test-util.h"

#include "conf.h"
#include "tasks/tasks.h"

static inline void conf_freep(conf_t **c) {
        conf_free(*c);
}
#define _cleanup_conf_ _cleanup_(conf_freep)

static inline void conf_errors_freep(conf_errors_t **e) {
        conf_errors_free(*e);
}
#define _cleanup_errors_ _cleanup_(conf_errors_freep)

static inline void strv_freep(char ***v) {
        conf_strv_free(*v);
}
#define _cleanup_strv_ _cleanup_(strv_freep)

/* A key's value, of the C type its kind stores. */
#define VALUE(t, ctype, key) (*(const ctype *) conf_task_value((t), (key)))

/* Where tests/ lives: make check runs from the top of the tree. */
static const char *srcdir(void) {
        return getenv("COTASK_SRCDIR") ?: ".";
}

/* ---- a scratch directory per test ---------------------------------------- */

static char tmpdir[64];

static int setup(void **state) {
        strcpy(tmpdir, "/tmp/test-conf-XXXXXX");
        return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
        return remove_tree(tmpdir);
}

/* Writes TEXT to tmpdir/NAME with mode 0644; returns the path (free it). */
static char *write_file(const char *name, const char *text) {
        char *path;
        FILE *f;

        assert_true(asprintf(&path, "%s/%s", tmpdir, name) > 0);
        if (strchr(name, '/')) {
                char *dir = strdup(path);

                *strrchr(dir, '/') = '\0';
                mkdir(dir, 0755);
                free(dir);
        }
        f = fopen(path, "w");
        assert_non_null(f);
        assert_true(fputs(text, f) >= 0);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(chmod(path, 0644), 0);
        return path;
}

/* The same, for a file whose path the test does not need. */
static void put_file(const char *name, const char *text) {
        free(write_file(name, text));
}

static char *errors_text(const conf_errors_t *e) {
        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);

        assert_non_null(f);
        assert_int_equal(conf_errors_print(e, f), 0);
        assert_int_equal(fclose(f), 0);
        return text;
}

/* Asserts that loading TEXT as the main file fails with exactly one error
 * at LINE whose message contains WHAT. */
static void expect_one_error(const char *text, unsigned line, const char *what) {
        _cleanup_free_ char *path = write_file("cotaskd.conf", text), *all = NULL;
        _cleanup_errors_ conf_errors_t *e = NULL;
        _cleanup_conf_ conf_t *c = NULL;
        const conf_error_t *x;

        assert_int_equal(conf_load(path, &c, &e), -EINVAL);
        assert_null(c);
        all = errors_text(e);
        if (conf_errors_count(e) != 1 || !strstr(conf_errors_get(e, 0)->message, what))
                fail_msg("for:\n%s\nexpected line %u '%s', got:\n%s", text, line, what, all);
        x = conf_errors_get(e, 0);
        assert_string_equal(x->file, path);
        assert_int_equal(x->line, line);
}

static const char *const minimal =
        "[task hb]\n"
        "type = heartbeat\n";

/* ---- values ------------------------------------------------------------- */

static void test_conf_durations(void **state) {
        static const struct {
                const char *text;
                co_usec_t usec;
        } good[] = {
                { "0", 0 }, { "250ms", 250000 }, { "5s", 5000000 }, { "2min", 120000000 },
                { "1h", 3600000000ULL }, { "7us", 7 }, { "1h30min", 5400000000ULL },
                { "1min 30s", 90000000 }, { "0s", 0 }, { "1s500ms", 1500000 },
        };
        static const char *const bad[] = {
                "", "5", "s", "5 s", "-1s", "1.5s", "5sec", "5S", "1h30", " 5s", "99999999999999999999s",
                "18446744073709551615h",
        };
        char buf[64];
        co_usec_t v;

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                assert_int_equal(conf_parse_duration(good[i].text, &v), 0);
                assert_int_equal(v, good[i].usec);
                /* Formatting reads back to the same value. */
                assert_int_equal(conf_format_duration(v, buf, sizeof buf), 0);
                assert_int_equal(conf_parse_duration(buf, &v), 0);
                assert_int_equal(v, good[i].usec);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (conf_parse_duration(bad[i], &v) >= 0)
                        fail_msg("'%s' parsed", bad[i]);
        assert_int_equal(conf_format_duration(5400000000ULL + 1500, buf, sizeof buf), 0);
        assert_string_equal(buf, "1h30min1ms500us");
        assert_int_equal(conf_format_duration(0, buf, sizeof buf), 0);
        assert_string_equal(buf, "0");
}

static void test_conf_bools_and_numbers(void **state) {
        static const char *const yes[] = { "yes", "true", "on", "1" }, *const no[] = { "no", "false", "off", "0" };
        uint64_t n;
        bool b;

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                assert_int_equal(conf_parse_bool(yes[i], &b), 0);
                assert_true(b);
                assert_int_equal(conf_parse_bool(no[i], &b), 0);
                assert_false(b);
        }
        assert_int_equal(conf_parse_bool("Yes", &b), -EINVAL);
        assert_int_equal(conf_parse_bool("", &b), -EINVAL);
        assert_int_equal(conf_parse_uint64("1024", &n), 0);
        assert_int_equal(n, 1024);
        assert_int_equal(conf_parse_uint64("-1", &n), -EINVAL);
        assert_int_equal(conf_parse_uint64("18446744073709551616", &n), -ERANGE);
}

static void test_conf_quoting(void **state) {
        static const struct {
                const char *text;
                const char *words[5];
        } good[] = {
                { "a b  c", { "a", "b", "c" } },
                { "/bin/sh -c 'echo \"hi\"; exit 1'", { "/bin/sh", "-c", "echo \"hi\"; exit 1" } },
                { "\"a \\\"b\\\" \\\\c\"", { "a \"b\" \\c" } },
                { "a\\ b c\\'d", { "a b", "c'd" } },
                { "x'y z'\"w\"", { "xy zw" } },
                { "'' \"\"", { "", "" } },
                { "'$HOME' \\$x", { "$HOME", "$x" } },
        };
        static const char *const bad[] = { "'abc", "\"abc", "abc\\", "\"abc\\\"", "a 'b\"" };

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                _cleanup_strv_ char **v = NULL, **back = NULL;
                _cleanup_free_ char *text = NULL;
                size_t size = 0, n;
                FILE *f;

                assert_int_equal(conf_parse_argv(good[i].text, &v), 0);
                for (n = 0; good[i].words[n]; n++) {
                        assert_non_null(v[n]);
                        assert_string_equal(v[n], good[i].words[n]);
                }
                assert_null(v[n]);
                /* Quoting each word gives the same words back. */
                f = open_memstream(&text, &size);
                for (n = 0; v[n]; n++) {
                        fputs(n ? " " : "", f);
                        assert_int_equal(conf_quote_word(v[n], f), 0);
                }
                fclose(f);
                assert_int_equal(conf_parse_argv(text, &back), 0);
                for (n = 0; v[n]; n++)
                        assert_string_equal(v[n], back[n]);
                assert_null(back[n]);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char **v = NULL;

                if (conf_parse_argv(bad[i], &v) != -EINVAL)
                        fail_msg("'%s' parsed", bad[i]);
        }
}

static void test_conf_signals_and_listen(void **state) {
        conf_listen_t l = {};
        int sig;

        assert_int_equal(conf_parse_signal("SIGTERM", &sig), 0);
        assert_int_equal(sig, SIGTERM);
        assert_int_equal(conf_parse_signal("INT", &sig), 0);
        assert_int_equal(sig, SIGINT);
        assert_int_equal(conf_parse_signal("9", &sig), 0);
        assert_int_equal(sig, 9);
        assert_int_equal(conf_parse_signal("SIGFOO", &sig), -EINVAL);
        assert_int_equal(conf_parse_signal("0", &sig), -EINVAL);
        assert_int_equal(conf_parse_signal("", &sig), -EINVAL);

        assert_int_equal(conf_parse_listen("127.0.0.1:7", &l), 0);
        assert_string_equal(l.host, "127.0.0.1");
        assert_int_equal(l.port, 7);
        conf_listen_done(&l);
        assert_int_equal(conf_parse_listen("[::1]:65535", &l), 0);
        assert_string_equal(l.host, "::1");
        assert_int_equal(l.port, 65535);
        conf_listen_done(&l);
        assert_int_equal(conf_parse_listen("localhost:80", &l), 0);
        assert_string_equal(l.host, "localhost");
        conf_listen_done(&l);
        assert_int_equal(conf_parse_listen("systemd:echo", &l), 0);
        assert_null(l.host);
        assert_string_equal(l.fd_name, "echo");
        conf_listen_done(&l);
        static const char *const bad[] = {
                "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", ":80", "::1:80", "[::1]80", "[x]:80",
                "a b:80", "host:-1", "systemd:", "systemd:a b", "host:80x", "-a:80",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (conf_parse_listen(bad[i], &l) != -EINVAL)
                        fail_msg("'%s' parsed", bad[i]);
}

/* ---- whole files ---------------------------------------------------------- */

static void test_conf_defaults(void **state) {
        _cleanup_free_ char *path = write_file("cotaskd.conf", minimal);
        _cleanup_conf_ conf_t *c = NULL;
        const conf_daemon_t *d;
        const conf_task_t *t;

        assert_int_equal(conf_load(path, &c, NULL), 0);
        d = conf_daemon(c);
        assert_int_equal(d->log_level, LOG_INFO);
        assert_int_equal(d->log_format, CONF_LOG_FORMAT_AUTO);
        assert_int_equal(d->shutdown_timeout_usec, 10 * CO_USEC_PER_SEC);
        assert_int_equal(d->watchdog, CONF_WATCHDOG_AUTO);
        assert_int_equal(conf_n_tasks(c), 1);
        t = conf_task(c, 0);
        assert_string_equal(t->name, "hb");
        assert_string_equal(t->file, path);
        assert_int_equal(t->line, 1);
        assert_string_equal(t->type->name, "heartbeat");
        assert_int_equal(t->restart, CONF_RESTART_ON_FAILURE);
        assert_int_equal(t->restart_delay_usec, 100 * CO_USEC_PER_MSEC);
        assert_int_equal(t->restart_delay_max_usec, 30 * CO_USEC_PER_SEC);
        assert_int_equal(t->restart_intensity.burst, 5);
        assert_int_equal(t->restart_intensity.interval_usec, 10 * CO_USEC_PER_SEC);
        assert_int_equal(t->on_give_up, CONF_GIVE_UP_STOP);
        assert_true(t->enabled);
        assert_int_equal(VALUE(t, co_usec_t, "interval"), 30 * CO_USEC_PER_SEC);
        assert_null(conf_task(c, 1));
        assert_ptr_equal(conf_task_by_name(c, "hb"), t);
        assert_null(conf_task_by_name(c, "nope"));
}

static const char *const full =
        "; a comment\n"
        "[daemon]\n"
        "log_level = debug\n"
        "log_format = json\n"
        "shutdown_timeout = 1min30s\n"
        "watchdog = off\n"
        "\n"
        "[task run]\n"
        "  type = exec\n"
        "command = /bin/sh -c 'echo \"a b\"; exit 3' \"x y\" z\\ w\n"
        "working_directory = /tmp\n"
        "environment = A=1 B='two words' _C=\"q\\\"uote\"\n"
        "stop_signal = INT\n"
        "stop_timeout = 250ms\n"
        "restart = always\n"
        "restart_delay = 1s\n"
        "restart_delay_max = 1s\n"
        "restart_intensity = 3/1min\n"
        "on_give_up = exit\n"
        "enabled = off\n"
        "\n"
        "[task echo6]\n"
        "type = tcp-echo\n"
        "listen = [::1]:7007\n"
        "max_connections = 1000000\n"
        "idle_timeout = 0\n"
        "\n"
        "[ task sock ]\n"
        "type = tcp-echo\n"
        "listen = systemd:echo\n";

static void test_conf_all_keys(void **state) {
        _cleanup_free_ char *path = write_file("cotaskd.conf", full);
        _cleanup_errors_ conf_errors_t *e = NULL;
        _cleanup_conf_ conf_t *c = NULL;
        const conf_task_t *t;

        assert_int_equal(conf_load(path, &c, &e), 0);
        assert_null(e);
        assert_int_equal(conf_daemon(c)->log_level, LOG_DEBUG);
        assert_int_equal(conf_daemon(c)->log_format, CONF_LOG_FORMAT_JSON);
        assert_int_equal(conf_daemon(c)->shutdown_timeout_usec, 90 * CO_USEC_PER_SEC);
        assert_int_equal(conf_daemon(c)->watchdog, CONF_WATCHDOG_OFF);
        assert_int_equal(conf_n_tasks(c), 3);

        t = conf_task(c, 0);
        assert_string_equal(t->type->name, "exec");
        assert_string_equal(VALUE(t, char **, "command")[0], "/bin/sh");
        assert_string_equal(VALUE(t, char **, "command")[2], "echo \"a b\"; exit 3");
        assert_string_equal(VALUE(t, char **, "command")[3], "x y");
        assert_string_equal(VALUE(t, char **, "command")[4], "z w");
        assert_null(VALUE(t, char **, "command")[5]);
        assert_string_equal(VALUE(t, char *, "working_directory"), "/tmp");
        assert_string_equal(VALUE(t, char **, "environment")[0], "A=1");
        assert_string_equal(VALUE(t, char **, "environment")[1], "B=two words");
        assert_string_equal(VALUE(t, char **, "environment")[2], "_C=q\"uote");
        assert_null(VALUE(t, char **, "environment")[3]);
        assert_int_equal(VALUE(t, int, "stop_signal"), SIGINT);
        assert_int_equal(VALUE(t, co_usec_t, "stop_timeout"), 250 * CO_USEC_PER_MSEC);
        assert_int_equal(t->restart, CONF_RESTART_ALWAYS);
        assert_int_equal(t->restart_intensity.burst, 3);
        assert_int_equal(t->restart_intensity.interval_usec, 60 * CO_USEC_PER_SEC);
        assert_int_equal(t->on_give_up, CONF_GIVE_UP_EXIT);
        assert_false(t->enabled);

        t = conf_task(c, 1);
        assert_string_equal(t->name, "echo6");
        assert_string_equal(VALUE(t, conf_listen_t, "listen").host, "::1");
        assert_int_equal(VALUE(t, conf_listen_t, "listen").port, 7007);
        assert_int_equal(VALUE(t, unsigned, "max_connections"), 1000000);
        assert_int_equal(VALUE(t, co_usec_t, "idle_timeout"), 0);
        assert_int_equal(VALUE(t, unsigned, "max_connections"), 1000000);

        t = conf_task(c, 2);
        assert_string_equal(t->name, "sock");
        assert_string_equal(VALUE(t, conf_listen_t, "listen").fd_name, "echo");
        assert_int_equal(VALUE(t, unsigned, "max_connections"), 1024);
        assert_int_equal(VALUE(t, co_usec_t, "idle_timeout"), 5 * 60 * CO_USEC_PER_SEC);
}

static void test_conf_dropins(void **state) {
        _cleanup_free_ char *path = write_file("cotaskd.conf",
                "[daemon]\nlog_level = notice\nlog_format = logfmt\n"
                "[task hb]\ntype = heartbeat\ninterval = 1s\nrestart = never\n");
        _cleanup_free_ char *d1 = write_file("conf.d/10-a.conf",
                "[task hb]\ninterval = 2s\n[task new]\ntype = exec\ncommand = /bin/true\n");
        _cleanup_conf_ conf_t *c = NULL;
        const conf_task_t *t;

        put_file("conf.d/9-b.conf",
                 "[daemon]\nlog_level = err\n[task hb]\ninterval = 3s\n[task new]\ncommand = /bin/false\n");
        /* Not drop-ins: hidden, or not ending in .conf. */
        put_file("conf.d/.hidden.conf", "garbage\n");
        put_file("conf.d/zz.conf.bak", "garbage\n");

        assert_int_equal(conf_load(path, &c, NULL), 0);
        /* Lexical order: 10-a.conf, then 9-b.conf; the later file wins. */
        assert_int_equal(conf_daemon(c)->log_level, LOG_ERR);
        assert_int_equal(conf_daemon(c)->log_format, CONF_LOG_FORMAT_LOGFMT);
        t = conf_task_by_name(c, "hb");
        assert_int_equal(VALUE(t, co_usec_t, "interval"), 3 * CO_USEC_PER_SEC);
        assert_int_equal(t->restart, CONF_RESTART_NEVER);
        assert_string_equal(t->file, path);
        t = conf_task_by_name(c, "new");
        assert_non_null(t);
        assert_string_equal(t->file, d1);
        assert_string_equal(VALUE(t, char **, "command")[0], "/bin/false");
        assert_int_equal(conf_n_tasks(c), 2);
}

/* An instance's file NAME.conf has its own NAME.conf.d: the drop-ins of
 * cotaskd.conf beside it are not its. */
static void test_conf_instance_dropins(void **state) {
        _cleanup_free_ char *path = write_file("demo.conf", "[task hb]\ntype = heartbeat\ninterval = 1s\n");
        _cleanup_conf_ conf_t *c = NULL;

        put_file("cotaskd.conf", "[task main]\ntype = heartbeat\n");
        put_file("conf.d/10-main.conf", "[task hb]\ninterval = 9s\n[task extra]\ntype = heartbeat\n");
        put_file("demo.conf.d/10-demo.conf", "[task hb]\ninterval = 2s\n");
        assert_int_equal(conf_load(path, &c, NULL), 0);
        assert_int_equal(conf_n_tasks(c), 1);
        assert_int_equal(VALUE(conf_task(c, 0), co_usec_t, "interval"), 2 * CO_USEC_PER_SEC);
}

static void test_conf_dropin_errors(void **state) {
        _cleanup_free_ char *path = write_file("cotaskd.conf", minimal);
        _cleanup_free_ char *d1 = write_file("conf.d/a.conf", "\n[task other]\ninterval = 2s\n");
        _cleanup_free_ char *d2 = write_file("conf.d/b.conf", "[task hb]\ncommand = x\ninterval = 0\n");
        _cleanup_errors_ conf_errors_t *e = NULL;
        _cleanup_free_ char *all = NULL, *want = NULL;

        assert_int_equal(conf_load(path, NULL, &e), -EINVAL);
        all = errors_text(e);
        assert_true(asprintf(&want,
                             "%s:2: missing 'type' for [task other]\n"
                             "%s:2: key 'command' is for type 'exec', not 'heartbeat'\n"
                             "%s:3: value '0' for 'interval' is out of range (at least 1us)\n",
                             d1, d2, d2) > 0);
        assert_string_equal(all, want);
}

/* One error of each kind, each with its line. */
static void test_conf_error_kinds(void **state) {
        expect_one_error("[daemon]\nlog_level = info\n[deamon]\n", 3, "unknown section '[deamon]'");
        expect_one_error("[task hb]\ntype = heartbeat\nintervall = 5s\n", 3, "unknown key 'intervall'");
        expect_one_error("[daemon]\nlog_lvl = info\n", 2, "unknown key 'log_lvl' in [daemon]");
        expect_one_error("\n\n[task x]\ninterval = 5s\n", 3, "missing 'type' for [task x]");
        expect_one_error("[task x]\ntype = exec\n", 1, "missing 'command' for [task x] of type 'exec'");
        expect_one_error("[task x]\ntype = tcp-echo\n", 1, "missing 'listen'");
        expect_one_error("[task x]\ntype = cron\n", 2,
                         "bad value 'cron' for 'type': expected one of heartbeat, exec, tcp-echo");
        expect_one_error("[daemon]\nshutdown_timeout = 10\n", 2,
                         "bad value '10' for 'shutdown_timeout': expected a duration");
        expect_one_error("[daemon]\nwatchdog = auto\nwatchdog = off\n", 3,
                         "duplicate key 'watchdog' (first at line 2)");
        expect_one_error("[task e]\ntype = tcp-echo\nlisten = 127.0.0.1:1\nmax_connections = 0\n", 4,
                         "value '0' for 'max_connections' is out of range (1..1000000)");
        expect_one_error("[daemon]\nlog_level\n", 2, "syntax error: expected 'key = value'");
        expect_one_error("[daemon\n", 1, "syntax error: section header without ']'");
        expect_one_error("log_level = info\n", 1, "key 'log_level' outside of any section");
        expect_one_error("[task a/b]\ntype = heartbeat\n", 1, "invalid task name 'a/b'");
        expect_one_error("[task]\n", 1, "missing task name");
        expect_one_error("[task x]\ntype = heartbeat\n[task x]\n", 3, "duplicate section '[task x]' (first at line 1)");
        expect_one_error("[task x]\ntype = heartbeat\nrestart_delay = 1min\n", 3,
                         "restart_delay_max (30s) must not be less than restart_delay (1min)");
}

static void test_conf_unreadable(void **state) {
        _cleanup_errors_ conf_errors_t *e = NULL;
        _cleanup_free_ char *path = NULL, *all = NULL, *want = NULL;

        assert_true(asprintf(&path, "%s/missing.conf", tmpdir) > 0);
        assert_int_equal(conf_load(path, NULL, &e), -EINVAL);
        assert_int_equal(conf_errors_count(e), 1);
        assert_int_equal(conf_errors_get(e, 0)->line, 0);
        all = errors_text(e);
        assert_true(asprintf(&want, "%s: cannot open: No such file or directory\n", path) > 0);
        assert_string_equal(all, want);
        /* A directory is not a conf file either. */
        e = conf_errors_free(e);
        assert_int_equal(conf_load(tmpdir, NULL, &e), -EINVAL);
        assert_non_null(strstr(conf_errors_get(e, 0)->message, "not a regular file"));
}

static void test_conf_permissions(void **state) {
        _cleanup_free_ char *path = write_file("cotaskd.conf", minimal), *all = NULL;
        _cleanup_errors_ conf_errors_t *e = NULL;
        _cleanup_conf_ conf_t *c = NULL;

        assert_int_equal(chmod(path, 0646), 0);
        assert_int_equal(conf_load(path, &c, &e), -EINVAL);
        assert_null(c);
        all = errors_text(e);
        assert_non_null(strstr(all, ": refused: writable by group or others (mode 0646)"));
        e = conf_errors_free(e);
        assert_int_equal(chmod(path, 0664), 0);
        assert_int_equal(conf_load(path, &c, &e), -EINVAL);
        e = conf_errors_free(e);
        assert_int_equal(chmod(path, 0600), 0);
        assert_int_equal(conf_load(path, &c, &e), 0);
        c = conf_free(c);

        /* A drop-in is checked the same way. */
        _cleanup_free_ char *d = write_file("conf.d/x.conf", "[daemon]\n");
        assert_int_equal(chmod(d, 0666), 0);
        assert_int_equal(conf_load(path, &c, &e), -EINVAL);
        assert_string_equal(conf_errors_get(e, 0)->file, d);
}

static void test_conf_many_errors(void **state) {
        _cleanup_free_ char *path = write_file("cotaskd.conf",
                "[task b]\n"                    /* 1: missing command */
                "type = exec\n"
                "stop_signal = SIGNOPE\n"       /* 3 */
                "[nope]\n"                      /* 4 */
                "x = 1\n"                       /* ignored: after a bad header */
                "[daemon]\n"
                "log_level = loud\n"            /* 7 */
                "oops\n"                        /* 8 */
                "log_level = info\n"            /* 9: duplicate */
                "[task a]\n"
                "type = heartbeat\n"
                "interval = soon\n"             /* 12 */
                "listen = 1.2.3.4:5\n");        /* 13 */
        _cleanup_errors_ conf_errors_t *e = NULL;
        static const unsigned lines[] = { 1, 3, 4, 7, 8, 9, 12, 13 };

        assert_int_equal(conf_load(path, NULL, &e), -EINVAL);
        assert_int_equal(conf_errors_count(e), ELEMENTSOF(lines));
        for (size_t i = 0; i < ELEMENTSOF(lines); i++)
                assert_int_equal(conf_errors_get(e, i)->line, lines[i]);
        assert_non_null(strstr(conf_errors_get(e, 1)->message, "expected a signal name"));
        assert_non_null(strstr(conf_errors_get(e, 3)->message, "expected one of debug, info, notice, warning, err"));
}

static void test_conf_long_line(void **state) {
        char text[400];

        snprintf(text, sizeof text, "[task e]\ntype = heartbeat\n# %0250d\n", 0);
        expect_one_error(text, 3, "line too long");
}

/* Loads PATH, dumps it, loads the dump, and checks both are the same. */
static void check_round_trip(const char *path) {
        _cleanup_conf_ conf_t *a = NULL, *b = NULL;
        _cleanup_errors_ conf_errors_t *e = NULL;
        _cleanup_free_ char *text = NULL, *again = NULL, *dump = NULL;
        size_t size = 0;
        FILE *f;

        assert_int_equal(conf_load(path, &a, NULL), 0);
        f = open_memstream(&text, &size);
        assert_int_equal(conf_dump(a, f), 0);
        fclose(f);
        dump = write_file("dump/dumped.conf", text);
        if (conf_load(dump, &b, &e) < 0) {
                _cleanup_free_ char *all = errors_text(e);

                fail_msg("dump does not load:\n%s\n%s", text, all);
        }
        assert_memory_equal(conf_daemon(a), conf_daemon(b), sizeof(conf_daemon_t));
        assert_int_equal(conf_n_tasks(a), conf_n_tasks(b));
        for (size_t i = 0; i < conf_n_tasks(a); i++)
                assert_true(conf_task_equal(conf_task(a, i), conf_task(b, i)));
        f = open_memstream(&again, &size);
        assert_int_equal(conf_dump(b, f), 0);
        fclose(f);
        assert_string_equal(text, again);
}

static void test_conf_dump_round_trip(void **state) {
        _cleanup_free_ char *path = write_file("cotaskd.conf", full), *p2 = NULL, *text = NULL;
        _cleanup_conf_ conf_t *c = NULL;
        size_t size = 0;
        FILE *f;

        check_round_trip(path);
        p2 = write_file("min/cotaskd.conf", minimal);
        assert_int_equal(conf_load(p2, &c, NULL), 0);
        f = open_memstream(&text, &size);
        assert_int_equal(conf_dump(c, f), 0);
        fclose(f);
        assert_string_equal(text,
                "[daemon]\nlog_level = info\nlog_format = auto\nshutdown_timeout = 10s\nwatchdog = auto\n"
                "\n[task hb]\ntype = heartbeat\nrestart = on-failure\nrestart_delay = 100ms\n"
                "restart_delay_max = 30s\nrestart_intensity = 5/10s\non_give_up = stop\nenabled = yes\n"
                "interval = 30s\n");
}

static void test_conf_task_equal(void **state) {
        _cleanup_free_ char *p1 = write_file("a/cotaskd.conf", full);
        _cleanup_free_ char *p2 = write_file("b/cotaskd.conf", full);
        _cleanup_free_ char *p3 = write_file("c/cotaskd.conf", full);
        _cleanup_conf_ conf_t *a = NULL, *b = NULL, *c3 = NULL;

        put_file("b/conf.d/x.conf",
                 "[task run]\ncommand = /bin/sh -c 'echo \"a b\"; exit 3' \"x y\" 'z w'\n"
                 "[task echo6]\nidle_timeout = 1s\n");
        put_file("c/conf.d/x.conf", "[task run]\nenvironment = A=1\n");

        assert_int_equal(conf_load(p1, &a, NULL), 0);
        assert_int_equal(conf_load(p2, &b, NULL), 0);
        assert_int_equal(conf_load(p3, &c3, NULL), 0);
        /* Same words written differently: unchanged. */
        assert_true(conf_task_equal(conf_task_by_name(a, "run"), conf_task_by_name(b, "run")));
        assert_false(conf_task_equal(conf_task_by_name(a, "echo6"), conf_task_by_name(b, "echo6")));
        assert_true(conf_task_equal(conf_task_by_name(a, "sock"), conf_task_by_name(b, "sock")));
        assert_false(conf_task_equal(conf_task_by_name(a, "run"), conf_task_by_name(c3, "run")));
        assert_false(conf_task_equal(conf_task_by_name(a, "sock"), conf_task_by_name(a, "echo6")));
}

static char *read_text(const char *path) {
        char *text = NULL;
        size_t size = 0;
        FILE *in = fopen(path, "r"), *out = open_memstream(&text, &size);
        int ch;

        assert_non_null(in);
        while ((ch = fgetc(in)) != EOF)
                fputc(ch, out);
        fclose(in);
        fclose(out);
        return text;
}

static void check_documented(const char *text, const conf_key_t *keys) {
        for (const conf_key_t *k = keys; k && k->name; k++) {
                char want[128];

                snprintf(want, sizeof want, "\n#%s = %s", k->name, k->def ?: "");
                if (!k->def || !*k->def)
                        snprintf(want, sizeof want, "%s =", k->name);
                if (!strstr(text, want))
                        fail_msg("config/cotaskd.conf lacks '%s'", want);
        }
}

/* config/cotaskd.conf loads, documents every key with its default, runs the
 * three kinds of task, and dumps to the same. Copied, so that the checkout's
 * umask cannot make it group-writable. */
static void test_conf_default_file(void **state) {
        _cleanup_free_ char *src = NULL, *text = NULL, *path = NULL;
        _cleanup_conf_ conf_t *c = NULL;
        _cleanup_errors_ conf_errors_t *e = NULL;
        const task_type_t *type;

        assert_true(asprintf(&src, "%s/config/cotaskd.conf", srcdir()) > 0);
        text = read_text(src);
        path = write_file("cotaskd.conf", text);
        if (conf_load(path, &c, &e) < 0) {
                _cleanup_free_ char *all = errors_text(e);

                fail_msg("%s", all);
        }
        check_documented(text, conf_daemon_keys);
        check_documented(text, conf_task_keys);
        for (size_t i = 0; (type = task_type_get(i)); i++)
                check_documented(text, type->keys);
        assert_int_equal(conf_n_tasks(c), 3);
        assert_string_equal(conf_task(c, 0)->type->name, "heartbeat");
        assert_string_equal(conf_task(c, 1)->type->name, "exec");
        assert_string_equal(conf_task(c, 2)->type->name, "tcp-echo");
        assert_string_equal(VALUE(conf_task(c, 2), conf_listen_t, "listen").host, "127.0.0.1");
        check_round_trip(path);
}

/* tests/data/conf/bad-*.conf: line 1 is "# expect: LINE: MESSAGE". */
static void test_conf_corpus(void **state) {
        _cleanup_free_ char *dir = NULL;
        struct dirent **names;
        size_t checked = 0;
        int n;

        assert_true(asprintf(&dir, "%s/tests/data/conf", srcdir()) > 0);
        n = scandir(dir, &names, NULL, alphasort);
        assert_true(n > 0);
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *src = NULL, *text = NULL, *path = NULL, *all = NULL;
                _cleanup_errors_ conf_errors_t *e = NULL;
                unsigned line;
                char what[256];
                bool found = false;

                if (strncmp(names[i]->d_name, "bad-", 4) != 0 || !strstr(names[i]->d_name, ".conf")) {
                        free(names[i]);
                        continue;
                }
                assert_true(asprintf(&src, "%s/%s", dir, names[i]->d_name) > 0);
                text = read_text(src);
                if (sscanf(text, "# expect: %u: %255[^\n]", &line, what) != 2)
                        fail_msg("%s: no '# expect: LINE: MESSAGE' first line", src);
                path = write_file(names[i]->d_name, text);
                if (conf_load(path, NULL, &e) != -EINVAL)
                        fail_msg("%s: loaded without errors", src);
                all = errors_text(e);
                for (size_t j = 0; j < conf_errors_count(e); j++)
                        found |= conf_errors_get(e, j)->line == line &&
                                strstr(conf_errors_get(e, j)->message, what);
                if (!found)
                        fail_msg("%s: expected %u: %s; got:\n%s", src, line, what, all);
                checked++;
                free(names[i]);
        }
        free(names);
        assert_true(checked >= 30);
}

/* ---- a type registered by the program ---------------------------------------- */

typedef struct extra_conf {
        co_usec_t period_usec;
        char *label;
        unsigned count;
} extra_conf_t;

static const conf_key_t extra_keys[] = {
        { "period", &conf_kind_duration, "1s", .min = 1, .offset = offsetof(extra_conf_t, period_usec),
          .help = "A duration, more than 0." },
        { "label", &conf_kind_string, "a label", .offset = offsetof(extra_conf_t, label), .help = "Text." },
        { "count", &conf_kind_uint, NULL, .required = true, .min = 1, .max = 10,
          .offset = offsetof(extra_conf_t, count), .help = "1 to 10; required." },
        {},
};

static int extra_run(const conf_task_t *conf) {
        return (int) TASK_CONF(conf, extra_conf_t)->count;
}

TASK_TYPE(extra, "extra", extra_conf_t, extra_keys, extra_run);

static const conf_key_t bad_default_keys[] = {
        { "period", &conf_kind_duration, "soon", .offset = 0, .help = "" },
        {},
};
static const conf_key_t shadowing_keys[] = {
        { "restart", &conf_kind_bool, "no", .offset = 0, .help = "" },
        {},
};

/* Runs last: registered types stay for the rest of the process. */
static void test_conf_extra_type(void **state) {
        static const task_type_t bad_default = {
                .name = "bad-default", .keys = bad_default_keys, .conf_size = sizeof(co_usec_t), .run = extra_run,
        };
        static const task_type_t shadowing = {
                .name = "shadowing", .keys = shadowing_keys, .conf_size = sizeof(bool), .run = extra_run,
        };
        static const task_type_t no_run = { .name = "no-run" }, again = { .name = "exec", .run = extra_run };
        _cleanup_free_ char *path = write_file("cotaskd.conf",
                "[task x]\ntype = extra\ncount = 3\nlabel =  two words \n"
                "[task y]\ntype = extra\ncount = 3\nlabel = two words\n");
        _cleanup_free_ char *text = NULL;
        _cleanup_conf_ conf_t *c = NULL;
        const extra_conf_t *x;
        size_t size = 0;
        FILE *f;

        assert_int_equal(task_type_register(&bad_default), -EINVAL);
        assert_int_equal(task_type_register(&shadowing), -EINVAL);
        assert_int_equal(task_type_register(&no_run), -EINVAL);
        assert_int_equal(task_type_register(&again), -EEXIST);
        assert_null(task_type_find("extra"));
        assert_int_equal(task_type_register(&extra_task_type), 0);
        assert_int_equal(task_type_register(&extra_task_type), -EEXIST);
        assert_ptr_equal(task_type_find("extra"), &extra_task_type);

        assert_int_equal(conf_load(path, &c, NULL), 0);
        x = TASK_CONF(conf_task(c, 0), extra_conf_t);
        assert_int_equal(x->period_usec, CO_USEC_PER_SEC);
        assert_string_equal(x->label, "two words");
        assert_int_equal(x->count, 3);
        assert_int_equal(conf_task(c, 0)->type->run(conf_task(c, 0)), 3);
        assert_int_equal(task_stop_usec(conf_task(c, 0)), 0);
        assert_false(conf_task_equal(conf_task(c, 0), conf_task(c, 1)));     /* the names differ */
        f = open_memstream(&text, &size);
        assert_int_equal(conf_dump(c, f), 0);
        fclose(f);
        assert_non_null(strstr(text, "[task x]\ntype = extra\n"));
        assert_non_null(strstr(text, "enabled = yes\nperiod = 1s\nlabel = two words\ncount = 3\n"));
        check_round_trip(path);

        /* Its keys are checked as the built-in ones, with file:line. */
        expect_one_error("[task x]\ntype = extra\n", 1, "missing 'count' for [task x] of type 'extra'");
        expect_one_error("[task x]\ntype = extra\ncount = 11\n", 3, "value '11' for 'count' is out of range (1..10)");
        expect_one_error("[task x]\ntype = extra\ncount = 1\nperiod = 0\n", 4, "out of range (at least 1us)");
        expect_one_error("[task x]\ntype = extra\ncount = 1\ninterval = 1s\n", 4,
                         "key 'interval' is for type 'heartbeat', not 'extra'");
        expect_one_error("[task x]\ntype = heartbeat\ncount = 1\n", 3, "key 'count' is for type 'extra', not 'heartbeat'");
        expect_one_error("[task x]\ntype = cron\n", 2,
                         "bad value 'cron' for 'type': expected one of heartbeat, exec, tcp-echo, extra");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_conf_durations),
                cmocka_unit_test(test_conf_bools_and_numbers),
                cmocka_unit_test(test_conf_quoting),
                cmocka_unit_test(test_conf_signals_and_listen),
                cmocka_unit_test_setup_teardown(test_conf_defaults, setup, teardown),
                cmocka_unit_test_setup_teardown(test_conf_all_keys, setup, teardown),
                cmocka_unit_test_setup_teardown(test_conf_dropins, setup, teardown),
                cmocka_unit_test_setup_teardown(test_conf_instance_dropins, setup, teardown),
                cmocka_unit_test_setup_teardown(test_conf_dropin_errors, setup, teardown),
                cmocka_unit_test_setup_teardown(test_conf_error_kinds, setup, teardown),
                cmocka_unit_test_setup_teardown(test_conf_unreadable, setup, teardown),
                cmocka_unit_test_setup_teardown(test_conf_permissions, setup, teardown),
                cmocka_unit_test_setup_teardown(test_conf_many_errors, setup, teardown),
                cmocka_unit_test_setup_teardown(test_conf_long_line, setup, teardown),
                cmocka_unit_test_setup_teardown(test_conf_dump_round_trip, setup, teardown),
                cmocka_unit_test_setup_teardown(test_conf_task_equal, setup, teardown),
                cmocka_unit_test_setup_teardown(test_conf_default_file, setup, teardown),
                cmocka_unit_test_setup_teardown(test_conf_corpus, setup, teardown),
                cmocka_unit_test_setup_teardown(test_conf_extra_type, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}

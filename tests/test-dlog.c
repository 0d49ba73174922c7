/* SPDX-License-Identifier: MIT */
/* The daemon's log sink: logfmt and JSON lines, $JOURNAL_STREAM detection,
 * dropping instead of blocking, and records landing in a real journald. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>

#include "test-util.h"
#include "log.h"

/* A temporary file the sink writes to; removed at once, read back by fd. */
static int temp_fd(void) {
        char path[] = "/tmp/test-dlog-XXXXXX";
        int fd = mkostemp(path, O_CLOEXEC);

        assert_true(fd >= 0);
        unlink(path);
        return fd;
}

/* Everything in fd from offset 0, NUL-terminated (free it). */
static char *read_all(int fd) {
        size_t n = 0, cap = 65536;
        char *s = malloc(cap);
        ssize_t k;

        assert_non_null(s);
        for (;;) {
                if (n + 1 == cap) {
                        cap *= 2;
                        s = realloc(s, cap);
                        assert_non_null(s);
                }
                k = pread(fd, s + n, cap - 1 - n, (off_t) n);
                assert_true(k >= 0);
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        s[n] = '\0';
        return s;
}

/* The next line of *p without its '\n' (in place), or NULL at the end. */
static char *next_line(char **p) {
        char *line = *p, *nl;

        if (!line || !*line)
                return NULL;
        nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = '\0';
        *p = nl + 1;
        return line;
}

/* "2026-11-22T03:04:05.123456Z" at s: checks its shape, returns what follows. */
static const char *skip_ts(const char *s) {
        const char *shape = "dddd-dd-ddTdd:dd:dd.ddddddZ";

        for (size_t i = 0; shape[i]; i++) {
                if (shape[i] == 'd')
                        assert_true(s[i] >= '0' && s[i] <= '9');
                else
                        assert_int_equal(s[i], shape[i]);
        }
        return s + strlen(shape);
}

static void assert_logfmt(const char *line, const char *rest) {
        assert_true(strncmp(line, "ts=", 3) == 0);
        assert_string_equal(skip_ts(line + 3), rest);
}

static void assert_json(const char *line, const char *rest) {
        assert_true(strncmp(line, "{\"ts\":\"", 7) == 0);
        assert_string_equal(skip_ts(line + 7), rest);
}

static int log_from_task(void *arg) {
        co_log_field_t f[] = { { "port", "8080" } };

        co_log_fields(CO_LOG_NOTICE, f, 1, "listening");
        return 0;
}

/* The same records for both line formats. */
static void log_samples(void) {
        co_log_field_t tricky[] = {
                { "path", "/tmp/a b" },
                { "eq", "a=b" },
                { "quote", "say \"hi\" \\o/" },
                { "ctl", "l1\nl2\tx\r\x01" },
                { "empty", "" },
                { "Bad-Key.x", "v" },
                { "utf8", "h\xc3\xa9llo \xe2\x9c\x93" },
                { "raw", "a\xff" "b" },
        };
        co_log_field_t about[] = { { "task", "worker" }, { "status", "3" },
                                   DLOG_FIELD_MSGID(DLOG_MSGID_TASK_EXITED) };

        co_log(CO_LOG_INFO, "plain");
        co_log_fields(CO_LOG_WARNING, tricky, ELEMENTSOF(tricky), "tricky \"msg\"");
        run_main(log_from_task, NULL);
        co_log_fields(CO_LOG_ERR, about, ELEMENTSOF(about), "task exited");
        co_log(CO_LOG_DEBUG, "below the max level");
}

static void test_dlog_logfmt(void **state) {
        _cleanup_close_ int fd = temp_fd();
        _cleanup_free_ char *out = NULL;
        char *p, *line;

        assert_int_equal(dlog_open(DLOG_FORMAT_LOGFMT, CO_LOG_INFO, &(dlog_options_t) { .fd = fd }), 0);
        assert_int_equal(dlog_get_format(), DLOG_FORMAT_LOGFMT);
        log_samples();
        dlog_close();
        p = out = read_all(fd);

        assert_non_null(line = next_line(&p));
        assert_logfmt(line, " level=info msg=plain");
        assert_non_null(line = next_line(&p));
        assert_logfmt(line, " level=warning msg=\"tricky \\\"msg\\\"\" path=\"/tmp/a b\" eq=\"a=b\""
                            " quote=\"say \\\"hi\\\" \\\\o/\" ctl=\"l1\\nl2\\tx\\r\\u0001\" empty=\"\""
                            " bad_key_x=v utf8=\"h\xc3\xa9llo \xe2\x9c\x93\" raw=a\xff" "b");
        assert_non_null(line = next_line(&p));
        assert_logfmt(line, " level=notice task=main msg=listening port=8080");
        assert_non_null(line = next_line(&p));
        assert_logfmt(line, " level=err task=worker msg=\"task exited\" status=3 message_id="
                            DLOG_MSGID_TASK_EXITED);
        assert_null(next_line(&p));
}

static void test_dlog_json(void **state) {
        _cleanup_close_ int fd = temp_fd();
        _cleanup_free_ char *out = NULL;
        char *p, *line, cmd[128];

        assert_int_equal(dlog_open(DLOG_FORMAT_JSON, CO_LOG_INFO, &(dlog_options_t) { .fd = fd }), 0);
        log_samples();
        dlog_close();

        /* Every line parses as JSON (python3 reads it as UTF-8: strict). */
        snprintf(cmd, sizeof cmd, "python3 -c 'import json,sys; [json.loads(l) for l in sys.stdin]' </proc/%d/fd/%d",
                 (int) getpid(), fd);
        assert_int_equal(system(cmd), 0);

        p = out = read_all(fd);
        assert_non_null(line = next_line(&p));
        assert_json(line, "\",\"level\":\"info\",\"msg\":\"plain\"}");
        assert_non_null(line = next_line(&p));
        assert_json(line, "\",\"level\":\"warning\",\"msg\":\"tricky \\\"msg\\\"\",\"path\":\"/tmp/a b\","
                          "\"eq\":\"a=b\",\"quote\":\"say \\\"hi\\\" \\\\o/\",\"ctl\":\"l1\\nl2\\tx\\r\\u0001\","
                          "\"empty\":\"\",\"bad_key_x\":\"v\",\"utf8\":\"h\xc3\xa9llo \xe2\x9c\x93\","
                          "\"raw\":\"a\\ufffdb\"}");
        assert_non_null(line = next_line(&p));
        assert_json(line, "\",\"level\":\"notice\",\"task\":\"main\",\"msg\":\"listening\",\"port\":\"8080\"}");
        assert_non_null(line = next_line(&p));
        assert_json(line, "\",\"level\":\"err\",\"task\":\"worker\",\"msg\":\"task exited\",\"status\":\"3\","
                          "\"message_id\":\"" DLOG_MSGID_TASK_EXITED "\"}");
        assert_null(next_line(&p));
}

/* Format and level change while open: the daemon's reload and SIGUSR2. */
static void test_dlog_switch_format_and_level(void **state) {
        _cleanup_close_ int fd = temp_fd();
        _cleanup_free_ char *out = NULL;
        char *p, *line;

        assert_int_equal(dlog_open(DLOG_FORMAT_LOGFMT, CO_LOG_INFO, &(dlog_options_t) { .fd = fd }), 0);
        assert_int_equal(dlog_open(DLOG_FORMAT_LOGFMT, CO_LOG_INFO, NULL), -EBUSY);
        co_log(CO_LOG_INFO, "one");
        assert_int_equal(dlog_set_format(DLOG_FORMAT_JSON), 0);
        assert_int_equal(dlog_get_format(), DLOG_FORMAT_JSON);
        co_log(CO_LOG_DEBUG, "hidden");
        dlog_set_max_level(CO_LOG_DEBUG);
        co_log(CO_LOG_DEBUG, "two");
        dlog_set_max_level(CO_LOG_INFO);
        dlog_close();
        dlog_close();   /* harmless twice */
        assert_int_equal(dlog_get_format(), DLOG_FORMAT_AUTO);

        p = out = read_all(fd);
        assert_non_null(line = next_line(&p));
        assert_logfmt(line, " level=info msg=one");
        assert_non_null(line = next_line(&p));
        assert_json(line, "\",\"level\":\"debug\",\"msg\":\"two\"}");
        assert_null(next_line(&p));
}

static void test_dlog_strings(void **state) {
        dlog_format_t f;
        co_log_level_t l;
        char key[65];

        for (int i = 0; i < _DLOG_FORMAT_MAX; i++) {
                assert_int_equal(dlog_format_from_string(dlog_format_to_string((dlog_format_t) i), &f), 0);
                assert_int_equal(f, i);
        }
        assert_int_equal(dlog_format_from_string("syslog", &f), -EINVAL);
        assert_int_equal(dlog_level_from_string("warning", &l), 0);
        assert_int_equal(l, CO_LOG_WARNING);
        assert_int_equal(dlog_level_from_string("DEBUG", &l), 0);
        assert_int_equal(l, CO_LOG_DEBUG);
        assert_int_equal(dlog_level_from_string("loud", &l), -EINVAL);

        dlog_journal_key("port", key);
        assert_string_equal(key, "PORT");
        dlog_journal_key("a-b.c", key);
        assert_string_equal(key, "A_B_C");
        dlog_journal_key("_trusted", key);
        assert_string_equal(key, "F__TRUSTED");
        dlog_journal_key("9lives", key);
        assert_string_equal(key, "F_9LIVES");
        dlog_journal_key("k123456789k123456789k123456789k123456789k123456789k123456789k123456789", key);
        assert_int_equal(strlen(key), 64);
}

static void test_dlog_journal_stream_detection(void **state) {
        _cleanup_close_ int fd = temp_fd();
        _cleanup_close_ int other = temp_fd();
        struct stat st;
        char s[64];

        assert_int_equal(fstat(fd, &st), 0);
        snprintf(s, sizeof s, "%llu:%llu", (unsigned long long) st.st_dev, (unsigned long long) st.st_ino);
        assert_true(dlog_journal_stream_matches(s, fd));
        assert_false(dlog_journal_stream_matches(s, other));
        snprintf(s, sizeof s, "%llu:%llu", (unsigned long long) st.st_dev, (unsigned long long) st.st_ino + 1);
        assert_false(dlog_journal_stream_matches(s, fd));
        snprintf(s, sizeof s, "%llu:%llu:", (unsigned long long) st.st_dev, (unsigned long long) st.st_ino);
        assert_false(dlog_journal_stream_matches(s, fd));
        assert_false(dlog_journal_stream_matches("", fd));
        assert_false(dlog_journal_stream_matches("garbage", fd));
        assert_false(dlog_journal_stream_matches(NULL, fd));

        /* auto: journal only when $JOURNAL_STREAM is our fd. Nothing is
         * logged, so nothing is sent anywhere. */
        snprintf(s, sizeof s, "%llu:%llu", (unsigned long long) st.st_dev, (unsigned long long) st.st_ino);
        assert_int_equal(setenv("JOURNAL_STREAM", s, 1), 0);
        assert_int_equal(dlog_open(DLOG_FORMAT_AUTO, CO_LOG_INFO, &(dlog_options_t) { .fd = fd }), 0);
        assert_int_equal(dlog_get_format(), DLOG_FORMAT_JOURNAL);
        dlog_close();
        assert_int_equal(dlog_open(DLOG_FORMAT_AUTO, CO_LOG_INFO, &(dlog_options_t) { .fd = other }), 0);
        assert_int_equal(dlog_get_format(), DLOG_FORMAT_LOGFMT);
        dlog_close();
        unsetenv("JOURNAL_STREAM");
        assert_int_equal(dlog_open(DLOG_FORMAT_AUTO, CO_LOG_INFO, &(dlog_options_t) { .fd = fd }), 0);
        assert_int_equal(dlog_get_format(), DLOG_FORMAT_LOGFMT);
        dlog_close();
}

/* ---- not blocking ------------------------------------------------------- */

static void on_alarm(int sig) {
        static const char msg[] = "test-dlog: a co_log call blocked (SIGALRM)\n";

        (void) !write(STDOUT_FILENO, msg, sizeof msg - 1);
        _exit(1);
}

/* stderr becomes a pipe of one page that nobody reads yet; returns the
 * read end, the saved stderr in *ret_saved. */
static int stderr_to_small_pipe(int *ret_saved) {
        int p[2];

        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        assert_true(fcntl(p[1], F_SETPIPE_SZ, 4096) >= 0);
        *ret_saved = dup(STDERR_FILENO);
        assert_true(*ret_saved >= 0);
        assert_int_equal(dup2(p[1], STDERR_FILENO), STDERR_FILENO);
        close(p[1]);
        return p[0];
}

static void restore_stderr(int saved) {
        assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
        close(saved);
}

#define FLOOD 3000

/* One thread logs into a full pipe: were any co_log call to wait for the
 * writer, nothing would ever read the pipe and SIGALRM would end us. */
static void test_dlog_drops_instead_of_blocking(void **state) {
        _cleanup_free_ char *out = NULL;
        _cleanup_close_ int rd = -1;
        char *p, *line, *last_warning = NULL;
        size_t n_out = 0, cap = 1 << 20;
        unsigned long long dropped_sum = 0;
        unsigned n_flood = 0, n_warnings = 0;
        dlog_stats_t st;
        int saved;

        signal(SIGALRM, on_alarm);
        alarm(60);
        rd = stderr_to_small_pipe(&saved);
        assert_int_equal(dlog_open(DLOG_FORMAT_LOGFMT, CO_LOG_INFO,
                                   &(dlog_options_t) { .max_records = 64 }), 0);
        for (int i = 0; i < FLOOD; i++) {
                co_log_field_t f[] = { { "seq", "x" } };

                co_log_fields(CO_LOG_INFO, f, 1, "flood %d", i);
        }
        dlog_get_stats(&st);
        assert_true(st.dropped > 0);

        /* Now read, until the writer has written all it queued. */
        out = malloc(cap);
        assert_non_null(out);
        assert_int_equal(fcntl(rd, F_SETFL, O_NONBLOCK), 0);
        for (;;) {
                ssize_t k = read(rd, out + n_out, cap - 1 - n_out);

                if (k > 0) {
                        n_out += (size_t) k;
                        continue;
                }
                assert_true(k < 0 && errno == EAGAIN);
                dlog_get_stats(&st);
                if (st.queued == 0)
                        break;
                usleep(1000);
        }
        /* The next record that gets through says how many were lost. */
        co_log(CO_LOG_INFO, "after the flood");
        dlog_close();
        restore_stderr(saved);
        for (ssize_t k; (k = read(rd, out + n_out, cap - 1 - n_out)) != 0;) {
                if (k < 0 && errno == EAGAIN) {
                        usleep(1000);
                        continue;
                }
                assert_true(k > 0);
                n_out += (size_t) k;
        }
        alarm(0);
        out[n_out] = '\0';

        p = out;
        while ((line = next_line(&p))) {
                const char *w;

                if (strstr(line, " msg=\"flood "))
                        n_flood++;
                else if ((w = strstr(line, " level=warning msg=\"dropped "))) {
                        unsigned long long n1, n2;

                        assert_int_equal(sscanf(w, " level=warning msg=\"dropped %llu log records\" dropped=%llu",
                                                &n1, &n2), 2);
                        assert_true(n1 == n2 && n1 > 0);
                        dropped_sum += n1;
                        n_warnings++;
                        last_warning = line;
                } else
                        assert_non_null(strstr(line, " msg=\"after the flood\""));
        }
        assert_true(n_warnings > 0);
        /* The last warning comes right before the record that got through. */
        assert_non_null(strstr(last_warning + strlen(last_warning) + 1, "msg=\"after the flood\""));
        assert_int_equal(n_flood + dropped_sum, FLOOD);
        dlog_get_stats(&st);
        assert_int_equal(st.dropped, dropped_sum);
        assert_int_equal(st.written, n_flood + 1);
        print_message("  %u of %d records written, %llu dropped in %u gaps\n", n_flood, FLOOD, dropped_sum,
                      n_warnings);
}

/* Nobody ever reads: dlog_close gives up at its deadline. */
static void test_dlog_close_deadline(void **state) {
        _cleanup_close_ int rd = -1;
        struct timespec a, b;
        dlog_stats_t st;
        double secs;
        int saved;

        signal(SIGALRM, on_alarm);
        alarm(60);
        rd = stderr_to_small_pipe(&saved);
        assert_int_equal(dlog_open(DLOG_FORMAT_JSON, CO_LOG_INFO,
                                   &(dlog_options_t) { .close_timeout = msec(100) }), 0);
        for (int i = 0; i < 500; i++)
                co_log(CO_LOG_INFO, "record %d of a log nobody reads", i);
        clock_gettime(CLOCK_MONOTONIC, &a);
        dlog_close();
        clock_gettime(CLOCK_MONOTONIC, &b);
        restore_stderr(saved);
        alarm(0);
        secs = (double) (b.tv_sec - a.tv_sec) + (double) (b.tv_nsec - a.tv_nsec) / 1e9;
        assert_true(secs >= 0.09 && secs < 10);
        dlog_get_stats(&st);
        assert_true(st.dropped > 0);
        assert_int_equal(st.written + st.dropped, 500);
}

/* ---- threads ------------------------------------------------------------ */

#define THREADS 4
#define PER_THREAD 1000

static void *log_many(void *arg) {
        char id[16];
        co_log_field_t f[] = { { "thread", id } };

        snprintf(id, sizeof id, "%d", (int) (intptr_t) arg);
        for (int i = 0; i < PER_THREAD; i++)
                co_log_fields(CO_LOG_INFO, f, 1, "from a thread %d", i);
        return NULL;
}

static void test_dlog_threads(void **state) {
        _cleanup_close_ int fd = temp_fd();
        _cleanup_free_ char *out = NULL;
        pthread_t t[THREADS];
        unsigned n = 0, per[THREADS] = { 0 };
        char *p, *line;

        assert_int_equal(dlog_open(DLOG_FORMAT_LOGFMT, CO_LOG_INFO,
                                   &(dlog_options_t) { .fd = fd, .max_records = THREADS * PER_THREAD }), 0);
        for (intptr_t i = 0; i < THREADS; i++)
                assert_int_equal(pthread_create(&t[i], NULL, log_many, (void *) i), 0);
        for (int i = 0; i < THREADS; i++)
                assert_int_equal(pthread_join(t[i], NULL), 0);
        dlog_close();

        p = out = read_all(fd);
        while ((line = next_line(&p))) {
                const char *th = strstr(line, " thread=");

                assert_true(strncmp(line, "ts=", 3) == 0);
                assert_non_null(strstr(line, " msg=\"from a thread "));
                assert_non_null(th);
                per[atoi(th + 8)]++;
                n++;
        }
        assert_int_equal(n, THREADS * PER_THREAD);
        for (int i = 0; i < THREADS; i++)
                assert_int_equal(per[i], PER_THREAD);
}

/* ---- journald ----------------------------------------------------------- */

enum {
        JOURNALD_SKIP = 77,     /* no namespaces for us */
};

static bool exists(const char *path) {
        return access(path, F_OK) == 0;
}

/* Runs argv with stdout into out_fd; returns its wait status. */
static int run(char *const argv[], int out_fd) {
        int status;
        pid_t pid = fork();

        if (pid < 0)
                return -1;
        if (pid == 0) {
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);

                dup2(null, STDIN_FILENO);
                dup2(out_fd >= 0 ? out_fd : null, STDOUT_FILENO);
                execv(argv[0], argv);
                _exit(127);
        }
        if (waitpid(pid, &status, 0) != pid)
                return -1;
        return status;
}

/* In a child: a private /run with a journald of our own, records sent
 * there by the sink, journalctl's JSON written to out. The exit code
 * says which step failed. */
static int journald_child(int out) {
        co_log_field_t fields[] = {
                { "task", "heartbeat" },
                { "lag_usec", "12" },
                { "Odd-Key", "v 1" },
                DLOG_FIELD_MSGID(DLOG_MSGID_READY),
        };
        char buf[4096], path[] = "/tmp/test-dlog-journal-XXXXXX";
        unsigned line;
        pid_t journald;
        int fd, r = 0;

        if (unshare(CLONE_NEWNS) < 0) {
                dprintf(out, "unshare(CLONE_NEWNS): %s\n", strerror(errno));
                return errno == EPERM ? JOURNALD_SKIP : 10;
        }
        if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0)
                return 11;
        /* A fresh /run hides the host's: journald's sockets and the
         * volatile journal, /run/log/journal, are all ours. */
        if (mount("tmpfs", "/run", "tmpfs", 0, "mode=0755") < 0)
                return 12;
        journald = fork();
        if (journald < 0)
                return 13;
        if (journald == 0) {
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);

                dup2(null, STDIN_FILENO);
                dup2(null, STDOUT_FILENO);
                dup2(null, STDERR_FILENO);
                execl("/lib/systemd/systemd-journald", "systemd-journald", (char *) NULL);
                _exit(127);
        }
        for (int i = 0; i < 1000 && !exists("/run/systemd/journal/socket"); i++)
                usleep(10000);
        if (!exists("/run/systemd/journal/socket")) {
                r = 14;
                goto kill;
        }

        if (dlog_open(DLOG_FORMAT_JOURNAL, CO_LOG_INFO, NULL) < 0) {
                r = 15;
                goto kill;
        }
        line = __LINE__; co_log_fields(CO_LOG_NOTICE, fields, ELEMENTSOF(fields), "journal says \"ready\"");
        co_log(CO_LOG_INFO, "second\nline");
        dlog_close();
        dprintf(out, "line=%u\n", line);

        /* journald stores datagrams as it gets to them: ask until the
         * last record is there. Capture first, then search. */
        fd = mkostemp(path, O_CLOEXEC);
        if (fd < 0) {
                r = 16;
                goto kill;
        }
        unlink(path);
        r = 17;
        for (int i = 0; i < 500; i++) {
                ssize_t n;

                if (ftruncate(fd, 0) < 0)
                        break;
                lseek(fd, 0, SEEK_SET);
                if (run((char *[]) { "/usr/bin/journalctl", "-D", "/run/log/journal", "-o", "json",
                                     "SYSLOG_IDENTIFIER=cotaskd", NULL }, fd) != 0) {
                        usleep(10000);
                        continue;
                }
                n = pread(fd, buf, sizeof buf - 1, 0);
                buf[n > 0 ? n : 0] = '\0';
                if (strstr(buf, "\"MESSAGE\":\"second\\nline\"")) {
                        r = 0;
                        break;
                }
                usleep(10000);
        }
        for (off_t off = 0;;) {
                ssize_t n = pread(fd, buf, sizeof buf, off);

                if (n <= 0)
                        break;
                (void) !write(out, buf, (size_t) n);
                off += n;
        }
        close(fd);
kill:
        kill(journald, SIGTERM);
        waitpid(journald, NULL, 0);
        return r;
}

static void test_dlog_journald(void **state) {
        _cleanup_free_ char *out = NULL;
        char *p, *line, *rec = NULL, want[64];
        unsigned code_line = 0;
        int pipefd[2], status;
        pid_t pid;

        if (!exists("/lib/systemd/systemd-journald") || !exists("/usr/bin/journalctl")) {
                print_message("  skipped: no systemd-journald or journalctl here\n");
                skip();
        }
        assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                close(pipefd[0]);
                _exit(journald_child(pipefd[1]));
        }
        close(pipefd[1]);
        {
                _cleanup_close_ int rd = pipefd[0];
                _cleanup_close_ int tmp = temp_fd();
                char buf[4096];

                for (ssize_t n; (n = read(rd, buf, sizeof buf)) > 0;)
                        assert_int_equal(write(tmp, buf, (size_t) n), n);
                out = read_all(tmp);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        if (WEXITSTATUS(status) == JOURNALD_SKIP) {
                print_message("  skipped: %s", out);
                skip();
        }
        if (WEXITSTATUS(status) != 0)
                fail_msg("journald child failed at step %d; its output:\n%s", WEXITSTATUS(status), out);

        p = out;
        assert_non_null(line = next_line(&p));
        assert_int_equal(sscanf(line, "line=%u", &code_line), 1);
        while ((line = next_line(&p)))
                if (strstr(line, "\"MESSAGE\":\"journal says \\\"ready\\\"\""))
                        rec = line;
        if (!rec)
                fail_msg("record not in the journal; journalctl said:\n%s", out);
        assert_non_null(strstr(rec, "\"PRIORITY\":\"5\""));
        assert_non_null(strstr(rec, "\"SYSLOG_IDENTIFIER\":\"cotaskd\""));
        assert_non_null(strstr(rec, "\"CODE_FILE\":\"" __FILE__ "\""));
        snprintf(want, sizeof want, "\"CODE_LINE\":\"%u\"", code_line);
        assert_non_null(strstr(rec, want));
        assert_non_null(strstr(rec, "\"CODE_FUNC\":\"journald_child\""));
        assert_non_null(strstr(rec, "\"TASK\":\"heartbeat\""));
        assert_non_null(strstr(rec, "\"LAG_USEC\":\"12\""));
        assert_non_null(strstr(rec, "\"ODD_KEY\":\"v 1\""));
        assert_non_null(strstr(rec, "\"MESSAGE_ID\":\"" DLOG_MSGID_READY "\""));
        /* One value each: the task is not also a field of its own. */
        assert_null(strstr(rec, "\":["));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_dlog_logfmt),
                cmocka_unit_test(test_dlog_json),
                cmocka_unit_test(test_dlog_switch_format_and_level),
                cmocka_unit_test(test_dlog_strings),
                cmocka_unit_test(test_dlog_journal_stream_detection),
                cmocka_unit_test(test_dlog_drops_instead_of_blocking),
                cmocka_unit_test(test_dlog_close_deadline),
                cmocka_unit_test(test_dlog_threads),
                cmocka_unit_test(test_dlog_journald),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */

/* The documentation against the code. The man pages against the program:
 * every option of `cotaskd --help` and every exit status in cotaskd(8) and
 * back; every key of the schema (the tables themselves, every task type of
 * the registry) in cotaskd.conf(5) with its default, and in
 * config/cotaskd.conf. And the examples compiled and run: the complete
 * program of libcotask(3) against the build's libcotask.so, its output
 * compared with the page's; the README's "Adding a task type" code built
 * into a cotaskd of its own (the README's file plus a copy of registry.c
 * with its table line, linked before libcotaskd.a so that they replace the
 * archive's registry) that runs the README's conf and logs the README's
 * line.
 *
 * Compiling needs the compiler of the build (cc, or $CC) and pkg-config;
 * those tests are skipped for a cross build ($TEST_WRAPPER). */

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>

#include "test-util.h"

#include "conf.h"
#include "tasks/tasks.h"

static const char *srcdir(void) {
        return getenv("COTASK_SRCDIR") ?: ".";
}

static const char *builddir(void) {
        return getenv("COTASK_BUILD") ?: "build";
}

static char *read_text(const char *path) {
        char *text = NULL;
        size_t size = 0;
        FILE *in = fopen(path, "r"), *out;
        int ch;

        if (!in)
                fail_msg("cannot read %s: %s", path, strerror(errno));
        out = open_memstream(&text, &size);
        assert_non_null(out);
        while ((ch = fgetc(in)) != EOF)
                fputc(ch, out);
        fclose(in);
        assert_int_equal(fclose(out), 0);
        return text;
}

static char *src_text(const char *rel) {
        _cleanup_free_ char *path = NULL;

        assert_true(asprintf(&path, "%s/%s", srcdir(), rel) > 0);
        return read_text(path);
}

static void write_text(const char *path, const char *text, mode_t mode) {
        FILE *f = fopen(path, "w");

        assert_non_null(f);
        assert_true(fputs(text, f) >= 0);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(chmod(path, mode), 0);
}

/* ---- a scratch directory per test ---------------------------------------- */

static char tmpdir[64];

static int setup(void **state) {
        strcpy(tmpdir, "/tmp/test-docs-XXXXXX");
        return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
        return remove_tree(tmpdir);
}

/* ---- running commands ------------------------------------------------------ */

/* Runs CMD with sh, stderr into stdout; returns its exit status and its
 * output in *ret_out (free it). */
static int run_shell(const char *cmd, char **ret_out) {
        char *text = NULL, buf[4096];
        size_t size = 0, n;
        FILE *out = open_memstream(&text, &size), *p;
        _cleanup_free_ char *full = NULL;
        int status;

        assert_non_null(out);
        assert_true(asprintf(&full, "exec 2>&1; %s", cmd) > 0);
        p = popen(full, "r");
        assert_non_null(p);
        while ((n = fread(buf, 1, sizeof buf, p)) > 0)
                fwrite(buf, 1, n, out);
        status = pclose(p);
        assert_int_equal(fclose(out), 0);
        *ret_out = text;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Compiling is for native builds only. */
static bool can_compile(void) {
        const char *w = getenv("TEST_WRAPPER");

        return !(w && *w);
}

/* The build's sanitizers ($COTASK_SANITIZE, which make check passes on):
 * what a program linked with its libraries must be built with too. */
static char *sanitize_flags(void) {
        const char *san = getenv("COTASK_SANITIZE");
        char *flags;

        if (!san || !*san)
                return strdup("");
        assert_true(asprintf(&flags, "-fsanitize=%s", san) > 0);
        return flags;
}

/* The build's compiler ($COTASK_CC, which make check passes on). */
static const char *compiler(void) {
        const char *cc = getenv("COTASK_CC");

        return cc && *cc ? cc : "cc";
}

#define WARNINGS "-Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter"

/* ---- roff ------------------------------------------------------------------ */

/* A man page as text: font escapes dropped, \- and \e and \(aq back to
 * what they print, \& gone. Macro lines stay as they are otherwise. */
static char *roff_plain(const char *roff) {
        static const struct {
                const char *from, *to;
        } esc[] = {
                { "\\fB", "" }, { "\\fI", "" }, { "\\fR", "" }, { "\\fP", "" }, { "\\fC", "" },
                { "\\-", "-" }, { "\\e", "\\" }, { "\\(aq", "'" }, { "\\(dq", "\"" }, { "\\&", "" },
                { "\\(em", "--" }, { "\\(en", "-" }, { "\\ ", " " }, { "\\~", " " }, { "\\(ti", "~" },
                { "\\(ha", "^" }, { "\\(bu", "*" },
        };
        char *out = malloc(strlen(roff) + 1), *o = out;

        assert_non_null(out);
        while (*roff) {
                size_t i;

                for (i = 0; i < ELEMENTSOF(esc); i++)
                        if (strncmp(roff, esc[i].from, strlen(esc[i].from)) == 0)
                                break;
                if (i < ELEMENTSOF(esc)) {
                        o = stpcpy(o, esc[i].to);
                        roff += strlen(esc[i].from);
                } else
                        *o++ = *roff++;
        }
        *o = '\0';
        return out;
}

/* The text from the line starting with HEADER (".SH OPTIONS") to the next
 * line starting with one of the macros in ENDS (".SH", ".SS"), or NULL. */
static char *roff_section(const char *plain, const char *header, const char *const *ends) {
        const char *start = plain, *end;

        for (;;) {
                start = strstr(start, header);
                if (!start)
                        return NULL;
                if ((start == plain || start[-1] == '\n') && strchr("\n \"", start[strlen(header)]))
                        break;
                start++;
        }
        end = strchr(start, '\n') ?: start + strlen(start);
        for (;;) {
                bool stop = false;

                if (!*end)
                        break;
                for (const char *const *e = ends; *e; e++)
                        stop |= strncmp(end + 1, *e, strlen(*e)) == 0;
                if (stop)
                        break;
                end = strchr(end + 1, '\n') ?: end + strlen(end);
        }
        return strndup(start, (size_t) (end - start));
}

static const char *const sh_only[] = { ".SH", NULL };
static const char *const sh_or_ss[] = { ".SH", ".SS", NULL };

/* TEXT as the words it prints: the arguments of font macros (.B, .BR,
 * ...) joined as roff does (the two-font ones without blanks), other
 * macro lines dropped, lines joined with blanks. */
static char *roff_flatten(const char *text) {
        char *flat = NULL;
        size_t size = 0;
        FILE *out = open_memstream(&flat, &size);

        assert_non_null(out);
        for (const char *l = text; *l;) {
                size_t len = strcspn(l, "\n");

                if (l[0] == '.') {
                        size_t name = strcspn(l + 1, " \n");
                        bool font = name >= 1 && name <= 2 && strspn(l + 1, "BIR") == name;
                        const char *a = l + 1 + name, *end = l + len;

                        while (font && a < end) {
                                a += strspn(a, " ");
                                if (a >= end)
                                        break;
                                if (*a == '"') {
                                        const char *q = memchr(a + 1, '"', (size_t) (end - a - 1)) ?: end;

                                        fprintf(out, "%.*s", (int) (q - a - 1), a + 1);
                                        a = q + 1;
                                } else {
                                        size_t w = strcspn(a, " \n");

                                        fprintf(out, "%.*s", (int) w, a);
                                        a += w;
                                }
                                if (name == 1)
                                        fputc(' ', out);
                        }
                } else
                        fprintf(out, "%.*s", (int) len, l);
                fputc(' ', out);
                l += len + (l[len] == '\n');
        }
        assert_int_equal(fclose(out), 0);
        return flat;
}

/* In SECTION, the paragraph of the .TP item whose tag line is ".B TAG"
 * (or "TAG" alone): up to the next .TP, .SH, .SS or .PP; NULL if none. */
static char *roff_item(const char *section, const char *tag) {
        _cleanup_free_ char *b = NULL;
        const char *p = section, *end;

        assert_true(asprintf(&b, ".TP\n.B %s\n", tag) > 0);
        p = strstr(section, b);
        if (!p)
                return NULL;
        p += strlen(b);
        end = p;
        while (*end && strncmp(end, ".TP\n", 4) != 0 && strncmp(end, ".SH", 3) != 0 && strncmp(end, ".SS", 3) != 0 &&
               strncmp(end, ".PP\n", 4) != 0)
                end = strchr(end, '\n') ? strchr(end, '\n') + 1 : end + strlen(end);
        return strndup(p, (size_t) (end - p));
}

/* The blocks between .EX and .EE in TEXT, in order (free each, and the
 * array); *ret_n of them. */
static char **roff_examples(const char *plain, size_t *ret_n) {
        char **v = NULL;
        size_t n = 0;

        for (const char *p = plain; (p = strstr(p, "\n.EX\n"));) {
                const char *end = strstr(p + 5, "\n.EE");  /* the section may end there */

                assert_non_null(end);
                v = realloc(v, (n + 1) * sizeof *v);
                assert_non_null(v);
                v[n++] = strndup(p + 5, (size_t) (end - p - 5 + 1));   /* with the last newline */
                p = end;
        }
        *ret_n = n;
        return v;
}

/* ---- cotaskd(8) ------------------------------------------------------------ */

static char *cotaskd_help(void) {
        _cleanup_free_ char *cmd = NULL;
        char *out;

        assert_true(asprintf(&cmd, "%s %s/cotaskd --help", getenv("TEST_WRAPPER") ?: "", builddir()) > 0);
        assert_int_equal(run_shell(cmd, &out), 0);
        return out;
}

/* Each "--word" of TEXT, once, in order; a NULL-terminated list. */
static char **long_options(const char *text) {
        char **v = calloc(1, sizeof *v);
        size_t n = 0;

        assert_non_null(v);
        for (const char *p = text; (p = strstr(p, "--"));) {
                size_t len = strspn(p + 2, "abcdefghijklmnopqrstuvwxyz-");
                bool seen = false;

                if (len == 0 || (p > text && (p[-1] == '-' || p[-1] == '\\'))) {
                        p += 2;
                        continue;
                }
                for (size_t i = 0; i < n; i++)
                        seen |= strlen(v[i]) == len + 2 && strncmp(v[i], p, len + 2) == 0;
                if (!seen) {
                        v = realloc(v, (n + 2) * sizeof *v);
                        assert_non_null(v);
                        v[n++] = strndup(p, len + 2);
                        v[n] = NULL;
                }
                p += len + 2;
        }
        return v;
}

static void strv_freep(char ***v) {
        for (size_t i = 0; *v && (*v)[i]; i++)
                free((*v)[i]);
        free(*v);
}

static char *man_plain(const char *rel) {
        _cleanup_free_ char *roff = src_text(rel);

        return roff_plain(roff);
}

/* The tag lines of the .TP items of SECTION, one per line. */
static char *roff_tags(const char *section) {
        char *text = NULL;
        size_t size = 0;
        FILE *out = open_memstream(&text, &size);

        assert_non_null(out);
        for (const char *p = section; (p = strstr(p, "\n.TP\n"));) {
                p += 5;
                fprintf(out, "%.*s\n", (int) strcspn(p, "\n"), p);
        }
        assert_int_equal(fclose(out), 0);
        return text;
}

/* Each option of --help has an item in OPTIONS, and each item's option is
 * in --help. */
static void test_docs_options(void **state) {
        _cleanup_free_ char *help = cotaskd_help(), *man = man_plain("daemon/cotaskd.8");
        _cleanup_free_ char *options = roff_section(man, ".SH OPTIONS", sh_only), *tags = NULL;
        _cleanup_(strv_freep) char **in_help = long_options(help), **in_man = NULL;

        assert_non_null(options);
        tags = roff_tags(options);
        in_man = long_options(tags);
        assert_non_null(in_help[0]);
        for (size_t i = 0; in_help[i]; i++) {
                bool found = false;

                for (size_t j = 0; in_man[j]; j++)
                        found |= strcmp(in_man[j], in_help[i]) == 0;
                if (!found)
                        fail_msg("cotaskd.8 has no OPTIONS item for %s of --help", in_help[i]);
        }
        for (size_t i = 0; in_man[i]; i++) {
                bool found = false;

                for (size_t j = 0; in_help[j]; j++)
                        found |= strcmp(in_man[i], in_help[j]) == 0;
                if (!found)
                        fail_msg("cotaskd.8 documents %s, which --help does not list", in_man[i]);
        }
}

/* The "N" of each "; N ..." after "Exit status:" in --help. */
static void help_exit_codes(const char *help, bool codes[10]) {
        const char *p = strstr(help, "Exit status:");

        assert_non_null(p);
        p += strlen("Exit status:");
        for (;;) {
                p += strspn(p, " \n");
                if (*p >= '0' && *p <= '9' && !(p[1] >= '0' && p[1] <= '9'))
                        codes[*p - '0'] = true;
                p = strchr(p, ';');
                if (!p)
                        break;
                p++;
        }
}

static void test_docs_exit_codes(void **state) {
        _cleanup_free_ char *help = cotaskd_help(), *man = man_plain("daemon/cotaskd.8");
        _cleanup_free_ char *section = roff_section(man, ".SH \"EXIT STATUS\"", sh_only);
        bool in_help[10] = {}, any = false;

        assert_non_null(section);
        help_exit_codes(help, in_help);
        for (int code = 0; code < 10; code++) {
                char tag[16];
                bool in_man;

                snprintf(tag, sizeof tag, ".TP\n.B %d\n", code);
                in_man = strstr(section, tag);
                if (in_help[code] && !in_man)
                        fail_msg("cotaskd.8 lacks exit status %d of --help", code);
                if (in_man && !in_help[code])
                        fail_msg("cotaskd.8 documents exit status %d, which --help does not", code);
                any |= in_help[code];
        }
        assert_true(any);
}

/* The sections and facts cotaskd(8) must have beyond the options. */
static void test_docs_cotaskd_page(void **state) {
        _cleanup_free_ char *man = man_plain("daemon/cotaskd.8");
        static const char *const want[] = {
                ".SH SYNOPSIS", ".SH SIGNALS", ".SH FILES", ".SH ENVIRONMENT", "\n.SH \"SEE ALSO\"",
                "/etc/cotaskd/cotaskd.conf", "/etc/cotaskd/conf.d/", "/usr/sbin/cotaskd", "cotaskd.service",
                "cotaskd.socket", "cotaskd@.service", "NOTIFY_SOCKET", "WATCHDOG_USEC", "LISTEN_FDS",
                "LISTEN_FDNAMES", "JOURNAL_STREAM", "RUNTIME_DIRECTORY", "COTASK_DEBUG", "COTASK_STACK_GUARD",
                "reload-state", "SIGTERM", "SIGINT", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGPIPE",
        };

        for (size_t i = 0; i < ELEMENTSOF(want); i++)
                if (!strstr(man, want[i]))
                        fail_msg("cotaskd.8 lacks '%s'", want[i]);
}

/* ---- cotaskd.conf(5) and config/cotaskd.conf -------------------------------- */

/* Every key of KEYS is an item of SECTION saying its default. */
static void check_keys_documented(const char *section, const char *where, const conf_key_t *keys) {
        for (const conf_key_t *k = keys; k && k->name; k++) {
                _cleanup_free_ char *para = roff_item(section, k->name), *item = NULL, *want = NULL;

                if (!para)
                        fail_msg("cotaskd.conf.5 lacks key '%s' in %s", k->name, where);
                item = roff_flatten(para);
                if (!k->def)
                        assert_true(asprintf(&want, "Required") > 0);
                else if (!*k->def)
                        assert_true(asprintf(&want, "Default: empty") > 0);
                else
                        assert_true(asprintf(&want, "Default: %s", k->def) > 0);
                if (!strstr(item, want))
                        fail_msg("cotaskd.conf.5: key '%s' in %s does not say '%s'", k->name, where, want);
        }
}

static void test_docs_conf_keys(void **state) {
        _cleanup_free_ char *man = man_plain("daemon/cotaskd.conf.5");
        _cleanup_free_ char *daemon = roff_section(man, ".SH \"[daemon] SECTION\"", sh_only);
        _cleanup_free_ char *task = roff_section(man, ".SH \"[task NAME] SECTIONS\"", sh_only);
        const task_type_t *t;

        assert_non_null(daemon);
        assert_non_null(task);
        check_keys_documented(daemon, "[daemon]", conf_daemon_keys);
        check_keys_documented(task, "[task NAME]", conf_task_keys);
        for (size_t i = 0; (t = task_type_get(i)); i++) {
                _cleanup_free_ char *header = NULL, *section = NULL;

                assert_true(asprintf(&header, ".SS \"type = %s\"", t->name) > 0);
                section = roff_section(man, header, sh_or_ss);
                if (!section)
                        fail_msg("cotaskd.conf.5 lacks a subsection '%s'", header);
                check_keys_documented(section, t->name, t->keys);
        }
        /* Value syntax, drop-ins and the permission rule. */
        static const char *const want[] = {
                "250ms", "1h30min", "yes", "true", "on", "conf.d", "writable by group or others", ".SH EXAMPLE",
        };
        for (size_t i = 0; i < ELEMENTSOF(want); i++)
                if (!strstr(man, want[i]))
                        fail_msg("cotaskd.conf.5 lacks '%s'", want[i]);
}

static void check_keys_in_default_conf(const char *text, const conf_key_t *keys) {
        for (const conf_key_t *k = keys; k && k->name; k++) {
                char want[160];

                /* Required keys are set; the others commented, with the default. */
                if (!k->def || !*k->def)
                        snprintf(want, sizeof want, "%s =", k->name);
                else
                        snprintf(want, sizeof want, "\n#%s = %s\n", k->name, k->def);
                if (!strstr(text, want))
                        fail_msg("config/cotaskd.conf lacks '%s'", want);
        }
}

static void test_docs_default_conf(void **state) {
        _cleanup_free_ char *text = src_text("config/cotaskd.conf");
        const task_type_t *t;

        check_keys_in_default_conf(text, conf_daemon_keys);
        check_keys_in_default_conf(text, conf_task_keys);
        for (size_t i = 0; (t = task_type_get(i)); i++)
                check_keys_in_default_conf(text, t->keys);
}

/* ---- libcotask(3) -------------------------------------------------------------- */

/* The page's EXAMPLE: a program, then what it prints. */
static void test_docs_libcotask_example(void **state) {
        _cleanup_free_ char *man = man_plain("lib/libcotask.3"), *example = NULL, *san = sanitize_flags();
        _cleanup_free_ char *cmd = NULL, *out = NULL, *prog = NULL, *bin = NULL, *absbuild = NULL;
        char **blocks;
        size_t n;

        if (!can_compile())
                skip();
        example = roff_section(man, ".SH EXAMPLE", sh_only);
        assert_non_null(example);
        blocks = roff_examples(example, &n);
        assert_true(n >= 2);
        assert_non_null(strstr(blocks[0], "int main("));
        assert_true(asprintf(&prog, "%s/example.c", tmpdir) > 0);
        assert_true(asprintf(&bin, "%s/example", tmpdir) > 0);
        write_text(prog, blocks[0], 0644);
        absbuild = realpath(builddir(), NULL);
        assert_non_null(absbuild);
        /* As the page says to build it: the header and -lcotask. */
        assert_true(asprintf(&cmd, "%s -std=gnu11 -O1 %s %s -I%s/lib/include -o %s %s -L%s -lcotask -Wl,-rpath,%s",
                             compiler(), WARNINGS, san, srcdir(), bin, prog, absbuild, absbuild) > 0);
        if (run_shell(cmd, &out) != 0)
                fail_msg("%s\n%s", cmd, out);
        free(out);
        out = NULL;
        if (run_shell(bin, &out) != 0)
                fail_msg("the example failed:\n%s", out);
        if (strcmp(out, blocks[1]) != 0)
                fail_msg("the example printed:\n%s\nthe page says:\n%s", out, blocks[1]);
        for (size_t i = 0; i < n; i++)
                free(blocks[i]);
        free(blocks);
}

/* Every header of the API is named in the page. */
static void test_docs_libcotask_headers(void **state) {
        _cleanup_free_ char *man = man_plain("lib/libcotask.3");
        static const char *const want[] = {
                "<cotask/cotask.h>", "<cotask/future.h>", "<cotask/combine.h>", "<cotask/sync.h>",
                "<cotask/pool.h>", "<cotask/gen.h>", "<cotask/io.h>", ".SH SYNOPSIS", ".SH EXAMPLE",
                "co_run", "co_spawn", "co_task_cancel", "CO_TRY", "CO_FINALLY", "co_future_new", "co_gather",
                "co_lock_new", "co_queue_new", "co_pool_new", "co_to_thread", "co_gen_new", "co_log",
        };

        for (size_t i = 0; i < ELEMENTSOF(want); i++)
                if (!strstr(man, want[i]))
                        fail_msg("libcotask.3 lacks '%s'", want[i]);
}

/* ---- README: adding a task type ---------------------------------------------- */

/* The fenced blocks of LANG ("c", "ini") in TEXT, in order. */
static char **md_blocks(const char *text, const char *lang, size_t *ret_n) {
        _cleanup_free_ char *fence = NULL;
        char **v = NULL;
        size_t n = 0;

        assert_true(asprintf(&fence, "\n```%s\n", lang) > 0);
        for (const char *p = text; (p = strstr(p, fence));) {
                const char *start = p + strlen(fence), *end = strstr(start - 1, "\n```\n");

                assert_non_null(end);
                v = realloc(v, (n + 1) * sizeof *v);
                assert_non_null(v);
                v[n++] = strndup(start, (size_t) (end + 1 - start));
                p = end + 1;
        }
        *ret_n = n;
        return v;
}

static void free_blocks(char **v, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

/* Reads the daemon's stderr until a line holds WANT or 10 s pass. */
static bool wait_for_line(int fd, const char *want, char **ret_seen) {
        char *seen = NULL, buf[4096];
        size_t size = 0;
        FILE *out = open_memstream(&seen, &size);
        time_t until = time(NULL) + 10;
        bool found = false;

        assert_non_null(out);
        while (!found && time(NULL) < until) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ssize_t n;

                if (poll(&p, 1, 1000) <= 0)
                        continue;
                n = read(fd, buf, sizeof buf);
                if (n <= 0)
                        break;
                fwrite(buf, 1, (size_t) n, out);
                fflush(out);
                found = strstr(seen, want);
        }
        fclose(out);
        *ret_seen = seen;
        return found;
}

static void test_docs_readme_task_type(void **state) {
        _cleanup_free_ char *readme = src_text("README.md"), *registry = src_text("daemon/tasks/registry.c");
        _cleanup_free_ char *section = NULL, *san = sanitize_flags(), *cmd = NULL, *out = NULL, *bin = NULL;
        _cleanup_free_ char *conf = NULL, *want = NULL, *seen = NULL, *dump = NULL;
        const char *start, *end, *logs, *mark = "/* end of the table */";
        char **c_blocks, **ini_blocks, *table_lines = NULL, *files = NULL;
        size_t n_c, n_ini, n_files = 0;
        int pipefd[2], status;
        pid_t pid;

        if (!can_compile())
                skip();
        start = strstr(readme, "\n### Adding a task type\n");
        assert_non_null(start);
        end = strstr(start + 1, "\n## ") ?: strstr(start + 1, "\n### ");
        section = strndup(start, end ? (size_t) (end - start) : strlen(start));
        c_blocks = md_blocks(section, "c", &n_c);
        ini_blocks = md_blocks(section, "ini", &n_ini);
        assert_true(n_c >= 2);
        assert_int_equal(n_ini, 1);

        /* A block whose first line names daemon/tasks/NAME.c is that file;
         * one that names daemon/tasks/registry.c, lines for the table. */
        for (size_t i = 0; i < n_c; i++) {
                const char *b = c_blocks[i], *body = strchr(b, '\n') + 1;
                char name[64], *path = NULL;

                if (strncmp(b, "/* daemon/tasks/registry.c", 26) == 0) {
                        table_lines = strdup(body);
                        continue;
                }
                if (sscanf(b, "/* daemon/tasks/%63[a-z0-9_-].c */", name) != 1)
                        fail_msg("README block %zu does not start with /* daemon/tasks/NAME.c */:\n%s", i, b);
                assert_true(asprintf(&path, "%s/%s.c", tmpdir, name) > 0);
                write_text(path, b, 0644);
                files = realloc(files, (files ? strlen(files) : 0) + strlen(path) + 2);
                assert_non_null(files);
                if (n_files++ == 0)
                        files[0] = '\0';
                strcat(strcat(files, " "), path);
                free(path);
        }
        assert_non_null(table_lines);
        assert_true(n_files >= 1);

        /* registry.c with the README's line(s) put at the end of the table. */
        {
                _cleanup_free_ char *copy = NULL, *path = NULL;
                const char *at = strstr(registry, mark);

                assert_non_null(at);
                while (at > registry && at[-1] != '\n')
                        at--;
                assert_true(asprintf(&copy, "%.*s%s%s", (int) (at - registry), registry, table_lines, at) > 0);
                assert_true(asprintf(&path, "%s/registry.c", tmpdir) > 0);
                write_text(path, copy, 0644);
        }

        /* A cotaskd: the build's main.o, the README's file and registry.c,
         * then the archives (whose registry.o is then not needed). */
        assert_true(asprintf(&bin, "%s/cotaskd", tmpdir) > 0);
        assert_true(asprintf(&cmd,
                             "%s -std=gnu11 -O1 -D_GNU_SOURCE %s %s -I%s/lib/include -I%s/daemon -I%s/daemon/tasks "
                             "$(pkg-config --cflags libevent_core libsystemd inih) -o %s %s %s/registry.c "
                             "%s/daemon/main.o %s/libcotaskd.a %s/libcotask.a "
                             "$(pkg-config --libs libevent_core libsystemd inih) -lpthread",
                             compiler(), WARNINGS, san, srcdir(), srcdir(), srcdir(), bin, files, tmpdir, builddir(),
                             builddir(), builddir()) > 0);
        if (run_shell(cmd, &out) != 0)
                fail_msg("%s\n%s", cmd, out);

        /* The README's conf: it loads, with the type's keys. */
        assert_true(asprintf(&conf, "%s/cotaskd.conf", tmpdir) > 0);
        write_text(conf, ini_blocks[0], 0600);
        free(cmd);
        assert_true(asprintf(&cmd, "%s --config %s --dump-config", bin, conf) > 0);
        if (run_shell(cmd, &dump) != 0)
                fail_msg("%s\n%s", cmd, dump);
        for (const char *l = ini_blocks[0]; *l; l = strchr(l, '\n') + 1)
                if (l[0] != '[' && l[0] != '#' && l[0] != '\n' &&
                    !strstr(dump, strndupa(l, (size_t) (strchr(l, '\n') - l))))
                        fail_msg("--dump-config lacks '%.*s':\n%s", (int) (strchr(l, '\n') - l), l, dump);

        /* It runs and logs what the README says, then stops cleanly. */
        logs = strstr(section, "logs `");
        assert_non_null(logs);
        logs += strlen("logs `");
        want = strndup(logs, strcspn(logs, "`"));
        assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                dup2(pipefd[1], STDERR_FILENO);
                unsetenv("NOTIFY_SOCKET");
                unsetenv("JOURNAL_STREAM");
                execl(bin, bin, "--config", conf, "--log-format", "logfmt", (char *) NULL);
                _exit(127);
        }
        close(pipefd[1]);
        bool found = wait_for_line(pipefd[0], want, &seen);
        kill(pid, SIGTERM);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        close(pipefd[0]);
        if (!found)
                fail_msg("no '%s' in the log:\n%s", want, seen);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);

        free(table_lines);
        free(files);
        free_blocks(c_blocks, n_c);
        free_blocks(ini_blocks, n_ini);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_docs_options),
                cmocka_unit_test(test_docs_exit_codes),
                cmocka_unit_test(test_docs_cotaskd_page),
                cmocka_unit_test(test_docs_conf_keys),
                cmocka_unit_test(test_docs_default_conf),
                cmocka_unit_test(test_docs_libcotask_headers),
                cmocka_unit_test_setup_teardown(test_docs_libcotask_example, setup, teardown),
                cmocka_unit_test_setup_teardown(test_docs_readme_task_type, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}

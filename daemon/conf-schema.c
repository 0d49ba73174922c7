/* SPDX-License-Identifier: MIT */

/* The schema: the keys of [daemon] and of every task with their kind,
 * default, range and help text (each task type's own keys are in its file in
 * daemon/tasks/), and the kinds themselves (parse, format back, compare,
 * free). A default is written as conf text and goes through the same parser
 * as a user's value, so the table cannot disagree with what a file may say,
 * and conf_dump() prints defaults the way a user would write them. */

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "conf.h"
#include "tasks/tasks.h"

/* ---- kinds ----------------------------------------------------------- */

static int enum_parse(const conf_key_t *k, const char *s, void *p, const char **ret_expected) {
        for (const conf_enum_entry_t *e = k->entries; e->name; e++)
                if (strcmp(e->name, s) == 0) {
                        *(int *) p = e->value;
                        return 0;
                }
        *ret_expected = NULL;   /* the caller lists the entries */
        return -EINVAL;
}

static int enum_format(const conf_key_t *k, const void *p, FILE *f) {
        for (const conf_enum_entry_t *e = k->entries; e->name; e++)
                if (e->value == *(const int *) p)
                        return fputs(e->name, f) < 0 ? -EIO : 0;
        return -EINVAL;
}

static int enum_list(const conf_key_t *k, FILE *f) {
        for (const conf_enum_entry_t *e = k->entries; e->name; e++)
                if (fprintf(f, "%s%s", e == k->entries ? "" : ", ", e->name) < 0)
                        return -EIO;
        return 0;
}

static bool int_equal(const conf_key_t *k, const void *a, const void *b) {
        return *(const int *) a == *(const int *) b;
}

static int bool_parse(const conf_key_t *k, const char *s, void *p, const char **ret_expected) {
        *ret_expected = "a boolean (yes/no, true/false, on/off, 1/0)";
        return conf_parse_bool(s, p);
}

static int bool_format(const conf_key_t *k, const void *p, FILE *f) {
        return fputs(*(const bool *) p ? "yes" : "no", f) < 0 ? -EIO : 0;
}

static bool bool_equal(const conf_key_t *k, const void *a, const void *b) {
        return *(const bool *) a == *(const bool *) b;
}

static int uint_parse(const conf_key_t *k, const char *s, void *p, const char **ret_expected) {
        uint64_t v;

        *ret_expected = "a whole number";
        if (conf_parse_uint64(s, &v) < 0)
                return -EINVAL;
        if (v < k->min || v > (k->max && k->max < UINT_MAX ? k->max : UINT_MAX))
                return -ERANGE;
        *(unsigned *) p = (unsigned) v;
        return 0;
}

static int uint_format(const conf_key_t *k, const void *p, FILE *f) {
        return fprintf(f, "%u", *(const unsigned *) p) < 0 ? -EIO : 0;
}

static bool uint_equal(const conf_key_t *k, const void *a, const void *b) {
        return *(const unsigned *) a == *(const unsigned *) b;
}

static int duration_parse(const conf_key_t *k, const char *s, void *p, const char **ret_expected) {
        co_usec_t v;

        *ret_expected = "a duration (e.g. 0, 250ms, 5s, 2min, 1h30min)";
        if (conf_parse_duration(s, &v) < 0)
                return -EINVAL;
        if (v < k->min || (k->max && v > k->max))
                return -ERANGE;
        *(co_usec_t *) p = v;
        return 0;
}

static int duration_format(const conf_key_t *k, const void *p, FILE *f) {
        char buf[64];

        conf_format_duration(*(const co_usec_t *) p, buf, sizeof buf);
        return fputs(buf, f) < 0 ? -EIO : 0;
}

static bool duration_equal(const conf_key_t *k, const void *a, const void *b) {
        return *(const co_usec_t *) a == *(const co_usec_t *) b;
}

static int intensity_parse(const conf_key_t *k, const char *s, void *p, const char **ret_expected) {
        conf_intensity_t *in = p;
        const char *slash = strchr(s, '/');
        char burst[32];
        uint64_t n;
        co_usec_t d;

        *ret_expected = "N/DURATION, e.g. 5/10s (at most N restarts in DURATION)";
        if (!slash || (size_t) (slash - s) >= sizeof burst)
                return -EINVAL;
        memcpy(burst, s, slash - s);
        burst[slash - s] = '\0';
        if (conf_parse_uint64(burst, &n) < 0 || conf_parse_duration(slash + 1, &d) < 0)
                return -EINVAL;
        if ((k->max && n > k->max) || n > UINT_MAX || d == 0)
                return -ERANGE;
        in->burst = (unsigned) n;
        in->interval_usec = d;
        return 0;
}

static int intensity_format(const conf_key_t *k, const void *p, FILE *f) {
        const conf_intensity_t *in = p;
        char buf[64];

        conf_format_duration(in->interval_usec, buf, sizeof buf);
        return fprintf(f, "%u/%s", in->burst, buf) < 0 ? -EIO : 0;
}

static bool intensity_equal(const conf_key_t *k, const void *a, const void *b) {
        const conf_intensity_t *x = a, *y = b;

        return x->burst == y->burst && x->interval_usec == y->interval_usec;
}

static int argv_parse(const conf_key_t *k, const char *s, void *p, const char **ret_expected) {
        char **v;
        int r;

        *ret_expected = "a command line (words, with '...' or \"...\" quoting)";
        r = conf_parse_argv(s, &v);
        if (r < 0)
                return r;
        if (!v[0]) {
                conf_strv_free(v);
                *ret_expected = "a non-empty command line";
                return -EINVAL;
        }
        conf_strv_free(*(char ***) p);
        *(char ***) p = v;
        return 0;
}

static int env_parse(const conf_key_t *k, const char *s, void *p, const char **ret_expected) {
        char **v;
        int r;

        *ret_expected = "NAME=value pairs separated by spaces, NAME an identifier";
        r = conf_parse_argv(s, &v);
        if (r < 0)
                return r;
        for (char **e = v; *e; e++)
                if (!conf_env_assignment_is_valid(*e)) {
                        conf_strv_free(v);
                        return -EINVAL;
                }
        conf_strv_free(*(char ***) p);
        *(char ***) p = v;
        return 0;
}

static int strv_format(const conf_key_t *k, const void *p, FILE *f) {
        char *const *v = *(char *const *const *) p;

        for (size_t i = 0; v && v[i]; i++) {
                if (i > 0 && fputc(' ', f) == EOF)
                        return -EIO;
                if (conf_quote_word(v[i], f) < 0)
                        return -EIO;
        }
        return 0;
}

static bool strv_equal(const conf_key_t *k, const void *a, const void *b) {
        char *const *x = *(char *const *const *) a, *const *y = *(char *const *const *) b;
        size_t i;

        for (i = 0; x && y && x[i] && y[i]; i++)
                if (strcmp(x[i], y[i]) != 0)
                        return false;
        /* Both ended together (NULL and {NULL} are the same empty list). */
        return !(x && x[i]) && !(y && y[i]);
}

static void strv_done(void *p) {
        *(char ***) p = conf_strv_free(*(char ***) p);
}

/* Empty means "not set": conf_dump() writes unset paths as "key =". */
static int path_parse(const conf_key_t *k, const char *s, void *p, const char **ret_expected) {
        char *copy = NULL;

        *ret_expected = "an absolute path";
        if (*s) {
                if (s[0] != '/')
                        return -EINVAL;
                copy = strdup(s);
                if (!copy)
                        return -ENOMEM;
        }
        free(*(char **) p);
        *(char **) p = copy;
        return 0;
}

static int path_format(const conf_key_t *k, const void *p, FILE *f) {
        const char *s = *(char *const *) p;

        return s && fputs(s, f) < 0 ? -EIO : 0;
}

static bool path_equal(const conf_key_t *k, const void *a, const void *b) {
        const char *x = *(char *const *) a, *y = *(char *const *) b;

        return x == y || (x && y && strcmp(x, y) == 0);
}

static void path_done(void *p) {
        free(*(char **) p);
        *(char **) p = NULL;
}

static int signal_parse(const conf_key_t *k, const char *s, void *p, const char **ret_expected) {
        *ret_expected = "a signal name (SIGTERM, TERM) or number";
        return conf_parse_signal(s, p);
}

static int signal_format(const conf_key_t *k, const void *p, FILE *f) {
        int sig = *(const int *) p;
        const char *name = sigabbrev_np(sig);

        return (name ? fprintf(f, "SIG%s", name) : fprintf(f, "%d", sig)) < 0 ? -EIO : 0;
}

static int listen_parse(const conf_key_t *k, const char *s, void *p, const char **ret_expected) {
        conf_listen_t l = {}, *to = p;
        int r;

        *ret_expected = "host:port, [IPv6]:port or systemd:NAME, port 1-65535";
        r = conf_parse_listen(s, &l);
        if (r < 0)
                return r;
        conf_listen_done(to);
        *to = l;
        return 0;
}

static int listen_format(const conf_key_t *k, const void *p, FILE *f) {
        const conf_listen_t *l = p;
        int r;

        if (l->fd_name)
                r = fprintf(f, "systemd:%s", l->fd_name);
        else if (l->host && strchr(l->host, ':'))
                r = fprintf(f, "[%s]:%u", l->host, l->port);
        else
                r = fprintf(f, "%s:%u", l->host ?: "", l->port);
        return r < 0 ? -EIO : 0;
}

static bool listen_equal(const conf_key_t *k, const void *a, const void *b) {
        const conf_listen_t *x = a, *y = b;

        return x->port == y->port && path_equal(k, &x->host, &y->host) &&
                path_equal(k, &x->fd_name, &y->fd_name);
}

static void listen_done(void *p) {
        conf_listen_done(p);
}

/* Any text; inih drops the blanks around a value, so it round-trips as is. */
static int string_parse(const conf_key_t *k, const char *s, void *p, const char **ret_expected) {
        char *copy = strdup(s);

        if (!copy)
                return -ENOMEM;
        free(*(char **) p);
        *(char **) p = copy;
        return 0;
}

static int task_type_parse(const conf_key_t *k, const char *s, void *p, const char **ret_expected) {
        const task_type_t *t = task_type_find(s);

        *ret_expected = NULL;   /* the caller lists the types */
        if (!t)
                return -EINVAL;
        *(const task_type_t **) p = t;
        return 0;
}

static int task_type_format(const conf_key_t *k, const void *p, FILE *f) {
        const task_type_t *t = *(const task_type_t *const *) p;

        return fputs(t ? t->name : "", f) < 0 ? -EIO : 0;
}

static bool task_type_equal(const conf_key_t *k, const void *a, const void *b) {
        return *(const task_type_t *const *) a == *(const task_type_t *const *) b;
}

static int task_type_list(const conf_key_t *k, FILE *f) {
        const task_type_t *t;

        for (size_t i = 0; (t = task_type_get(i)); i++)
                if (fprintf(f, "%s%s", i ? ", " : "", t->name) < 0)
                        return -EIO;
        return 0;
}

const conf_kind_t conf_kind_enum = { "enum", enum_parse, enum_format, int_equal, NULL, enum_list };
const conf_kind_t conf_kind_bool = { "bool", bool_parse, bool_format, bool_equal, NULL, NULL };
const conf_kind_t conf_kind_uint = { "uint", uint_parse, uint_format, uint_equal, NULL, NULL };
const conf_kind_t conf_kind_duration = { "duration", duration_parse, duration_format, duration_equal, NULL, NULL };
const conf_kind_t conf_kind_intensity = {
        "intensity", intensity_parse, intensity_format, intensity_equal, NULL, NULL,
};
const conf_kind_t conf_kind_argv = { "argv", argv_parse, strv_format, strv_equal, strv_done, NULL };
const conf_kind_t conf_kind_env = { "environment", env_parse, strv_format, strv_equal, strv_done, NULL };
const conf_kind_t conf_kind_path = { "path", path_parse, path_format, path_equal, path_done, NULL };
const conf_kind_t conf_kind_string = { "string", string_parse, path_format, path_equal, path_done, NULL };
const conf_kind_t conf_kind_signal = { "signal", signal_parse, signal_format, int_equal, NULL, NULL };
const conf_kind_t conf_kind_listen = { "listen", listen_parse, listen_format, listen_equal, listen_done, NULL };
const conf_kind_t conf_kind_task_type = {
        "type", task_type_parse, task_type_format, task_type_equal, NULL, task_type_list,
};

/* ---- the table --------------------------------------------------------- */

const conf_enum_entry_t conf_log_levels[] = {
        { "debug", LOG_DEBUG }, { "info", LOG_INFO }, { "notice", LOG_NOTICE },
        { "warning", LOG_WARNING }, { "err", LOG_ERR }, {},
};
const conf_enum_entry_t conf_log_formats[] = {
        { "auto", CONF_LOG_FORMAT_AUTO }, { "journal", CONF_LOG_FORMAT_JOURNAL },
        { "logfmt", CONF_LOG_FORMAT_LOGFMT }, { "json", CONF_LOG_FORMAT_JSON }, {},
};
static const conf_enum_entry_t watchdogs[] = {
        { "auto", CONF_WATCHDOG_AUTO }, { "off", CONF_WATCHDOG_OFF }, {},
};
static const conf_enum_entry_t restarts[] = {
        { "always", CONF_RESTART_ALWAYS }, { "on-failure", CONF_RESTART_ON_FAILURE },
        { "never", CONF_RESTART_NEVER }, {},
};
static const conf_enum_entry_t give_ups[] = {
        { "stop", CONF_GIVE_UP_STOP }, { "exit", CONF_GIVE_UP_EXIT }, {},
};

#define D(field) offsetof(conf_daemon_t, field)
#define T(field) offsetof(conf_task_t, field)
#define FOREVER UINT64_MAX

const conf_key_t conf_daemon_keys[] = {
        { "log_level", &conf_kind_enum, "info", .entries = conf_log_levels,
          .offset = D(log_level), .help = "Least severe level logged: debug, info, notice, warning, err." },
        { "log_format", &conf_kind_enum, "auto", .entries = conf_log_formats,
          .offset = D(log_format),
          .help = "auto (journal under systemd, else logfmt), journal, logfmt or json." },
        { "shutdown_timeout", &conf_kind_duration, "10s", .max = FOREVER,
          .offset = D(shutdown_timeout_usec),
          .help = "How long tasks get to finish on SIGTERM before the exit is forced (exit 3)." },
        { "watchdog", &conf_kind_enum, "auto", .entries = watchdogs,
          .offset = D(watchdog), .help = "auto: send WATCHDOG=1 when systemd sets WatchdogSec=; off: never." },
        {},
};

const conf_key_t conf_task_keys[] = {
        { "type", &conf_kind_task_type, NULL, .required = true,
          .offset = T(type), .help = "What the task runs: heartbeat, exec or tcp-echo. Required." },
        { "restart", &conf_kind_enum, "on-failure", .entries = restarts,
          .offset = T(restart), .help = "When to restart the task: always, on-failure or never." },
        { "restart_delay", &conf_kind_duration, "100ms", .max = FOREVER,
          .offset = T(restart_delay_usec), .help = "First delay before a restart; doubles each time." },
        { "restart_delay_max", &conf_kind_duration, "30s", .max = FOREVER,
          .offset = T(restart_delay_max_usec), .help = "Ceiling of the doubling delay (>= restart_delay)." },
        { "restart_intensity", &conf_kind_intensity, "5/10s", .max = 1000000,
          .offset = T(restart_intensity),
          .help = "N/DURATION: past N restarts within DURATION the task gives up." },
        { "on_give_up", &conf_kind_enum, "stop", .entries = give_ups,
          .offset = T(on_give_up),
          .help = "stop: mark the task failed; exit: the daemon exits 4 (systemd restarts it)." },
        { "enabled", &conf_kind_bool, "yes", .offset = T(enabled),
          .help = "no: keep the section but do not run the task." },
        {},
};

/* ---- values -------------------------------------------------------------- */

int conf_parse_uint64(const char *s, uint64_t *ret) {
        uint64_t v = 0;

        if (!*s)
                return -EINVAL;
        for (; *s; s++) {
                if (*s < '0' || *s > '9')
                        return -EINVAL;
                if (v > (UINT64_MAX - (uint64_t) (*s - '0')) / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t) (*s - '0');
        }
        *ret = v;
        return 0;
}

static const struct {
        const char *name;
        co_usec_t usec;
} units[] = {   /* largest first: conf_format_duration() walks it in order */
        { "h", 3600 * CO_USEC_PER_SEC }, { "min", 60 * CO_USEC_PER_SEC }, { "s", CO_USEC_PER_SEC },
        { "ms", CO_USEC_PER_MSEC }, { "us", 1 },
};

/* "0", or a sum of NUMBER UNIT parts ("1h30min", "1h 30min"). A bare
 * number other than 0 is refused: "5" could mean seconds or ms. */
int conf_parse_duration(const char *s, co_usec_t *ret) {
        co_usec_t total = 0;
        bool any = false;

        if (strcmp(s, "0") == 0) {
                *ret = 0;
                return 0;
        }
        while (*s) {
                uint64_t n = 0;
                size_t i, len;

                if (*s == ' ' && any) {
                        s++;
                        continue;
                }
                if (*s < '0' || *s > '9')
                        return -EINVAL;
                for (; *s >= '0' && *s <= '9'; s++) {
                        if (n > (UINT64_MAX - 9) / 10)
                                return -ERANGE;
                        n = n * 10 + (uint64_t) (*s - '0');
                }
                len = strspn(s, "abcdefghijklmnopqrstuvwxyz");
                for (i = 0; i < sizeof units / sizeof units[0]; i++)
                        if (strlen(units[i].name) == len && strncmp(units[i].name, s, len) == 0)
                                break;
                if (i == sizeof units / sizeof units[0])
                        return -EINVAL;
                if (n > (UINT64_MAX - total) / units[i].usec)
                        return -ERANGE;
                total += n * units[i].usec;
                s += len;
                any = true;
        }
        if (!any)
                return -EINVAL;
        *ret = total;
        return 0;
}

int conf_format_duration(co_usec_t usec, char *buf, size_t size) {
        size_t off = 0;

        if (size == 0)
                return -ENOBUFS;
        buf[0] = '\0';
        if (usec == 0)
                return snprintf(buf, size, "0") < (int) size ? 0 : -ENOBUFS;
        for (size_t i = 0; i < sizeof units / sizeof units[0] && usec > 0; i++) {
                uint64_t n = usec / units[i].usec;
                int w;

                if (n == 0)
                        continue;
                w = snprintf(buf + off, size - off, "%" PRIu64 "%s", n, units[i].name);
                if (w < 0 || (size_t) w >= size - off)
                        return -ENOBUFS;
                off += (size_t) w;
                usec -= n * units[i].usec;
        }
        return 0;
}

int conf_parse_bool(const char *s, bool *ret) {
        static const char *const yes[] = { "yes", "true", "on", "1" }, *const no[] = { "no", "false", "off", "0" };

        for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
                if (strcmp(s, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
                if (strcmp(s, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}

char **conf_strv_free(char **v) {
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
        return NULL;
}

/* Shell-like words without a shell: blanks separate words; '...' is
 * literal; in "..." a backslash takes the next character as is; outside
 * quotes too. Nothing is expanded. */
int conf_parse_argv(const char *s, char ***ret_argv) {
        char **v = calloc(1, sizeof *v), *word = NULL;
        size_t n = 0, len = 0;
        int r = -EINVAL;

        if (!v)
                return -ENOMEM;
        for (;;) {
                while (*s == ' ' || *s == '\t')
                        s++;
                if (!*s)
                        break;
                word = malloc(strlen(s) + 1);
                if (!word) {
                        r = -ENOMEM;
                        goto fail;
                }
                len = 0;
                while (*s && *s != ' ' && *s != '\t') {
                        char q = *s;

                        if (q == '\'' || q == '"') {
                                for (s++; *s && *s != q; s++) {
                                        if (q == '"' && *s == '\\' && *++s == '\0')
                                                goto fail;
                                        word[len++] = *s;
                                }
                                if (!*s)
                                        goto fail;      /* unbalanced quote */
                                s++;
                        } else if (q == '\\') {
                                if (!*++s)
                                        goto fail;
                                word[len++] = *s++;
                        } else
                                word[len++] = *s++;
                }
                word[len] = '\0';
                char **nv = realloc(v, (n + 2) * sizeof *v);
                if (!nv) {
                        r = -ENOMEM;
                        goto fail;
                }
                v = nv;
                v[n++] = word;
                v[n] = NULL;
                word = NULL;
        }
        *ret_argv = v;
        return 0;
fail:
        free(word);
        conf_strv_free(v);
        return r;
}

int conf_quote_word(const char *s, FILE *f) {
        if (*s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:=@%+,-") == strlen(s))
                return fputs(s, f) < 0 ? -EIO : 0;
        if (fputc('"', f) == EOF)
                return -EIO;
        for (; *s; s++)
                if ((*s == '"' || *s == '\\') && fputc('\\', f) == EOF)
                        return -EIO;
                else if (fputc(*s, f) == EOF)
                        return -EIO;
        return fputc('"', f) == EOF ? -EIO : 0;
}

bool conf_env_assignment_is_valid(const char *s) {
        size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_");

        return n > 0 && !(s[0] >= '0' && s[0] <= '9') && s[n] == '=';
}

int conf_parse_signal(const char *s, int *ret) {
        uint64_t n;

        if (conf_parse_uint64(s, &n) == 0) {
                if (n == 0 || n >= (uint64_t) NSIG)
                        return -EINVAL;
                *ret = (int) n;
                return 0;
        }
        if (strncasecmp(s, "SIG", 3) == 0)
                s += 3;
        for (int sig = 1; sig < NSIG; sig++) {
                const char *name = sigabbrev_np(sig);

                if (name && strcasecmp(name, s) == 0) {
                        *ret = sig;
                        return 0;
                }
        }
        return -EINVAL;
}

static bool hostname_is_valid(const char *s) {
        size_t n = strlen(s);

        return n > 0 && n <= 253 && s[0] != '-' && s[0] != '.' && s[n - 1] != '.' && !strstr(s, "..") &&
                strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-") == n;
}

void conf_listen_done(conf_listen_t *l) {
        free(l->host);
        free(l->fd_name);
        *l = (conf_listen_t) {};
}

int conf_parse_listen(const char *s, conf_listen_t *ret) {
        struct in6_addr a6;
        struct in_addr a4;
        const char *host, *colon;
        size_t host_len;
        uint64_t port;
        char buf[256];

        if (strncmp(s, "systemd:", 8) == 0) {
                s += 8;
                /* FileDescriptorName= of the .socket unit. */
                if (!*s || strlen(s) > 255 ||
                    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") != strlen(s))
                        return -EINVAL;
                *ret = (conf_listen_t) { .fd_name = strdup(s) };
                return ret->fd_name ? 0 : -ENOMEM;
        }
        if (s[0] == '[') {
                const char *end = strchr(s, ']');

                if (!end || end[1] != ':')
                        return -EINVAL;
                host = s + 1;
                host_len = (size_t) (end - host);
                colon = end + 1;
        } else {
                colon = strrchr(s, ':');
                if (!colon)
                        return -EINVAL;
                host = s;
                host_len = (size_t) (colon - s);
        }
        if (host_len == 0 || host_len >= sizeof buf)
                return -EINVAL;
        memcpy(buf, host, host_len);
        buf[host_len] = '\0';
        if (s[0] == '[' ? inet_pton(AF_INET6, buf, &a6) != 1
                        : inet_pton(AF_INET, buf, &a4) != 1 && !hostname_is_valid(buf))
                return -EINVAL;
        if (conf_parse_uint64(colon + 1, &port) < 0 || port < 1 || port > 65535)
                return -EINVAL;
        *ret = (conf_listen_t) { .host = strdup(buf), .port = (uint16_t) port };
        return ret->host ? 0 : -ENOMEM;
}

static int enum_lookup(const conf_enum_entry_t *e, const char *s, int *ret) {
        for (; e->name; e++)
                if (strcmp(e->name, s) == 0) {
                        *ret = e->value;
                        return 0;
                }
        return -EINVAL;
}

static const char *enum_name(const conf_enum_entry_t *e, int v) {
        for (; e->name; e++)
                if (e->value == v)
                        return e->name;
        return NULL;
}

int conf_parse_log_level(const char *s, int *ret) {
        return enum_lookup(conf_log_levels, s, ret);
}

int conf_parse_log_format(const char *s, conf_log_format_t *ret) {
        int v, r = enum_lookup(conf_log_formats, s, &v);

        if (r >= 0)
                *ret = (conf_log_format_t) v;
        return r;
}

const char *conf_log_level_to_string(int priority) {
        return enum_name(conf_log_levels, priority);
}

const char *conf_log_format_to_string(conf_log_format_t f) {
        return enum_name(conf_log_formats, (int) f);
}

/* SPDX-License-Identifier: MIT */

/* Loading the configuration, in two passes. Reading: each file's lines go
 * into raw sections (key -> text, file, line), a later file overriding a
 * key of an earlier one. Building: each raw section is checked against the
 * schema and turned into typed values, defaults first. Two passes because
 * a key's meaning depends on the task's type, which a drop-in may give
 * after the key, or change.
 *
 * libinih splits "key = value" lines, but as built by Debian it does not
 * pass line numbers, silently splits lines longer than 199 bytes in two,
 * calls nothing for a section without keys and reports only the first
 * syntax error. So our reader function sees each line first: it counts
 * lines, handles section headers and syntax errors itself, and hands inih
 * only comment-free "key = value" lines. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "conf.h"
#include "tasks/tasks.h"

typedef struct raw_value {
        char *key;
        char *value;
        unsigned file, line;
} raw_value_t;

typedef struct raw_section {
        bool is_task;
        char *name;                     /* task name; NULL for [daemon] */
        unsigned file, line;            /* first header */
        unsigned seen_file, seen_line;  /* latest header, for duplicates */
        raw_value_t *values;
        size_t n_values;
} raw_section_t;

typedef struct conf_errors_item {
        conf_error_t error;
        unsigned file;                  /* index, for sorting */
        size_t seq;
} conf_errors_item_t;

struct conf_errors {
        conf_errors_item_t *items;
        size_t n;
};

struct conf {
        conf_daemon_t daemon;
        conf_task_t *tasks;
        size_t n_tasks;
        char **files;           /* every file read; tasks' file points here */
        size_t n_files;
};

#define NO_SECTION ((size_t) -1)   /* keys before any header */
#define BAD_SECTION ((size_t) -2)  /* after a bad header: keys ignored */

typedef struct loader {
        char **files;
        size_t n_files;
        raw_section_t *sections;
        size_t n_sections;
        conf_errors_t errors;
        bool oom;

        /* The file being read. */
        FILE *f;
        unsigned file, line;
        char *buf;
        size_t buf_size;
        size_t cur;
} loader_t;

static void add_error(loader_t *ld, unsigned file, unsigned line, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static void add_error(loader_t *ld, unsigned file, unsigned line, const char *fmt, ...) {
        conf_errors_item_t *items;
        char *msg, *path;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        path = strdup(ld->files[file]);
        items = reallocarray(ld->errors.items, ld->errors.n + 1, sizeof *items);
        if (r < 0 || !path || !items) {
                if (r >= 0)
                        free(msg);
                free(path);
                if (items)
                        ld->errors.items = items;
                ld->oom = true;
                return;
        }
        ld->errors.items = items;
        items[ld->errors.n] = (conf_errors_item_t) {
                .error = { .file = path, .line = line, .message = msg },
                .file = file, .seq = ld->errors.n,
        };
        ld->errors.n++;
}

/* ---- reading ------------------------------------------------------------ */

static raw_section_t *section_get(loader_t *ld, bool is_task, const char *name) {
        raw_section_t *s;

        for (size_t i = 0; i < ld->n_sections; i++) {
                s = &ld->sections[i];
                if (s->is_task == is_task && (!is_task || strcmp(s->name, name) == 0)) {
                        if (s->seen_file == ld->file)
                                add_error(ld, ld->file, ld->line, "duplicate section '[%s%s]' (first at line %u)",
                                          is_task ? "task " : "daemon", is_task ? name : "", s->seen_line);
                        s->seen_file = ld->file;
                        s->seen_line = ld->line;
                        ld->cur = i;
                        return s;
                }
        }
        s = reallocarray(ld->sections, ld->n_sections + 1, sizeof *s);
        if (!s) {
                ld->oom = true;
                return NULL;
        }
        ld->sections = s;
        s = &s[ld->n_sections];
        *s = (raw_section_t) {
                .is_task = is_task, .name = name ? strdup(name) : NULL,
                .file = ld->file, .line = ld->line, .seen_file = ld->file, .seen_line = ld->line,
        };
        if (name && !s->name) {
                ld->oom = true;
                return NULL;
        }
        ld->cur = ld->n_sections++;
        return s;
}

static bool task_name_is_valid(const char *s) {
        return *s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == strlen(s);
}

/* INNER is what stands between the brackets, blanks trimmed. */
static void section_header(loader_t *ld, char *inner) {
        size_t w = strcspn(inner, " \t");
        char *rest = inner + w + strspn(inner + w, " \t");

        ld->cur = BAD_SECTION;
        if (strcmp(inner, "daemon") == 0)
                section_get(ld, false, NULL);
        else if (w == 4 && strncmp(inner, "task", 4) == 0) {
                if (!*rest)
                        add_error(ld, ld->file, ld->line, "missing task name in '[%s]'", inner);
                else if (!task_name_is_valid(rest))
                        add_error(ld, ld->file, ld->line,
                                  "invalid task name '%s' (letters, digits, '_', '.' and '-' only)", rest);
                else
                        section_get(ld, true, rest);
        } else
                add_error(ld, ld->file, ld->line, "unknown section '[%s]'", inner);
}

static char *rstrip(char *s) {
        size_t n = strlen(s);

        while (n > 0 && strchr(" \t\r\n", s[n - 1]))
                s[--n] = '\0';
        return s;
}

static char *reader(char *str, int num, void *stream) {
        loader_t *ld = stream;
        char *p;

        if (getline(&ld->buf, &ld->buf_size, ld->f) < 0)
                return NULL;
        ld->line++;
        p = ld->buf;
        if (ld->line == 1 && strncmp(p, "\xEF\xBB\xBF", 3) == 0)
                p += 3;
        p = rstrip(p + strspn(p, " \t"));
        /* By default inih hands us 200-byte buffers ("key = value\n\0"). */
        if (strlen(p) + 2 > (size_t) num)
                add_error(ld, ld->file, ld->line, "line too long (more than %d characters)", num - 2);
        else if (!*p || *p == '#' || *p == ';')
                ;
        else if (*p == '[') {
                size_t n = strlen(p);

                if (p[n - 1] != ']')
                        add_error(ld, ld->file, ld->line, "syntax error: section header without ']'");
                else {
                        p[n - 1] = '\0';
                        section_header(ld, rstrip(p + 1 + strspn(p + 1, " \t")));
                }
        } else if (!strchr(p, '='))
                add_error(ld, ld->file, ld->line, "syntax error: expected 'key = value' or '[section]'");
        else if (strcspn(p, ":;#[]") < strcspn(p, "="))
                /* inih would split at ':', the schema has no such key anyway. */
                add_error(ld, ld->file, ld->line, "unknown key '%.*s'", (int) strcspn(p, " \t="), p);
        else {
                snprintf(str, (size_t) num, "%s\n", p);
                return str;
        }
        snprintf(str, (size_t) num, "\n");
        return str;
}

static int handler(void *user, const char *section, const char *key, const char *value) {
        loader_t *ld = user;
        raw_section_t *s;
        raw_value_t *v;

        if (ld->cur == BAD_SECTION)
                return 1;
        if (ld->cur == NO_SECTION) {
                add_error(ld, ld->file, ld->line, "key '%s' outside of any section", key);
                return 1;
        }
        s = &ld->sections[ld->cur];
        for (size_t i = 0; i < s->n_values; i++) {
                v = &s->values[i];
                if (strcmp(v->key, key) != 0)
                        continue;
                if (v->file == ld->file) {
                        add_error(ld, ld->file, ld->line, "duplicate key '%s' (first at line %u)", key, v->line);
                        return 1;
                }
                /* A later file wins. */
                char *copy = strdup(value);
                if (!copy) {
                        ld->oom = true;
                        return 1;
                }
                free(v->value);
                *v = (raw_value_t) { .key = v->key, .value = copy, .file = ld->file, .line = ld->line };
                return 1;
        }
        v = reallocarray(s->values, s->n_values + 1, sizeof *v);
        if (!v) {
                ld->oom = true;
                return 1;
        }
        s->values = v;
        v = &v[s->n_values];
        *v = (raw_value_t) { .key = strdup(key), .value = strdup(value), .file = ld->file, .line = ld->line };
        if (!v->key || !v->value) {
                free(v->key);
                free(v->value);
                ld->oom = true;
                return 1;
        }
        s->n_values++;
        return 1;
}

/* Opens and checks the file: others must not be able to change what the
 * daemon (often root) will run. Problems are errors about the whole file. */
static FILE *open_conf(loader_t *ld, unsigned file) {
        struct stat st;
        FILE *f;
        int fd;

        fd = open(ld->files[file], O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0) {
                add_error(ld, file, 0, "cannot open: %s", strerror(errno));
                return NULL;
        }
        if (fstat(fd, &st) < 0)
                add_error(ld, file, 0, "cannot stat: %s", strerror(errno));
        else if (!S_ISREG(st.st_mode))
                add_error(ld, file, 0, "not a regular file");
        else if (st.st_mode & (S_IWGRP | S_IWOTH))
                add_error(ld, file, 0, "refused: writable by group or others (mode %04o)",
                          (unsigned) (st.st_mode & 07777));
        else if (st.st_uid != 0 && st.st_uid != geteuid())
                add_error(ld, file, 0, "refused: owned by uid %u, not root or the current user",
                          (unsigned) st.st_uid);
        else {
                f = fdopen(fd, "r");
                if (f)
                        return f;
                ld->oom = true;
        }
        close(fd);
        return NULL;
}

static int add_file(loader_t *ld, char *path) {
        char **files = reallocarray(ld->files, ld->n_files + 1, sizeof *files);

        if (!files) {
                free(path);
                return -ENOMEM;
        }
        ld->files = files;
        files[ld->n_files++] = path;
        return 0;
}

static void read_file(loader_t *ld, unsigned file) {
        int r;

        ld->f = open_conf(ld, file);
        if (!ld->f)
                return;
        ld->file = file;
        ld->line = 0;
        ld->cur = NO_SECTION;
        /* Process-wide settings of Debian's libinih, set before each use:
         * no continuation lines, and ';' inside a value is not a comment
         * (commands may well contain one). */
        ini_allow_multiline = false;
        ini_allow_inline_comments = false;
        r = ini_parse_stream(reader, ld, handler, ld);
        if (r > 0 && ld->errors.n == 0)
                add_error(ld, file, (unsigned) r, "syntax error");
        fclose(ld->f);
        ld->f = NULL;
}

static int strcmpp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The drop-in directory of PATH: conf.d beside cotaskd.conf; FILE.d beside
 * any other FILE, so that instances (cotaskd@NAME reads NAME.conf beside
 * cotaskd.conf) never share the main configuration's drop-ins. */
static int dropin_dir(const char *path, char **ret) {
        const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
        int r;

        if (strcmp(base, "cotaskd.conf") == 0)
                r = asprintf(ret, "%.*sconf.d", (int) (base - path), path);
        else
                r = asprintf(ret, "%s.d", path);
        return r < 0 ? -ENOMEM : 0;
}

/* The drop-in directory's NAME.conf, in lexical (strcmp) order, hidden files
 * skipped. */
static int read_dropins(loader_t *ld, const char *path) {
        bool failed = false;
        char *dir;
        size_t first = ld->n_files;
        DIR *d;

        if (dropin_dir(path, &dir) < 0)
                return -ENOMEM;
        d = opendir(dir);
        if (!d) {
                int r = errno == ENOENT || errno == ENOTDIR ? 0 : -errno;

                if (r < 0) {
                        if (add_file(ld, dir) < 0)
                                return -ENOMEM;
                        add_error(ld, (unsigned) ld->n_files - 1, 0, "cannot open directory: %s", strerror(-r));
                        return 0;
                }
                free(dir);
                return 0;
        }
        for (struct dirent *de; !failed && (de = readdir(d));) {
                size_t n = strlen(de->d_name);
                char *p;

                if (de->d_name[0] == '.' || n < 6 || strcmp(de->d_name + n - 5, ".conf") != 0)
                        continue;
                failed = asprintf(&p, "%s/%s", dir, de->d_name) < 0 || add_file(ld, p) < 0;
        }
        closedir(d);
        free(dir);
        if (failed)
                return -ENOMEM;
        qsort(ld->files + first, ld->n_files - first, sizeof *ld->files, strcmpp);
        for (size_t i = first; i < ld->n_files; i++)
                read_file(ld, (unsigned) i);
        return 0;
}

/* ---- building ------------------------------------------------------------- */

/* KEYS: a table up to its NULL name, or NULL (a type without keys). */
static const conf_key_t *key_find(const conf_key_t *keys, const char *name) {
        for (const conf_key_t *k = keys; k && k->name; k++)
                if (strcmp(k->name, name) == 0)
                        return k;
        return NULL;
}

static void apply_defaults(loader_t *ld, const conf_key_t *keys, void *base) {
        for (const conf_key_t *k = keys; k && k->name; k++) {
                const char *expected;

                /* Defaults are valid (task_type_register() checks a
                 * type's): only ENOMEM. */
                if (k->def && k->kind->parse(k, k->def, (char *) base + k->offset, &expected) < 0)
                        ld->oom = true;
        }
}

static void bad_value(loader_t *ld, const conf_key_t *k, const raw_value_t *v, int r, const char *expected) {
        char range[192];

        if (r == -ENOMEM) {
                ld->oom = true;
                return;
        }
        if (r == -ERANGE) {
                char lo[64], hi[64];

                if (k->kind == &conf_kind_duration) {
                        conf_format_duration(k->min, lo, sizeof lo);
                        conf_format_duration(k->max, hi, sizeof hi);
                } else {
                        snprintf(lo, sizeof lo, "%" PRIu64, k->min);
                        snprintf(hi, sizeof hi, "%" PRIu64, k->max);
                }
                if (k->max == 0 || k->max == UINT64_MAX)
                        snprintf(range, sizeof range, "at least %s", lo);
                else
                        snprintf(range, sizeof range, "%s..%s", lo, hi);
                add_error(ld, v->file, v->line, "value '%s' for '%s' is out of range (%s)", v->value, k->name, range);
                return;
        }
        if (!expected && k->kind->list) {
                /* An enum or the type: list what it takes. */
                FILE *f = fmemopen(range, sizeof range, "w");

                if (!f) {
                        ld->oom = true;
                        return;
                }
                (void) k->kind->list(k, f);     /* a long list is cut short */
                fclose(f);
                range[sizeof range - 1] = '\0';
                add_error(ld, v->file, v->line, "bad value '%s' for '%s': expected one of %s", v->value, k->name, range);
                return;
        }
        add_error(ld, v->file, v->line, "bad value '%s' for '%s': expected %s", v->value, k->name, expected);
}

static bool parse_value(loader_t *ld, const conf_key_t *k, const raw_value_t *v, void *base) {
        const char *expected = NULL;
        int r = k->kind->parse(k, v->value, (char *) base + k->offset, &expected);

        if (r < 0)
                bad_value(ld, k, v, r, expected);
        return r >= 0;
}

static const raw_value_t *raw_find(const raw_section_t *s, const char *key) {
        for (size_t i = 0; i < s->n_values; i++)
                if (strcmp(s->values[i].key, key) == 0)
                        return &s->values[i];
        return NULL;
}

static void build_daemon(loader_t *ld, const raw_section_t *s, conf_daemon_t *d) {
        for (size_t i = 0; i < s->n_values; i++) {
                const raw_value_t *v = &s->values[i];
                const conf_key_t *k = key_find(conf_daemon_keys, v->key);

                if (!k)
                        add_error(ld, v->file, v->line, "unknown key '%s' in [daemon]", v->key);
                else
                        parse_value(ld, k, v, d);
        }
}

/* The first task type that has KEY, if any. */
static const char *key_type_elsewhere(const char *key) {
        const task_type_t *t;

        for (size_t i = 0; (t = task_type_get(i)); i++)
                if (key_find(t->keys, key))
                        return t->name;
        return NULL;
}

static void build_task(loader_t *ld, const raw_section_t *s, conf_task_t *t) {
        const raw_value_t *type = raw_find(s, "type"), *v;
        bool typed = false;

        t->name = strdup(s->name);
        t->file = ld->files[s->file];
        t->line = s->line;
        if (!t->name)
                ld->oom = true;
        apply_defaults(ld, conf_task_keys, t);
        if (!type)
                add_error(ld, s->file, s->line, "missing 'type' for [task %s]", s->name);
        else
                typed = parse_value(ld, key_find(conf_task_keys, "type"), type, t);
        if (typed) {
                /* Zeroed, as the rest of conf_task_t: kinds free the old
                 * value when they parse a new one. */
                t->type_conf = calloc(1, t->type->conf_size ?: 1);
                if (!t->type_conf) {
                        ld->oom = true;
                        return;
                }
                apply_defaults(ld, t->type->keys, t->type_conf);
        }

        for (size_t i = 0; i < s->n_values; i++) {
                const conf_key_t *k;
                const char *other;

                v = &s->values[i];
                if (v == type)
                        continue;
                if ((k = key_find(conf_task_keys, v->key)))
                        parse_value(ld, k, v, t);
                else if (typed && (k = key_find(t->type->keys, v->key)))
                        parse_value(ld, k, v, t->type_conf);
                else if ((other = key_type_elsewhere(v->key))) {
                        if (typed)
                                add_error(ld, v->file, v->line, "key '%s' is for type '%s', not '%s'", v->key,
                                          other, t->type->name);
                } else
                        add_error(ld, v->file, v->line, "unknown key '%s'", v->key);
        }

        if (!typed)
                return;
        for (const conf_key_t *k = t->type->keys; k && k->name; k++)
                if (k->required && !raw_find(s, k->name))
                        add_error(ld, s->file, s->line, "missing '%s' for [task %s] of type '%s'", k->name,
                                  s->name, t->type->name);
        if (t->restart_delay_max_usec < t->restart_delay_usec) {
                char a[64], b[64];

                v = raw_find(s, "restart_delay_max") ?: raw_find(s, "restart_delay");
                conf_format_duration(t->restart_delay_max_usec, a, sizeof a);
                conf_format_duration(t->restart_delay_usec, b, sizeof b);
                add_error(ld, v ? v->file : s->file, v ? v->line : s->line,
                          "restart_delay_max (%s) must not be less than restart_delay (%s)", a, b);
        }
}

static void keys_done(const conf_key_t *keys, void *base) {
        for (const conf_key_t *k = keys; base && k && k->name; k++)
                if (k->kind->done)
                        k->kind->done((char *) base + k->offset);
}

static void task_done(conf_task_t *t) {
        keys_done(conf_task_keys, t);
        if (t->type)
                keys_done(t->type->keys, t->type_conf);
        free(t->type_conf);
        free(t->name);
}

static int error_cmp(const void *a, const void *b) {
        const conf_errors_item_t *x = a, *y = b;

        if (x->file != y->file)
                return x->file < y->file ? -1 : 1;
        if (x->error.line != y->error.line)
                return x->error.line < y->error.line ? -1 : 1;
        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void loader_done(loader_t *ld) {
        for (size_t i = 0; i < ld->n_sections; i++) {
                for (size_t j = 0; j < ld->sections[i].n_values; j++) {
                        free(ld->sections[i].values[j].key);
                        free(ld->sections[i].values[j].value);
                }
                free(ld->sections[i].values);
                free(ld->sections[i].name);
        }
        free(ld->sections);
        free(ld->buf);
        for (size_t i = 0; ld->files && i < ld->n_files; i++)
                free(ld->files[i]);
        free(ld->files);
        for (size_t i = 0; i < ld->errors.n; i++) {
                free(ld->errors.items[i].error.file);
                free(ld->errors.items[i].error.message);
        }
        free(ld->errors.items);
}

int conf_load(const char *path, conf_t **ret_conf, conf_errors_t **ret_errors) {
        loader_t ld = { .cur = NO_SECTION };
        conf_t *c = NULL;
        char *p = strdup(path);
        int r = -ENOMEM;

        if (!p || add_file(&ld, p) < 0)
                goto out;
        read_file(&ld, 0);
        if (read_dropins(&ld, path) < 0 || ld.oom)
                goto out;

        c = calloc(1, sizeof *c);
        if (!c)
                goto out;
        c->tasks = calloc(ld.n_sections, sizeof *c->tasks);
        if (ld.n_sections > 0 && !c->tasks)
                goto out;
        apply_defaults(&ld, conf_daemon_keys, &c->daemon);
        for (size_t i = 0; i < ld.n_sections; i++)
                if (ld.sections[i].is_task)
                        build_task(&ld, &ld.sections[i], &c->tasks[c->n_tasks++]);
                else
                        build_daemon(&ld, &ld.sections[i], &c->daemon);
        if (ld.oom)
                goto out;

        if (ld.errors.n > 0) {
                r = -EINVAL;
                if (ret_errors) {
                        conf_errors_t *e = malloc(sizeof *e);

                        if (!e) {
                                r = -ENOMEM;
                                goto out;
                        }
                        qsort(ld.errors.items, ld.errors.n, sizeof *ld.errors.items, error_cmp);
                        *e = ld.errors;
                        ld.errors = (conf_errors_t) {};
                        *ret_errors = e;
                }
                goto out;
        }
        if (ret_conf) {
                /* The tasks point at the file names: the conf keeps them. */
                c->files = ld.files;
                c->n_files = ld.n_files;
                ld.files = NULL;
                *ret_conf = c;
                c = NULL;
        }
        r = 0;
out:
        conf_free(c);
        loader_done(&ld);
        return r;
}

/* ---- the result ------------------------------------------------------------- */

conf_t *conf_free(conf_t *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n_tasks; i++)
                task_done(&c->tasks[i]);
        free(c->tasks);
        for (size_t i = 0; i < c->n_files; i++)
                free(c->files[i]);
        free(c->files);
        free(c);
        return NULL;
}

const conf_daemon_t *conf_daemon(const conf_t *c) {
        return &c->daemon;
}

size_t conf_n_tasks(const conf_t *c) {
        return c->n_tasks;
}

const conf_task_t *conf_task(const conf_t *c, size_t i) {
        return i < c->n_tasks ? &c->tasks[i] : NULL;
}

const conf_task_t *conf_task_by_name(const conf_t *c, const char *name) {
        for (size_t i = 0; i < c->n_tasks; i++)
                if (strcmp(c->tasks[i].name, name) == 0)
                        return &c->tasks[i];
        return NULL;
}

static bool keys_equal(const conf_key_t *keys, const void *a, const void *b) {
        for (const conf_key_t *k = keys; k && k->name; k++)
                if (!k->kind->equal(k, (const char *) a + k->offset, (const char *) b + k->offset))
                        return false;
        return true;
}

bool conf_task_equal(const conf_task_t *a, const conf_task_t *b) {
        return strcmp(a->name, b->name) == 0 && a->type == b->type && keys_equal(conf_task_keys, a, b) &&
                keys_equal(a->type->keys, a->type_conf, b->type_conf);
}

const void *conf_task_value(const conf_task_t *t, const char *key) {
        const conf_key_t *k = key_find(conf_task_keys, key);

        if (k)
                return (const char *) t + k->offset;
        k = key_find(t->type->keys, key);
        return k ? (const char *) t->type_conf + k->offset : NULL;
}

static int dump_keys(const conf_key_t *keys, const void *base, FILE *f) {
        for (const conf_key_t *k = keys; k && k->name; k++) {
                char *text = NULL;
                size_t size = 0;
                FILE *m;
                int r;

                m = open_memstream(&text, &size);
                if (!m)
                        return -ENOMEM;
                r = k->kind->format(k, (const char *) base + k->offset, m);
                if (fclose(m) != 0 && r >= 0)
                        r = -ENOMEM;
                if (r >= 0 && fprintf(f, "%s =%s%s\n", k->name, *text ? " " : "", text) < 0)
                        r = -EIO;
                free(text);
                if (r < 0)
                        return r;
        }
        return 0;
}

int conf_dump(const conf_t *c, FILE *f) {
        int r;

        if (fputs("[daemon]\n", f) < 0)
                return -EIO;
        r = dump_keys(conf_daemon_keys, &c->daemon, f);
        for (size_t i = 0; r >= 0 && i < c->n_tasks; i++) {
                const conf_task_t *t = &c->tasks[i];

                if (fprintf(f, "\n[task %s]\n", t->name) < 0)
                        return -EIO;
                r = dump_keys(conf_task_keys, t, f);
                if (r >= 0)
                        r = dump_keys(t->type->keys, t->type_conf, f);
        }
        if (r >= 0 && fflush(f) != 0)
                r = -EIO;
        return r;
}

/* ---- errors ------------------------------------------------------------------ */

conf_errors_t *conf_errors_free(conf_errors_t *e) {
        if (!e)
                return NULL;
        for (size_t i = 0; i < e->n; i++) {
                free(e->items[i].error.file);
                free(e->items[i].error.message);
        }
        free(e->items);
        free(e);
        return NULL;
}

size_t conf_errors_count(const conf_errors_t *e) {
        return e ? e->n : 0;
}

const conf_error_t *conf_errors_get(const conf_errors_t *e, size_t i) {
        return e && i < e->n ? &e->items[i].error : NULL;
}

int conf_errors_print(const conf_errors_t *e, FILE *f) {
        for (size_t i = 0; i < conf_errors_count(e); i++) {
                const conf_error_t *x = &e->items[i].error;
                int r = x->line > 0 ? fprintf(f, "%s:%u: %s\n", x->file, x->line, x->message)
                                    : fprintf(f, "%s: %s\n", x->file, x->message);

                if (r < 0)
                        return -EIO;
        }
        return 0;
}

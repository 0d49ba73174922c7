/* SPDX-License-Identifier: MIT */
#pragma once

/* The configuration: a main INI file plus conf.d/NAME.conf drop-ins beside it,
 * parsed, merged (later wins, per key), validated against the schema and
 * turned into typed structs the supervisor reads. The schema is the keys of
 * [daemon] and of every task, in conf-schema.c, and each task type's own
 * keys, in its file in daemon/tasks/ (see tasks.h).
 *
 * Loading never stops at the first problem: every error found is collected,
 * each with the file and line it is about, so --check-config and a failed
 * reload can show them all at once. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cotask/cotask.h>

typedef enum conf_log_format {
        CONF_LOG_FORMAT_AUTO,
        CONF_LOG_FORMAT_JOURNAL,
        CONF_LOG_FORMAT_LOGFMT,
        CONF_LOG_FORMAT_JSON,
} conf_log_format_t;

typedef enum conf_restart {
        CONF_RESTART_ALWAYS,
        CONF_RESTART_ON_FAILURE,
        CONF_RESTART_NEVER,
} conf_restart_t;

typedef enum conf_give_up {
        CONF_GIVE_UP_STOP,      /* mark the task failed, keep the daemon up */
        CONF_GIVE_UP_EXIT,      /* exit 4, so that systemd restarts us */
} conf_give_up_t;

typedef enum conf_watchdog {
        CONF_WATCHDOG_OFF,
        CONF_WATCHDOG_AUTO,     /* ping when systemd asks (WATCHDOG_USEC) */
} conf_watchdog_t;

typedef struct conf_daemon {
        int log_level;                  /* syslog priority: LOG_DEBUG .. LOG_ERR */
        conf_log_format_t log_format;
        co_usec_t shutdown_timeout_usec;
        conf_watchdog_t watchdog;
} conf_daemon_t;

/* "N/DURATION": at most N restarts within DURATION. */
typedef struct conf_intensity {
        unsigned burst;
        co_usec_t interval_usec;
} conf_intensity_t;

/* Either host + port, or fd_name for "systemd:NAME" (sd_listen_fds). */
typedef struct conf_listen {
        char *host;             /* IPv4/IPv6 literal (no brackets) or a name */
        uint16_t port;
        char *fd_name;
} conf_listen_t;

/* A task type (daemon/tasks/tasks.h): what "type = NAME" names. */
typedef struct task_type task_type_t;

typedef struct conf_task {
        char *name;
        const task_type_t *type;
        conf_restart_t restart;
        co_usec_t restart_delay_usec;
        co_usec_t restart_delay_max_usec;
        conf_intensity_t restart_intensity;
        conf_give_up_t on_give_up;
        bool enabled;

        /* The type's own keys, in the struct its file declares
         * (type->conf_size bytes); its run function reads it with
         * TASK_CONF() (tasks.h). */
        void *type_conf;

        /* Where the task was first declared, for messages. */
        const char *file;
        unsigned line;
} conf_task_t;

typedef struct conf conf_t;

typedef struct conf_error {
        char *file;
        unsigned line;          /* 0: about the whole file */
        char *message;
} conf_error_t;

typedef struct conf_errors conf_errors_t;

/* Loads PATH and the drop-ins DIR/conf.d/NAME.conf
 * beside it (DIR is PATH's directory). Returns 0 and *ret_conf;
 * -EINVAL and *ret_errors (never empty) when the files are unreadable,
 * refused or invalid; another -errno (-ENOMEM) otherwise. Either out
 * parameter may be NULL. */
int conf_load(const char *path, conf_t **ret_conf, conf_errors_t **ret_errors);
conf_t *conf_free(conf_t *c);

const conf_daemon_t *conf_daemon(const conf_t *c);
/* Tasks in the order they were first declared. */
size_t conf_n_tasks(const conf_t *c);
const conf_task_t *conf_task(const conf_t *c, size_t i);
const conf_task_t *conf_task_by_name(const conf_t *c, const char *name);

/* For a reload: same type and every key equal (file/line do not count). */
bool conf_task_equal(const conf_task_t *a, const conf_task_t *b);

/* The value of KEY, a key of every task or of T's type, as its kind stores
 * it (see the kinds below); NULL if T has no such key. For code that does
 * not know the type's struct: the tests, the supervisor. */
const void *conf_task_value(const conf_task_t *t, const char *key);

/* The effective configuration, defaults included, in conf-file syntax that
 * conf_load() reads back to an equal configuration. */
int conf_dump(const conf_t *c, FILE *f);

conf_errors_t *conf_errors_free(conf_errors_t *e);
size_t conf_errors_count(const conf_errors_t *e);
const conf_error_t *conf_errors_get(const conf_errors_t *e, size_t i);
/* One "PATH:LINE: message" line each ("PATH: message" for line 0). */
int conf_errors_print(const conf_errors_t *e, FILE *f);

const char *conf_log_level_to_string(int priority);
const char *conf_log_format_to_string(conf_log_format_t f);

/* ---- The schema ---------------------------------------------------------- */

typedef struct conf_enum_entry {
        const char *name;
        int value;
} conf_enum_entry_t;

typedef struct conf_kind conf_kind_t;

/* One key. Tables of keys end with an entry whose name is NULL. */
typedef struct conf_key {
        const char *name;
        const conf_kind_t *kind;
        const char *def;        /* parsed like a value; NULL: none */
        bool required;
        uint64_t min, max;      /* numbers and durations (usec); max 0: no limit */
        const conf_enum_entry_t *entries;       /* enums */
        size_t offset;          /* into conf_daemon_t, conf_task_t or the type's struct */
        const char *help;       /* one line, for the documentation */
} conf_key_t;

/* A value parser: 0, or -EINVAL with *ret_expected describing what the
 * value should have been (static; NULL: "one of" what list() writes), or
 * -ERANGE (min/max of the key). */
struct conf_kind {
        const char *name;
        int (*parse)(const conf_key_t *k, const char *s, void *p, const char **ret_expected);
        /* Appends the value as conf syntax; returns -ENOMEM or 0. */
        int (*format)(const conf_key_t *k, const void *p, FILE *f);
        bool (*equal)(const conf_key_t *k, const void *a, const void *b);
        void (*done)(void *p);
        /* Kinds with a fixed set of values: writes them, comma-separated. */
        int (*list)(const conf_key_t *k, FILE *f);
};

/* The kinds, and the C type each stores at the key's offset. */
extern const conf_kind_t
        conf_kind_enum,         /* int, one of the key's entries */
        conf_kind_bool,         /* bool */
        conf_kind_uint,         /* unsigned, min..max */
        conf_kind_duration,     /* co_usec_t, min..max */
        conf_kind_intensity,    /* conf_intensity_t, burst at most max */
        conf_kind_argv,         /* char **, NULL-terminated, argv[0] set */
        conf_kind_env,          /* char **, NULL-terminated "NAME=value" */
        conf_kind_path,         /* char *, absolute; NULL when empty */
        conf_kind_string,       /* char *, any text (blanks around it dropped) */
        conf_kind_signal,       /* int */
        conf_kind_listen,       /* conf_listen_t */
        conf_kind_task_type;    /* const task_type_t *, a name from the registry */

#define CONF_FOREVER UINT64_MAX

/* The keys of [daemon] and those of every [task NAME]; a type's own keys
 * are in its task_type_t. */
extern const conf_key_t conf_daemon_keys[], conf_task_keys[];

extern const conf_enum_entry_t conf_log_levels[], conf_log_formats[];

/* Values (conf-schema.c), exported for the tests and for --log-level and
 * --log-format on the command line. */
int conf_parse_uint64(const char *s, uint64_t *ret);
int conf_parse_duration(const char *s, co_usec_t *ret);
int conf_format_duration(co_usec_t usec, char *buf, size_t size);
int conf_parse_bool(const char *s, bool *ret);
int conf_parse_argv(const char *s, char ***ret_argv);   /* -EINVAL: quoting */
int conf_parse_signal(const char *s, int *ret);
int conf_parse_log_level(const char *s, int *ret);
int conf_parse_log_format(const char *s, conf_log_format_t *ret);
int conf_parse_listen(const char *s, conf_listen_t *ret);
void conf_listen_done(conf_listen_t *l);
bool conf_env_assignment_is_valid(const char *s);
/* Writes S so that conf_parse_argv() reads it back as one word. */
int conf_quote_word(const char *s, FILE *f);
char **conf_strv_free(char **v);

/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Task types. Each is one file in daemon/tasks/ that declares everything
 * about it in one task_type_t: its name (what "type =" says), its own keys
 * (a table of conf_key_t, as the schema's, so that parsing, errors with
 * file:line, --dump-config and reload comparison work for them unchanged),
 * the struct those keys fill, and its run function. A built-in type is then
 * one line in the table in daemon/tasks/registry.c; a program linked with
 * libcotaskd.a can add its own with task_type_register() instead.
 *
 * A run function is the body of one run of a supervised task, in its own
 * cotask task: it returns 0 when the work ended cleanly, a negative errno
 * (with co_task_set_error() for the why) when it failed, and -ECANCELED
 * when it was stopped (cancelled: the daemon stops it that way on shutdown
 * and reload). The supervisor restarts it by its policy. conf stays valid
 * while it runs.
 *
 * A type's keys go into its struct at their offsetof(); each kind stores a
 * given C type there (see conf.h), which the field must have. A default is
 * conf text ("30s"), NULL for none; .max 0 is no upper limit; .help is the
 * one line the documentation shows. Keys of every task (restart, ...) are
 * not the type's business.
 *
 *     typedef struct greeter_conf { co_usec_t interval_usec; } greeter_conf_t;
 *     static const conf_key_t greeter_keys[] = {
 *             { "interval", &conf_kind_duration, "10s", .min = 1,
 *               .offset = offsetof(greeter_conf_t, interval_usec), .help = "..." },
 *             {},
 *     };
 *     static int greeter_run(const conf_task_t *conf) {
 *             const greeter_conf_t *g = TASK_CONF(conf, greeter_conf_t);
 *             ...
 *     }
 *     TASK_TYPE(greeter, "greeter", greeter_conf_t, greeter_keys, greeter_run);
 */

#include <stddef.h>

#include "conf.h"

struct task_type {
        const char *name;               /* in "type = NAME" */
        const conf_key_t *keys;         /* up to an entry with a NULL name; NULL: none */
        size_t conf_size;               /* of the struct the keys fill */
        int (*run)(const conf_task_t *conf);
        /* Optional: how long its stop may take once cancelled (exec: the
         * stop_timeout before SIGKILL), added to the grace of its task. */
        co_usec_t (*stop_usec)(const conf_task_t *conf);
};

/* Defines const task_type_t IDENT_task_type, which the table in registry.c
 * names as T(IDENT). Further task_type_t members may follow, designated:
 * TASK_TYPE(exec, "exec", exec_conf_t, exec_keys, exec_run, .stop_usec = f). */
#define TASK_TYPE(ident, type_name, conf_type, key_table, run_fn, ...) \
        extern const task_type_t ident##_task_type;             \
        const task_type_t ident##_task_type = {                 \
                .name = (type_name),                            \
                .keys = (key_table),                            \
                .conf_size = sizeof(conf_type),                 \
                .run = (run_fn),                                \
                __VA_ARGS__                                     \
        }

/* The struct of the task's type: CONF_TYPE must be the struct its
 * TASK_TYPE() names (checked by size, at run time). */
#define TASK_CONF(conf, conf_type) ((const conf_type *) task_conf((conf), sizeof(conf_type)))
const void *task_conf(const conf_task_t *conf, size_t size);

/* By name; NULL if there is no such type. */
const task_type_t *task_type_find(const char *name);
/* The I-th type: the table's in its order, then the registered ones; NULL
 * past the last. */
const task_type_t *task_type_get(size_t i);

/* For programs linked with libcotaskd.a (tests, benchmarks, a cotaskd of
 * your own): adds TYPE, which must stay valid, to the types "type =" may
 * name. Call it before the first conf_load() or daemon_run(); not
 * thread-safe. 0; -EINVAL if TYPE lacks a name or run function, or one of
 * its keys repeats a key of every task or has a default its kind refuses;
 * -EEXIST if a type of that name exists; -ENOSPC past TASK_TYPES_EXTRA_MAX. */
#define TASK_TYPES_EXTRA_MAX 16
int task_type_register(const task_type_t *type);

/* The extra grace the task's stop needs (the type's stop_usec, or 0). */
co_usec_t task_stop_usec(const conf_task_t *conf);

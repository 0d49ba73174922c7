/* SPDX-License-Identifier: MIT */
/* The table of task types. Adding one is its file in daemon/tasks/, which
 * says TASK_TYPE(IDENT, ...), and a line T(IDENT) here; the order is the one
 * error messages list them in. */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tasks.h"

#define TASK_TYPES(T) \
        T(heartbeat)  \
        T(exec)       \
        T(tcp_echo)   \
        /* end of the table */

#define DECLARE(ident) extern const task_type_t ident##_task_type;
#define POINTER(ident) &ident##_task_type,

TASK_TYPES(DECLARE)

static const task_type_t *const builtin[] = { TASK_TYPES(POINTER) };

static const task_type_t *extra[TASK_TYPES_EXTRA_MAX];
static size_t n_extra;

const task_type_t *task_type_get(size_t i) {
        size_t n = sizeof builtin / sizeof builtin[0];

        if (i < n)
                return builtin[i];
        return i - n < n_extra ? extra[i - n] : NULL;
}

const task_type_t *task_type_find(const char *name) {
        const task_type_t *t;

        for (size_t i = 0; (t = task_type_get(i)); i++)
                if (strcmp(t->name, name) == 0)
                        return t;
        return NULL;
}

/* Each default through its kind's parser into a scratch struct, so that a
 * bad one shows here rather than as -ENOMEM from every conf_load(). */
static int check_keys(const task_type_t *type) {
        void *scratch = calloc(1, type->conf_size ?: 1);
        int r = 0;

        if (!scratch)
                return -ENOMEM;
        for (const conf_key_t *k = type->keys; r >= 0 && k && k->name; k++) {
                const char *expected;

                for (const conf_key_t *c = conf_task_keys; c->name; c++)
                        if (strcmp(c->name, k->name) == 0)
                                r = -EINVAL;
                if (r >= 0 && k->def && k->kind->parse(k, k->def, (char *) scratch + k->offset, &expected) < 0)
                        r = -EINVAL;
        }
        for (const conf_key_t *k = type->keys; k && k->name; k++)
                if (k->kind->done)
                        k->kind->done((char *) scratch + k->offset);
        free(scratch);
        return r;
}

int task_type_register(const task_type_t *type) {
        int r;

        if (!type || !type->name || !*type->name || !type->run)
                return -EINVAL;
        if (task_type_find(type->name))
                return -EEXIST;
        if (n_extra == TASK_TYPES_EXTRA_MAX)
                return -ENOSPC;
        r = check_keys(type);
        if (r < 0)
                return r;
        extra[n_extra++] = type;
        return 0;
}

const void *task_conf(const conf_task_t *conf, size_t size) {
        /* A run function that names another type's struct. */
        assert(conf->type && conf->type->conf_size == size);
        return conf->type_conf;
}

co_usec_t task_stop_usec(const conf_task_t *conf) {
        return conf->type && conf->type->stop_usec ? conf->type->stop_usec(conf) : 0;
}

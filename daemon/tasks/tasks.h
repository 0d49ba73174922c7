/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The built-in task types. Each is one file in daemon/tasks/ with a run
 * function, and one line in the table in daemon/tasks/registry.c.
 *
 * A run function is the body of one run of a supervised task, in its own
 * cotask task: it returns 0 when the work ended cleanly, a negative errno
 * (with co_task_set_error() for the why) when it failed, and -ECANCELED
 * when it was stopped (cancelled: the daemon stops it that way on shutdown
 * and reload). The supervisor restarts it by its policy. conf stays valid
 * while it runs.
 */

#include "conf.h"

typedef struct task_type {
        conf_task_type_t type;
        const char *name;
        int (*run)(const conf_task_t *conf);
} task_type_t;

const task_type_t *task_type_find(conf_task_type_t type);

int heartbeat_run(const conf_task_t *conf);
int exec_run(const conf_task_t *conf);
int tcp_echo_run(const conf_task_t *conf);

/* SPDX-License-Identifier: MIT */
/* The table of task types: adding one is a file in daemon/tasks/ and a
 * line here (and its keys in daemon/conf-schema.c). */
#include <stddef.h>

#include "tasks.h"

static const task_type_t task_types[] = {
        { CONF_TASK_HEARTBEAT, "heartbeat", heartbeat_run },
        { CONF_TASK_EXEC, "exec", exec_run },
        { CONF_TASK_TCP_ECHO, "tcp-echo", tcp_echo_run },
};

const task_type_t *task_type_find(conf_task_type_t type) {
        for (size_t i = 0; i < sizeof task_types / sizeof task_types[0]; i++)
                if (task_types[i].type == type)
                        return &task_types[i];
        return NULL;
}

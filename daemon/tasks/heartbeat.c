/* SPDX-License-Identifier: MIT */
/* heartbeat: a log line every interval, with how late its timer fired (the
 * loop's lag) and how many tasks the loop runs. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>

#include "tasks.h"

typedef struct heartbeat_conf {
        co_usec_t interval_usec;
} heartbeat_conf_t;

static const conf_key_t heartbeat_keys[] = {
        { "interval", &conf_kind_duration, "30s", .min = 1, .max = CONF_FOREVER,
          .offset = offsetof(heartbeat_conf_t, interval_usec), .help = "Time between two heartbeat records (> 0)." },
        {},
};

static int heartbeat_run(const conf_task_t *conf) {
        const heartbeat_conf_t *hb = TASK_CONF(conf, heartbeat_conf_t);
        co_usec_t deadline = co_now();

        for (;;) {
                char lag[32], tasks[32];
                co_log_field_t f[] = { { "lag_us", lag }, { "tasks", tasks } };
                co_usec_t now;
                int r;

                deadline += hb->interval_usec;
                r = co_sleep_until(deadline);
                if (r < 0)
                        return r;
                now = co_now();
                snprintf(lag, sizeof lag, "%llu", (unsigned long long) (now > deadline ? now - deadline : 0));
                snprintf(tasks, sizeof tasks, "%zu", co_loop_get_n_tasks(co_loop_current()));
                co_log_fields(CO_LOG_INFO, f, 2, "heartbeat");
                /* Fell far behind (the loop was stuck): start afresh. */
                if (now > deadline + hb->interval_usec)
                        deadline = now;
        }
}

TASK_TYPE(heartbeat, "heartbeat", heartbeat_conf_t, heartbeat_keys, heartbeat_run);

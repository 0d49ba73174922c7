/* SPDX-License-Identifier: MIT */
#pragma once

/* One supervisor per configured task: runs it, restarts it by its policy
 * with exponential back-off, and gives up past its intensity limit. */

#include <cotask/cotask.h>

#include "conf.h"

typedef enum sup_state {
        SUP_STARTING,
        SUP_RUNNING,
        SUP_RESTARTING,         /* waiting out its back-off */
        SUP_STOPPED,            /* ended and not to be restarted */
        SUP_FAILED,             /* gave up: past its restart intensity */
} sup_state_t;

typedef struct supervisor supervisor_t;

/* What the supervisors tell the daemon. */
typedef struct sup_events {
        void (*changed)(void *userdata);                /* a state changed: STATUS= */
        void (*give_up_exit)(void *userdata);           /* on_give_up = exit */
        void *userdata;
} sup_events_t;

/* Starts supervising conf (which must stay valid until sup_stop) as a
 * child task of the caller. */
int sup_start(const conf_task_t *conf, const sup_events_t *events, supervisor_t **ret);
/* Cancels the task (reason), waits until it and its supervisor ended. */
int sup_stop(supervisor_t *s, const char *reason);
/* Asks for the stop without waiting (shutdown cancels them all at once). */
void sup_cancel(supervisor_t *s, const char *reason);
supervisor_t *sup_free(supervisor_t *s);

const conf_task_t *sup_get_conf(const supervisor_t *s);
sup_state_t sup_get_state(const supervisor_t *s);
unsigned sup_get_restarts(const supervisor_t *s);
co_task_t *sup_get_task(const supervisor_t *s);
const char *sup_state_to_string(sup_state_t st);

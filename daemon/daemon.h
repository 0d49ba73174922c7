/* SPDX-License-Identifier: MIT */
#pragma once

/* The daemon's life: start the supervisors, answer signals (TERM/INT stop,
 * HUP reload, USR1 dump, USR2 debug), stop within shutdown_timeout. */

#include <stdbool.h>
#include <sys/resource.h>

#include "log.h"

enum {
        EXIT_CONFIG = 1,        /* configuration or start-up error */
        EXIT_USAGE = 2,
        EXIT_FORCED = 3,        /* second signal, or shutdown_timeout passed */
        EXIT_GAVE_UP = 4,       /* a task past its intensity with on_give_up = exit */
};

typedef struct daemon_opts {
        const char *config_path;
        int log_level;                  /* -1: the conf file's */
        int log_format;                 /* -1: the conf file's, else a dlog_format_t */
} daemon_opts_t;

/* The soft RLIMIT_NOFILE the daemon was started with, which it raised to
 * the hard limit: children get it back before exec (programs that use
 * select(2) expect at most FD_SETSIZE). RLIM_INFINITY: not raised. */
extern rlim_t daemon_nofile_soft;

/* Runs until stopped; returns the process exit status. */
int daemon_run(const daemon_opts_t *opts);

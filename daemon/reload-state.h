/* SPDX-License-Identifier: MIT */
#pragma once

/* A synchronous reload for service managers that cannot wait for one.
 *
 * systemd 252 returns from `systemctl reload` as soon as ExecReload=
 * returns, and `kill -HUP $MAINPID` returns at once. So the daemon
 * publishes the state of its reloads in $RUNTIME_DIRECTORY/reload-state
 * ("generation=N" and "state=reloading|applied|rejected" lines, replaced
 * atomically), and `cotaskd --reload PID` sends SIGHUP and waits there
 * until a reload that began after the signal has been applied or
 * rejected. */

#include <stdbool.h>
#include <sys/types.h>

#include <cotask/cotask.h>

typedef enum reload_state {
        RELOAD_STATE_RELOADING,
        RELOAD_STATE_APPLIED,
        RELOAD_STATE_REJECTED,
} reload_state_t;

/* The daemon's side: records that reload GENERATION is in STATE. A no-op
 * without $RUNTIME_DIRECTORY; otherwise 0 or -errno (the caller logs it). */
int reload_state_publish(unsigned generation, reload_state_t state);
/* Removes the file (at exit), so that a stale one never answers. */
void reload_state_clear(void);

/* The client's side: 0 when the reload was applied, -EPROTO when it was
 * rejected (the daemon logged why), -ESRCH when PID exited, -ETIMEDOUT,
 * -ENOENT when there is no state to watch (no $RUNTIME_DIRECTORY, or
 * the daemon publishes none); other -errno from kill(2). */
int reload_state_request(pid_t pid, co_usec_t timeout_usec);

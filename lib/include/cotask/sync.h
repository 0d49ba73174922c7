/* SPDX-License-Identifier: MIT */
#ifndef COTASK_SYNC_H
#define COTASK_SYNC_H

/* Synchronisation primitives: lock, event, condition, semaphore, queue. Included by <cotask/cotask.h>; do not include directly. */

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif

#endif

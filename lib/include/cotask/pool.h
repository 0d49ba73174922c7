/* SPDX-License-Identifier: MIT */
#ifndef COTASK_POOL_H
#define COTASK_POOL_H

/* Thread pool for blocking calls. Included by <cotask/cotask.h>; do not include directly. */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct co_pool co_pool_t;

#ifdef __cplusplus
}
#endif

#endif

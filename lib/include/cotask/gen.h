/* SPDX-License-Identifier: MIT */
#ifndef COTASK_GEN_H
#define COTASK_GEN_H

/* Async generators. Included by <cotask/cotask.h>; do not include directly. */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct co_gen co_gen_t;

#ifdef __cplusplus
}
#endif

#endif

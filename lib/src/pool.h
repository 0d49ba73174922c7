/* SPDX-License-Identifier: MIT */
#pragma once

#include "internal.h"

/* co_loop_free: frees the loop's default pool, if it made one, without
 * waiting for jobs still running (run() has shut it down before). */
void co__pool_loop_free(co_loop_t *l);

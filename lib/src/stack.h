/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Task stacks: slots carved from big lazily-committed mmap arenas, pooled
 * per slot size, each with a guard page at its low end. Guards are
 * MADV_GUARD_INSTALL markers where the kernel has them (no extra mapping
 * per stack, so a million stacks stay far below vm.max_map_count), else
 * mprotect'ed pages while a budget of mappings lasts, else a canary word
 * that the scheduler checks at every switch.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum co__guard {
        CO__GUARD_MADVISE,
        CO__GUARD_MPROTECT,
        CO__GUARD_CANARY,
} co__guard_t;

typedef struct co__arena co__arena_t;
typedef struct co__stack_pool co__stack_pool_t;

/* One stack: [base, base + size). The guard (page or canary) is at base;
 * the usable stack is [base + guard_size, base + size). */
typedef struct co__slot {
        char *base;
        size_t size;
        size_t guard_size;
        co__arena_t *arena;
} co__slot_t;

typedef struct co__stacks {
        co__stack_pool_t *pools;
} co__stacks_t;

/* A slot whose usable part holds at least `bytes`. */
int co__stacks_get(co__stacks_t *s, size_t bytes, co__slot_t *ret_slot);
void co__stacks_put(co__stacks_t *s, const co__slot_t *slot);
/* Unmaps arenas with no slot in use, beyond one spare per pool. */
void co__stacks_trim(co__stacks_t *s);
/* Unmaps everything; no slot may be in use. */
void co__stacks_release(co__stacks_t *s);

/* A canary-guarded slot starts with this many canary words: more than the
 * padding a stack frame can leave unwritten. */
#define CO__CANARY_WORDS 8

/* True if a canary-guarded slot's canary is intact (always true for
 * slots with a guard page). */
static inline bool co__slot_intact(const co__slot_t *slot) {
        extern const uint64_t co__stack_canary;
        const uint64_t *w = (const uint64_t *) slot->base;
        uint64_t diff = 0;

        if (slot->guard_size != 0)
                return true;
        for (unsigned i = 0; i < CO__CANARY_WORDS; i++)
                diff |= w[i] ^ co__stack_canary;
        return diff == 0;
}

/* The guard mode new arenas get (forced by $COTASK_STACK_GUARD =
 * madvise|mprotect|canary, for tests). */
co__guard_t co__stacks_guard_mode(void);
const char *co__guard_to_string(co__guard_t g);
/* Arenas currently mapped by all loops of the process. */
long co__stacks_n_arenas(void);

/* Whether addr lies in the guard page of the slot. */
static inline bool co__slot_guard_hit(const co__slot_t *slot, const void *addr) {
        const char *a = addr;

        return slot->guard_size != 0 && a >= slot->base && a < slot->base + slot->guard_size;
}

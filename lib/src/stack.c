/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "cotask/cotask.h"
#include "stack.h"

#if defined(__has_include)
#  if __has_include(<valgrind/valgrind.h>)
#    include <valgrind/valgrind.h>
#  endif
#endif

#ifndef MADV_GUARD_INSTALL
#  define MADV_GUARD_INSTALL 102
#endif
#ifndef MADV_POPULATE_WRITE
#  define MADV_POPULATE_WRITE 23
#endif
/* The calling process, for process_madvise, without a pidfd to keep. */
#ifndef PIDFD_SELF_THREAD_GROUP
#  define PIDFD_SELF_THREAD_GROUP (-10001)
#endif

/* Enough slots per arena that a million stacks need few thousand mmaps. */
#define ARENA_BYTES ((size_t) 16 << 20)
#define ARENA_MIN_SLOTS 16u
/* Slots readied for carving by one system call at most: a batch of 32
 * costs about a third less per guard than one madvise each, and a larger
 * one gains little more. */
#define PREPARE_MAX 32u

const uint64_t co__stack_canary = UINT64_C(0xc07a5c0ffee15bad);

struct co__arena {
        co__arena_t *next;              /* in pool->arenas */
        co__arena_t *prev;
        co__stack_pool_t *pool;
        char *base;
        unsigned n_slots;
        unsigned n_used;
        unsigned n_carved;              /* slots handed out at least once */
        unsigned n_ready;               /* slots with guard and top page done, >= n_carved */
        co__guard_t guard;
        void *free_slots;               /* LIFO, linked through each slot's top word */
};

struct co__stack_pool {
        co__stack_pool_t *next;
        size_t slot_size;
        /* Arenas with a free slot first, full ones after: get looks at the
         * head only. */
        co__arena_t *arenas;
};

static size_t page_size(void) {
        static size_t cached;

        if (!cached)
                cached = (size_t) sysconf(_SC_PAGESIZE);
        return cached;
}

const char *co__guard_to_string(co__guard_t g) {
        switch (g) {
        case CO__GUARD_MADVISE: return "madvise";
        case CO__GUARD_MPROTECT: return "mprotect";
        case CO__GUARD_CANARY: return "canary";
        }
        return "?";
}

/* Process-wide: what new arenas use. Moves only towards CANARY. */
static _Atomic int guard_mode = -1;
/* Arenas mapped in the whole process, for tests. */
static _Atomic long n_arenas;

long co__stacks_n_arenas(void) {
        return atomic_load(&n_arenas);
}

/* Mappings that mprotect guards may still create: a guard page splits the
 * mapping it is in, costing two more. */
static _Atomic long mprotect_budget = -1;

static co__guard_t guard_mode_initial(void) {
        const char *e = secure_getenv("COTASK_STACK_GUARD");

        if (e && strcmp(e, "mprotect") == 0)
                return CO__GUARD_MPROTECT;
        if (e && strcmp(e, "canary") == 0)
                return CO__GUARD_CANARY;
        return CO__GUARD_MADVISE;
}

co__guard_t co__stacks_guard_mode(void) {
        int m = atomic_load(&guard_mode);

        if (m < 0) {
                int expected = -1;

                atomic_compare_exchange_strong(&guard_mode, &expected, (int) guard_mode_initial());
                m = atomic_load(&guard_mode);
        }
        return (co__guard_t) m;
}

static void guard_mode_degrade(co__guard_t to, const char *why) {
        int m = atomic_load(&guard_mode);

        while (m < (int) to)
                if (atomic_compare_exchange_weak(&guard_mode, &m, (int) to)) {
                        co_log(to == CO__GUARD_CANARY ? CO_LOG_WARNING : CO_LOG_NOTICE,
                               "task stacks now use %s guards: %s", co__guard_to_string(to), why);
                        return;
                }
}

static long mprotect_budget_initial(void) {
        long max = 65530;
        FILE *f = fopen("/proc/sys/vm/max_map_count", "re");

        if (f) {
                if (fscanf(f, "%ld", &max) != 1)
                        max = 65530;
                fclose(f);
        }
        /* Leave three quarters of the limit to the rest of the process. */
        return max / 4;
}

static bool mprotect_budget_take(long n) {
        long b = atomic_load(&mprotect_budget);

        if (b < 0) {
                long expected = -1;

                atomic_compare_exchange_strong(&mprotect_budget, &expected, mprotect_budget_initial());
                b = atomic_load(&mprotect_budget);
        }
        while (b >= n)
                if (atomic_compare_exchange_weak(&mprotect_budget, &b, b - n))
                        return true;
        return false;
}

static void arena_unlink(co__arena_t *a) {
        if (a->prev)
                a->prev->next = a->next;
        else
                a->pool->arenas = a->next;
        if (a->next)
                a->next->prev = a->prev;
        a->next = a->prev = NULL;
}

static void arena_push_front(co__stack_pool_t *p, co__arena_t *a) {
        a->prev = NULL;
        a->next = p->arenas;
        if (p->arenas)
                p->arenas->prev = a;
        p->arenas = a;
}

static void arena_push_back(co__stack_pool_t *p, co__arena_t *a) {
        co__arena_t *last = p->arenas;

        a->next = NULL;
        if (!last) {
                a->prev = NULL;
                p->arenas = a;
                return;
        }
        while (last->next)
                last = last->next;
        last->next = a;
        a->prev = last;
}

static bool arena_full(const co__arena_t *a) {
        return a->n_used == a->n_slots;
}

static size_t arena_bytes(const co__arena_t *a) {
        return a->n_slots * a->pool->slot_size;
}

/* Everything of an arena but its address space. */
static void arena_forget(co__arena_t *a) {
        if (a->guard == CO__GUARD_MPROTECT)
                atomic_fetch_add(&mprotect_budget, 2 * (long) a->n_slots);
        atomic_fetch_sub(&n_arenas, 1);
        free(a);
}

static co__arena_t *arena_free(co__arena_t *a) {
        if (!a)
                return NULL;
        munmap(a->base, arena_bytes(a));
        arena_forget(a);
        return NULL;
}

static int arena_cmp_base(const void *x, const void *y) {
        uintptr_t a = (uintptr_t) (*(co__arena_t *const *) x)->base;
        uintptr_t b = (uintptr_t) (*(co__arena_t *const *) y)->base;

        return (a > b) - (a < b);
}

/* Frees n unlinked arenas. Arenas mapped one after another usually sit
 * side by side, and one munmap per run of them instead of one per arena
 * saves a TLB shootdown each: an interrupt to every core that runs one of
 * our threads (pool threads, say), which in a VM is an exit on both
 * sides. Sorts v. */
static void arenas_free(co__arena_t **v, size_t n) {
        qsort(v, n, sizeof *v, arena_cmp_base);
        for (size_t i = 0; i < n;) {
                char *start = v[i]->base, *end = start;
                size_t j = i;

                for (; j < n && v[j]->base == end; j++)
                        end += arena_bytes(v[j]);
                /* Splitting a mapping at the run's ends can fail (ENOMEM
                 * near vm.max_map_count): then arena by arena, so that
                 * one failure keeps one arena mapped, not the run. */
                if (munmap(start, (size_t) (end - start)) < 0 && j - i > 1)
                        for (size_t k = i; k < j; k++)
                                munmap(v[k]->base, arena_bytes(v[k]));
                for (; i < j; i++)
                        arena_forget(v[i]);
        }
}

static int arena_new(co__stack_pool_t *p, co__arena_t **ret) {
        co__arena_t *a;
        unsigned n = (unsigned) (ARENA_BYTES / p->slot_size);
        void *base;

        if (n < ARENA_MIN_SLOTS)
                n = ARENA_MIN_SLOTS;
        a = calloc(1, sizeof *a);
        if (!a)
                return -ENOMEM;
        base = mmap(NULL, n * p->slot_size, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (base == MAP_FAILED) {
                free(a);
                return -errno;
        }
        /* A huge page would make one 4 KiB stack cost 2 MiB of RSS. */
        (void) madvise(base, n * p->slot_size, MADV_NOHUGEPAGE);
        atomic_fetch_add(&n_arenas, 1);
        a->pool = p;
        a->base = base;
        a->n_slots = n;
        a->guard = co__stacks_guard_mode();
        if (a->guard == CO__GUARD_MPROTECT && !mprotect_budget_take(2 * (long) n)) {
                guard_mode_degrade(CO__GUARD_CANARY,
                                   "no madvise guard pages in this kernel and the mprotect guard "
                                   "budget (vm.max_map_count / 4) is used up");
                a->guard = CO__GUARD_CANARY;
        }
        *ret = a;
        return 0;
}

/* Installs the guard of a slot, one system call per slot. */
static int slot_guard(co__arena_t *a, char *slot) {
        size_t pg = page_size();

        if (a->guard == CO__GUARD_MADVISE) {
                if (madvise(slot, pg, MADV_GUARD_INSTALL) == 0)
                        return 0;
                if (errno != EINVAL)
                        return -errno;
                /* Kernel older than 6.13: this arena uses mprotect guards
                 * from now on, if the budget allows. */
                guard_mode_degrade(CO__GUARD_MPROTECT, "the kernel has no MADV_GUARD_INSTALL");
                a->guard = mprotect_budget_take(2 * (long) a->n_slots) ? CO__GUARD_MPROTECT : CO__GUARD_CANARY;
                if (a->guard == CO__GUARD_CANARY)
                        guard_mode_degrade(CO__GUARD_CANARY, "the mprotect guard budget is used up");
        }
        if (a->guard == CO__GUARD_MPROTECT) {
                if (mprotect(slot, pg, PROT_NONE) < 0)
                        return -errno;
                return 0;
        }
        return 0;
}

/* The slot carved n-th from an arena: from the top down, so that a task
 * that overflows runs into a neighbour that was not handed out yet. */
static char *arena_slot(const co__arena_t *a, unsigned n) {
        return a->base + (size_t) (a->n_slots - 1 - n) * a->pool->slot_size;
}

/* Whether process_madvise may still be tried: older kernels know neither
 * PIDFD_SELF_THREAD_GROUP nor these advices in it, and a seccomp filter
 * may refuse the call. Then guards go one madvise per slot and top pages
 * are committed by their first touch, as before. */
static _Atomic bool batch_guard_ok = true;
static _Atomic bool batch_populate_ok = true;

/* One process_madvise on our own process: true if it covered all of iov. */
static bool madvise_batch(const struct iovec *iov, unsigned n, int advice, _Atomic bool *ok) {
#ifdef SYS_process_madvise
        long r;

        if (!atomic_load_explicit(ok, memory_order_relaxed))
                return false;
#  ifdef RUNNING_ON_VALGRIND
        /* valgrind 3.19 does not know the call and warns about it. */
        if (RUNNING_ON_VALGRIND)
                return false;
#  endif
        r = syscall(SYS_process_madvise, PIDFD_SELF_THREAD_GROUP, iov, (size_t) n, advice, 0u);
        if (r < 0 && errno != ENOMEM && errno != EAGAIN && errno != EINTR)
                atomic_store_explicit(ok, false, memory_order_relaxed);
        return r == (long) n * (long) iov[0].iov_len;
#else
        (void) iov;
        (void) n;
        (void) advice;
        (void) ok;
        return false;
#endif
}

/* Readies the next slots to carve: installs their guards and commits the
 * top page of each, where a task's first frames go. A page fault costs
 * more than committing the page from a system call, and one call for a
 * batch of slots spares a system call per guard, so that spawning many
 * tasks costs little beyond the pages themselves. The batch grows with
 * the slots already carved from the arena, so that a loop with a few
 * tasks commits only a few pages it does not use yet. */
static int arena_prepare(co__arena_t *a) {
        size_t pg = page_size();
        struct iovec iov[PREPARE_MAX];
        unsigned n = a->n_carved ? a->n_carved : 1;
        int r;

        if (n > PREPARE_MAX)
                n = PREPARE_MAX;
        if (n > a->n_slots - a->n_ready)
                n = a->n_slots - a->n_ready;
        for (unsigned i = 0; i < n; i++)
                iov[i] = (struct iovec) { .iov_base = arena_slot(a, a->n_ready + i), .iov_len = pg };
        if (a->guard != CO__GUARD_MADVISE || !madvise_batch(iov, n, MADV_GUARD_INSTALL, &batch_guard_ok))
                for (unsigned i = 0; i < n; i++) {
                        r = slot_guard(a, iov[i].iov_base);
                        if (r < 0) {
                                if (i == 0)
                                        return r;
                                n = i;
                                break;
                        }
                }
        /* Best effort: a page left out is committed by its first touch. */
        for (unsigned i = 0; i < n; i++)
                iov[i].iov_base = (char *) iov[i].iov_base + a->pool->slot_size - pg;
        (void) madvise_batch(iov, n, MADV_POPULATE_WRITE, &batch_populate_ok);
        a->n_ready += n;
        return 0;
}

static co__stack_pool_t *pool_find(co__stacks_t *s, size_t slot_size) {
        co__stack_pool_t *p;

        for (p = s->pools; p; p = p->next)
                if (p->slot_size == slot_size)
                        return p;
        p = calloc(1, sizeof *p);
        if (!p)
                return NULL;
        p->slot_size = slot_size;
        p->next = s->pools;
        s->pools = p;
        return p;
}

int co__stacks_get(co__stacks_t *s, size_t bytes, co__slot_t *ret_slot) {
        size_t pg = page_size();
        size_t slot_size = pg + ((bytes + pg - 1) & ~(pg - 1));
        co__stack_pool_t *p = pool_find(s, slot_size);
        co__arena_t *a;
        char *slot;
        int r;

        if (!p)
                return -ENOMEM;
        a = p->arenas;
        if (!a || arena_full(a)) {
                r = arena_new(p, &a);
                if (r < 0)
                        return r;
                arena_push_front(p, a);
        }
        if (a->free_slots) {
                slot = a->free_slots;
                a->free_slots = *(void **) (slot + slot_size - sizeof(void *));
        } else {
                if (a->n_carved == a->n_ready) {
                        r = arena_prepare(a);
                        if (r < 0)
                                return r;
                }
                slot = arena_slot(a, a->n_carved++);
        }
        a->n_used++;
        if (arena_full(a)) {
                /* Keep arenas with free slots at the head. */
                arena_unlink(a);
                arena_push_back(p, a);
        }

        *ret_slot = (co__slot_t) {
                .base = slot,
                .size = slot_size,
                .guard_size = a->guard == CO__GUARD_CANARY ? 0 : pg,
                .arena = a,
        };
        if (a->guard == CO__GUARD_CANARY)
                for (unsigned i = 0; i < CO__CANARY_WORDS; i++)
                        ((uint64_t *) slot)[i] = co__stack_canary;
        return 0;
}

void co__stacks_put(co__stacks_t *s, const co__slot_t *slot) {
        co__arena_t *a = slot->arena;
        bool was_full = arena_full(a);

        (void) s;
        *(void **) (slot->base + slot->size - sizeof(void *)) = a->free_slots;
        a->free_slots = slot->base;
        a->n_used--;
        if (was_full) {
                arena_unlink(a);
                arena_push_front(a->pool, a);
        }
}

/* The empty arenas of p but one (the spare), at most max of them, unlinked
 * into v; with v NULL, only counts them all. */
static size_t pool_take_idle(co__stack_pool_t *p, co__arena_t **v, size_t max) {
        bool spare_kept = false;
        size_t n = 0;

        for (co__arena_t *a = p->arenas, *next; a && !arena_full(a) && !(v && n == max); a = next) {
                next = a->next;
                if (a->n_used > 0)
                        continue;
                if (!spare_kept) {
                        spare_kept = true;
                        continue;
                }
                if (v) {
                        arena_unlink(a);
                        v[n] = a;
                }
                n++;
        }
        return n;
}

void co__stacks_trim(co__stacks_t *s) {
        for (co__stack_pool_t *p = s->pools; p; p = p->next) {
                size_t n = pool_take_idle(p, NULL, 0);
                co__arena_t *one, **v;

                if (n == 0)
                        continue;
                v = n > 1 ? malloc(n * sizeof *v) : NULL;
                if (v) {
                        arenas_free(v, pool_take_idle(p, v, n));
                        free(v);
                }
                /* A single one, or no memory for the list: one at a time. */
                while (pool_take_idle(p, &one, 1) == 1)
                        arenas_free(&one, 1);
        }
}

void co__stacks_release(co__stacks_t *s) {
        co__stack_pool_t *p;

        while ((p = s->pools)) {
                s->pools = p->next;
                while (p->arenas) {
                        co__arena_t *a = p->arenas;

                        arena_unlink(a);
                        arena_free(a);
                }
                free(p);
        }
}

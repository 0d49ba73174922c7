/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A fiber is a context plus the stack bounds that sanitizers and valgrind
 * must be told about at every switch; co__fiber_switch is the only place
 * that switches, so nothing can forget to tell them.
 */

#include <stdbool.h>
#include <stddef.h>

#include "context.h"

#if defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define CO_HAVE_ASAN 1
#  endif
#  if __has_feature(thread_sanitizer)
#    define CO_HAVE_TSAN 1
#  endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#  define CO_HAVE_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#  define CO_HAVE_TSAN 1
#endif

#if CO_HAVE_ASAN
#  include <pthread.h>
#  include <sanitizer/common_interface_defs.h>
#endif
#if CO_HAVE_TSAN
#  include <sanitizer/tsan_interface.h>
#endif
#if defined(__has_include)
#  if __has_include(<valgrind/valgrind.h>)
#    include <valgrind/valgrind.h>
#    define CO_HAVE_VALGRIND 1
#  endif
#endif

typedef struct co__fiber {
        co__ctx_t ctx;
        void *stack_lo;
        size_t stack_size;
#if CO_HAVE_ASAN
        void *asan_fake_stack;
#endif
#if CO_HAVE_TSAN
        void *tsan_fiber;
        bool tsan_owned;
#endif
#if CO_HAVE_VALGRIND
        unsigned valgrind_stack_id;
#endif
} co__fiber_t;

/* The fiber of the code that runs the scheduler (a thread's own stack). */
static inline void co__fiber_init_thread(co__fiber_t *f) {
        *f = (co__fiber_t) {};
#if CO_HAVE_ASAN
        {
                pthread_attr_t attr;

                if (pthread_getattr_np(pthread_self(), &attr) == 0) {
                        (void) pthread_attr_getstack(&attr, &f->stack_lo, &f->stack_size);
                        pthread_attr_destroy(&attr);
                }
        }
#endif
#if CO_HAVE_TSAN
        f->tsan_fiber = __tsan_get_current_fiber();
#endif
}

static inline void co__fiber_init(co__fiber_t *f, void *stack_lo, size_t stack_size,
                                  co__ctx_entry_t entry, void *arg) {
        f->stack_lo = stack_lo;
        f->stack_size = stack_size;
#if CO_HAVE_ASAN
        f->asan_fake_stack = NULL;
#endif
#if CO_HAVE_TSAN
        f->tsan_fiber = __tsan_create_fiber(0);
        f->tsan_owned = true;
#endif
#if CO_HAVE_VALGRIND
        f->valgrind_stack_id = VALGRIND_STACK_REGISTER(stack_lo, (char *) stack_lo + stack_size);
#endif
        co__ctx_make(&f->ctx, stack_lo, stack_size, entry, arg);
}

static inline void co__fiber_destroy(co__fiber_t *f) {
#if CO_HAVE_TSAN
        if (f->tsan_owned)
                __tsan_destroy_fiber(f->tsan_fiber);
        f->tsan_owned = false;
#endif
#if CO_HAVE_VALGRIND
        if (f->valgrind_stack_id)
                VALGRIND_STACK_DEREGISTER(f->valgrind_stack_id);
#endif
        (void) f;
}

/* Called first thing on a new fiber's stack. */
static inline void co__fiber_started(void) {
#if CO_HAVE_ASAN
        __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
}

/* Switches from `from` to `to`. When `from` will never run again (its task
 * has ended), `exiting` lets ASan free its fake stack. */
static inline void co__fiber_switch(co__fiber_t *from, co__fiber_t *to, bool exiting) {
#if CO_HAVE_ASAN
        __sanitizer_start_switch_fiber(exiting ? NULL : &from->asan_fake_stack, to->stack_lo,
                                       to->stack_size);
#else
        (void) exiting;
#endif
#if CO_HAVE_TSAN
        __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
        co__ctx_switch(&from->ctx, &to->ctx);
#if CO_HAVE_ASAN
        __sanitizer_finish_switch_fiber(from->asan_fake_stack, NULL, NULL);
#endif
}

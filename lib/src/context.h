/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The machine context switch. Two backends: hand-written assembly
 * (x86-64 SysV, aarch64), the fast path; and ucontext, the portable one
 * (make CONTEXT=ucontext). Both switch exactly what the ABI says a callee
 * preserves; everything else is the compiler's business.
 */

#include <stddef.h>

#if defined(CO_CONTEXT_UCONTEXT)
#  include <ucontext.h>
#endif

typedef void (*co__ctx_entry_t)(void *arg);

typedef struct co__ctx {
        void *sp;               /* asm backend: saved stack pointer */
#if defined(CO_CONTEXT_UCONTEXT)
        ucontext_t uc;
        co__ctx_entry_t entry;
        void *arg;
#endif
} co__ctx_t;

/* Prepares ctx so that the first switch to it calls entry(arg) on the stack
 * [stack_lo, stack_lo + stack_size). entry must never return. */
void co__ctx_make(co__ctx_t *ctx, void *stack_lo, size_t stack_size, co__ctx_entry_t entry, void *arg);

/* Saves the running context into from and resumes to. */
void co__ctx_switch(co__ctx_t *from, co__ctx_t *to);

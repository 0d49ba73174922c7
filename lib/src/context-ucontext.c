/* SPDX-License-Identifier: MIT */
/*
 * The portable backend: glibc's makecontext/swapcontext. Slower (swapcontext
 * makes a sigprocmask system call per switch) but needs no assembly.
 */
#include <stdint.h>
#include <stdlib.h>

#include "context.h"

/* makecontext passes int arguments: the context pointer travels in halves. */
static void ucontext_entry(unsigned hi, unsigned lo) {
        co__ctx_t *ctx = (co__ctx_t *) (((uintptr_t) hi << 32) | (uintptr_t) lo);

        ctx->entry(ctx->arg);
        abort();
}

void co__ctx_make(co__ctx_t *ctx, void *stack_lo, size_t stack_size, co__ctx_entry_t entry, void *arg) {
        uintptr_t p = (uintptr_t) ctx;

        if (getcontext(&ctx->uc) < 0)
                abort();
        ctx->uc.uc_stack.ss_sp = stack_lo;
        ctx->uc.uc_stack.ss_size = stack_size;
        ctx->uc.uc_link = NULL;
        ctx->entry = entry;
        ctx->arg = arg;
        makecontext(&ctx->uc, (void (*)(void)) ucontext_entry, 2,
                    (unsigned) ((uint64_t) p >> 32), (unsigned) (p & 0xffffffffu));
}

void co__ctx_switch(co__ctx_t *from, co__ctx_t *to) {
        if (swapcontext(&from->uc, &to->uc) < 0)
                abort();
}

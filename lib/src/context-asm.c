/* SPDX-License-Identifier: MIT */
/* Builds the first frame that co__ctx_switch pops for a new context. */
#include <stdint.h>
#include <string.h>

#include "context.h"

void co__ctx_trampoline(void);

void co__ctx_make(co__ctx_t *ctx, void *stack_lo, size_t stack_size, co__ctx_entry_t entry, void *arg) {
        uintptr_t top = ((uintptr_t) stack_lo + stack_size) & ~(uintptr_t) 15;

#if defined(__x86_64__)
        /* After the final ret, rsp = frame + 64 must be 16-byte aligned for
         * the trampoline's call. */
        uint64_t *frame = (uint64_t *) (top - 80);
        uint32_t mxcsr;
        uint16_t x87cw;

        __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
        __asm__ volatile("fnstcw %0" : "=m"(x87cw));
        memset(frame, 0, 80);
        memcpy((char *) frame, &mxcsr, sizeof mxcsr);
        memcpy((char *) frame + 4, &x87cw, sizeof x87cw);
        frame[1] = 0;                                   /* r15 */
        frame[2] = 0;                                   /* r14 */
        frame[3] = (uint64_t) (uintptr_t) arg;          /* r13 */
        frame[4] = (uint64_t) (uintptr_t) entry;        /* r12 */
        frame[5] = 0;                                   /* rbx */
        frame[6] = 0;                                   /* rbp */
        frame[7] = (uint64_t) (uintptr_t) co__ctx_trampoline;
        ctx->sp = frame;
#elif defined(__aarch64__)
        uint64_t *frame = (uint64_t *) (top - 176);

        memset(frame, 0, 176);
        frame[0] = (uint64_t) (uintptr_t) entry;        /* x19 */
        frame[1] = (uint64_t) (uintptr_t) arg;          /* x20 */
        frame[11] = (uint64_t) (uintptr_t) co__ctx_trampoline; /* x30 */
        ctx->sp = frame;
#else
#  error "no assembly context switch for this architecture: build with make CONTEXT=ucontext"
#endif
}

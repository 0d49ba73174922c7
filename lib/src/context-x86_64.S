/* SPDX-License-Identifier: MIT */
/*
 * co__ctx_switch(co__ctx_t *from, co__ctx_t *to) for x86-64 SysV.
 * Saves the callee-saved registers (rbx, rbp, r12-r15), the MXCSR control
 * bits and the x87 control word on the current stack, stores rsp in from->sp,
 * and restores the same from to->sp. Frame, low to high:
 *   [mxcsr:4][x87cw:2][pad:2] r15 r14 r13 r12 rbx rbp [return address]
 */
#if defined(__CET__) && (__CET__ & 1)
#  define ENDBR endbr64
#else
#  define ENDBR
#endif

        .text
        .globl  co__ctx_switch
        .hidden co__ctx_switch
        .type   co__ctx_switch, @function
        .p2align 4
co__ctx_switch:
        .cfi_startproc
        ENDBR
        pushq   %rbp
        pushq   %rbx
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        subq    $8, %rsp
        stmxcsr (%rsp)
        fnstcw  4(%rsp)
        movq    %rsp, (%rdi)
        movq    (%rsi), %rsp
        ldmxcsr (%rsp)
        fldcw   4(%rsp)
        addq    $8, %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        ret
        .cfi_endproc
        .size   co__ctx_switch, .-co__ctx_switch

/* First code of every new context: co__ctx_make left entry in r12 and its
 * argument in r13, and a 16-byte aligned rsp. entry never returns. */
        .globl  co__ctx_trampoline
        .hidden co__ctx_trampoline
        .type   co__ctx_trampoline, @function
        .p2align 4
co__ctx_trampoline:
        .cfi_startproc
        .cfi_undefined rip
        ENDBR
        movq    %r13, %rdi
        callq   *%r12
        ud2
        .cfi_endproc
        .size   co__ctx_trampoline, .-co__ctx_trampoline

        .section .note.GNU-stack, "", @progbits

#if defined(__CET__) && (__CET__ & 1)
/* Mark the object IBT-compatible (endbr64 above). Not shadow-stack
 * compatible: a context switch changes stacks under ret. */
        .section .note.gnu.property, "a"
        .p2align 3
        .long   4
        .long   16
        .long   5
        .asciz  "GNU"
        .long   0xc0000002
        .long   4
        .long   1
        .p2align 3
#endif

/* SPDX-License-Identifier: MIT */
/*
 * co__ctx_switch(co__ctx_t *from, co__ctx_t *to) for AAPCS64.
 * Saves x19-x30 and d8-d15 (the callee-saved state) on the current stack,
 * stores sp in from->sp and restores the same from to->sp. Frame, 176 bytes:
 *   x19..x30 at 0..88, d8..d15 at 96..152, 16 bytes of padding.
 */
        .text
        .globl  co__ctx_switch
        .hidden co__ctx_switch
        .type   co__ctx_switch, %function
        .p2align 4
co__ctx_switch:
        .cfi_startproc
        hint    #34                     /* bti c */
        sub     sp, sp, #176
        stp     x19, x20, [sp, #0]
        stp     x21, x22, [sp, #16]
        stp     x23, x24, [sp, #32]
        stp     x25, x26, [sp, #48]
        stp     x27, x28, [sp, #64]
        stp     x29, x30, [sp, #80]
        stp     d8,  d9,  [sp, #96]
        stp     d10, d11, [sp, #112]
        stp     d12, d13, [sp, #128]
        stp     d14, d15, [sp, #144]
        mov     x9, sp
        str     x9, [x0]
        ldr     x9, [x1]
        mov     sp, x9
        ldp     x19, x20, [sp, #0]
        ldp     x21, x22, [sp, #16]
        ldp     x23, x24, [sp, #32]
        ldp     x25, x26, [sp, #48]
        ldp     x27, x28, [sp, #64]
        ldp     x29, x30, [sp, #80]
        ldp     d8,  d9,  [sp, #96]
        ldp     d10, d11, [sp, #112]
        ldp     d12, d13, [sp, #128]
        ldp     d14, d15, [sp, #144]
        add     sp, sp, #176
        ret
        .cfi_endproc
        .size   co__ctx_switch, .-co__ctx_switch

/* First code of every new context: entry in x19, its argument in x20. */
        .globl  co__ctx_trampoline
        .hidden co__ctx_trampoline
        .type   co__ctx_trampoline, %function
        .p2align 4
co__ctx_trampoline:
        .cfi_startproc
        .cfi_undefined x30
        hint    #34                     /* bti c */
        mov     x0, x20
        blr     x19
        brk     #0
        .cfi_endproc
        .size   co__ctx_trampoline, .-co__ctx_trampoline

        .section .note.GNU-stack, "", %progbits

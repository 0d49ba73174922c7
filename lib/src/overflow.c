/* SPDX-License-Identifier: MIT */
/*
 * Stack overflow reports. A task that runs into its guard page faults; the
 * SIGSEGV handler, on its own alternate stack (the task's is exhausted),
 * names the task and aborts. Faults elsewhere go to the previous handler.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

#define ALTSTACK_SIZE (64 * 1024)

static struct sigaction previous;
static pthread_once_t handler_once = PTHREAD_ONCE_INIT;
static __thread bool altstack_ready;

static void put(const char *s) {
        (void) !write(STDERR_FILENO, s, strlen(s));
}

static void put_size(size_t n) {
        char d[24];
        size_t i = sizeof d;

        d[--i] = '\0';
        do
                d[--i] = (char) ('0' + n % 10);
        while ((n /= 10) && i > 0);
        put(d + i);
}

/* Async-signal-safe: write(2) and abort(3) only. */
_Noreturn void co__overflow_abort(const co_task_t *t, const char *how) {
        put("task '");
        put(t->name);
        put("' overflowed its ");
        put_size(t->fiber.stack_size);
        put("-byte stack");
        if (how) {
                put(" (");
                put(how);
                put(")");
        }
        put("\n");
        abort();
}

static void on_segv(int sig, siginfo_t *si, void *uctx) {
        co_loop_t *l = co__loop_tls;
        co_task_t *t = l ? l->current : NULL;

        if (t && co__slot_guard_hit(&t->slot, si->si_addr)) {
                signal(SIGABRT, SIG_DFL);
                co__overflow_abort(t, NULL);
        }
        /* Not ours: the previous handler, or the default, gets the fault. */
        if ((previous.sa_flags & SA_SIGINFO) && previous.sa_sigaction) {
                previous.sa_sigaction(sig, si, uctx);
                return;
        }
        if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
                previous.sa_handler(sig);
                return;
        }
        signal(SIGSEGV, SIG_DFL);
}

static void handler_install_once(void) {
        struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO | SA_ONSTACK };

        sigemptyset(&sa.sa_mask);
        (void) sigaction(SIGSEGV, &sa, &previous);
}

void co__overflow_handler_install(void) {
        if (!altstack_ready) {
                stack_t ss = { .ss_size = ALTSTACK_SIZE };
                stack_t old;

                /* Keep an alternate stack the application installed. */
                if (sigaltstack(NULL, &old) == 0 && !(old.ss_flags & SS_DISABLE)) {
                        altstack_ready = true;
                } else {
                        /* One per thread that runs a loop, kept for the
                         * thread's lifetime; mmap'd, since only the kernel
                         * holds on to it. */
                        ss.ss_sp = mmap(NULL, ss.ss_size, PROT_READ | PROT_WRITE,
                                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
                        if (ss.ss_sp != MAP_FAILED && sigaltstack(&ss, NULL) == 0)
                                altstack_ready = true;
                        else if (ss.ss_sp != MAP_FAILED)
                                munmap(ss.ss_sp, ss.ss_size);
                }
        }
        pthread_once(&handler_once, handler_install_once);
}

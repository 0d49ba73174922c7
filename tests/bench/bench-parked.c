/* SPDX-License-Identifier: MIT */
/*
 * bench-parked N: what N tasks parked in co_sleep(3600 s) cost.
 *
 *   parked_floor_N            ms to first-touch N fresh anonymous pages: a
 *                             parked stackful task touches at least one
 *                             stack page, so no runtime creates N tasks
 *                             faster than this on this machine today
 *   parked_create_N           ms from the first spawn until all N tasks
 *                             have run up to their sleep
 *   parked_create_vs_floor_N  their ratio, in one process
 *   parked_rss_N              RSS growth per parked task (B)
 *   parked_pte_N              page-table growth per parked task (B), which
 *                             RSS leaves out
 *   parked_maps_N             lines in /proc/self/maps while parked: each
 *                             one counts against vm.max_map_count
 *   parked_guards_N           % of sampled tasks whose guard page the
 *                             kernel confirms: a guard marker in pagemap
 *                             or a PROT_NONE mapping (a canary is no page)
 *
 * Then the main task returns, which cancels and waits for its children, so
 * the process ends the way a real one would (untimed; shown on stderr).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "cotask/cotask.h"
#include "internal.h"

#define PARK_USEC (3600 * CO_USEC_PER_SEC)
/* Tasks whose guard page is looked up. */
#define GUARD_SAMPLES 64u
/* /proc/self/pagemap: the entry is a guard region (Linux >= 6.15). */
#define PM_GUARD_REGION (UINT64_C(1) << 58)

typedef struct parked_state {
        size_t n;
        size_t started;
        size_t cancelled;       /* sleeps that ended with -ECANCELED */
        size_t other;           /* sleeps that ended any other way */
        uintptr_t guard_pages[GUARD_SAMPLES];
        size_t n_guard_pages;
        long rss0, rss1;
        long pte0, pte1;
        uint64_t t0, t1, t_end;
        long maps;
        double guards;
} parked_state_t;

static size_t page_size;

static void report_n(const char *name, size_t n, double value, const char *unit) {
        printf("name=%s_%zu value=%.2f unit=%s\n", name, n, value, unit);
}

static long rss_bytes(void) {
        FILE *f = fopen("/proc/self/statm", "re");
        long size, resident;

        if (!f || fscanf(f, "%ld %ld", &size, &resident) != 2) {
                perror("bench-parked: /proc/self/statm");
                exit(1);
        }
        fclose(f);
        return resident * (long) page_size;
}

/* Page tables are not in RSS, but a task's stack page costs its share of
 * them: with slots far apart, one page-table page maps only a few tasks. */
static long pte_bytes(void) {
        FILE *f = fopen("/proc/self/status", "re");
        char line[128];
        long kib = -1;

        if (!f) {
                perror("bench-parked: /proc/self/status");
                exit(1);
        }
        while (fgets(line, sizeof line, f))
                if (sscanf(line, "VmPTE: %ld kB", &kib) == 1)
                        break;
        fclose(f);
        return kib * 1024;
}

static long count_maps(void) {
        FILE *f = fopen("/proc/self/maps", "re");
        long lines = 0;
        int c;

        if (!f) {
                perror("bench-parked: /proc/self/maps");
                exit(1);
        }
        while ((c = getc(f)) != EOF)
                lines += c == '\n';
        fclose(f);
        return lines;
}

/* ms to write one byte to each of n fresh pages of one mapping. */
static double touch_pages(size_t n) {
        size_t len = n * page_size;
        volatile char *p;
        uint64_t t0, t1;

        p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) {
                perror("bench-parked: mmap");
                exit(1);
        }
        /* 4 KiB pages, as task stacks get: a huge page would fault in 512
         * pages at once and make the floor meaningless. */
        (void) madvise((void *) p, len, MADV_NOHUGEPAGE);
        t0 = now_ns();
        for (size_t i = 0; i < n; i++)
                p[i * page_size] = 1;
        t1 = now_ns();
        munmap((void *) p, len);
        return (double) (t1 - t0) / 1e6;
}

/* The floor. In a VM, the first touch of guest memory the host has not
 * backed yet costs several times more than a guest page fault; whoever
 * touches it first pays. Touch a little more than the tasks will need once,
 * untimed, so that the floor and the tasks after it both get memory the
 * host has already backed and the ratio compares the guest-side work. */
static double floor_ms(size_t n) {
        double warm = touch_pages(n + n / 2);

        fprintf(stderr, "bench-parked: warm-up touch of %zu pages: %.1f ms\n", n + n / 2, warm);
        return touch_pages(n);
}

static int sleeper(void *arg) {
        parked_state_t *s = arg;
        size_t i = s->started++;
        int r;

        /* The guard page is the lowest page of the task's stack slot. */
        if (i % (s->n / GUARD_SAMPLES + 1) == 0 && s->n_guard_pages < GUARD_SAMPLES) {
                co_task_t *self = co_task_current();

                s->guard_pages[s->n_guard_pages++] = (uintptr_t) self->slot.base;
        }
        r = co_sleep(PARK_USEC);
        if (r == -ECANCELED)
                s->cancelled++;
        else
                s->other++;
        return r;
}

/* Whether addr lies in a PROT_NONE mapping: an mprotect guard page. */
static bool in_prot_none_mapping(uintptr_t addr) {
        FILE *f = fopen("/proc/self/maps", "re");
        unsigned long lo, hi;
        char perms[5];
        bool found = false;
        int c;

        if (!f)
                return false;
        while (!found && fscanf(f, "%lx-%lx %4s", &lo, &hi, perms) == 3) {
                found = addr >= lo && addr < hi && strcmp(perms, "---p") == 0;
                while ((c = getc(f)) != EOF && c != '\n')
                        ;
        }
        fclose(f);
        return found;
}

/* Percentage of the sampled guard pages that really are guards: a guard
 * marker in pagemap (MADV_GUARD_INSTALL) or a PROT_NONE mapping (mprotect);
 * canary-guarded stacks have neither. -1 if pagemap cannot tell. */
static double guards_confirmed(const parked_state_t *s) {
        int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
        size_t ok = 0;

        if (fd < 0 || s->n_guard_pages == 0) {
                if (fd >= 0)
                        close(fd);
                return -1;
        }
        for (size_t i = 0; i < s->n_guard_pages; i++) {
                uint64_t e;

                if (pread(fd, &e, sizeof e, (off_t) (s->guard_pages[i] / page_size * sizeof e)) != sizeof e) {
                        close(fd);
                        return -1;
                }
                ok += (e & PM_GUARD_REGION) != 0 || in_prot_none_mapping(s->guard_pages[i]);
        }
        close(fd);
        return 100.0 * (double) ok / (double) s->n_guard_pages;
}

static int parked_main(void *arg) {
        parked_state_t *s = arg;
        int r;

        s->rss0 = rss_bytes();
        s->pte0 = pte_bytes();
        s->t0 = now_ns();
        for (size_t i = 0; i < s->n; i++) {
                r = co_spawn(NULL, "parked", sleeper, s);
                if (r < 0) {
                        fprintf(stderr, "bench-parked: spawning task %zu: %s\n", i, strerror(-r));
                        return r;
                }
        }
        while (s->started < s->n) {
                r = co_task_yield();
                if (r < 0)
                        return r;
        }
        s->t1 = now_ns();
        s->rss1 = rss_bytes();
        s->pte1 = pte_bytes();
        s->maps = count_maps();
        /* Now: once the tasks end, idle arenas and their guards go. */
        s->guards = guards_confirmed(s);
        /* Returning cancels every child and waits for them all. */
        return 0;
}

int main(int argc, char **argv) {
        parked_state_t *s;
        co_loop_t *loop = NULL;
        co_task_t *main_task = NULL;
        co_outcome_t o = {};
        double floor;
        char *end;
        int r;

        page_size = (size_t) sysconf(_SC_PAGESIZE);
        if (argc != 2) {
                fprintf(stderr, "usage: %s N\n", argv[0]);
                return 2;
        }
        s = calloc(1, sizeof *s);
        if (!s)
                return 1;
        s->n = strtoull(argv[1], &end, 10);
        if (*end || s->n == 0) {
                fprintf(stderr, "usage: %s N (N > 0)\n", argv[0]);
                return 2;
        }

        floor = floor_ms(s->n);

        r = co_loop_new(&loop);
        if (r >= 0)
                r = co_loop_spawn(loop, &main_task, "main", parked_main, s, NULL);
        if (r >= 0)
                r = co_loop_run(loop);
        s->t_end = now_ns();
        if (r < 0 || co_task_get_outcome(main_task, &o) < 0 || o.kind != CO_OUTCOME_RESULT) {
                fprintf(stderr, "bench-parked: run failed: %d, main task outcome %d/%d\n", r, o.kind, o.value);
                return 1;
        }
        co_task_unref(main_task);
        co_loop_free(loop);

        if (s->started != s->n || s->cancelled != s->n || s->other != 0) {
                fprintf(stderr, "bench-parked: %zu started, %zu cancelled, %zu woke otherwise; want %zu, %zu, 0\n",
                        s->started, s->cancelled, s->other, s->n, s->n);
                return 1;
        }

        fprintf(stderr, "bench-parked: %zu tasks: cancel and join all took %.1f ms (untimed)%s\n",
                s->n, (double) (s->t_end - s->t1) / 1e6,
                s->guards < 0 ? "; guard pages not checked: no pagemap" : "");
        report_n("parked_floor", s->n, floor, "ms");
        report_n("parked_create", s->n, (double) (s->t1 - s->t0) / 1e6, "ms");
        report_n("parked_create_vs_floor", s->n, (double) (s->t1 - s->t0) / 1e6 / floor, "x");
        report_n("parked_rss", s->n, (double) (s->rss1 - s->rss0) / (double) s->n, "B");
        if (s->pte0 >= 0 && s->pte1 >= 0)
                report_n("parked_pte", s->n, (double) (s->pte1 - s->pte0) / (double) s->n, "B");
        report_n("parked_maps", s->n, (double) s->maps, "count");
        if (s->guards >= 0)
                report_n("parked_guards", s->n, s->guards, "%");
        free(s);
        return 0;
}

/* SPDX-License-Identifier: MIT */
#pragma once

/* What every benchmark program shares: a clock, the one output format,
 * and its count argument. */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline uint64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* The only thing a benchmark prints on stdout. */
static inline void report(const char *name, double value, const char *unit) {
        printf("name=%s value=%.2f unit=%s\n", name, value, unit);
}

/* argv[1] as a count of at least min, or dflt; exits 2 on nonsense. */
static inline size_t parse_count(int argc, char **argv, size_t dflt, size_t min) {
        char *end;
        unsigned long long v;

        if (argc < 2)
                return dflt;
        v = strtoull(argv[1], &end, 10);
        if (*end || v < min) {
                fprintf(stderr, "usage: %s [N >= %zu]\n", argv[0], min);
                exit(2);
        }
        return (size_t) v;
}

/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "reload-state.h"

#define STATE_FILE "reload-state"
/* How often the client looks: well below what a person notices, well
 * above what costs anything. */
#define POLL_USEC (5 * CO_USEC_PER_MSEC)

static const char *const state_names[] = {
        [RELOAD_STATE_RELOADING] = "reloading",
        [RELOAD_STATE_APPLIED] = "applied",
        [RELOAD_STATE_REJECTED] = "rejected",
};

/* $RUNTIME_DIRECTORY may list several directories: ours is the first. */
static int state_path(char *buf, size_t size) {
        const char *dir = getenv("RUNTIME_DIRECTORY");
        size_t len;

        if (!dir || dir[0] != '/')
                return -ENOENT;
        len = strcspn(dir, ":");
        if ((size_t) snprintf(buf, size, "%.*s/" STATE_FILE, (int) len, dir) >= size)
                return -ENAMETOOLONG;
        return 0;
}

int reload_state_publish(unsigned generation, reload_state_t state) {
        char path[4096], tmp[4096 + 8];
        FILE *f;
        int r;

        r = state_path(path, sizeof path);
        if (r < 0)
                return r == -ENOENT ? 0 : r;
        snprintf(tmp, sizeof tmp, "%s.new", path);
        f = fopen(tmp, "we");
        if (!f)
                return -errno;
        fprintf(f, "generation=%u\nstate=%s\n", generation, state_names[state]);
        if (fclose(f) != 0 || rename(tmp, path) < 0) {
                r = -errno;
                (void) unlink(tmp);
                return r;
        }
        return 0;
}

void reload_state_clear(void) {
        char path[4096];

        if (state_path(path, sizeof path) == 0)
                (void) unlink(path);
}

/* 0 and the generation and state, or -ENOENT / -EBADMSG. */
static int state_read(const char *path, unsigned *ret_generation, reload_state_t *ret_state) {
        char name[16];
        unsigned gen;
        FILE *f = fopen(path, "re");
        int n;

        if (!f)
                return -errno;
        n = fscanf(f, "generation=%u state=%15s", &gen, name);
        fclose(f);
        if (n != 2)
                return -EBADMSG;
        for (size_t i = 0; i < sizeof state_names / sizeof state_names[0]; i++)
                if (strcmp(name, state_names[i]) == 0) {
                        *ret_generation = gen;
                        *ret_state = (reload_state_t) i;
                        return 0;
                }
        return -EBADMSG;
}

int reload_state_request(pid_t pid, co_usec_t timeout_usec) {
        const struct timespec pause = { 0, POLL_USEC * 1000 };
        char path[4096];
        unsigned before, gen;
        reload_state_t state;
        co_usec_t waited = 0;
        int r;

        r = state_path(path, sizeof path);
        if (r < 0)
                return r;
        r = state_read(path, &before, &state);
        if (r < 0)
                return r;
        /* A reload in progress may have read the files before they were
         * changed: only one that starts after our signal counts. */
        if (kill(pid, SIGHUP) < 0)
                return -errno;
        for (;;) {
                r = state_read(path, &gen, &state);
                /* The daemon replaces the file by rename(2): a read never
                 * sees half of it; a missing file means it exited. */
                if (r < 0 && r != -ENOENT)
                        return r;
                if (r == 0 && gen > before && state != RELOAD_STATE_RELOADING)
                        return state == RELOAD_STATE_APPLIED ? 0 : -EPROTO;
                if (kill(pid, 0) < 0)
                        return -errno;
                if (waited >= timeout_usec)
                        return -ETIMEDOUT;
                nanosleep(&pause, NULL);
                waited += POLL_USEC;
        }
}

/* SPDX-License-Identifier: MIT */
/* Sockets passed by systemd: see listen.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "listen.h"

typedef struct listen_fd {
        char *name;
        int fd;
} listen_fd_t;

static listen_fd_t *fds;
static size_t n_fds;

static int fd_set_flags(int fd) {
        int fl = fcntl(fd, F_GETFD);

        if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
                return -errno;
        fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
                return -errno;
        return 0;
}

void listen_fds_done(void) {
        for (size_t i = 0; i < n_fds; i++) {
                if (fds[i].fd >= 0)
                        close(fds[i].fd);
                free(fds[i].name);
        }
        free(fds);
        fds = NULL;
        n_fds = 0;
}

int listen_fds_init(void) {
        char **names = NULL;
        int n, r = 0;

        listen_fds_done();
        n = sd_listen_fds_with_names(1, &names);
        if (n <= 0) {
                for (char **p = names; p && *p; p++)
                        free(*p);
                free(names);
                return n;
        }
        fds = calloc((size_t) n, sizeof *fds);
        if (!fds)
                r = -ENOMEM;
        for (int i = 0; i < n; i++) {
                int fd = SD_LISTEN_FDS_START + i;

                if (r < 0) {
                        close(fd);
                        free(names ? names[i] : NULL);
                        continue;
                }
                fds[i].fd = fd;
                fds[i].name = names && names[i] ? names[i] : strdup("unknown");
                n_fds = (size_t) i + 1;
                if (!fds[i].name)
                        r = -ENOMEM;
                else
                        r = fd_set_flags(fd);
        }
        free(names);
        if (r < 0) {
                listen_fds_done();
                return r;
        }
        return n;
}

int listen_fd_get(const char *name) {
        for (size_t i = 0; i < n_fds; i++)
                if (fds[i].fd >= 0 && strcmp(fds[i].name, name) == 0) {
                        int fd = fcntl(fds[i].fd, F_DUPFD_CLOEXEC, 3);

                        return fd < 0 ? -errno : fd;
                }
        return -ENOENT;
}

/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

/* After a call failed with errno: 0 to try it again (it was interrupted,
 * or the descriptor is ready now), else the error. */
static int again(int fd, unsigned events, co_usec_t deadline) {
        int r;

        if (errno == EINTR)
                return 0;
        if (errno != EAGAIN)
                return -errno;
        r = co_fd_wait(fd, events, deadline);
        return r < 0 ? r : 0;
}

ssize_t co_read(int fd, void *buf, size_t size, co_usec_t deadline) {
        for (;;) {
                ssize_t n = read(fd, buf, size);
                int r;

                if (n >= 0)
                        return n;
                r = again(fd, CO_FD_READABLE, deadline);
                if (r < 0)
                        return r;
        }
}

ssize_t co_write_all(int fd, const void *buf, size_t size, co_usec_t deadline) {
        const char *p = buf;
        size_t done = 0;
        bool socket = true;

        while (done < size) {
                /* A peer that went away is -EPIPE, not a SIGPIPE. */
                ssize_t n = socket ? send(fd, p + done, size - done, MSG_NOSIGNAL) : write(fd, p + done, size - done);
                int r;

                if (n >= 0) {
                        done += (size_t) n;
                        continue;
                }
                if (errno == ENOTSOCK) {
                        socket = false;
                        continue;
                }
                r = again(fd, CO_FD_WRITABLE, deadline);
                if (r < 0)
                        return r;
        }
        return (ssize_t) size;
}

int co_accept(int fd, struct sockaddr *ret_addr, socklen_t *ret_len, co_usec_t deadline) {
        for (;;) {
                int c = accept4(fd, ret_addr, ret_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
                int r;

                if (c >= 0)
                        return c;
                /* The client gave up before we got to it: next one. */
                if (errno == ECONNABORTED)
                        continue;
                r = again(fd, CO_FD_READABLE, deadline);
                if (r < 0)
                        return r;
        }
}

int co_connect(int fd, const struct sockaddr *addr, socklen_t len, co_usec_t deadline) {
        int err = 0, r;
        socklen_t elen = sizeof err;

        if (connect(fd, addr, len) == 0)
                return 0;
        if (errno != EINPROGRESS && errno != EINTR)
                return -errno;
        r = co_fd_wait(fd, CO_FD_WRITABLE, deadline);
        if (r < 0)
                return r;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
                return -errno;
        return err ? -err : 0;
}

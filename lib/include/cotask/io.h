/* SPDX-License-Identifier: MIT */
#ifndef COTASK_IO_H
#define COTASK_IO_H

/* Non-blocking descriptors, the straight-line way: each call waits (in
 * co_fd_wait) whenever the kernel says EAGAIN, up to an absolute deadline.
 * The descriptors must be O_NONBLOCK. Included by <cotask/cotask.h>. */

#include <sys/socket.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Reads at least one byte: the count, 0 at end of file, or -errno. */
CO_EXPORT ssize_t co_read(int fd, void *buf, size_t size, co_usec_t deadline);
/* Writes all of buf: size, or -errno (what was written before an error is
 * gone to the peer). On a socket, a vanished peer is -EPIPE, never a
 * SIGPIPE. */
CO_EXPORT ssize_t co_write_all(int fd, const void *buf, size_t size, co_usec_t deadline);
/* accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC: the new descriptor or -errno. */
CO_EXPORT int co_accept(int fd, struct sockaddr *ret_addr, socklen_t *ret_len, co_usec_t deadline);
/* connect, waiting for an in-progress connection to finish. */
CO_EXPORT int co_connect(int fd, const struct sockaddr *addr, socklen_t len, co_usec_t deadline);

#ifdef __cplusplus
}
#endif

#endif

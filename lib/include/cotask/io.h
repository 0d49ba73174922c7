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

/*
 * A descriptor registered with a loop for as long as it is used: the
 * cheap way to do a lot of I/O on one descriptor (a connection, a pipe).
 * The calls above register and unregister the descriptor on every wait
 * (two epoll_ctl calls) and try the system call before each wait (often a
 * read that fails with EAGAIN); a handle keeps its registration and
 * remembers what the kernel last said, so that a request/response
 * connection costs one read and one write per message, like a hand-written
 * callback server.
 *
 * The handle does not own the descriptor: free the handle (which
 * unregisters it), then close the descriptor. Closing first would leave
 * the loop watching a number the kernel may give to the next open file.
 * The descriptor must be O_NONBLOCK and one epoll can watch (a socket, a
 * pipe, a FIFO, a terminal, an eventfd; not a regular file).
 *
 * The calls follow co_read's: they try the system call at once unless the
 * handle knows it would fail with EAGAIN (it failed so, or a read or write
 * came back short, which on a stream means the buffer was drained or
 * filled), and wait when it would; only waiting looks at cancellation
 * (-ECANCELED) and the absolute deadline (-ETIMEDOUT). Any number of tasks
 * of the handle's loop may wait on one handle: a readiness report wakes
 * every task waiting for it, and each retries (one may find nothing left
 * and wait again). Freeing a handle wakes the tasks waiting on it with
 * -EBADF; they do not touch it after that.
 */
typedef struct co_fd co_fd_t;

/* A handle for fd on loop (NULL: the running task's loop; -EPERM outside
 * a task). Registers nothing yet: the first wait does. */
CO_EXPORT int co_fd_new(co_fd_t **ret_handle, co_loop_t *loop, int fd);
/* Unregisters and frees (from the loop's thread); the descriptor stays
 * open. NULL-safe; returns NULL. */
CO_EXPORT co_fd_t *co_fd_free(co_fd_t *handle);

/*
 * A poller: descriptors registered with an epoll of its own, which the
 * loop watches as one descriptor; for many connections that end together,
 * as a server's do at its shutdown. A handle of a poller works as any
 * other, but freeing it unregisters nothing, which saves an epoll_ctl per
 * descriptor (about 1 us with 10k registered, a lookup in the kernel's
 * tree): the kernel drops a descriptor from an epoll by itself once its
 * last descriptor is closed. So close the descriptor right after freeing
 * its handle, from any thread (the poller never touches a descriptor
 * without a handle, which another thread may be closing): until then,
 * input or a hang-up on it is reported on every poll, and the loop does
 * not sleep. Linux only.
 */
typedef struct co_poller co_poller_t;

/* A poller on loop (NULL: the running task's loop; -EPERM outside a task). */
CO_EXPORT int co_poller_new(co_poller_t **ret_poller, co_loop_t *loop);
/* Frees the poller, whose handles must have been freed (from the loop's
 * thread): with some left, logs an error and leaves it allocated, not to
 * free it under them. NULL-safe; returns NULL. */
CO_EXPORT co_poller_t *co_poller_free(co_poller_t *poller);
/* A handle for fd on the poller: as co_fd_new; -EBUSY if the poller
 * already has a handle for fd. */
CO_EXPORT int co_fd_new_polled(co_fd_t **ret_handle, co_poller_t *poller, int fd);
/* Hands the reports the poller's epoll holds now to their handles, as the
 * loop does when it polls, without waiting (one epoll_wait, more if it
 * has more than 64): then co_fd_is_readable knows of input that came
 * since the loop last polled. 0 or -errno. */
CO_EXPORT int co_poller_poll(co_poller_t *poller);
CO_EXPORT int co_fd_get_fd(const co_fd_t *handle);
/* Whether a read is worth trying: nothing has been read yet, or the loop
 * (or co_poller_poll) reported input or its end since the last read that
 * found nothing left, or the last read filled its buffer. What the handle
 * knows, not what the kernel has now: no system call. */
CO_EXPORT bool co_fd_is_readable(const co_fd_t *handle);
/* Reads at least one byte: the count, 0 at end of file, or -errno. */
CO_EXPORT ssize_t co_fd_read(co_fd_t *handle, void *buf, size_t size, co_usec_t deadline);
/* Writes at least one byte (on a socket without SIGPIPE): the count or
 * -errno. For writers that must keep count across a cancellation. */
CO_EXPORT ssize_t co_fd_write(co_fd_t *handle, const void *buf, size_t size, co_usec_t deadline);
/* Writes all of buf: size, or -errno, like co_write_all. */
CO_EXPORT ssize_t co_fd_write_all(co_fd_t *handle, const void *buf, size_t size, co_usec_t deadline);
/* co_accept on a listening socket's handle: the new descriptor or -errno.
 * The listener stays registered between bursts of connections (each burst
 * ends with one accept4 that fails with EAGAIN, as in any server); a
 * report that comes while nobody accepts unregisters it until the next
 * wait. */
CO_EXPORT int co_fd_accept(co_fd_t *handle, struct sockaddr *ret_addr, socklen_t *ret_len, co_usec_t deadline);
/* For system calls of one's own on the descriptor (recvmsg,
 * splice): after one failed with EAGAIN, waits until the loop reports the
 * descriptor readable (writable) again; 0 or -errno. A call that did not
 * fail costs a trip through the loop. */
CO_EXPORT int co_fd_wait_readable(co_fd_t *handle, co_usec_t deadline);
CO_EXPORT int co_fd_wait_writable(co_fd_t *handle, co_usec_t deadline);

#ifdef __cplusplus
}
#endif

#endif

/* SPDX-License-Identifier: MIT */
#pragma once

/* Sockets passed by systemd (socket activation, sd_listen_fds(3)), looked
 * up by their FileDescriptorName= (LISTEN_FDNAMES) for "listen = systemd:NAME".
 *
 * Loop thread only (or before the loop runs): no locking. */

/* Takes the passed sockets over: called once at daemon start. Unsets
 * LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES, marks every fd CLOEXEC and
 * O_NONBLOCK, and remembers name -> fd (an unnamed fd is "unknown", as
 * systemd names it). Returns how many fds were passed (0: none), or -errno.
 * Calling it again after listen_fds_done() takes whatever the environment
 * passes then. */
int listen_fds_init(void);

/* A new descriptor (dup, CLOEXEC, sharing O_NONBLOCK) of the socket passed
 * as NAME, so that every run of a task gets its own and may close it:
 * the fd, -ENOENT if no socket has that name, or -errno. If several sockets
 * share the name, the first. */
int listen_fd_get(const char *name);

/* Closes the passed sockets and forgets them. Idempotent. */
void listen_fds_done(void);

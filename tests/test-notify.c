/* SPDX-License-Identifier: MIT */
/* sd_notify messages, received by a real NOTIFY_SOCKET listener. */
#include <errno.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "notify.h"
#include "test-util.h"

typedef struct listener {
        int fd;
        char path[108];
} listener_t;

static void listener_open(listener_t *l) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int one = 1;

        snprintf(l->path, sizeof l->path, "/tmp/cotask-notify-%d", (int) getpid());
        unlink(l->path);
        l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        assert_true(l->fd >= 0);
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", l->path);
        assert_int_equal(bind(l->fd, (struct sockaddr *) &sa, sizeof sa), 0);
        /* As systemd does: credentials tell who sent it. */
        assert_int_equal(setsockopt(l->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one), 0);
        /* A message that never comes fails the test rather than hangs it. */
        assert_int_equal(setsockopt(l->fd, SOL_SOCKET, SO_RCVTIMEO,
                                    &(struct timeval) { .tv_sec = 10 }, sizeof(struct timeval)), 0);
        assert_int_equal(setenv("NOTIFY_SOCKET", l->path, 1), 0);
}

static void listener_close(listener_t *l) {
        close(l->fd);
        unlink(l->path);
        unsetenv("NOTIFY_SOCKET");
        unsetenv("WATCHDOG_USEC");
        unsetenv("WATCHDOG_PID");
}

/* The next datagram, with the sender's pid checked. */
static void expect(listener_t *l, const char *want) {
        char buf[512], cbuf[CMSG_SPACE(sizeof(struct ucred))];
        struct iovec iov = { buf, sizeof buf - 1 };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                             .msg_controllen = sizeof cbuf };
        struct cmsghdr *c;
        ssize_t n = recvmsg(l->fd, &mh, 0);

        assert_true(n > 0);
        buf[n] = '\0';
        if (strncmp(want, buf, strlen(want)) != 0)
                fail_msg("got '%s', want '%s...'", buf, want);
        c = CMSG_FIRSTHDR(&mh);
        assert_non_null(c);
        assert_int_equal(((struct ucred *) CMSG_DATA(c))->pid, getpid());
}

static void test_notify_states(void **state) {
        listener_t l;

        listener_open(&l);
        assert_int_equal(notify_ready(), 0);
        expect(&l, "READY=1");
        assert_int_equal(notify_reloading(), 0);
        expect(&l, "RELOADING=1\nMONOTONIC_USEC=");
        assert_int_equal(notify_status("%d tasks: %d running", 3, 3), 0);
        expect(&l, "STATUS=3 tasks: 3 running");
        assert_int_equal(notify_stopping(), 0);
        expect(&l, "STOPPING=1");
        listener_close(&l);
        /* No socket: nothing to do, no error. */
        assert_int_equal(notify_ready(), 0);
}

static int ping_a_while(void *arg) {
        spawn_and_cancel_after("watchdog", notify_watchdog_task, NULL, msec(70));
        return 0;
}

static void test_notify_watchdog_pings_at_half_interval(void **state) {
        listener_t l;
        char pid[16];

        listener_open(&l);
        snprintf(pid, sizeof pid, "%d", (int) getpid());
        setenv("WATCHDOG_PID", pid, 1);
        setenv("WATCHDOG_USEC", "40000", 1);
        assert_int_equal(notify_watchdog_usec(), 40000);
        assert_int_equal(run_main(ping_a_while, NULL).kind, CO_OUTCOME_RESULT);
        /* At 0, 20, 40 (and 60) ms of the 70. */
        expect(&l, "WATCHDOG=1");
        expect(&l, "WATCHDOG=1");
        expect(&l, "WATCHDOG=1");
        /* For another process: not ours to ping. */
        setenv("WATCHDOG_PID", "1", 1);
        assert_int_equal(notify_watchdog_usec(), 0);
        listener_close(&l);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_notify_states),
                cmocka_unit_test(test_notify_watchdog_pings_at_half_interval),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}

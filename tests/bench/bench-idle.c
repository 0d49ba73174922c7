/* SPDX-License-Identifier: MIT */
/*
 * bench-idle COTASKD [MS]: wake-ups per second of an idle cotaskd. The conf
 * has one tcp-echo task and nothing periodic (no heartbeat, no exec; no
 * WATCHDOG_USEC, so no watchdog pings). Once READY=1 has come and one echo
 * round trip has worked, and after a settling pause, it counts the
 * daemon's context switches (voluntary + involuntary, summed over every
 * thread in /proc/PID/task/TID/status: each wake-up of a sleeping thread
 * is at least one) over MS milliseconds (default 2000), and prints them
 * per second as "idle". Target: 0. The daemon must still be running
 * after the window and exit 0 on SIGTERM.
 */
#include "bench-proc.h"

/* READY=1 promises the echo service: one round trip. */
static void check_echo(uint16_t port) {
        char buf[8];
        int fd = connect_loopback(port);

        if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval) { .tv_sec = 5 }, sizeof(struct timeval)) < 0 ||
            write(fd, "idle?", 5) != 5 || recv(fd, buf, 5, MSG_WAITALL) != 5 || memcmp(buf, "idle?", 5) != 0)
                fail("echo on port %u failed", port);
        close(fd);
}

int main(int argc, char **argv) {
        unsigned long ms = 2000;
        uint16_t port = free_port();
        uint64_t c0, c1, t0, t1;
        conf_dir_t conf = {};
        char text[256];
        notify_t n;
        pid_t pid;

        bench_name = "bench-idle";
        if (argc == 3)
                ms = strtoul(argv[2], NULL, 10);
        if ((argc != 2 && argc != 3) || ms < 100) {
                fprintf(stderr, "usage: bench-idle COTASKD [MS >= 100]\n");
                return 2;
        }
        snprintf(text, sizeof text,
                 "[daemon]\nlog_level = warning\n\n"
                 "[task echo]\ntype = tcp-echo\nlisten = 127.0.0.1:%u\n", port);
        conf_write(&conf, text);
        notify_open(&n);
        pid = spawn_cotaskd(argv[1], conf.path);
        notify_wait_ready(&n, pid, 10000);
        check_echo(port);
        /* The connection's end, the log writer's last records: let them pass. */
        usleep(300 * 1000);

        c0 = proc_ctxt_switches(pid);
        t0 = now_ns();
        usleep((useconds_t) ms * 1000);
        c1 = proc_ctxt_switches(pid);
        t1 = now_ns();

        if (kill(pid, 0) < 0)
                fail("cotaskd is gone");
        stop_server(pid, "cotaskd");
        notify_close(&n);
        conf_remove(&conf);
        report("idle", (double) (c1 - c0) / ((double) (t1 - t0) / 1e9), "Hz");
        return 0;
}

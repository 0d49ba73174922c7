/* SPDX-License-Identifier: MIT */
/*
 * bench-ready COTASKD CONF [RUNS]: how long cotaskd takes from its exec to
 * READY=1 on the documented default configuration (CONF,
 * config/cotaskd.conf: a heartbeat, an exec'd shell loop, a tcp-echo).
 * The conf is copied 0600 into a private directory with its tcp-echo moved
 * from 127.0.0.1:7007, which may be busy, to a free port. Each run (default
 * 11) starts the daemon under a real NOTIFY_SOCKET listener (a datagram
 * socket with SO_PASSCRED, as systemd's) and times fork+exec to the
 * datagram with READY=1 from the daemon's pid. READY=1 promises a
 * listening echo service: one round trip must work at once, without
 * retrying; then SIGTERM must end the daemon with status 0. Prints the
 * median (ms) as "ready", and the slowest run as "ready_max".
 */
#include "bench-proc.h"

#define MAX_RUNS 101

/* CONF with its "listen = ..." line (there must be one) on PORT. */
static char *conf_with_port(const char *path, uint16_t port) {
        char line[512], *text = NULL;
        size_t size = 0;
        unsigned n_listen = 0;
        FILE *in = fopen(path, "re"), *out = open_memstream(&text, &size);

        if (!in || !out)
                fail("%s: %s", path, strerror(errno));
        while (fgets(line, sizeof line, in)) {
                if (strncmp(line, "listen", 6) == 0 && strchr(line, '=')) {
                        fprintf(out, "listen = 127.0.0.1:%u\n", port);
                        n_listen++;
                } else {
                        fputs(line, out);
                }
        }
        fclose(in);
        if (fclose(out) != 0 || n_listen != 1)
                fail("%s: want one listen line, found %u", path, n_listen);
        return text;
}

/* One echo round trip on a fresh connection, with no retry. */
static void check_echo(uint16_t port) {
        struct sockaddr_in in = loopback(port);
        char buf[8];
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0 || connect(fd, (struct sockaddr *) &in, sizeof in) < 0)
                fail("READY=1 came, but port %u refuses: %s", port, strerror(errno));
        if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval) { .tv_sec = 5 }, sizeof(struct timeval)) < 0 ||
            write(fd, "ready?", 6) != 6 || recv(fd, buf, 6, MSG_WAITALL) != 6 || memcmp(buf, "ready?", 6) != 0)
                fail("echo on port %u: %s", port, strerror(errno));
        close(fd);
}

/* fork+exec to READY=1, ns. */
static uint64_t one_run(const char *cotaskd, const char *conf, uint16_t port, notify_t *n) {
        uint64_t t0 = now_ns(), t1;
        pid_t pid = spawn_cotaskd(cotaskd, conf);

        t1 = notify_wait_ready(n, pid, 10000);
        check_echo(port);
        /* At once: the exec child may still be between fork() and exec(),
         * which the daemon must (and once did not) survive. */
        stop_server(pid, "cotaskd");
        notify_drain(n);
        return t1 - t0;
}

int main(int argc, char **argv) {
        uint64_t t[MAX_RUNS];
        unsigned long runs = 11;
        conf_dir_t conf = {};
        uint16_t port;
        notify_t n;
        char *text;

        bench_name = "bench-ready";
        if (argc == 4)
                runs = strtoul(argv[3], NULL, 10);
        if ((argc != 3 && argc != 4) || runs < 1 || runs > MAX_RUNS) {
                fprintf(stderr, "usage: bench-ready COTASKD CONF [RUNS <= %d]\n", MAX_RUNS);
                return 2;
        }
        port = free_port();
        text = conf_with_port(argv[2], port);
        conf_write(&conf, text);
        free(text);
        notify_open(&n);
        for (unsigned long i = 0; i < runs; i++)
                t[i] = one_run(argv[1], conf.path, port, &n);
        notify_close(&n);
        conf_remove(&conf);
        report("ready", (double) quantile(t, runs, 0.5) / 1e6, "ms");
        /* quantile() sorted them. */
        report("ready_max", (double) t[runs - 1] / 1e6, "ms");
        return 0;
}

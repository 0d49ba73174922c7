/* SPDX-License-Identifier: MIT */
/*
 * Tutorial example 10: first responder wins. Two services on loopback
 * answer after different delays; both are asked at once, the first answer
 * is used and the other request is cancelled, its socket closed in its
 * cleanup. Nothing is left running, leaked or unreported.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include "example.h"

typedef struct service {
        const char *name;
        double delay;
        int listen_fd;
        struct sockaddr_in addr;
} service_t;

static int listen_loopback(service_t *s) {
        socklen_t len = sizeof s->addr;

        s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (s->listen_fd < 0)
                return -errno;
        s->addr = (struct sockaddr_in) { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        if (bind(s->listen_fd, (struct sockaddr *) &s->addr, sizeof s->addr) < 0 ||
            listen(s->listen_fd, 16) < 0 ||
            getsockname(s->listen_fd, (struct sockaddr *) &s->addr, &len) < 0)
                return -errno;
        return 0;
}

/* One connection: wait the service's delay, answer, close. */
static int serve(void *arg) {
        service_t *s = arg;
        int c, r;

        c = co_accept(s->listen_fd, NULL, NULL, CO_USEC_INFINITY);
        if (c < 0)
                return c;
        CO_TRY {
                char q[16];

                r = (int) co_read(c, q, sizeof q, CO_USEC_INFINITY);
                if (r < 0)
                        CO_LEAVE;
                r = co_sleep(seconds(s->delay));
                if (r < 0)
                        CO_LEAVE;
                r = (int) co_write_all(c, s->name, strlen(s->name), CO_USEC_INFINITY);
        } CO_FINALLY {
                close(c);
        } CO_END_TRY;
        return r < 0 ? r : 0;
}

typedef struct query {
        service_t *service;
        char answer[32];
        bool cleaned;
} query_t;

static int ask(void *arg) {
        query_t *q = arg;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), r;

        if (fd < 0)
                return -errno;
        CO_TRY {
                ssize_t n;

                r = co_connect(fd, (struct sockaddr *) &q->service->addr, sizeof q->service->addr,
                               CO_USEC_INFINITY);
                if (r < 0)
                        CO_LEAVE;
                n = co_write_all(fd, "?", 1, CO_USEC_INFINITY);
                if (n >= 0)
                        n = co_read(fd, q->answer, sizeof q->answer - 1, CO_USEC_INFINITY);
                r = n < 0 ? (int) n : 0;
        } CO_FINALLY {
                close(fd);
                q->cleaned = true;
        } CO_END_TRY;
        return r;
}

static int main_task(void *arg) {
        service_t svc[2] = { { "fast", 1, -1, { 0 } }, { "slow", 3, -1, { 0 } } };
        query_t q[2] = { { .service = &svc[0] }, { .service = &svc[1] } };
        co_task_t *servers[2] = { NULL, NULL }, *asks[2] = { NULL, NULL }, *order[2];
        size_t n_done = 0;
        int r = 0;

        (void) arg;
        for (int i = 0; i < 2 && r >= 0; i++) {
                r = listen_loopback(&svc[i]);
                if (r >= 0)
                        r = co_spawn(&servers[i], svc[i].name, serve, &svc[i]);
        }
        printf("asking both services\n");
        for (int i = 0; i < 2 && r >= 0; i++)
                r = co_spawn(&asks[i], i == 0 ? "ask-fast" : "ask-slow", ask, &q[i]);
        if (r >= 0) {
                memcpy(order, asks, sizeof order);
                r = co_wait(order, 2, CO_WAIT_FIRST_COMPLETED, CO_USEC_INFINITY, &n_done);
        }
        if (r >= 0 && n_done > 0) {
                query_t *winner = order[0] == asks[0] ? &q[0] : &q[1];
                co_outcome_t o;

                printf("first answer: %s\n", winner->answer);
                /* The loser: cancel it, and join it so its outcome is read. */
                co_task_cancel(order[1], "another service answered first");
                (void) co_task_join(order[1], &o);
                if (o.kind == CO_OUTCOME_CANCELLED && (winner == &q[0] ? q[1] : q[0]).cleaned)
                        printf("the other request was cancelled and cleaned up\n");
                (void) co_task_join(order[0], NULL);
        }
        for (int i = 0; i < 2; i++) {
                co_task_cancel(servers[i], "shutting down");
                (void) co_task_join(servers[i], NULL);
                co_task_unref(servers[i]);
                co_task_unref(asks[i]);
                if (svc[i].listen_fd >= 0)
                        close(svc[i].listen_fd);
        }
        return r;
}

int main(int argc, char **argv) {
        example_init(argc, argv);
        return example_run(main_task, NULL);
}

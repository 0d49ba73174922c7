/* SPDX-License-Identifier: MIT */
/* The tcp-echo task type: echo, max_connections, idle_timeout, shutdown,
 * a blocked echo beside a busy connection (they share the read buffer),
 * shutdown in a process that cannot start threads, errors, and systemd
 * socket activation (systemd-socket-activate). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "conf.h"
#include "listen.h"
#include "tasks/tasks.h"
#include "test-util.h"

static char self_path[PATH_MAX];

/* ---- helpers --------------------------------------------------------------- */

static void conf_freep(conf_t **c) {
        conf_free(*c);
}
#define _cleanup_conf_ _cleanup_(conf_freep)

/* Loads TEXT from a private temporary file. */
static conf_t *load_conf_text(const char *text) {
        char dir[] = "/tmp/test-tcp-echo-XXXXXX", path[64];
        conf_t *c = NULL;
        FILE *f;
        int fd;

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/main.conf", dir);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        f = fdopen(fd, "w");
        assert_non_null(f);
        assert_true(fputs(text, f) >= 0);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(conf_load(path, &c, NULL), 0);
        assert_int_equal(remove_tree(dir), 0);
        return c;
}

static conf_t *load_echo_conf(uint16_t port, const char *extra) {
        char text[512];

        snprintf(text, sizeof text, "[task echo]\ntype = tcp-echo\nlisten = 127.0.0.1:%u\n%s", port,
                 extra ?: "");
        return load_conf_text(text);
}

/* A port nobody listens on right now. */
static uint16_t free_port(void) {
        struct sockaddr_in in = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof in;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &in, sizeof in), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &in, &len), 0);
        close(fd);
        return ntohs(in.sin_port);
}

static struct sockaddr_in loopback(uint16_t port) {
        return (struct sockaddr_in) {
                .sin_family = AF_INET,
                .sin_port = htons(port),
                .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
        };
}

/* From a task: a connected nonblocking socket, or -errno of the connect. */
static int client_connect_once(uint16_t port, int rcvbuf) {
        struct sockaddr_in in = loopback(port);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), r;

        assert_true(fd >= 0);
        if (rcvbuf > 0)
                assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf), 0);
        r = co_connect(fd, (struct sockaddr *) &in, sizeof in, co_deadline_after(5 * CO_USEC_PER_SEC));
        if (r < 0) {
                close(fd);
                return r;
        }
        return fd;
}

/* The same, waiting for the server to listen. */
static int client_connect(uint16_t port) {
        for (int i = 0; i < 500; i++) {
                int fd = client_connect_once(port, 0);

                if (fd != -ECONNREFUSED) {
                        assert_true(fd >= 0);
                        return fd;
                }
                assert_int_equal(co_sleep(msec(10)), 0);
        }
        fail_msg("nobody listens on port %u", port);
        return -1;
}

/* Reads exactly size bytes. */
static ssize_t read_exactly(int fd, void *buf, size_t size, co_usec_t deadline) {
        size_t got = 0;

        while (got < size) {
                ssize_t n = co_read(fd, (char *) buf + got, size - got, deadline);

                if (n <= 0)
                        return n;
                got += (size_t) n;
        }
        return (ssize_t) got;
}

static void round_trip(int fd, const char *msg) {
        size_t len = strlen(msg);
        char buf[256];

        assert_true(len < sizeof buf);
        assert_int_equal(co_write_all(fd, msg, len, co_deadline_after(5 * CO_USEC_PER_SEC)), (ssize_t) len);
        assert_int_equal(read_exactly(fd, buf, len, co_deadline_after(5 * CO_USEC_PER_SEC)), (ssize_t) len);
        buf[len] = '\0';
        assert_string_equal(buf, msg);
}

static int echo_server(void *arg) {
        const conf_task_t *conf = arg;

        return conf->type->run(conf);
}

static co_task_t *start_server(const conf_t *c) {
        co_task_t *t = NULL;

        assert_int_equal(co_spawn(&t, "echo", echo_server, (void *) conf_task_by_name(c, "echo")), 0);
        return t;
}

static void stop_server(co_task_t *t) {
        co_outcome_t o;

        co_task_cancel(t, "test done");
        assert_int_equal(co_task_join(t, &o), 0);
        assert_int_equal(o.kind, CO_OUTCOME_CANCELLED);
        assert_int_equal(o.value, -ECANCELED);
}

/* ---- echo on several connections at once ------------------------------------ */

typedef struct client_arg {
        uint16_t port;
        int id;
} client_arg_t;

static int echo_client(void *arg) {
        client_arg_t *a = arg;
        _cleanup_close_ int fd = client_connect(a->port);
        char msg[64];

        for (int i = 0; i < 20; i++) {
                snprintf(msg, sizeof msg, "client %d message %d", a->id, i);
                round_trip(fd, msg);
                if (i % 5 == 0)
                        assert_int_equal(co_task_yield(), 0);
        }
        return 0;
}

static int main_round_trips(void *arg) {
        uint16_t port = free_port();
        _cleanup_conf_ conf_t *c = load_echo_conf(port, NULL);
        _cleanup_task_ co_task_t *server = start_server(c);
        co_task_t *clients[8] = {};
        client_arg_t args[8];
        co_outcome_t o[8];

        for (int i = 0; i < 8; i++) {
                args[i] = (client_arg_t) { port, i };
                assert_int_equal(co_spawn(&clients[i], "client", echo_client, &args[i]), 0);
        }
        assert_int_equal(co_gather(clients, 8, 0, o), 0);
        for (int i = 0; i < 8; i++) {
                assert_int_equal(o[i].kind, CO_OUTCOME_RESULT);
                co_task_unref(clients[i]);
        }
        stop_server(server);
        return 0;
}

static void test_tcp_echo_round_trips(void **state) {
        assert_int_equal(run_main(main_round_trips, NULL).kind, CO_OUTCOME_RESULT);
}

/* ---- max_connections ---------------------------------------------------------- */

static int main_max_connections(void *arg) {
        uint16_t port = free_port();
        _cleanup_conf_ conf_t *c = load_echo_conf(port, "max_connections = 3\n");
        _cleanup_task_ co_task_t *server = start_server(c);
        int fds[4];
        char buf[8];

        for (int i = 0; i < 3; i++) {
                fds[i] = client_connect(port);
                round_trip(fds[i], "served");
        }
        /* The kernel completes the 4th handshake, but it stays in the backlog. */
        fds[3] = client_connect(port);
        assert_int_equal(co_write_all(fds[3], "4th", 3, CO_USEC_INFINITY), 3);
        assert_int_equal(co_read(fds[3], buf, sizeof buf, co_deadline_after(msec(300))), -ETIMEDOUT);
        round_trip(fds[1], "still served");

        close(fds[0]);
        assert_int_equal(read_exactly(fds[3], buf, 3, co_deadline_after(5 * CO_USEC_PER_SEC)), 3);
        assert_memory_equal(buf, "4th", 3);
        round_trip(fds[3], "now served");

        stop_server(server);
        for (int i = 1; i < 4; i++)
                close(fds[i]);
        return 0;
}

static void test_tcp_echo_max_connections(void **state) {
        assert_int_equal(run_main(main_max_connections, NULL).kind, CO_OUTCOME_RESULT);
}

/* ---- idle_timeout ---------------------------------------------------------------- */

static int main_idle_timeout(void *arg) {
        uint16_t port = free_port();
        _cleanup_conf_ conf_t *c = load_echo_conf(port, "idle_timeout = 200ms\n");
        _cleanup_task_ co_task_t *server = start_server(c);
        _cleanup_close_ int fd = client_connect(port), busy = client_connect(port);
        co_usec_t start;
        char buf[8];

        round_trip(fd, "hello");
        start = co_now();
        /* The other one keeps talking and stays open. */
        for (int i = 0; i < 6; i++) {
                round_trip(busy, "chatty");
                assert_int_equal(co_sleep(msec(60)), 0);
        }
        assert_int_equal(co_read(fd, buf, sizeof buf, co_deadline_after(5 * CO_USEC_PER_SEC)), 0);
        assert_true(co_now() - start >= msec(150));
        round_trip(busy, "still open");
        stop_server(server);
        return 0;
}

static void test_tcp_echo_idle_timeout(void **state) {
        assert_int_equal(run_main(main_idle_timeout, NULL).kind, CO_OUTCOME_RESULT);
}

/* ---- shutdown with open connections --------------------------------------------- */

static int main_cancel_open(void *arg) {
        uint16_t port = free_port();
        _cleanup_conf_ conf_t *c = load_echo_conf(port, NULL);
        _cleanup_task_ co_task_t *server = start_server(c);
        int fds[10];
        co_usec_t start;
        char buf[8];

        for (int i = 0; i < 10; i++) {
                fds[i] = client_connect(port);
                round_trip(fds[i], "before");
        }
        start = co_now();
        stop_server(server);
        /* Idle connections close at once, no lingering. */
        assert_true(co_now() - start < msec(500));
        for (int i = 0; i < 10; i++) {
                /* A clean end of file, not a reset. */
                assert_int_equal(co_read(fds[i], buf, sizeof buf, co_deadline_after(5 * CO_USEC_PER_SEC)), 0);
                close(fds[i]);
        }
        assert_int_equal(client_connect_once(port, 0), -ECONNREFUSED);
        return 0;
}

static void test_tcp_echo_cancel_open_connections(void **state) {
        assert_int_equal(run_main(main_cancel_open, NULL).kind, CO_OUTCOME_RESULT);
}

/* Linked with -Wl,--wrap=close (see the Makefile): a close() that finds no
 * descriptor is counted. The closing thread and the run's cleanup share
 * the batches; a batch closed by both would close each descriptor twice
 * (or, once its number is reused, somebody else's). */
int __real_close(int fd);
int __wrap_close(int fd);

static atomic_int closes_of_no_descriptor;

int __wrap_close(int fd) {
        int r = __real_close(fd);

        if (r < 0 && errno == EBADF && fd >= 0)
                atomic_fetch_add(&closes_of_no_descriptor, 1);
        return r;
}

/* Enough connections for several batches of closes (tcp-echo closes 128 a
 * batch), which the closing thread and the run's cleanup share on
 * shutdown: every connection ends with an end of file, and every server
 * descriptor is closed, once. */
#define MANY 400

static int main_cancel_many(void *arg) {
        uint16_t port = free_port();
        _cleanup_conf_ conf_t *c = load_echo_conf(port, "max_connections = 1000\n");
        _cleanup_task_ co_task_t *server = NULL;
        int fds[MANY], before;
        char buf[8];

        before = count_fds();
        server = start_server(c);
        for (int i = 0; i < MANY; i++) {
                fds[i] = client_connect(port);
                round_trip(fds[i], "before");
        }
        stop_server(server);
        assert_int_equal(count_fds(), before + MANY);
        assert_int_equal(atomic_load(&closes_of_no_descriptor), 0);
        for (int i = 0; i < MANY; i++) {
                assert_int_equal(co_read(fds[i], buf, sizeof buf, co_deadline_after(5 * CO_USEC_PER_SEC)), 0);
                close(fds[i]);
        }
        return 0;
}

static void test_tcp_echo_cancel_many_connections(void **state) {
        assert_int_equal(run_main(main_cancel_many, NULL).kind, CO_OUTCOME_RESULT);
}

/* The same where no thread can start (a process at its thread limit): the
 * run's cleanup closes every batch itself. In a process of its own
 * ("--no-threads-child"), which a seccomp filter keeps from starting
 * threads: clone3, and clone with CLONE_THREAD, fail with EAGAIN. */
static void *thread_nothing(void *arg) {
        return arg;
}

static bool forbid_threads(void) {
        struct sock_filter f[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SECCOMP_THIS_ARCH, 0, 6),
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 3, 0),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 0, 3),
                /* The flags' low word (both architectures are little-endian). */
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
                BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 0, 1),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EAGAIN),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        pthread_t t;

        if (!seccomp_load(f, ELEMENTSOF(f)))
                return false;
        if (pthread_create(&t, NULL, thread_nothing, NULL) == 0) {
                pthread_join(t, NULL);
                fprintf(stderr, "threads still start under the filter here: skipped\n");
                return false;
        }
        return true;
}

static int no_threads_child(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_tcp_echo_cancel_many_connections),
        };

        if (!forbid_threads())
                return CHILD_SKIP;
        return cmocka_run_group_tests_name("tcp-echo without threads", tests, NULL, NULL) == 0 ? 0 : 1;
}

static void test_tcp_echo_cancel_many_connections_without_threads(void **state) {
        run_self_child(self_path, "--no-threads-child");
}

/* ---- shutdown in the middle of a message ------------------------------------------- */

#define BIG ((size_t) 16 * 1024 * 1024)

static long long closed_bytes = -1;

static void capture_sink(const co_log_record_t *r, void *userdata) {
        if (!strstr(r->message, "closed: shutting down"))
                return;
        for (size_t i = 0; i < r->n_fields; i++)
                if (strcmp(r->fields[i].key, "bytes") == 0)
                        closed_bytes = atoll(r->fields[i].value);
}

static unsigned char pattern(size_t i) {
        return (unsigned char) (i * 7 % 251);
}

typedef struct writer_arg {
        int fd;
        unsigned char *data;
} writer_arg_t;

static int big_writer(void *arg) {
        writer_arg_t *w = arg;
        ssize_t n = co_write_all(w->fd, w->data, BIG, co_deadline_after(30 * CO_USEC_PER_SEC));

        /* All of it (the server drains what it no longer echoes), or cut
         * short by the server's close. */
        assert_true(n == (ssize_t) BIG || n == -EPIPE || n == -ECONNRESET);
        shutdown(w->fd, SHUT_WR);
        return 0;
}

static int main_cancel_mid_message(void *arg) {
        uint16_t port = free_port();
        _cleanup_conf_ conf_t *c = load_echo_conf(port, "idle_timeout = 0\n");
        _cleanup_task_ co_task_t *server = start_server(c), *writer = NULL;
        _cleanup_free_ unsigned char *data = malloc(BIG), *back = malloc(BIG);
        _cleanup_close_ int fd = -1;
        writer_arg_t w;
        size_t got = 0;
        ssize_t n;

        assert_non_null(data);
        assert_non_null(back);
        for (size_t i = 0; i < BIG; i++)
                data[i] = pattern(i);
        close(client_connect(port)); /* waits for the listener */
        fd = client_connect_once(port, 64 * 1024);
        assert_true(fd >= 0);
        w = (writer_arg_t) { fd, data };
        assert_int_equal(co_spawn(&writer, "writer", big_writer, &w), 0);

        /* Not reading: the server ends up blocked writing a chunk back. */
        assert_int_equal(co_sleep(msec(200)), 0);
        co_task_cancel(server, "shutdown");
        assert_int_equal(co_sleep(msec(50)), 0);
        /* It stopped accepting at once... */
        assert_int_equal(client_connect_once(port, 0), -ECONNREFUSED);
        assert_int_equal(co_task_get_state(server) == CO_TASK_DONE, false);

        /* ...and the connection ends cleanly with every chunk it read. */
        while ((n = co_read(fd, back + got, BIG - got, co_deadline_after(10 * CO_USEC_PER_SEC))) > 0)
                got += (size_t) n;
        assert_int_equal(n, 0);
        assert_true(got > 0);
        assert_true(got < BIG);
        assert_memory_equal(back, data, got);
        assert_int_equal(co_task_join(writer, NULL), 0);
        stop_server(server);
        assert_int_equal((long long) got, closed_bytes);
        return 0;
}

/* Input that arrived before the shutdown and was never read: the server
 * closes those connections lingering (its FIN, then it reads to the
 * peer's, for up to 2 s), since a plain close with unread input resets
 * the connection. The idle ones around them close plainly, and do not
 * wait for the lingering ones: they read their end of file while this
 * side still keeps the lingering ones open. Every one must end with an end
 * of file, none with a reset. Run with the last connection idle, and with
 * the last one lingering. */
#define UNREAD_CONNS_MAX 300
#define UNREAD_EVERY 7

static int main_cancel_with_unread_input(void *arg) {
        int n_conns = *(const int *) arg;
        uint16_t port = free_port();
        _cleanup_conf_ conf_t *c = load_echo_conf(port, "max_connections = 1000\n");
        _cleanup_task_ co_task_t *server = start_server(c);
        int fds[UNREAD_CONNS_MAX];
        co_usec_t deadline;
        char buf[64];
        co_outcome_t o;

        assert_true(n_conns <= UNREAD_CONNS_MAX);
        for (int i = 0; i < n_conns; i++) {
                fds[i] = client_connect(port);
                round_trip(fds[i], "before");
        }
        /* Sent without letting the loop run: the server's connections
         * are cancelled before they see it. */
        for (int i = 0; i < n_conns; i += UNREAD_EVERY)
                assert_int_equal(write(fds[i], "unread", 6), 6);
        co_task_cancel(server, "shutdown");
        /* Well before the lingering ones give up waiting (2 s). */
        deadline = co_deadline_after(1500 * 1000);
        for (int pass = 0; pass < 2; pass++)
                for (int i = 0; i < n_conns; i++) {
                        bool unread = i % UNREAD_EVERY == 0;
                        ssize_t n;

                        if (unread != (pass == 1))
                                continue;
                        n = co_read(fds[i], buf, sizeof buf, unread ? co_deadline_after(5 * CO_USEC_PER_SEC) : deadline);
                        if (n != 0)
                                fail_msg("connection %d (%s): read gave %zd (%s), want an end of file", i,
                                         unread ? "unread input" : "idle", n, n < 0 ? strerror((int) -n) : "data");
                        close(fds[i]);
                }
        assert_int_equal(co_task_join(server, &o), 0);
        assert_int_equal(o.kind, CO_OUTCOME_CANCELLED);
        return 0;
}

static void test_tcp_echo_cancel_with_unread_input(void **state) {
        int last_idle = 300, last_lingering = 295;

        assert_int_equal(run_main(main_cancel_with_unread_input, &last_idle).kind, CO_OUTCOME_RESULT);
        assert_int_equal(run_main(main_cancel_with_unread_input, &last_lingering).kind, CO_OUTCOME_RESULT);
}

static void test_tcp_echo_cancel_mid_message(void **state) {
        co_log_level_t level = co_log_get_max_level();

        co_log_set_sink(capture_sink, NULL);
        co_log_set_max_level(CO_LOG_DEBUG);
        assert_int_equal(run_main(main_cancel_mid_message, NULL).kind, CO_OUTCOME_RESULT);
        co_log_set_sink(NULL, NULL);
        co_log_set_max_level(level);
}

/* ---- connections share the read buffer ---------------------------------------- */

/* One connection's echo waits for a reader that does not read, while
 * another connection echoes messages of its own: the first must still send
 * back exactly what it was sent, though the buffer it read into has been
 * every other connection's since. */
static int main_slow_reader_keeps_its_data(void *arg) {
        uint16_t port = free_port();
        _cleanup_conf_ conf_t *c = load_echo_conf(port, "idle_timeout = 0\n");
        _cleanup_task_ co_task_t *server = start_server(c), *writer = NULL;
        _cleanup_free_ unsigned char *data = malloc(BIG), *back = malloc(BIG);
        _cleanup_close_ int slow = -1, busy = -1;
        /* Longer than the server's read buffer (16 KiB): each message
         * overwrites all of it. */
        static char msg[64 * 1024], echoed[sizeof msg];
        writer_arg_t w;

        assert_non_null(data);
        assert_non_null(back);
        for (size_t i = 0; i < BIG; i++)
                data[i] = pattern(i);
        busy = client_connect(port);
        slow = client_connect_once(port, 64 * 1024);
        assert_true(slow >= 0);
        w = (writer_arg_t) { slow, data };
        assert_int_equal(co_spawn(&writer, "writer", big_writer, &w), 0);
        /* Not reading: the server ends up blocked writing a chunk back. */
        assert_int_equal(co_sleep(msec(200)), 0);

        for (int i = 0; i < 20; i++) {
                memset(msg, 'a' + i, sizeof msg);
                assert_int_equal(co_write_all(busy, msg, sizeof msg, co_deadline_after(5 * CO_USEC_PER_SEC)),
                                 (ssize_t) sizeof msg);
                assert_int_equal(read_exactly(busy, echoed, sizeof echoed, co_deadline_after(5 * CO_USEC_PER_SEC)),
                                 (ssize_t) sizeof echoed);
                assert_memory_equal(echoed, msg, sizeof msg);
        }
        assert_int_equal(read_exactly(slow, back, BIG, co_deadline_after(30 * CO_USEC_PER_SEC)), (ssize_t) BIG);
        assert_memory_equal(back, data, BIG);
        join_ok(writer);
        stop_server(server);
        return 0;
}

static void test_tcp_echo_slow_reader_keeps_its_data(void **state) {
        assert_int_equal(run_main(main_slow_reader_keeps_its_data, NULL).kind, CO_OUTCOME_RESULT);
}

/* ---- errors ------------------------------------------------------------------------ */

static int main_address_in_use(void *arg) {
        struct sockaddr_in in = loopback(0);
        socklen_t len = sizeof in;
        _cleanup_close_ int busy = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        _cleanup_conf_ conf_t *c = NULL;
        _cleanup_task_ co_task_t *server = NULL;
        char where[64];
        co_outcome_t o;

        assert_true(busy >= 0);
        assert_int_equal(bind(busy, (struct sockaddr *) &in, sizeof in), 0);
        assert_int_equal(listen(busy, 1), 0);
        assert_int_equal(getsockname(busy, (struct sockaddr *) &in, &len), 0);
        c = load_echo_conf(ntohs(in.sin_port), NULL);
        server = start_server(c);
        assert_int_equal(co_task_join(server, &o), 0);
        assert_int_equal(o.kind, CO_OUTCOME_ERROR);
        assert_int_equal(o.value, -EADDRINUSE);
        snprintf(where, sizeof where, "127.0.0.1:%u", ntohs(in.sin_port));
        assert_non_null(o.message);
        assert_non_null(strstr(o.message, where));
        return 0;
}

static void test_tcp_echo_address_in_use(void **state) {
        assert_int_equal(run_main(main_address_in_use, NULL).kind, CO_OUTCOME_RESULT);
}

static int main_no_systemd_socket(void *arg) {
        _cleanup_conf_ conf_t *c = load_conf_text("[task echo]\ntype = tcp-echo\nlisten = systemd:nope\n");
        _cleanup_task_ co_task_t *server = start_server(c);
        co_outcome_t o;

        assert_int_equal(co_task_join(server, &o), 0);
        assert_int_equal(o.kind, CO_OUTCOME_ERROR);
        assert_int_equal(o.value, -ENOENT);
        assert_non_null(strstr(o.message, "nope"));
        return 0;
}

static void test_tcp_echo_no_systemd_socket(void **state) {
        assert_int_equal(listen_fds_init(), 0);
        assert_int_equal(run_main(main_no_systemd_socket, NULL).kind, CO_OUTCOME_RESULT);
        listen_fds_done();
}

/* ---- socket activation ---------------------------------------------------------------- */

/* The child mode: serve the socket systemd-socket-activate passes. */
static int socket_child(void) {
        _cleanup_conf_ conf_t *c = NULL;
        co_outcome_t o;
        int r;

        r = listen_fds_init();
        if (r != 1) {
                fprintf(stderr, "listen_fds_init: %d\n", r);
                return 2;
        }
        if (getenv("LISTEN_FDS")) {
                fprintf(stderr, "LISTEN_FDS still set\n");
                return 2;
        }
        c = load_conf_text("[task echo]\ntype = tcp-echo\nlisten = systemd:echo\n");
        r = co_run(echo_server, (void *) conf_task_by_name(c, "echo"), NULL, &o);
        listen_fds_done();
        fprintf(stderr, "tcp_echo_run ended: %d %d %s\n", r, o.value, o.message ?: "");
        return 3;
}

static char *find_in_path(const char *name) {
        const char *path = getenv("PATH") ?: "/usr/bin:/bin";
        char *copy = strdup(path), *save = NULL, *res = NULL;

        for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
                char *p;

                assert_true(asprintf(&p, "%s/%s", d, name) > 0);
                if (access(p, X_OK) == 0) {
                        res = p;
                        break;
                }
                free(p);
        }
        free(copy);
        return res;
}

static void test_tcp_echo_socket_activation(void **state) {
        _cleanup_free_ char *activate = find_in_path("systemd-socket-activate");
        uint16_t port = free_port();
        struct sockaddr_in in = loopback(port);
        struct timeval tv = { .tv_sec = 10 };
        char listen_arg[64], buf[64];
        int fd = -1, status;
        pid_t pid;

        if (!activate) {
                fprintf(stderr, "systemd-socket-activate not found (package systemd): skipped\n");
                skip();
        }
        snprintf(listen_arg, sizeof listen_arg, "127.0.0.1:%u", port);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                const char *wrapper = getenv("TEST_WRAPPER");

                /* A cross build runs under its emulator here too. */
                if (wrapper && *wrapper)
                        execl(activate, activate, "-l", listen_arg, "--fdname=echo", "--", wrapper, self_path,
                              "--socket-child", (char *) NULL);
                else
                        execl(activate, activate, "-l", listen_arg, "--fdname=echo", "--", self_path,
                              "--socket-child", (char *) NULL);
                _exit(127);
        }
        for (int i = 0; i < 500; i++) {
                fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                assert_true(fd >= 0);
                if (connect(fd, (struct sockaddr *) &in, sizeof in) == 0)
                        break;
                close(fd);
                fd = -1;
                assert_int_equal(waitpid(pid, &status, WNOHANG), 0);
                usleep(10000);
        }
        assert_true(fd >= 0);
        assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
        for (int i = 0; i < 3; i++) {
                size_t got = 0;

                snprintf(buf, sizeof buf, "activated %d", i);
                assert_int_equal(send(fd, buf, strlen(buf), MSG_NOSIGNAL), (ssize_t) strlen(buf));
                while (got < strlen(buf)) {
                        char back[64];
                        ssize_t n = recv(fd, back + got, sizeof back - got, 0);

                        if (n <= 0)
                                fail_msg("recv: %zd (%m)", n);
                        assert_memory_equal(back + got, buf + got, (size_t) n);
                        got += (size_t) n;
                }
        }
        close(fd);
        /* Still running (serving): stop it. */
        assert_int_equal(waitpid(pid, &status, WNOHANG), 0);
        assert_int_equal(kill(pid, SIGTERM), 0);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 3));
}

int main(int argc, char *argv[]) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_tcp_echo_round_trips),
                cmocka_unit_test(test_tcp_echo_max_connections),
                cmocka_unit_test(test_tcp_echo_idle_timeout),
                cmocka_unit_test(test_tcp_echo_cancel_open_connections),
                cmocka_unit_test(test_tcp_echo_cancel_many_connections),
                cmocka_unit_test(test_tcp_echo_cancel_many_connections_without_threads),
                cmocka_unit_test(test_tcp_echo_cancel_mid_message),
                cmocka_unit_test(test_tcp_echo_cancel_with_unread_input),
                cmocka_unit_test(test_tcp_echo_slow_reader_keeps_its_data),
                cmocka_unit_test(test_tcp_echo_address_in_use),
                cmocka_unit_test(test_tcp_echo_no_systemd_socket),
                cmocka_unit_test(test_tcp_echo_socket_activation),
        };

        if (argc > 1 && strcmp(argv[1], "--socket-child") == 0)
                return socket_child();
        if (argc > 1 && strcmp(argv[1], "--no-threads-child") == 0) {
                signal(SIGPIPE, SIG_IGN);
                return no_threads_child();
        }
        if (!realpath(argv[0], self_path))
                snprintf(self_path, sizeof self_path, "%s", argv[0]);
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/*
 * Tutorial example 7: blocking calls on the thread pool (asyncio's
 * run_in_executor / to_thread) while a ticker keeps the loop busy.
 *
 *     def blocking_io():
 *         time.sleep(1)                   # a slow device
 *         with open("/dev/urandom", "rb") as f:
 *             return f.read(100)
 *
 *     def cpu_bound():
 *         return sum(i * i for i in range(10 ** 7))
 *
 *     async def main():
 *         ticker = asyncio.create_task(tick())     # tick every 0.25 s
 *         data = await asyncio.to_thread(blocking_io)
 *         total = await asyncio.to_thread(cpu_bound)
 *         ticker.cancel()
 *
 *     to-thread [UNIT_MS]      (one "second" of the story; default 1000)
 *
 * prints: started main / tick (at least once: the loop runs while the read
 *         blocks a pool thread) / read 100 bytes from /dev/urandom /
 *         sum of squares below 10^7: 333333283333335000000 / finished main,
 *         with more ticks after the first one wherever time puts them
 *
 * The sum is 3.3e20: it does not fit in 64 bits, so it is summed and
 * printed as an unsigned __int128, exactly.
 */
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "example.h"

#define N_BYTES 100
#define SUM_BELOW 10000000u

typedef struct io_job {
        co_usec_t delay;
        unsigned char buf[N_BYTES];
} io_job_t;

/* Runs on a pool thread: it may block as it likes. */
static int blocking_io(void *arg, void **ret_result) {
        io_job_t *job = arg;
        struct timespec ts = {
                .tv_sec = (time_t) (job->delay / CO_USEC_PER_SEC),
                .tv_nsec = (long) (job->delay % CO_USEC_PER_SEC) * 1000,
        };
        size_t got = 0;
        int fd;

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
        fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        while (got < N_BYTES) {
                ssize_t n = read(fd, job->buf + got, N_BYTES - got);

                if (n <= 0) {
                        int r = n < 0 ? -errno : -EIO;

                        close(fd);
                        return r;
                }
                got += (size_t) n;
        }
        close(fd);
        *ret_result = job->buf;
        return (int) got;
}

static int cpu_bound(void *arg, void **ret_result) {
        unsigned __int128 *sum = arg;

        *sum = 0;
        for (unsigned i = 0; i < SUM_BELOW; i++) {
                /* Keeps the compiler from summing in closed form: the
                 * point is to burn CPU on another thread. */
                __asm__ volatile("" : "+r"(i));
                *sum += (unsigned __int128) i * i;
        }
        *ret_result = sum;
        return 0;
}

static void print_u128(unsigned __int128 v) {
        char digits[40];
        size_t n = 0;

        do {
                digits[n++] = (char) ('0' + (unsigned) (v % 10));
                v /= 10;
        } while (v);
        while (n > 0)
                putchar(digits[--n]);
}

static int tick(void *arg) {
        int r;

        (void) arg;
        for (;;) {
                printf("tick\n");
                r = co_sleep(seconds(0.25));
                if (r < 0)
                        return r;
        }
}

static int main_task(void *arg) {
        io_job_t io = { .delay = seconds(1) };
        unsigned __int128 sum;
        co_task_t *ticker = NULL;
        co_outcome_t o;
        int r;

        (void) arg;
        printf("started main\n");
        r = co_spawn(&ticker, "ticker", tick, NULL);
        if (r < 0)
                return r;
        /* Only this task waits: the ticker runs meanwhile. The job's
         * memory is on this stack, which is fine as nothing cancels main:
         * a cancelled task stops waiting at once while its job runs on, so
         * such a task gives its job heap memory and a free_arg
         * (co_to_thread_with). */
        r = co_to_thread("blocking_io", blocking_io, &io, &o);
        if (r >= 0 && o.kind != CO_OUTCOME_RESULT)
                r = o.value;
        if (r < 0)
                goto out;
        printf("read %d bytes from /dev/urandom\n", o.value);
        r = co_to_thread("cpu_bound", cpu_bound, &sum, &o);
        if (r >= 0 && o.kind != CO_OUTCOME_RESULT)
                r = o.value;
        if (r < 0)
                goto out;
        printf("sum of squares below 10^7: ");
        print_u128(*(unsigned __int128 *) o.result);
        printf("\n");
out:
        co_task_cancel(ticker, "done");
        (void) co_task_join(ticker, NULL);
        co_task_unref(ticker);
        if (r >= 0)
                printf("finished main\n");
        return r;
}

int main(int argc, char **argv) {
        example_init(argc, argv);
        /* The loop's default pool is freed with the loop. */
        return example_run(main_task, NULL);
}

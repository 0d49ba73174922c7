/* SPDX-License-Identifier: MIT */
/*
 * Tutorial example 9: the long-running service. It wakes up every second
 * until a SIGINT: co_run cancels the main task, which sees the
 * cancellation, says so, and lets it through; then the program shuts down.
 */
#include "example.h"

static int service(void *arg) {
        int r;

        (void) arg;
        for (;;) {
                r = co_sleep(seconds(1));
                if (r == -ECANCELED) {
                        printf("Caught the cancel before throwing again\n");
                        return r;
                }
                if (r < 0)
                        return r;
                printf("woke up\n");
        }
}

int main(int argc, char **argv) {
        co_outcome_t o;
        int r;

        example_init(argc, argv);
        r = co_run(service, NULL, NULL, &o);
        if (r == 0 && o.kind == CO_OUTCOME_CANCELLED)
                printf("Starting shutting down\n");
        return r == 0 ? 0 : 1;
}

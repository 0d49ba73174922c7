/* SPDX-License-Identifier: MIT */
/* cotaskd: command line. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "daemon.h"
#include "reload-state.h"

#define DEFAULT_CONFIG "/etc/cotaskd/cotaskd.conf"

static void help(FILE *f) {
        fprintf(f,
                "Usage: cotaskd [OPTIONS]\n"
                "Supervise the tasks of a configuration file; stop on SIGTERM or SIGINT,\n"
                "reload on SIGHUP, log the task tree on SIGUSR1, toggle debug on SIGUSR2.\n"
                "\n"
                "  -c, --config PATH        configuration file (default " DEFAULT_CONFIG ")\n"
                "      --check-config       check the configuration, print every error, exit 0 or 1\n"
                "      --dump-config        print the effective configuration, defaults included\n"
                "      --log-level LEVEL    debug|info|notice|warning|err (overrides the file)\n"
                "      --log-format FORMAT  auto|journal|logfmt|json (overrides the file)\n"
                "      --reload PID         send SIGHUP to the cotaskd PID and wait until it has\n"
                "                           applied (exit 0) or rejected (exit 1) the configuration\n"
                "      --version            print the version\n"
                "  -h, --help               this text\n"
                "\n"
                "Exit status: 0 clean shutdown; 1 configuration or start-up error; 2 usage error;\n"
                "3 shutdown forced (second signal, or shutdown_timeout passed); 4 a task exceeded\n"
                "its restart intensity with on_give_up = exit.\n");
}

static int check_or_dump(const char *path, bool dump) {
        conf_errors_t *errs = NULL;
        conf_t *c = NULL;
        int r = conf_load(path, &c, &errs);

        if (r < 0) {
                conf_errors_print(errs, stderr);
                if (conf_errors_count(errs) == 0)
                        fprintf(stderr, "%s: %s\n", path, strerror(-r));
                conf_errors_free(errs);
                return EXIT_CONFIG;
        }
        conf_errors_free(errs);
        if (dump)
                r = conf_dump(c, stdout);
        conf_free(c);
        return r < 0 ? EXIT_CONFIG : 0;
}

/* --reload PID, for ExecReload=: systemd's own timeout bounds the wait. */
static int reload_and_wait(const char *arg) {
        char *end;
        long pid;
        int r;

        errno = 0;
        pid = strtol(arg, &end, 10);
        if (errno || end == arg || *end || pid <= 0 || pid != (pid_t) pid) {
                fprintf(stderr, "cotaskd: --reload: '%s' is not a process id\n", arg);
                return EXIT_USAGE;
        }
        r = reload_state_request((pid_t) pid, CO_USEC_INFINITY);
        switch (r) {
        case 0:
                return 0;
        case -EPROTO:
                fprintf(stderr, "cotaskd: reload rejected: the configuration is invalid (the log says where); "
                        "the old one stays in force\n");
                break;
        case -ENOENT:
                fprintf(stderr, "cotaskd: --reload: no reload state to watch: $RUNTIME_DIRECTORY must be the "
                        "daemon's (RuntimeDirectory= in the unit)\n");
                break;
        case -ESRCH:
                fprintf(stderr, "cotaskd: --reload: process %ld is gone\n", pid);
                break;
        default:
                fprintf(stderr, "cotaskd: --reload %ld: %s\n", pid, strerror(-r));
        }
        return EXIT_CONFIG;
}

int main(int argc, char **argv) {
        enum { OPT_CHECK = 256, OPT_DUMP, OPT_LEVEL, OPT_FORMAT, OPT_RELOAD, OPT_VERSION };
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "check-config", no_argument, NULL, OPT_CHECK },
                { "dump-config", no_argument, NULL, OPT_DUMP },
                { "log-level", required_argument, NULL, OPT_LEVEL },
                { "log-format", required_argument, NULL, OPT_FORMAT },
                { "reload", required_argument, NULL, OPT_RELOAD },
                { "version", no_argument, NULL, OPT_VERSION },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        daemon_opts_t opts = { .config_path = DEFAULT_CONFIG, .log_level = -1, .log_format = -1 };
        bool check = false, dump = false;
        int c;

        while ((c = getopt_long(argc, argv, "c:h", options, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        opts.config_path = optarg;
                        break;
                case OPT_CHECK:
                        check = true;
                        break;
                case OPT_DUMP:
                        dump = true;
                        break;
                case OPT_LEVEL: {
                        co_log_level_t level;

                        if (dlog_level_from_string(optarg, &level) < 0) {
                                fprintf(stderr, "cotaskd: --log-level: unknown level '%s'\n", optarg);
                                return EXIT_USAGE;
                        }
                        opts.log_level = (int) level;
                        break;
                }
                case OPT_FORMAT: {
                        dlog_format_t format;

                        if (dlog_format_from_string(optarg, &format) < 0) {
                                fprintf(stderr, "cotaskd: --log-format: unknown format '%s'\n", optarg);
                                return EXIT_USAGE;
                        }
                        opts.log_format = (int) format;
                        break;
                }
                case OPT_RELOAD:
                        return reload_and_wait(optarg);
                case OPT_VERSION:
                        printf("cotaskd %s\n", COTASK_VERSION);
                        return 0;
                case 'h':
                        help(stdout);
                        return 0;
                default:
                        help(stderr);
                        return EXIT_USAGE;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "cotaskd: unexpected argument '%s'\n", argv[optind]);
                return EXIT_USAGE;
        }
        if (check || dump)
                return check_or_dump(opts.config_path, dump);
        return daemon_run(&opts);
}

/* SPDX-License-Identifier: MIT */
/* The systemd units in units/, checked by systemd's own tools offline:
 * `systemd-analyze verify` says nothing, the sandbox's exposure is at most
 * 1.0, the template stays in step with the service, and the service's
 * timeouts fit the daemon's defaults. (make check-systemd runs them for
 * real, installed from the packages, in a booted systemd.) */
#include <limits.h>
#include <sys/stat.h>

#include "test-util.h"

static const char *const units[] = { "cotaskd.service", "cotaskd.socket", "cotaskd@.service" };

static char *read_text(const char *path) {
        return read_text_file(path, 65536);
}

/* The units in a private directory, with ExecStart= pointing at this
 * build's cotaskd: verify checks that the executable exists. */
static void stage_units(char *dir, size_t size) {
        char cotaskd[PATH_MAX], build[PATH_MAX];

        snprintf(dir, size, "/tmp/test-units-XXXXXX");
        assert_non_null(mkdtemp(dir));
        snprintf(build, sizeof build, "%s/cotaskd", getenv("COTASK_BUILD") ?: "build");
        assert_non_null(realpath(build, cotaskd));
        for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                char src[PATH_MAX], dst[PATH_MAX];
                _cleanup_free_ char *text = NULL;
                FILE *f;

                snprintf(src, sizeof src, "units/%s", units[i]);
                snprintf(dst, sizeof dst, "%s/%s", dir, units[i]);
                text = read_text(src);
                f = fopen(dst, "we");
                assert_non_null(f);
                for (const char *p = text, *hit; *p; p = hit + strlen("/usr/sbin/cotaskd")) {
                        hit = strstr(p, "/usr/sbin/cotaskd");
                        if (!hit) {
                                fputs(p, f);
                                break;
                        }
                        fprintf(f, "%.*s%s", (int) (hit - p), p, cotaskd);
                }
                fclose(f);
        }
}

static void remove_staged(const char *dir) {
        char path[PATH_MAX];

        for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                snprintf(path, sizeof path, "%s/%s", dir, units[i]);
                unlink(path);
        }
        rmdir(dir);
}

static void test_units_verify_says_nothing(void **state) {
        /* The template is verified through an instance of it. */
        static const char *const verified[] = { "cotaskd.service", "cotaskd.socket", "cotaskd@demo.service" };
        char dir[64], path[PATH_MAX];

        stage_units(dir, sizeof dir);
        for (size_t i = 0; i < ELEMENTSOF(verified); i++) {
                _cleanup_free_ char *out = NULL;
                int rc;

                snprintf(path, sizeof path, "%s/%s", dir, verified[i]);
                /* The man pages are checked where they are installed. */
                rc = run_host_tool((char *[]) { (char *) "systemd-analyze", (char *) "verify", (char *) "--man=no",
                                                path, NULL }, &out);
                if (rc != 0 || out[0])
                        fail_msg("systemd-analyze verify %s: exit %d:\n%s", verified[i], rc, out);
        }
        remove_staged(dir);
}

static void test_units_exposure_at_most_1_0(void **state) {
        static const char *const services[] = { "cotaskd.service", "cotaskd@demo.service" };
        char dir[64], path[PATH_MAX];

        stage_units(dir, sizeof dir);
        for (size_t i = 0; i < ELEMENTSOF(services); i++) {
                _cleanup_free_ char *out = NULL;
                const char *overall;
                double exposure;
                int rc;

                snprintf(path, sizeof path, "%s/%s", dir, services[i]);
                rc = run_host_tool((char *[]) { (char *) "systemd-analyze", (char *) "security",
                                                (char *) "--offline=true", (char *) "--no-pager", path, NULL }, &out);
                assert_int_equal(rc, 0);
                overall = strstr(out, "Overall exposure level for ");
                assert_non_null(overall);
                overall = strchr(overall, ':');
                assert_non_null(overall);
                assert_int_equal(sscanf(overall + 1, "%lf", &exposure), 1);
                if (exposure > 1.0)
                        fail_msg("%s: exposure %.1f > 1.0:\n%s", services[i], exposure, out);
        }
        remove_staged(dir);
}

/* KEY=VALUE lines in order, comments and blank lines left out. */
static void settings(const char *text, char *out, size_t size) {
        size_t n = 0;

        out[0] = '\0';
        for (const char *p = text; *p;) {
                const char *end = strchrnul(p, '\n');

                if (p < end && *p != '#')
                        n += (size_t) snprintf(out + n, size - n, "%.*s\n", (int) (end - p), p);
                assert_true(n < size);
                p = *end ? end + 1 : end;
        }
}

static void replace_line(char *text, const char *from, const char *to) {
        char *hit = strstr(text, from);
        size_t lf = strlen(from), lt = strlen(to);

        assert_non_null(hit);
        memmove(hit + lt, hit + lf, strlen(hit + lf) + 1);
        memcpy(hit, to, lt);
}

/* cotaskd@.service is cotaskd.service but for its instance's conf file,
 * runtime directory and description: nothing else may drift. */
static void test_units_template_in_step_with_service(void **state) {
        _cleanup_free_ char *service = read_text("units/cotaskd.service");
        _cleanup_free_ char *template = read_text("units/cotaskd@.service");
        _cleanup_free_ char *a = malloc(65536), *b = malloc(65536);

        settings(service, a, 65536);
        settings(template, b, 65536);
        replace_line(b, "Description=cotaskd task supervisor (%i)\n", "Description=cotaskd task supervisor\n");
        replace_line(b, "ExecStart=/usr/sbin/cotaskd --config /etc/cotaskd/%i.conf\n", "ExecStart=/usr/sbin/cotaskd\n");
        replace_line(b, "RuntimeDirectory=cotaskd-%i\n", "RuntimeDirectory=cotaskd\n");
        assert_string_equal(a, b);
}

/* The value of KEY= in TEXT, in seconds ("15s", "2min"). */
static unsigned unit_seconds(const char *text, const char *key) {
        char needle[64], unit[8] = "";
        const char *p;
        unsigned v;

        snprintf(needle, sizeof needle, "\n%s=", key);
        p = strstr(text, needle);
        if (!p)
                fail_msg("no %s= in the unit", key);
        assert_true(sscanf(p + strlen(needle), "%u%7[a-z]", &v, unit) >= 1);
        if (strcmp(unit, "min") == 0)
                return v * 60;
        assert_true(unit[0] == '\0' || strcmp(unit, "s") == 0);
        return v;
}

/* systemd must not SIGKILL cotaskd while it is still within its own
 * shutdown_timeout, and must ask for the watchdog and readiness it gets. */
static void test_units_timeouts_fit_the_daemon(void **state) {
        _cleanup_free_ char *service = read_text("units/cotaskd.service");
        _cleanup_free_ char *dump = NULL;
        char cotaskd[PATH_MAX];
        const char *p;
        unsigned shutdown_timeout;
        int rc;

        snprintf(cotaskd, sizeof cotaskd, "%s/cotaskd", getenv("COTASK_BUILD") ?: "build");
        /* The documented default configuration, as the daemon reads it. */
        rc = run_ours((char *[]) { cotaskd, (char *) "--config", (char *) "config/cotaskd.conf",
                                   (char *) "--dump-config", NULL }, &dump);
        assert_int_equal(rc, 0);
        p = strstr(dump, "\nshutdown_timeout = ");
        assert_non_null(p);
        assert_int_equal(sscanf(p, "\nshutdown_timeout = %us", &shutdown_timeout), 1);
        assert_true(unit_seconds(service, "TimeoutStopSec") >= shutdown_timeout + 2);
        assert_true(unit_seconds(service, "WatchdogSec") > 0);
        assert_non_null(strstr(service, "\nType=notify\n"));
        assert_non_null(strstr(service, "\nNotifyAccess=main\n"));
        assert_non_null(strstr(service, "\nExecReload=/usr/sbin/cotaskd --reload $MAINPID\n"));
        /* --reload watches the state file cotaskd writes there. */
        assert_non_null(strstr(service, "\nRuntimeDirectory="));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_units_verify_says_nothing),
                cmocka_unit_test(test_units_exposure_at_most_1_0),
                cmocka_unit_test(test_units_template_in_step_with_service),
                cmocka_unit_test(test_units_timeouts_fit_the_daemon),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}

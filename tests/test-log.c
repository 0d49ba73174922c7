/* SPDX-License-Identifier: MIT */
/* Structured logging: records, fields, levels, the logfmt sink. */
#include <fcntl.h>

#include "test-util.h"

typedef struct seen {
        int n;
        co_log_level_t level;
        char message[128];
        char task[32];
        char field[64];
        char func[64];
} seen_t;

static void sink(const co_log_record_t *rec, void *userdata) {
        seen_t *s = userdata;

        s->n++;
        s->level = rec->level;
        snprintf(s->message, sizeof s->message, "%s", rec->message);
        snprintf(s->task, sizeof s->task, "%s", rec->task ? rec->task : "-");
        snprintf(s->func, sizeof s->func, "%s", rec->func);
        if (rec->n_fields > 0)
                snprintf(s->field, sizeof s->field, "%s=%s", rec->fields[0].key, rec->fields[0].value);
}

static int log_from_task(void *arg) {
        co_log_field_t f[] = { { "port", "8080" } };

        co_log_fields(CO_LOG_NOTICE, f, 1, "listening on %d", 8080);
        return 0;
}

static void test_log_records_carry_task_and_fields(void **state) {
        seen_t s = { 0 };

        co_log_set_sink(sink, &s);
        co_log(CO_LOG_INFO, "outside %s", "any task");
        assert_int_equal(s.n, 1);
        assert_string_equal(s.task, "-");
        assert_string_equal(s.message, "outside any task");
        assert_string_equal(s.func, "test_log_records_carry_task_and_fields");
        run_main(log_from_task, NULL);
        assert_int_equal(s.n, 2);
        assert_int_equal(s.level, CO_LOG_NOTICE);
        assert_string_equal(s.task, "main");
        assert_string_equal(s.field, "port=8080");
        co_log(CO_LOG_DEBUG, "dropped below the max level");
        assert_int_equal(s.n, 2);
        co_log_set_max_level(CO_LOG_DEBUG);
        co_log(CO_LOG_DEBUG, "kept");
        assert_int_equal(s.n, 3);
        co_log_set_max_level(CO_LOG_INFO);
        co_log_set_sink(NULL, NULL);
}

static void test_log_default_sink_is_logfmt(void **state) {
        co_log_field_t f[] = { { "path", "/tmp/a b" }, { "quote", "say \"hi\"" }, { "n", "3" } };
        int p[2], saved = dup(STDERR_FILENO);
        char line[512] = "";
        ssize_t n;

        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        dup2(p[1], STDERR_FILENO);
        co_log_fields(CO_LOG_WARNING, f, 3, "disk %s", "full");
        dup2(saved, STDERR_FILENO);
        close(saved);
        close(p[1]);
        n = read(p[0], line, sizeof line - 1);
        close(p[0]);
        assert_true(n > 0);
        line[n] = '\0';
        assert_true(strncmp(line, "ts=", 3) == 0);
        assert_non_null(strstr(line, "Z level=warning msg=\"disk full\" path=\"/tmp/a b\" quote=\"say \\\"hi\\\"\" n=3\n"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_log_records_carry_task_and_fields),
                cmocka_unit_test(test_log_default_sink_is_logfmt),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}

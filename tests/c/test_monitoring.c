/*
 * test_monitoring.c: performance monitoring through the C ABI, as a C
 * simulation tool uses it: recording timers, histogram values, counters and
 * gauges with tags; what bad input does (an error and nothing recorded);
 * threshold rules deployed from a performance_monitoring.yml written here;
 * alerts driven by an injected clock (cha_metric_record_at,
 * cha_alerts_evaluate) and delivered to a callback on the evaluator thread;
 * acknowledgement, resolution and the history; the report; the OpenMetrics
 * export; flag usage.
 *
 * Run by tests/c_abi.rs as `test_monitoring WORK_DIR`. Every returned
 * string is freed: LeakSanitizer runs.
 */
#define _POSIX_C_SOURCE 200809L

#include "cha_deploy.h"
#include "harness.h"

#include <math.h> /* NAN only: no -lm */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static char untouched_text[] = "untouched";
#define UNTOUCHED_STR untouched_text

static const char *work_dir;

/* A minute- and hour-aligned time past the real clock's retention. */
static const int64_t T0 = 1900000800000LL;
static const int64_t MIN_MS = 60000;

static const char *RULES =
    "thresholds:\n"
    "  - metric_name: solve_time_ms\n"
    "    aggregation: max\n"
    "    comparison_operator: greater_than\n"
    "    warning_threshold: 1000\n"
    "    critical_threshold: 5000\n"
    "    recovery_threshold: 800\n"
    "    window_size_minutes: 1\n"
    "    evaluation_interval_seconds: 60\n"
    "    for_seconds: 60\n";

static void path_in(char *buf, size_t size, const char *name) {
    int n = snprintf(buf, size, "%s/%s", work_dir, name);
    if (n < 0 || (size_t)n >= size) {
        fprintf(stderr, "path too long\n");
        exit(2);
    }
}

static int write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f == NULL) return 0;
    int ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok;
}

/* A config dir `name` under the work dir holding performance_monitoring.yml. */
static void config_dir_with(char *dir, size_t size, const char *name, const char *yaml) {
    path_in(dir, size, name);
    mkdir(dir, 0700);
    char file[1200];
    snprintf(file, sizeof file, "%s/performance_monitoring.yml", dir);
    if (!write_file(file, yaml)) {
        fprintf(stderr, "cannot write %s\n", file);
        exit(2);
    }
}

static cha_handle *open_handle(const char *name) {
    char db[1100];
    path_in(db, sizeof db, name);
    cha_handle *h = NULL;
    /* The test is the clock: no evaluation by the background thread. */
    CHECK_STATUS(cha_open_with_options(db, "{\"evaluate_alerts\": false}", &h), CHA_OK);
    return h;
}

/* How many times `needle` occurs in `text`. */
static int count_of(const char *text, const char *needle) {
    int n = 0;
    for (const char *p = text; p && (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
    return n;
}

/* ---- recording and bad input --------------------------------------------- */

static void test_recording_and_bad_input(void) {
    cha_handle *h = open_handle("record.db");
    CHECK_STATUS(cha_metric_record_timer(h, "pipe_sizing_time_ms", 1.5, "{\"network\": \"north\"}"),
                 CHA_OK);
    CHECK_STATUS(cha_metric_record_timer(h, "pipe_sizing_time_ms", 0.5, "{\"network\": \"north\"}"),
                 CHA_OK);
    CHECK_STATUS(cha_metric_record(h, "hydraulic_solver_iterations", 42.0, NULL), CHA_OK);
    CHECK_STATUS(cha_metric_increment(h, "pipe_sizing_requests", 3.0, NULL), CHA_OK);
    CHECK_STATUS(cha_metric_gauge(h, "memory_usage_mb", 512.0, NULL), CHA_OK);

    /* Every error path: an error, a message naming it, nothing recorded. */
    CHECK_STATUS(cha_metric_record(NULL, "x", 1.0, NULL), CHA_ERR_NULL_ARGUMENT);
    CHECK_MESSAGE_HAS("cha_metric_record: argument `h` is NULL");
    CHECK_STATUS(cha_metric_record(h, NULL, 1.0, NULL), CHA_ERR_NULL_ARGUMENT);
    CHECK_MESSAGE_HAS("argument `name` is NULL");
    CHECK_STATUS(cha_metric_gauge(h, "bad\xff", 1.0, NULL), CHA_ERR_INVALID_UTF8);
    CHECK_MESSAGE_HAS("argument `name` is not valid UTF-8");
    CHECK_STATUS(cha_metric_gauge(h, "g", 1.0, "{\"k\": \"\xff\"}"), CHA_ERR_INVALID_UTF8);
    CHECK_MESSAGE_HAS("argument `tags_json` is not valid UTF-8");
    CHECK_STATUS(cha_metric_record(h, "x", NAN, NULL), CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("cha_metric_record: metric `x`: NaN is not a finite number; nothing was recorded");
    CHECK_STATUS(cha_metric_record_timer(h, "t_ms", -0.25, NULL), CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("a duration in seconds cannot be negative (-0.25)");
    CHECK_STATUS(cha_metric_increment(h, "c", -1.0, NULL), CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("an increment cannot be negative");
    CHECK_STATUS(cha_metric_record(h, "x", 1.0, "[\"north\"]"), CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("tags must be a JSON object");
    CHECK_STATUS(cha_metric_record(h, "x", 1.0, "{\"a\": "), CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("tags are not valid JSON");
    CHECK_STATUS(cha_metric_record(h, "pipe.time", 1.0, NULL), CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("contains `.`");
    CHECK_STATUS(cha_metric_increment(h, "memory_usage_mb", 1.0, NULL), CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("metric `memory_usage_mb` is a gauge, not a counter");
    CHECK_STATUS(cha_metric_record_at(h, "rate", "x", 1.0, NULL, T0), CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("unknown metric kind `rate`");
    CHECK_STATUS(cha_metric_record_at(h, NULL, "x", 1.0, NULL, T0), CHA_ERR_NULL_ARGUMENT);

    char *json = UNTOUCHED_STR;
    CHECK_STATUS(cha_metrics_list(h, &json), CHA_OK);
    CHECK(count_of(json, "\"metric\":") == 4);
    CHECK_HAS(json, "\"metric\":\"pipe_sizing_time_ms\",\"kind\":\"timer\",\"tags\":{\"network\":\"north\"},\"count\":2,\"sum\":2000.0");
    CHECK_HAS(json, "\"metric\":\"pipe_sizing_requests\",\"kind\":\"counter\"");
    cha_string_free(json);

    json = UNTOUCHED_STR;
    CHECK_STATUS(cha_metrics_export(h, "openmetrics", &json), CHA_OK);
    CHECK_HAS(json, "pipe_sizing_requests_total 3\n");
    CHECK_HAS(json, "pipe_sizing_time_ms_sum{network=\"north\"} 2000\n");
    CHECK_HAS(json, "memory_usage_mb 512\n");
    CHECK(json != NULL && strlen(json) > 6 && strcmp(json + strlen(json) - 6, "# EOF\n") == 0);
    cha_string_free(json);
    json = UNTOUCHED_STR;
    CHECK_STATUS(cha_metrics_export(h, "prometheus", &json), CHA_OK);
    CHECK_HAS(json, "# TYPE pipe_sizing_requests_total counter\n");
    cha_string_free(json);
    json = UNTOUCHED_STR;
    CHECK_STATUS(cha_metrics_export(h, "csv", &json), CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("unknown export format `csv` (known: openmetrics, prometheus)");
    CHECK(json == UNTOUCHED_STR);
    CHECK_STATUS(cha_metrics_export(h, "openmetrics", NULL), CHA_ERR_NULL_ARGUMENT);
    cha_close(h);
}

/* ---- alerts, the callback and the report ---------------------------------- */

/* What the callback saw, written on the evaluator thread. */
struct seen {
    pthread_mutex_t lock;
    int count;
    char kinds[16][24];
    int wrong_user_data;
};

static void on_alert(const char *event_json, void *user_data) {
    struct seen *seen = user_data;
    pthread_mutex_lock(&seen->lock);
    const char *kind = strstr(event_json, "\"kind\":\"");
    if (kind != NULL && seen->count < 16) {
        kind += strlen("\"kind\":\"");
        size_t n = strcspn(kind, "\"");
        if (n >= sizeof seen->kinds[0]) n = sizeof seen->kinds[0] - 1;
        memcpy(seen->kinds[seen->count], kind, n);
        seen->kinds[seen->count][n] = '\0';
        seen->count++;
    }
    pthread_mutex_unlock(&seen->lock);
}

static int seen_count(struct seen *seen) {
    pthread_mutex_lock(&seen->lock);
    int n = seen->count;
    pthread_mutex_unlock(&seen->lock);
    return n;
}

/* Records one sample (ms) in minute `k` and evaluates at half past it. */
static char *step(cha_handle *h, int64_t k, double ms) {
    CHECK_STATUS(cha_metric_record_at(h, "timer", "solve_time_ms", ms / 1000.0, NULL,
                                      T0 + k * MIN_MS + 1000),
                 CHA_OK);
    char *events = NULL;
    CHECK_STATUS(cha_alerts_evaluate(h, T0 + k * MIN_MS + 30000, &events), CHA_OK);
    return events;
}

static void test_alerts(void) {
    char dir[1100];
    config_dir_with(dir, sizeof dir, "alert_conf", RULES);
    cha_handle *h = open_handle("alerts.db");
    char *report = NULL;
    CHECK_STATUS(cha_deploy_all(h, dir, &report), CHA_OK);
    cha_string_free(report);

    struct seen seen = {.count = 0};
    pthread_mutex_init(&seen.lock, NULL);
    CHECK_STATUS(cha_alerts_set_callback(h, on_alert, &seen), CHA_OK);
    CHECK_STATUS(cha_alerts_set_callback(NULL, on_alert, &seen), CHA_ERR_NULL_ARGUMENT);

    char *events = step(h, 0, 1200);
    CHECK_HAS(events, "\"kind\":\"pending\",\"severity\":\"warning\"");
    cha_string_free(events);
    events = step(h, 1, 6000);
    CHECK_HAS(events, "\"kind\":\"firing\",\"severity\":\"critical\"");
    cha_string_free(events);
    events = step(h, 2, 900);
    CHECK_HAS(events, "\"kind\":\"deescalated\",\"severity\":\"warning\"");
    cha_string_free(events);

    char *alerts = NULL;
    CHECK_STATUS(cha_alerts_list(h, 0, 0, true, 0, &alerts), CHA_OK);
    CHECK(count_of(alerts, "\"id\":") == 1);
    CHECK_HAS(alerts, "\"rule\":\"solve_time_ms\",\"metric\":\"solve_time_ms\",\"state\":\"firing\",\"severity\":\"warning\",\"max_severity\":\"critical\"");
    long long id = 0;
    const char *at = alerts ? strstr(alerts, "\"id\":") : NULL;
    if (at != NULL) id = strtoll(at + 5, NULL, 10);
    cha_string_free(alerts);

    char *out = UNTOUCHED_STR;
    CHECK_STATUS(cha_alert_acknowledge(h, id, NULL, &out), CHA_ERR_NULL_ARGUMENT);
    CHECK(out == UNTOUCHED_STR);
    CHECK_STATUS(cha_alert_acknowledge(h, 99999, "anna", &out), CHA_ERR_NOT_FOUND);
    CHECK_MESSAGE_HAS("no alert has id 99999");
    CHECK(out == UNTOUCHED_STR);
    CHECK_STATUS(cha_alert_acknowledge(h, id, "anna", &out), CHA_OK);
    CHECK_HAS(out, "\"acknowledged_by\":\"anna\"");
    cha_string_free(out);
    out = NULL;
    CHECK_STATUS(cha_alert_resolve(h, id, "anna", &out), CHA_OK);
    CHECK_HAS(out, "\"state\":\"resolved\"");
    CHECK_HAS(out, "\"resolved_by\":\"anna\"");
    cha_string_free(out);
    out = UNTOUCHED_STR;
    CHECK_STATUS(cha_alert_resolve(h, id, "anna", &out), CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("is resolved already (by anna)");
    CHECK(out == UNTOUCHED_STR);

    /* The callback gets every event, in order, on the evaluator thread. */
    struct timespec pause = {0, 20 * 1000 * 1000};
    for (int i = 0; i < 1500 && seen_count(&seen) < 5; i++) nanosleep(&pause, NULL);
    CHECK(seen_count(&seen) == 5);
    const char *want[5] = {"pending", "firing", "deescalated", "acknowledged", "manually_resolved"};
    for (int i = 0; i < 5 && i < seen_count(&seen); i++) CHECK(strcmp(seen.kinds[i], want[i]) == 0);
    /* After this returns, the callback is no longer called. */
    CHECK_STATUS(cha_alerts_set_callback(h, NULL, NULL), CHA_OK);

    char *history = NULL;
    CHECK_STATUS(cha_alerts_history(h, "solve_time_ms", 0, 0, 0, &history), CHA_OK);
    CHECK(count_of(history, "\"kind\":") == 5);
    cha_string_free(history);
    CHECK_STATUS(cha_alerts_history(h, "bad\xff", 0, 0, 0, &history), CHA_ERR_INVALID_UTF8);
    char *rules = NULL;
    CHECK_STATUS(cha_alerts_rules(h, &rules), CHA_OK);
    CHECK_HAS(rules, "\"name\":\"solve_time_ms\"");
    CHECK_HAS(rules, "\"state\":\"inactive\"");
    cha_string_free(rules);

    /* The report of the three minutes: max 6000, min 900. */
    report = NULL;
    CHECK_STATUS(cha_performance_report(h, T0, T0 + 3 * MIN_MS, &report), CHA_OK);
    CHECK_HAS(report, "\"metric\":\"solve_time_ms\",\"kind\":\"timer\",\"unit\":\"ms\",\"series\":1,\"count\":3,\"sum\":8100.0,\"mean\":2700.0");
    CHECK_HAS(report, "\"min\":900.0,\"max\":6000.0");
    CHECK_HAS(report, "\"recommendations\":[");
    cha_string_free(report);
    report = UNTOUCHED_STR;
    CHECK_STATUS(cha_performance_report(h, T0 + MIN_MS, T0, &report), CHA_ERR_INVALID_ARGUMENT);
    CHECK(report == UNTOUCHED_STR);
    CHECK_STATUS(cha_performance_report(h, T0, T0, NULL), CHA_ERR_NULL_ARGUMENT);
    cha_close(h);
    pthread_mutex_destroy(&seen.lock);
}

/* ---- configuration errors and flag usage ----------------------------------- */

static void test_config_errors_and_flag_usage(void) {
    cha_handle *h = open_handle("config.db");
    char dir[1100];
    char *report = UNTOUCHED_STR;
    config_dir_with(dir, sizeof dir, "bad_operator", "thresholds:\n  - metric_name: m\n    comparison_operator: above\n    warning_threshold: 1\n");
    CHECK_STATUS(cha_deploy_all(h, dir, &report), CHA_ERR_CONFIG);
    CHECK_MESSAGE_HAS("performance_monitoring.yml:3:26: thresholds[0].comparison_operator: unknown comparison_operator `above`");
    CHECK(report == UNTOUCHED_STR);
    config_dir_with(dir, sizeof dir, "bad_yaml", "thresholds: [\n  - metric_name: m\n");
    CHECK_STATUS(cha_deploy_all(h, dir, &report), CHA_ERR_CONFIG);
    CHECK_MESSAGE_HAS("invalid YAML");
    char *rules = NULL;
    CHECK_STATUS(cha_alerts_rules(h, &rules), CHA_OK);
    CHECK(rules != NULL && strcmp(rules, "[]") == 0);
    cha_string_free(rules);

    char *usage = NULL;
    bool on = false;
    CHECK_STATUS(cha_flag_enabled(h, "no_such_flag", "u1", NULL, 0, &on), CHA_ERR_NOT_FOUND);
    CHECK_STATUS(cha_flag_enabled(h, "no_such_flag", "u1", NULL, 0, &on), CHA_ERR_NOT_FOUND);
    CHECK_STATUS(cha_flag_usage(h, 0, 0, &usage), CHA_OK);
    CHECK_HAS(usage, "\"unknown\":[{\"name\":\"no_such_flag\",\"count\":2,");
    cha_string_free(usage);
    CHECK_STATUS(cha_flag_usage(h, 0, 0, NULL), CHA_ERR_NULL_ARGUMENT);

    /* One sample of the system metrics, recorded as gauges. */
    char *system = NULL;
    CHECK_STATUS(cha_system_metrics_sample(h, &system), CHA_OK);
    CHECK(count_of(system, "\":") >= 20);
    CHECK_HAS(system, "\"memory_usage_mb\":");
    cha_string_free(system);
    CHECK_STATUS(cha_system_metrics_sample(NULL, &system), CHA_ERR_NULL_ARGUMENT);
    char *list = NULL;
    CHECK_STATUS(cha_metrics_list(h, &list), CHA_OK);
    CHECK_HAS(list, "\"metric\":\"memory_usage_mb\",\"kind\":\"gauge\"");
    cha_string_free(list);
    cha_close(h);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s WORK_DIR\n", argv[0]);
        return 2;
    }
    work_dir = argv[1];
    test_recording_and_bad_input();
    test_alerts();
    test_config_errors_and_flag_usage();
    return harness_summary("test_monitoring");
}

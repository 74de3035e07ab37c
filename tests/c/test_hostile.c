/*
 * test_hostile.c: hostile input through the C ABI. Each case gets a status
 * code and a short message naming the function, never a crash, a hang or
 * a sanitizer report (this program runs under AddressSanitizer and
 * UndefinedBehaviorSanitizer): NULL and invalid UTF-8; NaN, infinities and
 * denormals; strings of a megabyte; JSON nested 100,000 deep and arrays of
 * a million elements; names with quotes, semicolons and control
 * characters; extreme timestamps and years 0 and 10000; a YAML alias bomb,
 * a 100 MB config file, a FIFO and a symbolic-link loop in the config
 * folder; a closed handle; and the size limits of README.md.
 *
 * Run by tests/c_abi.rs as `test_hostile WORK_DIR [CONFIG_DIR]`; CONFIG_DIR
 * defaults to the configs/ folder of the repository this file is in.
 */
#define _POSIX_C_SOURCE 200809L

#include "cha_deploy.h"
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What a message may be at most: input is quoted cut short. */
#define SHORT_MESSAGE 2048
#define MEGABYTE (1024 * 1024)

static const char *work_dir;
static const char *config_dir;

/* Checks the last failure's message: there, naming `function`, short. */
#define CHECK_SHORT_MESSAGE(function)                                            \
    do {                                                                         \
        const char *m_ = cha_last_error_message();                               \
        CHECK(m_ != NULL && strncmp(m_, function ": ", strlen(function) + 2) == 0); \
        CHECK(m_ != NULL && strlen(m_) < SHORT_MESSAGE);                         \
    } while (0)

/* `call` fails with `expected`, and the message is short and names `function`. */
#define CHECK_REFUSED(call, expected, function)                                  \
    do {                                                                         \
        CHECK_STATUS(call, expected);                                            \
        CHECK_SHORT_MESSAGE(function);                                           \
    } while (0)

static void die(const char *what) {
    fprintf(stderr, "%s: %s\n", what, strerror(errno));
    exit(2);
}

static char *path_in(char *buf, size_t size, const char *dir, const char *name) {
    int n = snprintf(buf, size, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= size) {
        fprintf(stderr, "path too long: %s/%s\n", dir, name);
        exit(2);
    }
    return buf;
}

/* `prefix` + `n` copies of `fill` + `suffix`, malloc'ed. */
static char *repeat(const char *prefix, const char *fill, size_t n, const char *suffix) {
    size_t p = strlen(prefix), f = strlen(fill), s = strlen(suffix);
    char *out = malloc(p + f * n + s + 1);
    if (out == NULL) die("malloc");
    memcpy(out, prefix, p);
    for (size_t i = 0; i < n; i++) memcpy(out + p + i * f, fill, f);
    memcpy(out + p + f * n, suffix, s + 1);
    return out;
}

/* `{"k0": 0, "k1": 0, ...}` with `n` keys, malloc'ed. */
static char *object_of_keys(size_t n) {
    char *out = malloc(n * 20 + 3);
    if (out == NULL) die("malloc");
    size_t at = 0;
    out[at++] = '{';
    for (size_t i = 0; i < n; i++) {
        at += (size_t)sprintf(out + at, "%s\"k%zu\": 0", i == 0 ? "" : ", ", i);
    }
    out[at++] = '}';
    out[at] = '\0';
    return out;
}

/* JSON nested `depth` deep: `open` repeated, then `close` repeated. */
static char *nested(const char *open, const char *close, size_t depth) {
    size_t o = strlen(open), c = strlen(close);
    char *out = malloc((o + c) * depth + 1);
    if (out == NULL) die("malloc");
    for (size_t i = 0; i < depth; i++) memcpy(out + i * o, open, o);
    for (size_t i = 0; i < depth; i++) memcpy(out + o * depth + i * c, close, c);
    out[(o + c) * depth] = '\0';
    return out;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) die(path);
}

/* A new database in WORK_DIR with configs/ deployed. */
static cha_handle *open_deployed(const char *name) {
    char db[4096];
    cha_handle *h = NULL;
    if (cha_open(path_in(db, sizeof db, work_dir, name), &h) != CHA_OK) {
        fprintf(stderr, "cha_open: %s\n", last_error_or("?"));
        exit(2);
    }
    char *report = NULL;
    if (cha_deploy_all(h, config_dir, &report) != CHA_OK) {
        fprintf(stderr, "cha_deploy_all: %s\n", last_error_or("?"));
        exit(2);
    }
    cha_string_free(report);
    return h;
}

/* ---- NULL and invalid UTF-8 ---------------------------------------------- */

static void test_null_and_invalid_utf8(cha_handle *h) {
    bool on = false;
    char *out = NULL;
    int64_t id = 0;
    const char *groups[] = {"beta_testers", "\xed\xa0\x80" /* a UTF-16 surrogate */};

    CHECK_REFUSED(cha_flag_enabled(NULL, "new_ui", "u", NULL, 0, &on), CHA_ERR_NULL_ARGUMENT,
                  "cha_flag_enabled");
    CHECK_MESSAGE_HAS("argument `h` is NULL");
    CHECK_REFUSED(cha_flag_enabled(h, NULL, "u", NULL, 0, &on), CHA_ERR_NULL_ARGUMENT,
                  "cha_flag_enabled");
    CHECK_REFUSED(cha_flag_enabled(h, "new_ui", "u", NULL, 2, &on), CHA_ERR_NULL_ARGUMENT,
                  "cha_flag_enabled");
    CHECK_REFUSED(cha_flag_enabled(h, "new_ui", "u", NULL, 0, NULL), CHA_ERR_NULL_ARGUMENT,
                  "cha_flag_enabled");
    CHECK_REFUSED(cha_flag_update(h, "new_ui", NULL, "ops"), CHA_ERR_NULL_ARGUMENT,
                  "cha_flag_update");
    CHECK_REFUSED(cha_flag_update(h, "new_ui", "{}", NULL), CHA_ERR_NULL_ARGUMENT,
                  "cha_flag_update");
    CHECK_REFUSED(cha_experiment_record(h, "pipe_sizing_comparison", NULL, "pipe_cost_efficiency", 1.0),
                  CHA_ERR_NULL_ARGUMENT, "cha_experiment_record");
    CHECK_REFUSED(cha_feedback_submit(h, NULL, &id), CHA_ERR_NULL_ARGUMENT, "cha_feedback_submit");
    CHECK_REFUSED(cha_metric_record(h, NULL, 1.0, NULL), CHA_ERR_NULL_ARGUMENT, "cha_metric_record");
    CHECK_REFUSED(cha_deploy_report(h, "html", NULL, NULL), CHA_ERR_NULL_ARGUMENT,
                  "cha_deploy_report");

    CHECK_REFUSED(cha_flag_enabled(h, "new_\xff", "u", NULL, 0, &on), CHA_ERR_INVALID_UTF8,
                  "cha_flag_enabled");
    CHECK_MESSAGE_HAS("argument `flag` is not valid UTF-8 (bad byte at offset 4)");
    CHECK_REFUSED(cha_flag_enabled(h, "new_ui", "\xc3\x28", NULL, 0, &on), CHA_ERR_INVALID_UTF8,
                  "cha_flag_enabled");
    CHECK_REFUSED(cha_flag_enabled(h, "new_ui", "u", groups, 2, &on), CHA_ERR_INVALID_UTF8,
                  "cha_flag_enabled");
    CHECK_MESSAGE_HAS("`groups[1]`");
    CHECK_REFUSED(cha_flag_evaluate(h, "new_ui", "{\"user_id\": \"\xff\"}", &out),
                  CHA_ERR_INVALID_UTF8, "cha_flag_evaluate");
    CHECK_REFUSED(cha_flag_update(h, "new_ui", "{\"description\": \"\xfe\"}", "ops"),
                  CHA_ERR_INVALID_UTF8, "cha_flag_update");
    CHECK_REFUSED(cha_flag_update(h, "new_ui", "{}", "op\xc0s"), CHA_ERR_INVALID_UTF8,
                  "cha_flag_update");
    CHECK_REFUSED(cha_feedback_submit(h, "{\"type\": \"bug_report\", \"text\": \"\xff\", \"user_id\": \"u\"}", &id),
                  CHA_ERR_INVALID_UTF8, "cha_feedback_submit");
    CHECK_REFUSED(cha_metric_record(h, "sizing_ms", 1.0, "{\"net\": \"\x80\"}"), CHA_ERR_INVALID_UTF8,
                  "cha_metric_record");
    CHECK_REFUSED(cha_experiment_record(h, "pipe_sizing_comparison", "unit-\xff", "pipe_cost_efficiency", 1.0),
                  CHA_ERR_INVALID_UTF8, "cha_experiment_record");
    CHECK(out == NULL);
    CHECK(on == false);
}

/* ---- NaN, infinities, denormals ------------------------------------------ */

static void test_non_finite_and_denormal_numbers(cha_handle *h) {
    const double refused[] = {NAN, -NAN, INFINITY, -INFINITY};
    char *out = NULL;
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        double v = refused[i];
        CHECK_REFUSED(cha_metric_record(h, "sizing_ms", v, NULL), CHA_ERR_INVALID_ARGUMENT,
                      "cha_metric_record");
        CHECK_REFUSED(cha_metric_record_timer(h, "sizing_ms", v, NULL), CHA_ERR_INVALID_ARGUMENT,
                      "cha_metric_record_timer");
        CHECK_REFUSED(cha_metric_increment(h, "sizings", v, NULL), CHA_ERR_INVALID_ARGUMENT,
                      "cha_metric_increment");
        CHECK_REFUSED(cha_metric_gauge(h, "pipes", v, NULL), CHA_ERR_INVALID_ARGUMENT,
                      "cha_metric_gauge");
        CHECK_REFUSED(cha_experiment_record(h, "pipe_sizing_comparison", "unit-1",
                                            "pipe_cost_efficiency", v),
                      CHA_ERR_INVALID_ARGUMENT, "cha_experiment_record");
        CHECK_REFUSED(cha_experiment_plan(h, "pipe_sizing_comparison", "pipe_cost_efficiency", v,
                                          8.0, &out),
                      CHA_ERR_INVALID_ARGUMENT, "cha_experiment_plan");
        CHECK_REFUSED(cha_experiment_plan(h, "pipe_sizing_comparison", "pipe_cost_efficiency", 40.0,
                                          v, &out),
                      CHA_ERR_INVALID_ARGUMENT, "cha_experiment_plan");
    }
    CHECK(out == NULL);
    /* Denormals, the smallest normal and -0 are finite numbers: data. */
    const double accepted[] = {4.9406564584124654e-324, DBL_MIN / 4, DBL_MIN, -0.0, -DBL_MIN / 2};
    const char *variant = NULL;
    CHECK_STATUS(cha_experiment_assign(h, "pipe_sizing_comparison", "unit-denormal", &variant),
                 CHA_OK);
    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
        double v = accepted[i];
        CHECK_STATUS(cha_metric_record(h, "sizing_ms", v, NULL), CHA_OK);
        CHECK_STATUS(cha_metric_gauge(h, "pipes", v, NULL), CHA_OK);
        CHECK_STATUS(cha_experiment_record(h, "pipe_sizing_comparison", "unit-denormal",
                                           "pipe_cost_efficiency", v),
                     CHA_OK);
    }
    CHECK_STATUS(cha_flush(h), CHA_OK);
    CHECK_STATUS(cha_experiment_analyze(h, "pipe_sizing_comparison", &out), CHA_OK);
    cha_string_free(out);
    out = NULL;
    CHECK_STATUS(cha_performance_report(h, 0, 0, &out), CHA_OK);
    cha_string_free(out);
}

/* ---- Strings of a megabyte ----------------------------------------------- */

static void test_megabyte_strings(cha_handle *h) {
    char *big = repeat("", "a", MEGABYTE, "");
    char *out = NULL;
    bool on = false;
    int64_t id = 0;
    const char *variant = NULL;
    uint32_t flag_id = 0;

    /* Names: not found, or refused by their rule; the message quotes the
     * beginning only. */
    CHECK_REFUSED(cha_flag_enabled(h, big, "u", NULL, 0, &on), CHA_ERR_NOT_FOUND, "cha_flag_enabled");
    CHECK_MESSAGE_HAS("(1048576 bytes)");
    CHECK_REFUSED(cha_flag_lookup(h, big, &flag_id), CHA_ERR_NOT_FOUND, "cha_flag_lookup");
    CHECK_REFUSED(cha_flag_get(h, big, &out), CHA_ERR_NOT_FOUND, "cha_flag_get");
    CHECK_REFUSED(cha_flag_history(h, big, &out), CHA_ERR_NOT_FOUND, "cha_flag_history");
    CHECK_REFUSED(cha_flag_update(h, big, "{\"percentage\": 5}", "ops"), CHA_ERR_NOT_FOUND,
                  "cha_flag_update");
    CHECK_REFUSED(cha_flag_update(h, big, "{\"type\": \"boolean\"}", "ops"), CHA_ERR_CONFIG,
                  "cha_flag_update");
    CHECK_REFUSED(cha_experiment_assign(h, big, "u", &variant), CHA_ERR_NOT_FOUND,
                  "cha_experiment_assign");
    CHECK_REFUSED(cha_experiment_get(h, big, &out), CHA_ERR_NOT_FOUND, "cha_experiment_get");
    CHECK_REFUSED(cha_experiment_record(h, "pipe_sizing_comparison", "u", big, 1.0),
                  CHA_ERR_NOT_FOUND, "cha_experiment_record");
    CHECK_REFUSED(cha_metric_record(h, big, 1.0, NULL), CHA_ERR_INVALID_ARGUMENT, "cha_metric_record");
    /* A filter by a name no rule has finds nothing. */
    CHECK_STATUS(cha_alerts_history(h, big, 0, 0, 10, &out), CHA_OK);
    CHECK(out != NULL && strcmp(out, "[]") == 0);
    cha_string_free(out);
    out = NULL;
    CHECK_REFUSED(cha_deploy_report(h, big, NULL, &out), CHA_ERR_INVALID_ARGUMENT, "cha_deploy_report");
    CHECK_REFUSED(cha_metrics_export(h, big, &out), CHA_ERR_INVALID_ARGUMENT, "cha_metrics_export");
    CHECK_REFUSED(cha_experiment_set_status(h, "pipe_sizing_comparison", big, "ops", &out),
                  CHA_ERR_INVALID_ARGUMENT, "cha_experiment_set_status");
    CHECK_REFUSED(cha_deploy_all(h, big, &out), CHA_ERR_NOT_FOUND, "cha_deploy_all");
    CHECK_REFUSED(cha_backup_restore(h, big, "ops", &out), CHA_ERR_NOT_FOUND, "cha_backup_restore");

    /* Ids, actors and text: each has its limit. */
    CHECK_REFUSED(cha_experiment_assign(h, "pipe_sizing_comparison", big, &variant),
                  CHA_ERR_INVALID_ARGUMENT, "cha_experiment_assign");
    CHECK_MESSAGE_HAS("1 to 1024 bytes");
    CHECK_REFUSED(cha_flag_update(h, "new_ui", "{\"percentage\": 5}", big), CHA_ERR_INVALID_ARGUMENT,
                  "cha_flag_update");
    CHECK_MESSAGE_HAS("actor has 1048576 bytes, more than the 256 allowed");
    CHECK(variant == NULL);

    /* A user id is data: hashed as it is, whatever its length. */
    CHECK_STATUS(cha_flag_enabled(h, "intelligent_pipe_sizing", big, NULL, 0, &on), CHA_OK);

    /* A JSON argument of more than a megabyte is refused unread. */
    char *json = repeat("{\"", "a", MEGABYTE, "\": 1}");
    CHECK_REFUSED(cha_flag_evaluate(h, "new_ui", json, &out), CHA_ERR_INVALID_ARGUMENT,
                  "cha_flag_evaluate");
    CHECK_MESSAGE_HAS("argument `context_json` has 1048583 bytes, more than the 1048576 a JSON argument may have");
    free(json);

    /* Half a megabyte inside JSON is read, and quoted back cut short. */
    json = repeat("{\"", "a", MEGABYTE / 2, "\": 1}");
    CHECK_REFUSED(cha_flag_evaluate(h, "new_ui", json, &out), CHA_ERR_INVALID_ARGUMENT,
                  "cha_flag_evaluate");
    CHECK_MESSAGE_HAS("unknown key `aaaa");
    CHECK_REFUSED(cha_flag_update(h, "new_ui", json, "ops"), CHA_ERR_CONFIG, "cha_flag_update");
    CHECK_REFUSED(cha_feedback_submit(h, json, &id), CHA_ERR_INVALID_ARGUMENT, "cha_feedback_submit");
    CHECK_REFUSED(cha_metric_record(h, "sizing_ms", 1.0, json), CHA_ERR_INVALID_ARGUMENT,
                  "cha_metric_record");
    CHECK_REFUSED(cha_deploy_plan(h, config_dir, json, &out), CHA_ERR_INVALID_ARGUMENT,
                  "cha_deploy_plan");
    CHECK_REFUSED(cha_experiment_analyze_with_options(h, "pipe_sizing_comparison", json, &out),
                  CHA_ERR_INVALID_ARGUMENT, "cha_experiment_analyze_with_options");
    CHECK_REFUSED(cha_feedback_list(h, json, &out), CHA_ERR_INVALID_ARGUMENT, "cha_feedback_list");
    free(json);

    json = repeat("{\"description\": \"", "d", MEGABYTE / 2, "\"}");
    CHECK_REFUSED(cha_flag_update(h, "new_ui", json, "ops"), CHA_ERR_CONFIG, "cha_flag_update");
    CHECK_MESSAGE_HAS("description has 524288 bytes, more than the 4096 allowed");
    free(json);
    json = repeat("{\"type\": \"bug_report\", \"user_id\": \"u\", \"text\": \"", "t", MEGABYTE / 2, "\"}");
    CHECK_REFUSED(cha_feedback_submit(h, json, &id), CHA_ERR_INVALID_ARGUMENT, "cha_feedback_submit");
    free(json);
    json = repeat("{\"network\": \"", "n", MEGABYTE / 2, "\"}");
    CHECK_REFUSED(cha_metric_record(h, "sizing_ms", 1.0, json), CHA_ERR_INVALID_ARGUMENT,
                  "cha_metric_record");
    free(json);
    CHECK(out == NULL);
    free(big);
}

/* ---- JSON nested 100,000 deep, and arrays of a million ------------------- */

static void test_deep_and_wide_json(cha_handle *h) {
    char *out = NULL;
    int64_t id = 0;
    cha_handle *other = NULL;
    char db[4096];
    path_in(db, sizeof db, work_dir, "deep.db");
    char *deep_lists = nested("[", "]", 100000);
    char *deep_objects = nested("{\"a\":", "}", 100000);
    const char *deep[] = {deep_lists, deep_objects};
    for (size_t i = 0; i < 2; i++) {
        const char *d = deep[i];
        CHECK_REFUSED(cha_flag_evaluate(h, "new_ui", d, &out), CHA_ERR_INVALID_ARGUMENT,
                      "cha_flag_evaluate");
        CHECK_MESSAGE_HAS("recursion limit exceeded");
        CHECK_REFUSED(cha_flag_update(h, "new_ui", d, "ops"), CHA_ERR_INVALID_ARGUMENT,
                      "cha_flag_update");
        CHECK_REFUSED(cha_feedback_submit(h, d, &id), CHA_ERR_INVALID_ARGUMENT, "cha_feedback_submit");
        CHECK_REFUSED(cha_metric_record(h, "sizing_ms", 1.0, d), CHA_ERR_INVALID_ARGUMENT,
                      "cha_metric_record");
        CHECK_REFUSED(cha_deploy_plan(h, config_dir, d, &out), CHA_ERR_INVALID_ARGUMENT,
                      "cha_deploy_plan");
        CHECK_REFUSED(cha_experiment_analyze_with_options(h, "pipe_sizing_comparison", d, &out),
                      CHA_ERR_INVALID_ARGUMENT, "cha_experiment_analyze_with_options");
        CHECK_REFUSED(cha_feedback_list(h, d, &out), CHA_ERR_INVALID_ARGUMENT, "cha_feedback_list");
        CHECK_REFUSED(cha_feedback_transition(h, 1, d, &out), CHA_ERR_INVALID_ARGUMENT,
                      "cha_feedback_transition");
        CHECK_REFUSED(cha_open_with_options(db, d, &other),
                      CHA_ERR_INVALID_ARGUMENT, "cha_open_with_options");
    }
    free(deep_lists);
    free(deep_objects);
    CHECK(other == NULL);

    /* Arrays and objects of a million elements are more than a JSON
     * argument may hold: refused unread, wherever JSON is taken. */
    char *list = repeat("[0", ", 0", 999999, "]");
    char *keys = object_of_keys(1000000);
    const char *wide[] = {list, keys};
    for (size_t i = 0; i < 2; i++) {
        const char *w = wide[i];
        CHECK_REFUSED(cha_flag_evaluate(h, "new_ui", w, &out), CHA_ERR_INVALID_ARGUMENT,
                      "cha_flag_evaluate");
        CHECK_MESSAGE_HAS("more than the 1048576 a JSON argument may have");
        CHECK_REFUSED(cha_flag_update(h, "new_ui", w, "ops"), CHA_ERR_INVALID_ARGUMENT,
                      "cha_flag_update");
        CHECK_REFUSED(cha_feedback_submit(h, w, &id), CHA_ERR_INVALID_ARGUMENT, "cha_feedback_submit");
        CHECK_REFUSED(cha_metric_record(h, "sizing_ms", 1.0, w), CHA_ERR_INVALID_ARGUMENT,
                      "cha_metric_record");
        CHECK_REFUSED(cha_deploy_plan(h, config_dir, w, &out), CHA_ERR_INVALID_ARGUMENT,
                      "cha_deploy_plan");
        CHECK_REFUSED(cha_feedback_list(h, w, &out), CHA_ERR_INVALID_ARGUMENT, "cha_feedback_list");
        CHECK_REFUSED(cha_open_with_options(db, w, &other), CHA_ERR_INVALID_ARGUMENT,
                      "cha_open_with_options");
    }
    free(list);
    free(keys);

    /* Below that size, each list meets its own limit. */
    char *groups = repeat("{\"groups\": [\"g\"", ", \"g\"", 99999, "]}");
    CHECK_REFUSED(cha_flag_evaluate(h, "new_ui", groups, &out), CHA_ERR_INVALID_ARGUMENT,
                  "cha_flag_evaluate");
    CHECK_MESSAGE_HAS("context has 100000 groups, more than the 1000 allowed");
    free(groups);
    groups = repeat("{\"include_groups\": [\"g\"", ", \"g\"", 99999, "]}");
    CHECK_REFUSED(cha_flag_update(h, "new_ui", groups, "ops"), CHA_ERR_CONFIG, "cha_flag_update");
    CHECK_MESSAGE_HAS("new_ui.include_groups: 100000 items, more than the 1000 allowed");
    free(groups);
    char *tags = object_of_keys(17);
    CHECK_REFUSED(cha_metric_record(h, "sizing_ms", 1.0, tags), CHA_ERR_INVALID_ARGUMENT,
                  "cha_metric_record");
    CHECK_MESSAGE_HAS("17 tags, more than the 16 a series may carry");
    free(tags);

    /* The hot call refuses more groups than a context may have. */
    const char **many = malloc(1001 * sizeof *many);
    if (many == NULL) die("malloc");
    for (size_t i = 0; i < 1001; i++) many[i] = "beta_testers";
    bool on = true;
    CHECK_REFUSED(cha_flag_enabled(h, "new_ui", "u", many, 1001, &on), CHA_ERR_INVALID_ARGUMENT,
                  "cha_flag_enabled");
    CHECK_STATUS(cha_flag_enabled(h, "new_ui", "u", many, 1000, &on), CHA_OK);
    free(many);
    CHECK(out == NULL);
}

/* ---- Names with quotes, semicolons and control characters ---------------- */

static void test_awkward_names(cha_handle *h) {
    static const char *names[] = {
        "x'; DROP TABLE definitions; --", "a\"b", "semi;colon", "esc\x1b[31m", "new\nline",
        "tab\there", "bell\a", "del\x7f",
    };
    bool on = false;
    char *out = NULL;
    const char *variant = NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *n = names[i];
        /* Names of things follow the naming rule. */
        CHECK_REFUSED(cha_flag_update(h, n, "{\"type\": \"boolean\"}", "ops"), CHA_ERR_CONFIG,
                      "cha_flag_update");
        CHECK_MESSAGE_HAS("use letters, digits, `_`, `.` and `-`");
        CHECK_REFUSED(cha_flag_enabled(h, n, "u", NULL, 0, &on), CHA_ERR_NOT_FOUND,
                      "cha_flag_enabled");
        CHECK_REFUSED(cha_experiment_assign(h, n, "u", &variant), CHA_ERR_NOT_FOUND,
                      "cha_experiment_assign");
        CHECK_REFUSED(cha_metric_record(h, n, 1.0, NULL), CHA_ERR_INVALID_ARGUMENT,
                      "cha_metric_record");
        CHECK_REFUSED(cha_feedback_set_status(h, 1, n, "ops"), CHA_ERR_INVALID_ARGUMENT,
                      "cha_feedback_set_status");
        /* Ids and actors are data: taken as they are. */
        CHECK_STATUS(cha_experiment_assign(h, "pipe_sizing_comparison", n, &variant), CHA_OK);
        const char *peeked = NULL;
        CHECK_STATUS(cha_experiment_peek(h, "pipe_sizing_comparison", n, &peeked), CHA_OK);
        CHECK(variant != NULL && peeked != NULL && strcmp(variant, peeked) == 0);
        CHECK_STATUS(cha_flag_enabled(h, "intelligent_pipe_sizing", n, &n, 1, &on), CHA_OK);
        CHECK_STATUS(cha_flag_update(h, "new_ui", "{\"enabled\": true}", n), CHA_OK);
        CHECK_STATUS(cha_flag_update(h, "new_ui", "{\"enabled\": false}", n), CHA_OK);
    }
    CHECK(out == NULL);
}

/* ---- SQL injection: data stays data -------------------------------------- */

static void test_sql_injection(cha_handle *h) {
    /* Each as C has it, and as the JSON answers spell it. */
    static const struct {
        const char *text;
        const char *json;
    } attacks[] = {
        {"'; DROP TABLE definitions; --", "\"'; DROP TABLE definitions; --\""},
        {"\"); DELETE FROM feedback; --", "\"\\\"); DELETE FROM feedback; --\""},
        {"x' OR '1'='1", "\"x' OR '1'='1\""},
        {"a'; ATTACH DATABASE 'pwned.db' AS pwned; --", "\"a'; ATTACH DATABASE 'pwned.db' AS pwned; --\""},
    };
    char *flags_before = NULL;
    CHECK_STATUS(cha_flag_list(h, &flags_before), CHA_OK);
    for (size_t i = 0; i < sizeof attacks / sizeof attacks[0]; i++) {
        char feedback[512], expected[512];
        snprintf(feedback, sizeof feedback,
                 "{\"type\": \"bug_report\", \"text\": %s, \"user_id\": %s}", attacks[i].json,
                 attacks[i].json);
        int64_t id = 0;
        CHECK_STATUS(cha_feedback_submit(h, feedback, &id), CHA_OK);
        char *item = NULL;
        CHECK_STATUS(cha_feedback_get(h, id, &item), CHA_OK);
        snprintf(expected, sizeof expected, "\"text\":%s", attacks[i].json);
        CHECK_HAS(item, expected);
        snprintf(expected, sizeof expected, "\"user_id\":%s", attacks[i].json);
        CHECK_HAS(item, expected);
        cha_string_free(item);

        CHECK_STATUS(cha_flag_update(h, "new_ui", i % 2 == 0 ? "{\"enabled\": true}" : "{\"enabled\": false}",
                                     attacks[i].text),
                     CHA_OK);
        char *history = NULL;
        CHECK_STATUS(cha_flag_history(h, "new_ui", &history), CHA_OK);
        snprintf(expected, sizeof expected, "\"actor\":%s", attacks[i].json);
        CHECK_HAS(history, expected);
        cha_string_free(history);

        char *assignment = NULL;
        CHECK_STATUS(cha_experiment_assignment(h, "pipe_sizing_comparison", attacks[i].text, &assignment),
                     CHA_OK);
        snprintf(expected, sizeof expected, "\"unit\":%s", attacks[i].json);
        CHECK_HAS(assignment, expected);
        cha_string_free(assignment);
    }
    /* Every flag is still there, as it was but for new_ui's switch. */
    char *flags_after = NULL;
    CHECK_STATUS(cha_flag_list(h, &flags_after), CHA_OK);
    CHECK(flags_before != NULL && flags_after != NULL);
    if (flags_before != NULL && flags_after != NULL) {
        CHECK(strstr(flags_after, "\"intelligent_pipe_sizing\"") != NULL);
        CHECK(strstr(flags_after, "\"flow_based_calculation\"") != NULL);
    }
    cha_string_free(flags_before);
    cha_string_free(flags_after);
    char pwned[4096];
    CHECK(access(path_in(pwned, sizeof pwned, work_dir, "pwned.db"), F_OK) != 0);
    CHECK(access("pwned.db", F_OK) != 0);
}

/* ---- Timestamps ---------------------------------------------------------- */

static void test_extreme_times(cha_handle *h) {
    const int64_t times[] = {INT64_MIN, INT64_MIN + 1, -62135596800001LL, 253402300800000LL,
                             INT64_MAX - 1, INT64_MAX};
    const size_t n_times = sizeof times / sizeof times[0];
    char *out = NULL;
    for (size_t i = 0; i < n_times; i++) {
        for (size_t j = 0; j < n_times; j++) {
            int64_t a = times[i], b = times[j];
            cha_status s = cha_performance_report(h, a, b, &out);
            CHECK(s == CHA_OK || s == CHA_ERR_INVALID_ARGUMENT);
            if (s == CHA_OK) cha_string_free(out); else CHECK_SHORT_MESSAGE("cha_performance_report");
            out = NULL;
            s = cha_feedback_analyze(h, a, b, &out);
            CHECK(s == CHA_OK || s == CHA_ERR_INVALID_ARGUMENT);
            if (s == CHA_OK) cha_string_free(out); else CHECK_SHORT_MESSAGE("cha_feedback_analyze");
            out = NULL;
            s = cha_flag_usage(h, a, b, &out);
            CHECK(s == CHA_OK || s == CHA_ERR_INVALID_ARGUMENT);
            if (s == CHA_OK) cha_string_free(out); else CHECK_SHORT_MESSAGE("cha_flag_usage");
            out = NULL;
            s = cha_alerts_list(h, a, b, false, 10, &out);
            CHECK(s == CHA_OK || s == CHA_ERR_INVALID_ARGUMENT);
            if (s == CHA_OK) cha_string_free(out); else CHECK_SHORT_MESSAGE("cha_alerts_list");
            out = NULL;
            s = cha_alerts_history(h, NULL, a, b, 10, &out);
            CHECK(s == CHA_OK || s == CHA_ERR_INVALID_ARGUMENT);
            if (s == CHA_OK) cha_string_free(out); else CHECK_SHORT_MESSAGE("cha_alerts_history");
            out = NULL;
        }
        int64_t t = times[i];
        /* Years 1 to 9999 only: these are far outside. */
        CHECK_REFUSED(cha_metric_record_at(h, "gauge", "pipes", 1.0, NULL, t),
                      CHA_ERR_INVALID_ARGUMENT, "cha_metric_record_at");
        CHECK_MESSAGE_HAS("is outside years 1 to 9999");
        CHECK_REFUSED(cha_alerts_evaluate(h, t, &out), CHA_ERR_INVALID_ARGUMENT,
                      "cha_alerts_evaluate");
        CHECK_REFUSED(cha_guardrails_check(h, t, &out), CHA_ERR_INVALID_ARGUMENT,
                      "cha_guardrails_check");
        CHECK_REFUSED(cha_performance_report(h, t, 0, &out), CHA_ERR_INVALID_ARGUMENT,
                      "cha_performance_report");
        CHECK_REFUSED(cha_flag_usage(h, 0, t, &out), CHA_ERR_INVALID_ARGUMENT, "cha_flag_usage");
        CHECK_REFUSED(cha_feedback_analyze(h, t, 0, &out), CHA_ERR_INVALID_ARGUMENT,
                      "cha_feedback_analyze");
        CHECK_REFUSED(cha_alerts_list(h, t, 0, false, 10, &out), CHA_ERR_INVALID_ARGUMENT,
                      "cha_alerts_list");
        CHECK_REFUSED(cha_alerts_history(h, NULL, 0, t, 10, &out), CHA_ERR_INVALID_ARGUMENT,
                      "cha_alerts_history");
        CHECK_REFUSED(cha_deploy_rollback(h, t, &out), t < 0 ? CHA_ERR_INVALID_ARGUMENT : CHA_ERR_NOT_FOUND,
                      "cha_deploy_rollback");
        CHECK_REFUSED(cha_feedback_get(h, t, &out), CHA_ERR_NOT_FOUND, "cha_feedback_get");
        CHECK_REFUSED(cha_flag_restore(h, "new_ui", t, "ops", &out), CHA_ERR_NOT_FOUND,
                      "cha_flag_restore");
    }
    CHECK(out == NULL);

    /* Years 0 and 10000 in RFC 3339 text, wherever a time is read. */
    static const char *refused_times[] = {"0000-01-01T00:00:00Z", "10000-01-01T00:00:00Z",
                                          "+10000-01-01T00:00:00Z", "-0001-01-01T00:00:00Z",
                                          "2026-02-30T00:00:00Z", "2026-01-01T24:00:00Z"};
    char json[512];
    int64_t id = 0;
    for (size_t i = 0; i < sizeof refused_times / sizeof refused_times[0]; i++) {
        const char *t = refused_times[i];
        snprintf(json, sizeof json, "{\"user_id\": \"u\", \"current_time\": \"%s\"}", t);
        CHECK_REFUSED(cha_flag_evaluate(h, "new_ui", json, &out), CHA_ERR_INVALID_ARGUMENT,
                      "cha_flag_evaluate");
        CHECK_MESSAGE_HAS("context.current_time");
        snprintf(json, sizeof json,
                 "{\"type\": \"bug_report\", \"text\": \"t\", \"user_id\": \"u\", \"submitted_at\": \"%s\"}", t);
        CHECK_REFUSED(cha_feedback_submit(h, json, &id), CHA_ERR_INVALID_ARGUMENT, "cha_feedback_submit");
        snprintf(json, sizeof json, "{\"type\": \"time_based\", \"start_time\": \"%s\"}", t);
        CHECK_REFUSED(cha_flag_update(h, "new_ui", json, "ops"), CHA_ERR_CONFIG, "cha_flag_update");
    }
    /* The first and last instants RFC 3339 can write are times like any. */
    CHECK_STATUS(cha_metric_record_at(h, "gauge", "pipes", 1.0, NULL, -62135596800000LL), CHA_OK);
    CHECK_STATUS(cha_metric_record_at(h, "gauge", "pipes", 1.0, NULL, 253402300799999LL), CHA_OK);
    CHECK_STATUS(cha_performance_report(h, 1, 253402300799999LL, &out), CHA_OK);
    cha_string_free(out);
    out = NULL;
    static const char *accepted_times[] = {"0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z",
                                           "1969-12-31T23:59:59Z"};
    for (size_t i = 0; i < sizeof accepted_times / sizeof accepted_times[0]; i++) {
        snprintf(json, sizeof json, "{\"user_id\": \"u\", \"current_time\": \"%s\"}",
                 accepted_times[i]);
        CHECK_STATUS(cha_flag_evaluate(h, "new_ui", json, &out), CHA_OK);
        cha_string_free(out);
        out = NULL;
    }
}

/* ---- The config folder: alias bomb, 100 MB, FIFO, link loop -------------- */

/* A folder WORK_DIR/name holding configs/'s files but feature_flags.yml,
 * which the caller makes. */
static char *config_copy(char *dir, size_t size, const char *name) {
    static const char *others[] = {"ab_tests.yml", "performance_monitoring.yml", "user_feedback.yml"};
    path_in(dir, size, work_dir, name);
    if (mkdir(dir, 0700) != 0) die(dir);
    for (size_t i = 0; i < 3; i++) {
        char from[4096], to[4096];
        FILE *in = fopen(path_in(from, sizeof from, config_dir, others[i]), "rb");
        FILE *out = fopen(path_in(to, sizeof to, dir, others[i]), "wb");
        if (in == NULL || out == NULL) die("copying a config file");
        char buf[8192];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, out);
        fclose(in);
        if (fclose(out) != 0) die(to);
    }
    return dir;
}

/* Deploy, plan and validate of `dir` all fail with `expected` and `needle`. */
static void check_config_dir_refused(cha_handle *h, const char *dir, cha_status expected,
                                     const char *needle) {
    char *out = NULL;
    CHECK_REFUSED(cha_deploy_all(h, dir, &out), expected, "cha_deploy_all");
    CHECK_MESSAGE_HAS(needle);
    CHECK_REFUSED(cha_deploy_plan(h, dir, NULL, &out), expected, "cha_deploy_plan");
    CHECK_MESSAGE_HAS(needle);
    CHECK_REFUSED(cha_config_validate(dir, NULL, &out), expected, "cha_config_validate");
    CHECK_MESSAGE_HAS(needle);
    CHECK(out == NULL);
}

static void test_hostile_config_folders(cha_handle *h) {
    char dir[4096], file[4096];

    /* Billion laughs: nine levels of ten aliases each. */
    config_copy(dir, sizeof dir, "bomb");
    write_file(path_in(file, sizeof file, dir, "feature_flags.yml"),
               "version: 2\n"
               "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
               "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
               "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
               "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
               "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
               "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
               "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
               "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
               "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
               "flags: *i\n");
    /* The parser's budget stops the expansion (after 4 million events:
     * seconds in a debug build, so the one loader is checked once). */
    char *out = NULL;
    CHECK_REFUSED(cha_config_validate(dir, NULL, &out), CHA_ERR_CONFIG, "cha_config_validate");
    CHECK_MESSAGE_HAS("feature_flags.yml");
    CHECK(out == NULL);

    /* 100 MB (a sparse file: only the first 16 MB + 1 byte are read). */
    config_copy(dir, sizeof dir, "huge");
    int fd = open(path_in(file, sizeof file, dir, "feature_flags.yml"), O_CREAT | O_WRONLY, 0600);
    if (fd < 0 || ftruncate(fd, 100L * MEGABYTE) != 0 || close(fd) != 0) die(file);
    check_config_dir_refused(h, dir, CHA_ERR_CONFIG,
                             "more than the 16777216 bytes a configuration may have");

    /* A FIFO: reading it would wait for a writer forever. */
    config_copy(dir, sizeof dir, "fifo");
    if (mkfifo(path_in(file, sizeof file, dir, "feature_flags.yml"), 0600) != 0) die(file);
    check_config_dir_refused(h, dir, CHA_ERR_CONFIG, "is not a regular file");

    /* A loop of symbolic links as the file, and as the folder. */
    config_copy(dir, sizeof dir, "loop");
    char other[4096];
    if (symlink("feature_flags.yml", path_in(other, sizeof other, dir, "other.yml")) != 0 ||
        symlink("other.yml", path_in(file, sizeof file, dir, "feature_flags.yml")) != 0)
        die("symlink");
    check_config_dir_refused(h, dir, CHA_ERR_CONFIG, "symbolic link");
    path_in(dir, sizeof dir, work_dir, "loop-dir");
    path_in(other, sizeof other, work_dir, "loop-dir-2");
    if (symlink("loop-dir-2", dir) != 0 || symlink("loop-dir", other) != 0) die("symlink");
    check_config_dir_refused(h, dir, CHA_ERR_NOT_FOUND, "loop-dir");

    /* Nothing was deployed by any of them. */
    char *history = NULL;
    CHECK_STATUS(cha_deploy_history(h, 100, &history), CHA_OK);
    CHECK(history != NULL && strstr(history, "bomb") == NULL && strstr(history, "fifo") == NULL);
    cha_string_free(history);
}

/* ---- A closed handle ----------------------------------------------------- */

static void test_closed_handle(void) {
    char db[4096];
    cha_handle *h = NULL;
    CHECK_STATUS(cha_open(path_in(db, sizeof db, work_dir, "closed.db"), &h), CHA_OK);
    cha_close(h);
    bool on = true;
    char *out = NULL;
    /* The handle is closed: every call is refused, and a second close
     * changes nothing (no double free: AddressSanitizer watches). */
    CHECK_REFUSED(cha_flag_enabled(h, "new_ui", "u", NULL, 0, &on), CHA_ERR_INVALID_ARGUMENT,
                  "cha_flag_enabled");
    CHECK_MESSAGE_HAS("the handle was closed by cha_close");
    CHECK_REFUSED(cha_flush(h), CHA_ERR_INVALID_ARGUMENT, "cha_flush");
    CHECK_REFUSED(cha_deploy_status(h, &out), CHA_ERR_INVALID_ARGUMENT, "cha_deploy_status");
    CHECK_REFUSED(cha_metric_record(h, "sizing_ms", 1.0, NULL), CHA_ERR_INVALID_ARGUMENT,
                  "cha_metric_record");
    cha_close(h);
    CHECK_MESSAGE_HAS("cha_close: the handle was closed by cha_close");
    CHECK(on == true && out == NULL);

    /* Closed handles keep being detected while more are opened and closed. */
    cha_handle *first = NULL;
    CHECK_STATUS(cha_open(db, &first), CHA_OK);
    cha_close(first);
    for (int i = 0; i < 10; i++) {
        cha_handle *again = NULL;
        CHECK_STATUS(cha_open(db, &again), CHA_OK);
        cha_close(again);
    }
    CHECK_REFUSED(cha_flush(first), CHA_ERR_INVALID_ARGUMENT, "cha_flush");
}

/* ---- Size limits --------------------------------------------------------- */

static void test_size_limits(cha_handle *h) {
    char *actor = repeat("", "a", 256, "");
    CHECK_STATUS(cha_flag_update(h, "new_ui", "{\"enabled\": true}", actor), CHA_OK);
    free(actor);
    actor = repeat("", "a", 257, "");
    CHECK_REFUSED(cha_flag_update(h, "new_ui", "{\"enabled\": false}", actor),
                  CHA_ERR_INVALID_ARGUMENT, "cha_flag_update");
    CHECK_MESSAGE_HAS("actor has 257 bytes, more than the 256 allowed");
    free(actor);

    char *json = repeat("{\"description\": \"", "d", 4096, "\"}");
    CHECK_STATUS(cha_flag_update(h, "new_ui", json, "ops"), CHA_OK);
    free(json);
    json = repeat("{\"description\": \"", "d", 4097, "\"}");
    CHECK_REFUSED(cha_flag_update(h, "new_ui", json, "ops"), CHA_ERR_CONFIG, "cha_flag_update");
    CHECK_MESSAGE_HAS("new_ui.description: description has 4097 bytes, more than the 4096 allowed");
    free(json);

    /* A user_group flag of 1000 groups is taken; 1001 is refused. */
    json = repeat("{\"type\": \"user_group\", \"enabled\": true, \"include_groups\": [\"g\"", ", \"g\"",
                  999, "]}");
    CHECK_STATUS(cha_flag_update(h, "many_groups", json, "ops"), CHA_OK);
    free(json);
    json = repeat("{\"include_groups\": [\"g\"", ", \"g\"", 1000, "]}");
    CHECK_REFUSED(cha_flag_update(h, "many_groups", json, "ops"), CHA_ERR_CONFIG, "cha_flag_update");
    CHECK_MESSAGE_HAS("many_groups.include_groups: 1001 items, more than the 1000 allowed");
    free(json);
    json = repeat("{\"allow_users\": [\"", "u", 1025, "\"]}");
    CHECK_REFUSED(cha_flag_update(h, "many_groups", json, "ops"), CHA_ERR_CONFIG, "cha_flag_update");
    CHECK_MESSAGE_HAS("many_groups.allow_users[0]: has 1025 bytes, more than the 1024 allowed");
    free(json);

    json = repeat("{\"prerequisites\": [\"new_ui\"", ", \"new_ui\"", 16, "]}");
    CHECK_REFUSED(cha_flag_update(h, "many_groups", json, "ops"), CHA_ERR_CONFIG, "cha_flag_update");
    CHECK_MESSAGE_HAS("many_groups.prerequisites: 17 prerequisites, more than the 16 allowed");
    free(json);
}

int main(int argc, char **argv) {
    harness_dirs(argc, argv, &work_dir, &config_dir);

    cha_handle *h = open_deployed("hostile.db");
    test_null_and_invalid_utf8(h);
    test_non_finite_and_denormal_numbers(h);
    test_megabyte_strings(h);
    test_deep_and_wide_json(h);
    test_awkward_names(h);
    test_sql_injection(h);
    test_extreme_times(h);
    test_hostile_config_folders(h);
    test_size_limits(h);
    cha_close(h);
    test_closed_handle();

    return harness_summary("test_hostile");
}

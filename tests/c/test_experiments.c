/*
 * test_experiments.c: A/B experiments through the C ABI, as a C simulation
 * tool uses them: deploying the repository's configs/ab_tests.yml, assigning
 * units (cha_experiment_assign, cha_experiment_assignment), recording
 * observations, analysing them (cha_experiment_analyze and _with_options),
 * planning sample sizes, changing the status, sticky assignment across a
 * reweighting deployment, and one handle assigning and recording from many
 * threads while another thread flushes and analyses.
 *
 * Run by tests/c_abi.rs as `test_experiments WORK_DIR [CONFIG_DIR]`.
 * CONFIG_DIR defaults to the configs/ folder of the repository this file is
 * in (found from __FILE__). Prints one line per failed check and a summary;
 * exits non-zero if any check failed. Every returned string is freed:
 * LeakSanitizer runs.
 *
 * Assignments are checked exactly against the documented bucketing,
 * computed here independently (murmur3.h): a unit enters an experiment with
 * seed s when murmur3_32("{s}:coverage:{unit}", 0) % 10000 < coverage * 100,
 * and then gets the variant whose cumulative traffic share (in hundredths of
 * a percent) covers murmur3_32("{s}:{unit}", 0) % 10000.
 */
#define _POSIX_C_SOURCE 200809L

#include "cha_deploy.h"
#include "harness.h"
#include "murmur3.h"

#include <float.h>
#include <math.h> /* NAN and INFINITY only: no -lm */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* |x|, without libm: c_abi.rs links the shared library without -lm. */
static double abs_of(double x) { return x < 0 ? -x : x; }

/* Checks that two doubles agree to a relative 1e-9 (exact reference values
 * computed here from the recorded data). */
#define CHECK_CLOSE(actual, expected)                                            \
    do {                                                                         \
        double a_ = (actual), e_ = (expected);                                   \
        if (abs_of(a_ - e_) <= 1e-9 * (abs_of(e_) > 1.0 ? abs_of(e_) : 1.0)) {   \
            passed++;                                                            \
        } else {                                                                 \
            failed++;                                                            \
            fprintf(stderr, "%s:%d: %s is %.17g, expected %.17g\n", __FILE__,    \
                    __LINE__, #actual, a_, e_);                                  \
        }                                                                        \
    } while (0)

/* Values no real result has: an out-pointer must keep them after a failure. */
static char untouched_text[] = "untouched";
static const char untouched_variant[] = "untouched-variant";
#define UNTOUCHED_STR untouched_text
#define UNTOUCHED_VARIANT untouched_variant

static const char *work_dir;
static const char *config_dir;

static const char *path_in_work_dir(char *buf, size_t size, const char *name) {
    int n = snprintf(buf, size, "%s/%s", work_dir, name);
    if (n < 0 || (size_t)n >= size) {
        fprintf(stderr, "path too long: %s/%s\n", work_dir, name);
        exit(2);
    }
    return buf;
}

/* ---- the documented bucketing, computed independently ---------------- */

static uint32_t hash_bucket(const char *key) {
    return murmur3_32((const unsigned char *)key, strlen(key), 0) % 10000u;
}

/* The variant bucket (0..9999) of `unit` in an experiment seeded `seed`. */
static uint32_t bucket_of(const char *seed, const char *unit) {
    char key[1200];
    int n = snprintf(key, sizeof key, "%s:%s", seed, unit);
    if (n < 0 || (size_t)n >= sizeof key) {
        fprintf(stderr, "key too long: %s:%s\n", seed, unit);
        exit(2);
    }
    return hash_bucket(key);
}

/* The coverage bucket (0..9999) of `unit`: independent of the variant bucket. */
static uint32_t coverage_bucket_of(const char *seed, const char *unit) {
    char key[1200];
    int n = snprintf(key, sizeof key, "%s:coverage:%s", seed, unit);
    if (n < 0 || (size_t)n >= sizeof key) {
        fprintf(stderr, "key too long: %s:coverage:%s\n", seed, unit);
        exit(2);
    }
    return hash_bucket(key);
}

/* The variant a two-variant experiment must give: `first` below `split`
 * hundredths of a percent, `second` from there, NULL outside `coverage`
 * hundredths. */
static const char *expected_variant(const char *seed, const char *unit, uint32_t coverage,
                                    uint32_t split, const char *first, const char *second) {
    if (coverage < 10000 && coverage_bucket_of(seed, unit) >= coverage) {
        return NULL;
    }
    return bucket_of(seed, unit) < split ? first : second;
}

/* ---- helpers ---------------------------------------------------------- */

static cha_handle *open_db(const char *name) {
    char path[4096];
    path_in_work_dir(path, sizeof path, name);
    cha_handle *h = NULL;
    CHECK_STATUS(cha_open(path, &h), CHA_OK);
    if (h == NULL) {
        fprintf(stderr, "cannot open %s: %s\n", path, last_error_or("?"));
        exit(2);
    }
    return h;
}

/* Deploys `dir` into `h`; returns the report (free it) or NULL. */
static char *deploy(cha_handle *h, const char *dir) {
    char *report = NULL;
    CHECK_STATUS(cha_deploy_all(h, dir, &report), CHA_OK);
    return report;
}

/* A deployment whose files win over runtime changes and deletions. */
static char *deploy_overwrite(cha_handle *h, const char *dir) {
    char *report = NULL;
    CHECK_STATUS(cha_deploy_all_with_options(h, dir, "{\"on_drift\": \"overwrite\"}", &report),
                 CHA_OK);
    return report;
}

/* cha_experiment_assign that must succeed; returns the variant (or NULL). */
static const char *assign(cha_handle *h, const char *experiment, const char *unit) {
    const char *variant = UNTOUCHED_VARIANT;
    cha_status status = cha_experiment_assign(h, experiment, unit, &variant);
    if (status != CHA_OK) {
        failed++;
        fprintf(stderr, "cha_experiment_assign(%s, %s) returned %s: %s\n", experiment, unit,
                cha_status_name(status), last_error_or("(NULL)"));
        return NULL;
    }
    return variant;
}

/* cha_experiment_assignment that must succeed; returns the JSON (free it). */
static char *assignment(cha_handle *h, const char *experiment, const char *unit) {
    char *json = NULL;
    cha_status status = cha_experiment_assignment(h, experiment, unit, &json);
    if (status != CHA_OK) {
        failed++;
        fprintf(stderr, "cha_experiment_assignment(%s, %s) returned %s: %s\n", experiment, unit,
                cha_status_name(status), last_error_or("(NULL)"));
    }
    return json;
}

/* cha_experiment_record that must succeed. */
static void record(cha_handle *h, const char *experiment, const char *unit, const char *metric,
                   double value) {
    cha_status status = cha_experiment_record(h, experiment, unit, metric, value);
    if (status != CHA_OK) {
        failed++;
        fprintf(stderr, "cha_experiment_record(%s, %s, %s, %g) returned %s: %s\n", experiment,
                unit, metric, value, cha_status_name(status), last_error_or("(NULL)"));
    }
}

/* cha_experiment_analyze_with_options that must succeed; the JSON (free it). */
static char *analyze(cha_handle *h, const char *experiment, const char *options) {
    char *json = NULL;
    cha_status status = cha_experiment_analyze_with_options(h, experiment, options, &json);
    if (status != CHA_OK) {
        failed++;
        fprintf(stderr, "cha_experiment_analyze_with_options(%s, %s) returned %s: %s\n",
                experiment, options ? options : "NULL", cha_status_name(status),
                last_error_or("(NULL)"));
    }
    return json;
}

/* cha_experiment_set_status that must succeed; the JSON (free it). */
static char *set_status(cha_handle *h, const char *experiment, const char *status_name) {
    char *json = NULL;
    cha_status status = cha_experiment_set_status(h, experiment, status_name, "c-test", &json);
    if (status != CHA_OK) {
        failed++;
        fprintf(stderr, "cha_experiment_set_status(%s, %s) returned %s: %s\n", experiment,
                status_name, cha_status_name(status), last_error_or("(NULL)"));
    }
    return json;
}

/* The number after `"key":` that follows the first `anchor` in `json`, or
 * NaN when either is missing or the value is not a number. */
static double json_number(const char *json, const char *anchor, const char *key) {
    const char *at = json ? strstr(json, anchor) : NULL;
    if (at == NULL) {
        return NAN;
    }
    char needle[128];
    snprintf(needle, sizeof needle, "\"%s\":", key);
    at = strstr(at, needle);
    if (at == NULL) {
        return NAN;
    }
    const char *start = at + strlen(needle);
    char *end = NULL;
    double value = strtod(start, &end);
    return end == start ? NAN : value;
}

/* The whole of a text file (free it), or NULL. */
static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    char *text = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        if (size >= 0 && fseek(f, 0, SEEK_SET) == 0) {
            text = malloc((size_t)size + 1);
            if (text != NULL && fread(text, 1, (size_t)size, f) == (size_t)size) {
                text[size] = '\0';
            } else {
                free(text);
                text = NULL;
            }
        }
    }
    fclose(f);
    return text;
}

/* `text` with its first `from` replaced by `to` (free it), or NULL if absent. */
static char *replace_first(const char *text, const char *from, const char *to) {
    const char *at = strstr(text, from);
    if (at == NULL) {
        return NULL;
    }
    size_t head = (size_t)(at - text), from_len = strlen(from), to_len = strlen(to);
    size_t tail = strlen(at + from_len);
    char *out = malloc(head + to_len + tail + 1);
    if (out == NULL) {
        return NULL;
    }
    memcpy(out, text, head);
    memcpy(out + head, to, to_len);
    memcpy(out + head + to_len, at + from_len, tail + 1);
    return out;
}

/* Creates WORK_DIR/name holding ab_tests.yml with `yaml`; writes the folder's
 * path to `dir`. */
static void write_config_dir(char *dir, size_t size, const char *name, const char *yaml) {
    path_in_work_dir(dir, size, name);
    CHECK(mkdir(dir, 0700) == 0);
    char file[4200];
    snprintf(file, sizeof file, "%s/ab_tests.yml", dir);
    FILE *f = fopen(file, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        CHECK(fputs(yaml, f) >= 0);
        CHECK(fclose(f) == 0);
    }
}

/* The repository's ab_tests.yml (free it); exits if it cannot be read. */
static char *repository_ab_tests(void) {
    char path[4200];
    snprintf(path, sizeof path, "%s/ab_tests.yml", config_dir);
    char *text = read_text(path);
    if (text == NULL) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(2);
    }
    return text;
}

static void unit_name(char *buf, size_t size, const char *prefix, int i) {
    snprintf(buf, size, "%s-%05d", prefix, i);
}

static int same_variant(const char *a, const char *b) {
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* ---- tests ------------------------------------------------------------- */

static void test_murmur3_vectors(void) {
    /* Published test vectors of MurmurHash3_x86_32: the reference for the
     * bucketing checks below. */
    CHECK(murmur3_32((const unsigned char *)"", 0, 0) == 0u);
    CHECK(murmur3_32((const unsigned char *)"", 0, 1) == 0x514e28b7u);
    CHECK(murmur3_32((const unsigned char *)"hello", 5, 0) == 0x248bfa47u);
    const char *fox = "The quick brown fox jumps over the lazy dog";
    CHECK(murmur3_32((const unsigned char *)fox, strlen(fox), 0) == 0x2e4ff723u);
}

static void test_deploy(cha_handle *h) {
    char *report = deploy(h, config_dir);
    CHECK_HAS(report, "{\"file\":\"ab_tests.yml\"");
    CHECK_HAS(report, "\"experiments\":{\"created\":[\"flow_calculation_comparison\","
                      "\"network_analysis_comparison\",\"pipe_sizing_comparison\"],"
                      "\"updated\":[],\"unchanged\":[],\"removed\":[]}");
    cha_string_free(report);

    char *list = NULL;
    CHECK_STATUS(cha_experiment_list(h, &list), CHA_OK);
    CHECK_HAS(list, "{\"definition\":{\"id\":\"flow_calculation_comparison\"");
    CHECK_HAS(list, "{\"definition\":{\"id\":\"network_analysis_comparison\"");
    CHECK_HAS(list, "{\"definition\":{\"id\":\"pipe_sizing_comparison\"");
    CHECK_HAS(list, "\"seed\":\"network_analysis_2026\"");
    CHECK_HAS(list, "\"coverage\":50.0");
    cha_string_free(list);
}

static void test_null_arguments(cha_handle *h) {
    const char *e = "pipe_sizing_comparison";
    const char *m = "pipe_cost_efficiency";
    const char *variant = UNTOUCHED_VARIANT;
    char *json = UNTOUCHED_STR;

#define CHECK_NULL(call, message)                                                \
    do {                                                                         \
        CHECK_STATUS(call, CHA_ERR_NULL_ARGUMENT);                               \
        CHECK_MESSAGE_HAS(message);                                              \
        CHECK(variant == UNTOUCHED_VARIANT && json == UNTOUCHED_STR);            \
    } while (0)

    CHECK_NULL(cha_experiment_assign(NULL, e, "u", &variant),
               "cha_experiment_assign: argument `h` is NULL");
    CHECK_NULL(cha_experiment_assign(h, NULL, "u", &variant),
               "cha_experiment_assign: argument `experiment` is NULL");
    CHECK_NULL(cha_experiment_assign(h, e, NULL, &variant),
               "cha_experiment_assign: argument `unit_id` is NULL");
    CHECK_NULL(cha_experiment_assign(h, e, "u", NULL),
               "cha_experiment_assign: argument `out_variant` is NULL");

    CHECK_NULL(cha_experiment_assignment(NULL, e, "u", &json),
               "cha_experiment_assignment: argument `h` is NULL");
    CHECK_NULL(cha_experiment_assignment(h, NULL, "u", &json),
               "cha_experiment_assignment: argument `experiment` is NULL");
    CHECK_NULL(cha_experiment_assignment(h, e, NULL, &json),
               "cha_experiment_assignment: argument `unit_id` is NULL");
    CHECK_NULL(cha_experiment_assignment(h, e, "u", NULL),
               "cha_experiment_assignment: argument `out_json` is NULL");

    CHECK_NULL(cha_experiment_record(NULL, e, "u", m, 1.0),
               "cha_experiment_record: argument `h` is NULL");
    CHECK_NULL(cha_experiment_record(h, NULL, "u", m, 1.0),
               "cha_experiment_record: argument `experiment` is NULL");
    CHECK_NULL(cha_experiment_record(h, e, NULL, m, 1.0),
               "cha_experiment_record: argument `unit_id` is NULL");
    CHECK_NULL(cha_experiment_record(h, e, "u", NULL, 1.0),
               "cha_experiment_record: argument `metric` is NULL");

    CHECK_NULL(cha_experiment_list(NULL, &json), "cha_experiment_list: argument `h` is NULL");
    CHECK_NULL(cha_experiment_list(h, NULL), "cha_experiment_list: argument `out_json` is NULL");
    CHECK_NULL(cha_experiment_get(NULL, e, &json), "cha_experiment_get: argument `h` is NULL");
    CHECK_NULL(cha_experiment_get(h, NULL, &json), "cha_experiment_get: argument `experiment` is NULL");
    CHECK_NULL(cha_experiment_get(h, e, NULL), "cha_experiment_get: argument `out_json` is NULL");
    {
        char *got = NULL;
        CHECK_STATUS(cha_experiment_get(h, e, &got), CHA_OK);
        if (got != NULL) {
            CHECK(strstr(got, "\"definition\":{") != NULL && strstr(got, e) != NULL);
            cha_string_free(got);
        }
        got = NULL;
        CHECK_STATUS(cha_experiment_get(h, "no_such_test", &got), CHA_ERR_NOT_FOUND);
        CHECK(got == NULL);
    }

    CHECK_NULL(cha_experiment_set_status(NULL, e, "paused", "c-test", &json),
               "cha_experiment_set_status: argument `h` is NULL");
    CHECK_NULL(cha_experiment_set_status(h, NULL, "paused", "c-test", &json),
               "cha_experiment_set_status: argument `experiment` is NULL");
    CHECK_NULL(cha_experiment_set_status(h, e, NULL, "c-test", &json),
               "cha_experiment_set_status: argument `status` is NULL");
    CHECK_NULL(cha_experiment_set_status(h, e, "paused", NULL, &json),
               "cha_experiment_set_status: argument `actor` is NULL");
    CHECK_NULL(cha_experiment_set_status(h, e, "paused", "c-test", NULL),
               "cha_experiment_set_status: argument `out_json` is NULL");

    CHECK_NULL(cha_experiment_analyze(NULL, e, &json),
               "cha_experiment_analyze: argument `h` is NULL");
    CHECK_NULL(cha_experiment_analyze(h, NULL, &json),
               "cha_experiment_analyze: argument `experiment` is NULL");
    CHECK_NULL(cha_experiment_analyze(h, e, NULL),
               "cha_experiment_analyze: argument `out_json` is NULL");

    CHECK_NULL(cha_experiment_analyze_with_options(NULL, e, "{}", &json),
               "cha_experiment_analyze_with_options: argument `h` is NULL");
    CHECK_NULL(cha_experiment_analyze_with_options(h, NULL, "{}", &json),
               "cha_experiment_analyze_with_options: argument `experiment` is NULL");
    CHECK_NULL(cha_experiment_analyze_with_options(h, e, "{}", NULL),
               "cha_experiment_analyze_with_options: argument `out_json` is NULL");

    CHECK_NULL(cha_experiment_plan(NULL, e, m, 100.0, 10.0, &json),
               "cha_experiment_plan: argument `h` is NULL");
    CHECK_NULL(cha_experiment_plan(h, NULL, m, 100.0, 10.0, &json),
               "cha_experiment_plan: argument `experiment` is NULL");
    CHECK_NULL(cha_experiment_plan(h, e, NULL, 100.0, 10.0, &json),
               "cha_experiment_plan: argument `metric` is NULL");
    CHECK_NULL(cha_experiment_plan(h, e, m, 100.0, 10.0, NULL),
               "cha_experiment_plan: argument `out_json` is NULL");

    CHECK_NULL(cha_flush(NULL), "cha_flush: argument `h` is NULL");
#undef CHECK_NULL

    /* A status change whose result cannot be delivered changes nothing. */
    CHECK(same_variant(assign(h, e, "null-args-after"),
                       expected_variant(e, "null-args-after", 10000, 5000, "traditional",
                                        "intelligent")));
    char *json_ok = assignment(h, e, "null-args-after");
    CHECK_HAS(json_ok, "\"reason\":\"ASSIGNED\"");
    cha_string_free(json_ok);
    /* options_json may be NULL: the defaults. */
    json_ok = analyze(h, e, NULL);
    CHECK_HAS(json_ok, "\"correction\":\"holm\",\"family_alpha\":0.05,\"family_size\":2,\"sequential\":false");
    cha_string_free(json_ok);
}

static void test_invalid_utf8(cha_handle *h) {
    const char *e = "pipe_sizing_comparison";
    const char *m = "pipe_cost_efficiency";
    const char *bad = "bad-\xff-name";
    const char *variant = UNTOUCHED_VARIANT;
    char *json = UNTOUCHED_STR;

#define CHECK_UTF8(call, message)                                                \
    do {                                                                         \
        CHECK_STATUS(call, CHA_ERR_INVALID_UTF8);                                \
        CHECK_MESSAGE_HAS(message);                                              \
        CHECK(variant == UNTOUCHED_VARIANT && json == UNTOUCHED_STR);            \
    } while (0)

    CHECK_UTF8(cha_experiment_assign(h, bad, "u", &variant),
               "cha_experiment_assign: argument `experiment` is not valid UTF-8 (bad byte at offset 4)");
    CHECK_UTF8(cha_experiment_assign(h, e, bad, &variant),
               "cha_experiment_assign: argument `unit_id` is not valid UTF-8");
    CHECK_UTF8(cha_experiment_assignment(h, bad, "u", &json),
               "cha_experiment_assignment: argument `experiment` is not valid UTF-8");
    CHECK_UTF8(cha_experiment_assignment(h, e, bad, &json),
               "cha_experiment_assignment: argument `unit_id` is not valid UTF-8");
    CHECK_UTF8(cha_experiment_record(h, bad, "u", m, 1.0),
               "cha_experiment_record: argument `experiment` is not valid UTF-8");
    CHECK_UTF8(cha_experiment_record(h, e, bad, m, 1.0),
               "cha_experiment_record: argument `unit_id` is not valid UTF-8");
    CHECK_UTF8(cha_experiment_record(h, e, "u", bad, 1.0),
               "cha_experiment_record: argument `metric` is not valid UTF-8");
    CHECK_UTF8(cha_experiment_set_status(h, bad, "paused", "c-test", &json),
               "cha_experiment_set_status: argument `experiment` is not valid UTF-8");
    CHECK_UTF8(cha_experiment_set_status(h, e, bad, "c-test", &json),
               "cha_experiment_set_status: argument `status` is not valid UTF-8");
    CHECK_UTF8(cha_experiment_set_status(h, e, "paused", bad, &json),
               "cha_experiment_set_status: argument `actor` is not valid UTF-8");
    CHECK_UTF8(cha_experiment_analyze(h, bad, &json),
               "cha_experiment_analyze: argument `experiment` is not valid UTF-8");
    CHECK_UTF8(cha_experiment_analyze_with_options(h, bad, "{}", &json),
               "cha_experiment_analyze_with_options: argument `experiment` is not valid UTF-8");
    CHECK_UTF8(cha_experiment_analyze_with_options(h, e, "{\"correction\": \"\xff\"}", &json),
               "cha_experiment_analyze_with_options: argument `options_json` is not valid UTF-8");
    CHECK_UTF8(cha_experiment_plan(h, bad, m, 100.0, 10.0, &json),
               "cha_experiment_plan: argument `experiment` is not valid UTF-8");
    CHECK_UTF8(cha_experiment_plan(h, e, bad, 100.0, 10.0, &json),
               "cha_experiment_plan: argument `metric` is not valid UTF-8");
#undef CHECK_UTF8

    /* None of the failed calls above changed the status. */
    char *analysis = analyze(h, e, NULL);
    CHECK_HAS(analysis, "\"status\":\"running\"");
    cha_string_free(analysis);
}

static void test_not_found_and_invalid(cha_handle *h) {
    const char *e = "pipe_sizing_comparison";
    const char *m = "pipe_cost_efficiency";
    const char *variant = UNTOUCHED_VARIANT;
    char *json = UNTOUCHED_STR;

#define CHECK_FAILS(call, expected, message)                                     \
    do {                                                                         \
        CHECK_STATUS(call, expected);                                            \
        CHECK_MESSAGE_HAS(message);                                              \
        CHECK(variant == UNTOUCHED_VARIANT && json == UNTOUCHED_STR);            \
    } while (0)

    /* Unknown experiment. */
    const char *gone = "experiment `no_such_test` does not exist";
    CHECK_FAILS(cha_experiment_assign(h, "no_such_test", "u", &variant), CHA_ERR_NOT_FOUND, gone);
    CHECK_FAILS(cha_experiment_assignment(h, "no_such_test", "u", &json), CHA_ERR_NOT_FOUND, gone);
    CHECK_FAILS(cha_experiment_record(h, "no_such_test", "u", m, 1.0), CHA_ERR_NOT_FOUND, gone);
    CHECK_FAILS(cha_experiment_set_status(h, "no_such_test", "paused", "c-test", &json),
                CHA_ERR_NOT_FOUND, gone);
    CHECK_FAILS(cha_experiment_analyze(h, "no_such_test", &json), CHA_ERR_NOT_FOUND, gone);
    CHECK_FAILS(cha_experiment_analyze_with_options(h, "no_such_test", NULL, &json),
                CHA_ERR_NOT_FOUND, gone);
    CHECK_FAILS(cha_experiment_plan(h, "no_such_test", m, 100.0, 10.0, &json), CHA_ERR_NOT_FOUND,
                gone);
    /* Names are exact: no case folding, no trimming. */
    CHECK_FAILS(cha_experiment_assign(h, "Pipe_Sizing_Comparison", "u", &variant),
                CHA_ERR_NOT_FOUND, "Pipe_Sizing_Comparison");
    /* but the test meant is named, as the CLI and Python do. */
    CHECK_FAILS(cha_experiment_assign(h, "Pipe_Sizing_Comparison", "u", &variant),
                CHA_ERR_NOT_FOUND, "did you mean `pipe_sizing_comparison`?");
    CHECK_FAILS(cha_experiment_analyze(h, "pipe_sizing_comparision", &json), CHA_ERR_NOT_FOUND,
                "experiment `pipe_sizing_comparision` does not exist; did you mean "
                "`pipe_sizing_comparison`?");
    CHECK_FAILS(cha_experiment_assign(h, "pipe_sizing_comparison ", "u", &variant),
                CHA_ERR_NOT_FOUND, "does not exist");

    /* Unknown metric: named, with the metrics there are. */
    CHECK_FAILS(cha_experiment_record(h, e, "u", "no_such_metric", 1.0), CHA_ERR_NOT_FOUND,
                "experiment `pipe_sizing_comparison` has no metric `no_such_metric` (metrics: "
                "pipe_cost_efficiency, pressure_drop_pa_per_m, sizing_time_ms, velocity_violations)");
    CHECK_FAILS(cha_experiment_plan(h, e, "no_such_metric", 100.0, 10.0, &json), CHA_ERR_NOT_FOUND,
                "has no metric `no_such_metric`");
    /* A metric of another experiment is not one of this one. */
    CHECK_FAILS(cha_experiment_record(h, e, "u", "flow_deviation_pct", 1.0), CHA_ERR_NOT_FOUND,
                "no metric `flow_deviation_pct`");

    /* Values that are not finite. */
    CHECK_FAILS(cha_experiment_record(h, e, "u", m, NAN), CHA_ERR_INVALID_ARGUMENT,
                "value of metric `pipe_cost_efficiency` in experiment `pipe_sizing_comparison` is NaN");
    CHECK_FAILS(cha_experiment_record(h, e, "u", m, INFINITY), CHA_ERR_INVALID_ARGUMENT,
                "is inf; a finite number is needed");
    CHECK_FAILS(cha_experiment_record(h, e, "u", m, -INFINITY), CHA_ERR_INVALID_ARGUMENT,
                "is -inf; a finite number is needed");
    /* Finite values whose aggregates could overflow. */
    CHECK_FAILS(cha_experiment_record(h, e, "u", m, DBL_MAX), CHA_ERR_INVALID_ARGUMENT,
                "its magnitude may be at most 1e30");
    CHECK_FAILS(cha_experiment_record(h, e, "u", m, -1e308), CHA_ERR_INVALID_ARGUMENT,
                "its magnitude may be at most 1e30");
    CHECK(CHA_MAX_VALUE_MAGNITUDE == 1e30);
    CHECK_STATUS(cha_experiment_record(h, e, "bound-unit", m, -CHA_MAX_VALUE_MAGNITUDE), CHA_OK);

    /* Unit ids: 1 to 1024 bytes. */
    char long_unit[1026];
    memset(long_unit, 'u', sizeof long_unit - 1);
    long_unit[1025] = '\0';
    const char *too_long = "unit id must have 1 to 1024 bytes, not 1025";
    CHECK_FAILS(cha_experiment_assign(h, e, "", &variant), CHA_ERR_INVALID_ARGUMENT,
                "unit id must have 1 to 1024 bytes, not 0");
    CHECK_FAILS(cha_experiment_assignment(h, e, "", &json), CHA_ERR_INVALID_ARGUMENT,
                "cha_experiment_assignment: unit id must have 1 to 1024 bytes, not 0");
    CHECK_FAILS(cha_experiment_record(h, e, "", m, 1.0), CHA_ERR_INVALID_ARGUMENT,
                "cha_experiment_record: unit id must have 1 to 1024 bytes, not 0");
    CHECK_FAILS(cha_experiment_assign(h, e, long_unit, &variant), CHA_ERR_INVALID_ARGUMENT,
                too_long);
    CHECK_FAILS(cha_experiment_record(h, e, long_unit, m, 1.0), CHA_ERR_INVALID_ARGUMENT,
                too_long);
    long_unit[1024] = '\0';
    CHECK(same_variant(assign(h, e, long_unit),
                       expected_variant(e, long_unit, 10000, 5000, "traditional", "intelligent")));
    /* Any UTF-8 is a unit id; the hash is of its bytes. */
    const char *umlaut = "planer-m\xc3\xbcller";
    CHECK(same_variant(assign(h, e, umlaut),
                       expected_variant(e, umlaut, 10000, 5000, "traditional", "intelligent")));

    /* Bad status, actor, options and baselines. */
    CHECK_FAILS(cha_experiment_set_status(h, e, "archived", "c-test", &json),
                CHA_ERR_INVALID_ARGUMENT,
                "status `archived` is not one of draft, running, paused, stopped, completed");
    CHECK_FAILS(cha_experiment_set_status(h, e, "Paused", "c-test", &json),
                CHA_ERR_INVALID_ARGUMENT, "status `Paused`");
    CHECK_FAILS(cha_experiment_set_status(h, e, "paused", " ", &json), CHA_ERR_INVALID_ARGUMENT,
                "actor is empty");
    CHECK_FAILS(cha_experiment_analyze_with_options(h, e, "{\"correction\": \"bonferroni\"}", &json),
                CHA_ERR_INVALID_ARGUMENT, "analysis options: unknown variant `bonferroni`");
    CHECK_FAILS(cha_experiment_analyze_with_options(h, e, "{\"corection\": \"holm\"}", &json),
                CHA_ERR_INVALID_ARGUMENT, "analysis options: unknown field `corection`");
    CHECK_FAILS(cha_experiment_analyze_with_options(h, e, "{\"sequential\": 1}", &json),
                CHA_ERR_INVALID_ARGUMENT, "analysis options: invalid type");
    CHECK_FAILS(cha_experiment_analyze_with_options(h, e, "{\"correction\":", &json),
                CHA_ERR_INVALID_ARGUMENT, "analysis options:");
    CHECK_FAILS(cha_experiment_plan(h, e, m, 100.0, 0.0, &json), CHA_ERR_INVALID_ARGUMENT,
                "cha_experiment_plan: ");
    CHECK_FAILS(cha_experiment_plan(h, e, m, 100.0, -1.0, &json), CHA_ERR_INVALID_ARGUMENT,
                "cha_experiment_plan: ");
    CHECK_FAILS(cha_experiment_plan(h, e, m, 0.0, 10.0, &json), CHA_ERR_INVALID_ARGUMENT,
                "cha_experiment_plan: ");
    CHECK_FAILS(cha_experiment_plan(h, e, m, NAN, 10.0, &json), CHA_ERR_INVALID_ARGUMENT,
                "cha_experiment_plan: ");
    CHECK_FAILS(cha_experiment_plan(h, e, m, 100.0, INFINITY, &json), CHA_ERR_INVALID_ARGUMENT,
                "cha_experiment_plan: ");
#undef CHECK_FAILS

    /* After all these failures the experiment is still running, unchanged. */
    char *json_ok = analyze(h, e, NULL);
    CHECK_HAS(json_ok, "\"status\":\"running\"");
    cha_string_free(json_ok);
}

/* Checks `n` units of `experiment` against the independent bucketing;
 * returns how many got a variant and adds them per variant to `counts`. */
static int check_bucketing(cha_handle *h, const char *experiment, const char *seed,
                           uint32_t coverage, uint32_t split, const char *first,
                           const char *second, int n, int counts[2]) {
    int mismatches = 0, inside = 0;
    const char *first_ptr = NULL, *second_ptr = NULL;
    for (int i = 0; i < n; i++) {
        char unit[64];
        unit_name(unit, sizeof unit, "planner", i);
        const char *expected = expected_variant(seed, unit, coverage, split, first, second);
        const char *got = assign(h, experiment, unit);
        if (!same_variant(got, expected)) {
            if (mismatches++ < 5) {
                fprintf(stderr, "%s, %s: got %s, expected %s\n", experiment, unit,
                        got ? got : "NULL", expected ? expected : "NULL");
            }
            continue;
        }
        if (got == NULL) {
            continue;
        }
        inside++;
        /* The name is interned: one pointer per variant name. */
        int is_first = strcmp(got, first) == 0;
        const char **seen = is_first ? &first_ptr : &second_ptr;
        if (*seen == NULL) {
            *seen = got;
        }
        mismatches += *seen != got;
        counts[is_first ? 0 : 1]++;
    }
    CHECK(mismatches == 0);
    return inside;
}

static void test_bucketing(cha_handle *h) {
    enum { N = 2000 };
    /* 50/50, seed = the id, full coverage. */
    int counts[2] = {0, 0};
    int inside = check_bucketing(h, "pipe_sizing_comparison", "pipe_sizing_comparison", 10000,
                                 5000, "traditional", "intelligent", N, counts);
    CHECK(inside == N);
    CHECK(counts[0] > 900 && counts[0] < 1100);

    /* Coverage 50%: half the units get no variant, and the split among the
     * others still follows the weights. */
    counts[0] = counts[1] = 0;
    inside = check_bucketing(h, "flow_calculation_comparison", "flow_calculation_comparison", 5000,
                             5000, "peak_load_sum", "flow_based", N, counts);
    CHECK(inside > 900 && inside < 1100);
    CHECK(counts[0] > inside * 4 / 10 && counts[0] < inside * 6 / 10);
    int outside_checked = 0, inside_checked = 0;
    for (int i = 0; i < 200; i++) {
        char unit[64];
        unit_name(unit, sizeof unit, "planner", i);
        char *json = assignment(h, "flow_calculation_comparison", unit);
        if (coverage_bucket_of("flow_calculation_comparison", unit) >= 5000) {
            outside_checked++;
            CHECK_HAS(json, "\"variant\":null,\"reason\":\"OUTSIDE_COVERAGE\",\"configuration\":null");
            /* An observation needs a variant. */
            CHECK_STATUS(cha_experiment_record(h, "flow_calculation_comparison", unit,
                                               "flow_deviation_pct", 3.0),
                         CHA_ERR_INVALID_ARGUMENT);
            CHECK_MESSAGE_HAS("has no variant in experiment `flow_calculation_comparison` "
                              "(OUTSIDE_COVERAGE)");
        } else {
            inside_checked++;
            CHECK_HAS(json, "\"reason\":\"ASSIGNED\"");
            if (bucket_of("flow_calculation_comparison", unit) < 5000) {
                CHECK_HAS(json, "\"variant\":\"peak_load_sum\"");
                CHECK_HAS(json, "\"flow_calculation_method\":\"peak_load_sum\"");
                CHECK_HAS(json, "\"simultaneity_factor\":1.0");
            } else {
                CHECK_HAS(json, "\"variant\":\"flow_based\"");
                CHECK_HAS(json, "\"simultaneity_model\":\"winter\"");
            }
            CHECK_HAS(json, "\"supply_temperature_c\":80}");
        }
        cha_string_free(json);
    }
    CHECK(outside_checked > 50 && inside_checked > 50);

    /* A draft experiment gives no variant and says why. */
    const char *draft = "network_analysis_comparison";
    const char *variant = UNTOUCHED_VARIANT;
    CHECK_STATUS(cha_experiment_assign(h, draft, "planner-00001", &variant), CHA_OK);
    CHECK(variant == NULL);
    char *json = assignment(h, draft, "planner-00001");
    CHECK_HAS(json, "{\"experiment\":\"network_analysis_comparison\",\"unit\":\"planner-00001\","
                    "\"variant\":null,\"reason\":\"NOT_RUNNING\",\"configuration\":null}");
    cha_string_free(json);
    CHECK_STATUS(cha_experiment_record(h, draft, "planner-00001", "pump_head_m", 12.0),
                 CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("(NOT_RUNNING): its observation is not recorded");

    /* Started: its own seed (not the id), 70/30, 20% coverage. */
    json = set_status(h, draft, "running");
    CHECK_HAS(json, "\"status\":\"running\"");
    cha_string_free(json);
    counts[0] = counts[1] = 0;
    inside = check_bucketing(h, draft, "network_analysis_2026", 2000, 7000, "segment_by_segment",
                             "network_solver", N, counts);
    CHECK(inside > 300 && inside < 500);
    CHECK(counts[0] > inside * 6 / 10 && counts[0] < inside * 8 / 10);
    /* The id is not the seed: hashing with it would disagree for many units. */
    int by_id = 0;
    for (int i = 0; i < N; i++) {
        char unit[64];
        unit_name(unit, sizeof unit, "planner", i);
        by_id += !same_variant(assign(h, draft, unit),
                               expected_variant(draft, unit, 2000, 7000, "segment_by_segment",
                                                "network_solver"));
    }
    CHECK(by_id > 100);
    /* Persist the exposures before test_status pauses the experiment: the
     * units kept while paused come from persisted exposures only (a unit
     * whose exposure is still buffered loses its variant; reported as a
     * library bug). */
    CHECK_STATUS(cha_flush(h), CHA_OK);
}

static void test_status(cha_handle *h) {
    const char *e = "network_analysis_comparison";
    /* Units that have a variant now (running since test_bucketing). */
    char in_unit[64] = "", out_unit[64] = "";
    const char *in_variant = NULL;
    for (int i = 0; i < 2000 && (in_unit[0] == '\0' || out_unit[0] == '\0'); i++) {
        char unit[64];
        unit_name(unit, sizeof unit, "planner", i);
        const char *v = assign(h, e, unit);
        if (v != NULL && in_unit[0] == '\0') {
            snprintf(in_unit, sizeof in_unit, "%s", unit);
            in_variant = v;
        } else if (v == NULL && out_unit[0] == '\0') {
            snprintf(out_unit, sizeof out_unit, "%s", unit);
        }
    }
    CHECK(in_unit[0] != '\0' && out_unit[0] != '\0');
    /* A new unit inside the coverage, never assigned before. */
    char new_unit[64] = "";
    for (int i = 0; i < 1000 && new_unit[0] == '\0'; i++) {
        char unit[64];
        unit_name(unit, sizeof unit, "newcomer", i);
        if (coverage_bucket_of("network_analysis_2026", unit) < 2000) {
            snprintf(new_unit, sizeof new_unit, "%s", unit);
        }
    }

    char *json = set_status(h, e, "paused");
    CHECK_HAS(json, "\"status\":\"paused\"");
    CHECK_HAS(json, "\"updated_by\":\"c-test\"");
    const char *start_time = json ? strstr(json, "\"start_time\":\"") : NULL;
    char started[64] = "";
    CHECK(start_time != NULL);
    if (start_time != NULL) {
        snprintf(started, sizeof started, "%.40s", start_time);
    }
    cha_string_free(json);
    /* Paused: units already in keep their variant, new units get none. */
    CHECK(assign(h, e, in_unit) == in_variant);
    json = assignment(h, e, in_unit);
    CHECK_HAS(json, "\"reason\":\"STICKY\"");
    cha_string_free(json);
    record(h, e, in_unit, "pump_head_m", 42.0);
    const char *variant = UNTOUCHED_VARIANT;
    CHECK_STATUS(cha_experiment_assign(h, e, new_unit, &variant), CHA_OK);
    CHECK(variant == NULL);
    json = assignment(h, e, new_unit);
    CHECK_HAS(json, "\"variant\":null,\"reason\":\"PAUSED\",\"configuration\":null");
    cha_string_free(json);
    CHECK_STATUS(cha_experiment_record(h, e, new_unit, "pump_head_m", 42.0),
                 CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("(PAUSED)");

    /* Running again: new units enter; the start time stays the first one. */
    json = set_status(h, e, "running");
    CHECK_HAS(json, "\"status\":\"running\"");
    CHECK_HAS(json, started);
    cha_string_free(json);
    CHECK(same_variant(assign(h, e, new_unit),
                       expected_variant("network_analysis_2026", new_unit, 2000, 7000,
                                        "segment_by_segment", "network_solver")));
    CHECK(assign(h, e, out_unit) == NULL);

    /* Stopped and completed: nobody gets a variant, old units neither. */
    json = set_status(h, e, "stopped");
    CHECK_HAS(json, "\"status\":\"stopped\"");
    cha_string_free(json);
    variant = UNTOUCHED_VARIANT;
    CHECK_STATUS(cha_experiment_assign(h, e, in_unit, &variant), CHA_OK);
    CHECK(variant == NULL);
    json = assignment(h, e, in_unit);
    CHECK_HAS(json, "\"reason\":\"NOT_RUNNING\"");
    cha_string_free(json);
    json = set_status(h, e, "completed");
    CHECK_HAS(json, "\"status\":\"completed\"");
    long version = (long)json_number(json, "},\"version\"", "version");
    cha_string_free(json);
    CHECK(version >= 5);
    json = UNTOUCHED_STR;
    CHECK_STATUS(cha_experiment_set_status(h, e, "running", "c-test", &json),
                 CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("experiment `network_analysis_comparison` is completed; a completed "
                      "experiment cannot change status");
    CHECK(json == UNTOUCHED_STR);
    CHECK_STATUS(cha_experiment_set_status(h, e, "draft", "c-test", &json),
                 CHA_ERR_INVALID_ARGUMENT);
    CHECK(json == UNTOUCHED_STR);
    json = set_status(h, e, "completed");
    CHECK_HAS(json, "\"status\":\"completed\"");
    cha_string_free(json);
    CHECK(assign(h, e, in_unit) == NULL);

    /* The analysis shows the status, and a second handle sees it too. */
    json = analyze(h, e, NULL);
    CHECK_HAS(json, "\"status\":\"completed\"");
    cha_string_free(json);
    cha_handle *other = open_db("experiments.db");
    json = NULL;
    CHECK_STATUS(cha_experiment_list(other, &json), CHA_OK);
    CHECK_HAS(json, "\"seed\":\"network_analysis_2026\",\"start_time\"");
    cha_string_free(json);
    variant = UNTOUCHED_VARIANT;
    CHECK_STATUS(cha_experiment_assign(other, e, in_unit, &variant), CHA_OK);
    CHECK(variant == NULL);
    cha_close(other);
}

/* Unit values per arm of a two-variant experiment, accumulated in C. */
struct arm {
    long n;
    double sum, sum_sq;
};

static double arm_mean(const struct arm *a) { return a->sum / (double)a->n; }
static double arm_variance(const struct arm *a) {
    double mean = arm_mean(a);
    return (a->sum_sq - (double)a->n * mean * mean) / (double)(a->n - 1);
}
static void arm_push(struct arm *a, double value) {
    a->n++;
    a->sum += value;
    a->sum_sq += value * value;
}

/* Checks the control and treatment of `metric` in an analysis `json`. */
static void check_metric(const char *json, const char *metric, const struct arm arms[2]) {
    char anchor[128];
    snprintf(anchor, sizeof anchor, "{\"name\":\"%s\"", metric);
    CHECK_HAS(json, anchor);
    const char *at = json ? strstr(json, anchor) : NULL;
    if (at == NULL) {
        return;
    }
    CHECK(json_number(at, "\"control\":{", "n") == (double)arms[0].n);
    CHECK_CLOSE(json_number(at, "\"control\":{", "mean"), arm_mean(&arms[0]));
    CHECK(json_number(at, "\"treatment\":{", "n") == (double)arms[1].n);
    CHECK_CLOSE(json_number(at, "\"treatment\":{", "mean"), arm_mean(&arms[1]));
    CHECK_CLOSE(json_number(at, "\"control\":{", "variance"), arm_variance(&arms[0]));
    CHECK_CLOSE(json_number(at, "\"treatment\":{", "variance"), arm_variance(&arms[1]));
    /* Welch's t from the same numbers: t² = d² / (v1/n1 + v2/n2), with the
     * sign of d (squared, so that no libm is needed). */
    double d = arm_mean(&arms[1]) - arm_mean(&arms[0]);
    double se2 = arm_variance(&arms[0]) / (double)arms[0].n +
                 arm_variance(&arms[1]) / (double)arms[1].n;
    double t = json_number(at, "\"difference\":{", "t");
    CHECK_CLOSE(json_number(at, "\"difference\":{", "estimate"), d);
    CHECK_CLOSE(t * t, d * d / se2);
    CHECK((t < 0) == (d < 0));
}

static void test_record_and_analyze(void) {
    cha_handle *h = open_db("analysis.db");
    char *report = deploy(h, config_dir);
    cha_string_free(report);
    const char *e = "pipe_sizing_comparison";

    /* 400 units with values; 100 more only exposed. Per unit:
     * pipe_cost_efficiency (mean of its values): 100 + i%10 and 102 + i%10;
     * sizing_time_ms (mean): only even units, 50 + i%7;
     * velocity_violations (proportion): 0, then 1 when i%4 == 0. */
    struct arm efficiency[2] = {{0, 0, 0}, {0, 0, 0}};
    struct arm sizing_time[2] = {{0, 0, 0}, {0, 0, 0}};
    struct arm violations[2] = {{0, 0, 0}, {0, 0, 0}};
    long exposed[2] = {0, 0};
    for (int i = 0; i < 500; i++) {
        char unit[64];
        unit_name(unit, sizeof unit, "site", i);
        int arm = bucket_of(e, unit) < 5000 ? 0 : 1;
        exposed[arm]++;
        if (i >= 400) {
            CHECK(same_variant(assign(h, e, unit), arm == 0 ? "traditional" : "intelligent"));
            arm_push(&violations[arm], 0.0); /* exposed without observations: 0 */
            continue;
        }
        record(h, e, unit, "pipe_cost_efficiency", 100.0 + i % 10);
        record(h, e, unit, "pipe_cost_efficiency", 102.0 + i % 10);
        arm_push(&efficiency[arm], 101.0 + i % 10);
        if (i % 2 == 0) {
            record(h, e, unit, "sizing_time_ms", 50.0 + i % 7);
            arm_push(&sizing_time[arm], 50.0 + i % 7);
        }
        record(h, e, unit, "velocity_violations", 0.0);
        if (i % 4 == 0) {
            record(h, e, unit, "velocity_violations", 1.0);
        }
        arm_push(&violations[arm], i % 4 == 0 ? 1.0 : 0.0);
    }
    CHECK_STATUS(cha_flush(h), CHA_OK);

    char *json = NULL;
    CHECK_STATUS(cha_experiment_analyze(h, e, &json), CHA_OK);
    CHECK_HAS(json, "{\"experiment_id\":\"pipe_sizing_comparison\",\"experiment_name\":"
                    "\"Pipe Sizing Method Comparison\",\"status\":\"running\","
                    "\"control\":\"traditional\"");
    CHECK(json_number(json, "{\"name\":\"traditional\"", "exposures") == (double)exposed[0]);
    CHECK(json_number(json, "{\"name\":\"intelligent\"", "exposures") == (double)exposed[1]);
    check_metric(json, "pipe_cost_efficiency", efficiency);
    check_metric(json, "sizing_time_ms", sizing_time);
    check_metric(json, "velocity_violations", violations);
    /* Never recorded: no units, a clear status, no numbers. */
    CHECK_HAS(json, "\"status\":\"insufficient_data: control has 0 units\"");
    CHECK_HAS(json, "\"correction\":\"holm\"");
    CHECK_HAS(json, "\"sample_ratio\":{\"status\":\"ok\"");
    /* Too few units (1000 per variant) and days (7): keep running. */
    CHECK_HAS(json, "\"conclusion\":\"keep_running\",\"recommendation\":\"keep running: ");
    CHECK_HAS(json, "more units per variant");
    CHECK_HAS(json, "\"reasons\":[\"");
    CHECK(strstr(json ? json : "", "NaN") == NULL);
    cha_string_free(json);

    /* Every figure is persisted: a second handle reads the same analysis. */
    cha_handle *other = open_db("analysis.db");
    json = analyze(other, e, NULL);
    check_metric(json, "pipe_cost_efficiency", efficiency);
    cha_string_free(json);
    cha_close(other);

    /* Options. */
    json = analyze(h, e, "{\"correction\": \"bh\"}");
    CHECK_HAS(json, "\"correction\":\"bh\",\"family_alpha\":0.05,\"family_size\":2,\"sequential\":false");
    check_metric(json, "pipe_cost_efficiency", efficiency);
    cha_string_free(json);
    /* The long name is still read; the report uses the short one. */
    json = analyze(h, e, "{\"correction\": \"benjamini_hochberg\"}");
    CHECK_HAS(json, "\"correction\":\"bh\"");
    check_metric(json, "pipe_cost_efficiency", efficiency);
    cha_string_free(json);
    json = analyze(h, e, "{\"sequential\": true, \"mixture_variance\": {\"pipe_cost_efficiency\": 4.0}}");
    CHECK_HAS(json, "\"correction\":\"holm\",\"family_alpha\":0.05,\"family_size\":2,\"sequential\":true");
    CHECK_HAS(json, "\"sequential\":{");
    cha_string_free(json);
    json = analyze(h, e, "{}");
    CHECK_HAS(json, "\"correction\":\"holm\",\"family_alpha\":0.05,\"family_size\":2,\"sequential\":false");
    cha_string_free(json);

    /* A sum metric counts exposed units without observations as 0. */
    const char *flow = "flow_calculation_comparison";
    struct arm oversized[2] = {{0, 0, 0}, {0, 0, 0}};
    struct arm deviation[2] = {{0, 0, 0}, {0, 0, 0}};
    for (int i = 0; i < 400; i++) {
        char unit[64];
        unit_name(unit, sizeof unit, "net", i);
        const char *expected = expected_variant(flow, unit, 5000, 5000, "peak_load_sum",
                                                "flow_based");
        if (expected == NULL) {
            continue;
        }
        int arm = strcmp(expected, "peak_load_sum") == 0 ? 0 : 1;
        CHECK(same_variant(assign(h, flow, unit), expected));
        record(h, flow, unit, "flow_deviation_pct", 5.0 + (i % 3) + arm);
        arm_push(&deviation[arm], 5.0 + (i % 3) + arm);
        if (i % 2 == 0) {
            record(h, flow, unit, "oversized_segments", 2.0);
            record(h, flow, unit, "oversized_segments", 3.0);
        }
        arm_push(&oversized[arm], i % 2 == 0 ? 5.0 : 0.0);
    }
    CHECK_STATUS(cha_flush(h), CHA_OK);
    json = analyze(h, flow, NULL);
    check_metric(json, "flow_deviation_pct", deviation);
    check_metric(json, "oversized_segments", oversized);
    /* flow_based deviates one point more on the primary metric (lower is
     * better): significantly worse, so the control stays, at once. */
    CHECK_HAS(json, "\"conclusion\":\"harm\",\"recommendation\":\"keep the control: "
                    "flow_based is significantly worse on flow_deviation_pct\"");
    cha_string_free(json);

    /* Sample sizes, planned at the level the analysis decides at: Holm over
     * the family's 2 comparisons (a primary and a secondary metric), so
     * alpha 0.025. d = 0.05 x 100 / 10 = 0.5 needs 77.31 units per arm
     * (statsmodels TTestIndPower), so 78; d = 0.25 needs 305.42, so 306. */
    json = NULL;
    CHECK_STATUS(cha_experiment_plan(h, e, "pipe_cost_efficiency", 100.0, 10.0, &json), CHA_OK);
    CHECK_HAS(json, "\"per_variant\":78,\"per_treatment_variant\":78,\"total\":156,");
    CHECK(abs_of(json_number(json, "{", "nobs1") - 77.3104) < 1e-3);
    CHECK_CLOSE(json_number(json, "{", "effect_size"), 0.5);
    CHECK_CLOSE(json_number(json, "{", "absolute_effect"), 5.0);
    CHECK_CLOSE(json_number(json, "{", "alpha"), 0.025);
    CHECK_HAS(json, "\"n_variants\":2");
    CHECK_HAS(json, "\"level\":{\"nominal_alpha\":0.05,\"correction\":\"holm\",\"comparisons\":2,");
    cha_string_free(json);
    json = NULL;
    CHECK_STATUS(cha_experiment_plan(h, e, "pipe_cost_efficiency", 100.0, 20.0, &json), CHA_OK);
    CHECK_HAS(json, "\"per_variant\":306,\"per_treatment_variant\":306,\"total\":612,");
    CHECK(abs_of(json_number(json, "{", "nobs1") - 305.4207) < 1e-3);
    cha_string_free(json);
    /* Without a correction: the textbook plan of one comparison, 64 per arm. */
    json = NULL;
    CHECK_STATUS(cha_experiment_plan_with_options(h, e, "pipe_cost_efficiency", 100.0, 10.0,
                                                  "{\"correction\": \"none\"}", &json),
                 CHA_OK);
    CHECK_HAS(json, "\"per_variant\":64,\"per_treatment_variant\":64,\"total\":128,");
    CHECK(abs_of(json_number(json, "{", "nobs1") - 63.7656) < 1e-3);
    cha_string_free(json);
    json = UNTOUCHED_STR;
    CHECK_STATUS(cha_experiment_plan_with_options(h, e, "pipe_cost_efficiency", 100.0, 10.0,
                                                  "{\"correction\": \"bonferroni\"}", &json),
                 CHA_ERR_INVALID_ARGUMENT);
    CHECK(json == UNTOUCHED_STR);
    /* The guardrail's own MDE (0.2) and the metric's alpha and power. */
    json = NULL;
    CHECK_STATUS(cha_experiment_plan(h, e, "sizing_time_ms", 50.0, 20.0, &json), CHA_OK);
    CHECK_CLOSE(json_number(json, "{", "effect_size"), 0.5);
    CHECK_HAS(json, "\"per_variant\":64,");
    cha_string_free(json);

    cha_close(h);
}

static void test_pointers_and_sticky(void) {
    cha_handle *h = open_db("sticky.db");
    char *report = deploy(h, config_dir);
    cha_string_free(report);
    const char *e = "pipe_sizing_comparison";

    enum { OLD = 1000, NEW = 2000 };
    static const char *before[OLD];
    for (int i = 0; i < OLD; i++) {
        char unit[64];
        unit_name(unit, sizeof unit, "engineer", i);
        before[i] = assign(h, e, unit);
    }
    const char *traditional = NULL, *intelligent = NULL;
    for (int i = 0; i < OLD && (traditional == NULL || intelligent == NULL); i++) {
        if (before[i] != NULL && strcmp(before[i], "traditional") == 0) {
            traditional = before[i];
        } else if (before[i] != NULL) {
            intelligent = before[i];
        }
    }
    CHECK(traditional != NULL && intelligent != NULL);
    /* Pins come from persisted exposures: flush before reweighting (an
     * exposure still buffered is not sticky; reported as a library bug). */
    CHECK_STATUS(cha_flush(h), CHA_OK);

    /* The same configuration again: nothing changes, pointers included. */
    report = deploy(h, config_dir);
    CHECK_HAS(report, "\"unchanged\":[\"flow_calculation_comparison\","
                      "\"network_analysis_comparison\",\"pipe_sizing_comparison\"]");
    cha_string_free(report);
    int moved = 0;
    for (int i = 0; i < OLD; i++) {
        char unit[64];
        unit_name(unit, sizeof unit, "engineer", i);
        moved += assign(h, e, unit) != before[i];
    }
    CHECK(moved == 0);

    /* Reweighted from 50/50 to 1/99: exposed units keep their variant (the
     * very same pointer), new units follow the new weights. */
    char *yaml = repository_ab_tests();
    char *step = replace_first(yaml, "traffic_percentage: 50.0", "traffic_percentage: 1.0");
    char *reweighted = step ? replace_first(step, "traffic_percentage: 50.0",
                                            "traffic_percentage: 99.0")
                            : NULL;
    CHECK(reweighted != NULL);
    char dir[4096];
    write_config_dir(dir, sizeof dir, "reweighted", reweighted ? reweighted : "");
    report = deploy(h, dir);
    CHECK_HAS(report, "\"updated\":[\"pipe_sizing_comparison\"]");
    cha_string_free(report);
    moved = 0;
    for (int i = 0; i < OLD; i++) {
        char unit[64];
        unit_name(unit, sizeof unit, "engineer", i);
        moved += assign(h, e, unit) != before[i];
    }
    CHECK(moved == 0);
    char *json = assignment(h, e, "engineer-00000");
    CHECK_HAS(json, "\"reason\":\"STICKY\"");
    cha_string_free(json);
    int mismatches = 0, new_traditional = 0;
    for (int i = 0; i < NEW; i++) {
        char unit[64];
        unit_name(unit, sizeof unit, "newcomer", i);
        const char *expected = bucket_of(e, unit) < 100 ? traditional : intelligent;
        const char *got = assign(h, e, unit);
        mismatches += got != expected;
        new_traditional += got == traditional;
    }
    CHECK(mismatches == 0);
    CHECK(new_traditional < 60);
    json = assignment(h, e, "newcomer-00000");
    CHECK_HAS(json, "\"reason\":\"ASSIGNED\"");
    cha_string_free(json);
    CHECK_STATUS(cha_flush(h), CHA_OK);

    /* Removed by a deployment: the experiment is gone, the variant names
     * handed out stay valid until cha_close. */
    const char *flow_start = strstr(yaml, "  flow_calculation_comparison:\n");
    CHECK(flow_start != NULL);
    size_t removed_size = strlen("version: 1\nab_tests:\n") + strlen(flow_start ? flow_start : "") + 1;
    char *removed = malloc(removed_size);
    CHECK(removed != NULL);
    if (removed != NULL) {
        snprintf(removed, removed_size, "version: 1\nab_tests:\n%s", flow_start ? flow_start : "");
        write_config_dir(dir, sizeof dir, "removed", removed);
        /* Deleting what the files dropped needs to be asked for. */
        char *refused = NULL;
        CHECK_STATUS(cha_deploy_all(h, dir, &refused), CHA_ERR_DRIFT);
        CHECK(refused == NULL);
        report = deploy_overwrite(h, dir);
        CHECK_HAS(report, "\"removed\":[\"pipe_sizing_comparison\"]");
        cha_string_free(report);
    }
    const char *variant = UNTOUCHED_VARIANT;
    CHECK_STATUS(cha_experiment_assign(h, e, "engineer-00000", &variant), CHA_ERR_NOT_FOUND);
    CHECK(variant == UNTOUCHED_VARIANT);
    CHECK(strcmp(traditional, "traditional") == 0 && strcmp(intelligent, "intelligent") == 0);

    /* Removed is archived: listed, and named again by the files it is
     * refused until restored explicitly, with its history and data. */
    json = NULL;
    CHECK_STATUS(cha_experiment_list_archived(h, &json), CHA_OK);
    CHECK_HAS(json, "[{\"definition\":{");
    CHECK_HAS(json, "\"id\":\"pipe_sizing_comparison\"");
    CHECK_HAS(json, "\"archived_by\":\"");
    cha_string_free(json);
    report = UNTOUCHED_STR;
    CHECK_STATUS(cha_deploy_all(h, config_dir, &report), CHA_ERR_CONFIG);
    CHECK_MESSAGE_HAS("was removed from the files and archived");
    CHECK_MESSAGE_HAS("cha-deploy ab restore pipe_sizing_comparison");
    CHECK(report == UNTOUCHED_STR);
    json = NULL;
    CHECK_STATUS(cha_experiment_restore(h, e, "c-test", &json), CHA_OK);
    CHECK_HAS(json, "\"updated_by\":\"c-test\"");
    cha_string_free(json);
    json = UNTOUCHED_STR;
    CHECK_STATUS(cha_experiment_restore(h, e, "c-test", &json), CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("is live already");
    CHECK_STATUS(cha_experiment_restore(h, "never_archived", "c-test", &json), CHA_ERR_NOT_FOUND);
    CHECK(json == UNTOUCHED_STR);

    /* Deployed again (the restore is a runtime change the files undo, so
     * they are told to win): the same pointers as before. */
    report = deploy_overwrite(h, config_dir);
    CHECK_HAS(report, "\"experiments\":{");
    cha_string_free(report);
    moved = 0;
    for (int i = 0; i < OLD; i++) {
        char unit[64];
        unit_name(unit, sizeof unit, "engineer", i);
        moved += assign(h, e, unit) != before[i];
    }
    CHECK(moved == 0);

    free(removed);
    free(reweighted);
    free(step);
    free(yaml);
    cha_close(h);
}

/* ---- one handle, many threads ------------------------------------------ */

enum { WORKERS = 4, UNITS_PER_WORKER = 1500 };

struct worker {
    cha_handle *h;
    int thread;
    int errors;
    struct arm efficiency[2];
};

static atomic_int workers_done;

/* Assigns and records units of its own, checking every variant. */
static void *assign_and_record(void *arg) {
    struct worker *w = arg;
    const char *e = "pipe_sizing_comparison";
    for (int i = 0; i < UNITS_PER_WORKER; i++) {
        char unit[64];
        snprintf(unit, sizeof unit, "t%d-unit-%05d", w->thread, i);
        const char *expected = bucket_of(e, unit) < 5000 ? "traditional" : "intelligent";
        const char *variant = NULL;
        if (cha_experiment_assign(w->h, e, unit, &variant) != CHA_OK || variant == NULL ||
            strcmp(variant, expected) != 0) {
            w->errors++;
            continue;
        }
        double a = (double)(i % 17), b = (double)(i % 5);
        if (cha_experiment_record(w->h, e, unit, "pipe_cost_efficiency", a) != CHA_OK ||
            cha_experiment_record(w->h, e, unit, "pipe_cost_efficiency", b) != CHA_OK ||
            cha_experiment_record(w->h, e, unit, "velocity_violations", i % 3 == 0) != CHA_OK) {
            w->errors++;
        }
        arm_push(&w->efficiency[strcmp(expected, "traditional") == 0 ? 0 : 1], (a + b) / 2.0);
    }
    atomic_fetch_add(&workers_done, 1);
    return NULL;
}

/* Flushes, and now and then analyses, until the workers are done. */
static void *flush_and_analyze(void *arg) {
    cha_handle *h = arg;
    long errors = 0;
    for (int round = 0; atomic_load(&workers_done) < WORKERS; round++) {
        errors += cha_flush(h) != CHA_OK;
        if (round % 8 == 0) {
            char *json = NULL;
            errors += cha_experiment_analyze(h, "pipe_sizing_comparison", &json) != CHA_OK;
            cha_string_free(json);
        }
    }
    return (void *)errors;
}

static void test_many_threads(void) {
    cha_handle *h = open_db("threads.db");
    char *report = deploy(h, config_dir);
    cha_string_free(report);

    struct worker work[WORKERS];
    memset(work, 0, sizeof work);
    pthread_t threads[WORKERS];
    pthread_t flusher;
    atomic_store(&workers_done, 0);
    CHECK(pthread_create(&flusher, NULL, flush_and_analyze, h) == 0);
    for (int i = 0; i < WORKERS; i++) {
        work[i].h = h;
        work[i].thread = i;
        CHECK(pthread_create(&threads[i], NULL, assign_and_record, &work[i]) == 0);
    }
    struct arm efficiency[2] = {{0, 0, 0}, {0, 0, 0}};
    for (int i = 0; i < WORKERS; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
        CHECK(work[i].errors == 0);
        for (int a = 0; a < 2; a++) {
            efficiency[a].n += work[i].efficiency[a].n;
            efficiency[a].sum += work[i].efficiency[a].sum;
            efficiency[a].sum_sq += work[i].efficiency[a].sum_sq;
        }
    }
    void *flush_errors = NULL;
    CHECK(pthread_join(flusher, &flush_errors) == 0);
    CHECK(flush_errors == NULL);

    /* Every unit and observation arrived exactly once. */
    CHECK_STATUS(cha_flush(h), CHA_OK);
    char *json = analyze(h, "pipe_sizing_comparison", NULL);
    CHECK(efficiency[0].n + efficiency[1].n == WORKERS * UNITS_PER_WORKER);
    CHECK(json_number(json, "{\"name\":\"traditional\"", "exposures") == (double)efficiency[0].n);
    CHECK(json_number(json, "{\"name\":\"intelligent\"", "exposures") == (double)efficiency[1].n);
    check_metric(json, "pipe_cost_efficiency", efficiency);
    cha_string_free(json);
    cha_close(h);
}

/* configs/ of the repository holding this file (tests/c/test_experiments.c). */
/* Peeking answers exactly as assignment would, and exposes no one: the
 * exposure counts of the analysis do not move. */
static void test_peek(void) {
    cha_handle *h = open_db("peek.db");
    char *report = deploy(h, config_dir);
    cha_string_free(report);
    const char *e = "pipe_sizing_comparison";
    const char *peeked[200];
    for (int i = 0; i < 200; i++) {
        char unit[64];
        unit_name(unit, sizeof unit, "peek", i);
        const char *variant = UNTOUCHED_VARIANT;
        CHECK_STATUS(cha_experiment_peek(h, e, unit, &variant), CHA_OK);
        CHECK(same_variant(variant, expected_variant(e, unit, 10000, 5000, "traditional",
                                                     "intelligent")));
        peeked[i] = variant;
        char *json = NULL;
        CHECK_STATUS(cha_experiment_peek_assignment(h, e, unit, &json), CHA_OK);
        CHECK_HAS(json, "\"reason\":\"ASSIGNED\"");
        cha_string_free(json);
    }
    CHECK_STATUS(cha_flush(h), CHA_OK);
    char *json = analyze(h, e, NULL);
    CHECK(json_number(json, "{\"name\":\"traditional\"", "exposures") == 0.0);
    CHECK(json_number(json, "{\"name\":\"intelligent\"", "exposures") == 0.0);
    cha_string_free(json);

    /* Assignment gives the same answers (the same interned names), and it
     * does expose. */
    for (int i = 0; i < 200; i++) {
        char unit[64];
        unit_name(unit, sizeof unit, "peek", i);
        CHECK(assign(h, e, unit) == peeked[i]);
    }
    CHECK_STATUS(cha_flush(h), CHA_OK);
    json = analyze(h, e, NULL);
    double exposed = json_number(json, "{\"name\":\"traditional\"", "exposures") +
                     json_number(json, "{\"name\":\"intelligent\"", "exposures");
    CHECK(exposed == 200.0);
    cha_string_free(json);

    /* Bad arguments as for assignment; the out-pointer stays untouched. */
    const char *variant = UNTOUCHED_VARIANT;
    CHECK_STATUS(cha_experiment_peek(h, "no_such_test", "u", &variant), CHA_ERR_NOT_FOUND);
    CHECK(variant == UNTOUCHED_VARIANT);
    CHECK_STATUS(cha_experiment_peek(h, e, "", &variant), CHA_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(cha_experiment_peek(NULL, e, "u", &variant), CHA_ERR_NULL_ARGUMENT);
    CHECK_STATUS(cha_experiment_peek(h, e, "u", NULL), CHA_ERR_NULL_ARGUMENT);
    char *untouched = UNTOUCHED_STR;
    CHECK_STATUS(cha_experiment_peek_assignment(h, NULL, "u", &untouched),
                 CHA_ERR_NULL_ARGUMENT);
    CHECK(untouched == UNTOUCHED_STR);
    cha_close(h);
}

/* The export writes its temporary file exclusively under a name nobody can
 * plant a link at, and refuses a target that is not a regular file. */
static void test_export_is_safe(void) {
    cha_handle *h = open_db("export.db");
    char *report = deploy(h, config_dir);
    cha_string_free(report);
    const char *e = "pipe_sizing_comparison";
    record(h, e, "export-unit", "pipe_cost_efficiency", 41.5);

    char victim[4096], target[4096], planted[4200], fifo[4096];
    path_in_work_dir(victim, sizeof victim, "victim.txt");
    path_in_work_dir(target, sizeof target, "export.csv");
    path_in_work_dir(fifo, sizeof fifo, "export.fifo");
    snprintf(planted, sizeof planted, "%s.partial-%ld", target, (long)getpid());
    FILE *f = fopen(victim, "w");
    CHECK(f != NULL && fputs("precious", f) >= 0 && fclose(f) == 0);
    CHECK(symlink(victim, planted) == 0);
    uint64_t rows = 0;
    CHECK_STATUS(cha_experiment_export(h, e, target, &rows), CHA_OK);
    CHECK(rows == 1);
    char *text = read_text(victim);
    CHECK(text != NULL && strcmp(text, "precious") == 0);
    free(text);
    struct stat st;
    CHECK(lstat(planted, &st) == 0 && S_ISLNK(st.st_mode));
    text = read_text(target);
    CHECK_HAS(text, "id,unit,variant,metric,value,at_ms\n1,export-unit,");
    free(text);

    CHECK(mkfifo(fifo, 0600) == 0);
    rows = 7;
    CHECK_STATUS(cha_experiment_export(h, e, fifo, &rows), CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("is not a regular file");
    CHECK(rows == 7);
    CHECK(lstat(fifo, &st) == 0 && S_ISFIFO(st.st_mode));
    cha_close(h);
}

int main(int argc, char **argv) {
    harness_dirs(argc, argv, &work_dir, &config_dir);

    test_murmur3_vectors();
    cha_handle *h = open_db("experiments.db");
    test_deploy(h);
    test_null_arguments(h);
    test_invalid_utf8(h);
    test_not_found_and_invalid(h);
    test_bucketing(h);
    test_status(h);
    cha_close(h);
    test_record_and_analyze();
    test_pointers_and_sticky();
    test_peek();
    test_export_is_safe();
    test_many_threads();

    return harness_summary("test_experiments");
}

/*
 * test_targeting.c: targeting through the C ABI, as a C simulation tool
 * uses it: typed flag values with the caller's default and how they were
 * resolved (cha_flag_bool, _double, _int, _string, _json with
 * cha_flag_details), rules, segments, environments and variants from
 * tests/fixtures/targeting/feature_flags.yml; typed reads of an experiment
 * variant's configuration (cha_experiment_param_*) from configs/; segments
 * at runtime (cha_segment_list, cha_segment_set); the Unleash import
 * (cha_import_unleash); contexts prepared once (cha_context_new,
 * cha_context_free and the cha_flag_*_with_context calls); and the NULL /
 * invalid UTF-8 contract of each.
 *
 * Run by tests/c_abi.rs as `test_targeting WORK_DIR`. The repository is
 * found from __FILE__ (an absolute path). Prints one line per failed check
 * and a summary; exits non-zero if any check failed. Every returned string
 * is freed: LeakSanitizer runs.
 *
 * The expected answers are those of tests/flags_targeting.rs and the
 * fixture's comments; keep them in step.
 */
#define _POSIX_C_SOURCE 200809L

#include "cha_deploy.h"
#include "harness.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *work_dir;
static char repo[4096];

/* An out-value no real answer has: it must survive a failed call. */
#define UNTOUCHED_DOUBLE -12345.5
#define UNTOUCHED_INT INT64_C(-777)
#define UNTOUCHED_BYTE 0x5a
static char untouched_text[] = "untouched";

static void poison_bool(bool *b) { memset(b, UNTOUCHED_BYTE, sizeof *b); }
static int bool_untouched(const bool *b) {
    unsigned char raw;
    memcpy(&raw, b, 1);
    return raw == UNTOUCHED_BYTE;
}

/* `s` is not valid UTF-8: a lone continuation byte. */
static const char bad_utf8[] = {'v', (char)0x80, 'x', 0};

static int streq(const char *a, const char *b) {
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static const char *in_work_dir(char *buf, size_t size, const char *name) {
    int n = snprintf(buf, size, "%s/%s", work_dir, name);
    if (n < 0 || (size_t)n >= size) {
        fprintf(stderr, "path too long: %s/%s\n", work_dir, name);
        exit(2);
    }
    return buf;
}

static const char *in_repo(char *buf, size_t size, const char *rel) {
    int n = snprintf(buf, size, "%s%s", repo, rel);
    if (n < 0 || (size_t)n >= size) {
        fprintf(stderr, "path too long: %s%s\n", repo, rel);
        exit(2);
    }
    return buf;
}

/* The repository's root (with a trailing slash), from this file's path. */
static int find_repo(void) {
    const char *file = __FILE__;
    const char *suffix = "tests/c/test_targeting.c";
    size_t n = strlen(file);
    size_t s = strlen(suffix);
    if (n < s || strcmp(file + n - s, suffix) != 0 || n - s >= sizeof repo) {
        return 0;
    }
    snprintf(repo, sizeof repo, "%.*s", (int)(n - s), file);
    return 1;
}

/* A whole file, NUL-terminated; freed by the caller. */
static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)size + 1);
    if (text == NULL || fread(text, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(2);
    }
    text[size] = 0;
    fclose(f);
    return text;
}

static cha_handle *open_deployed(const char *db_name, const char *config_rel) {
    char db[4096];
    char configs[4096];
    cha_handle *h = NULL;
    CHECK_STATUS(cha_open(in_work_dir(db, sizeof db, db_name), &h), CHA_OK);
    if (h == NULL) {
        return NULL;
    }
    char *report = NULL;
    CHECK_STATUS(cha_deploy_all(h, in_repo(configs, sizeof configs, config_rel), &report),
                 CHA_OK);
    cha_string_free(report);
    return h;
}

/* The pilot: a large network at a pilot site with tool 2.4.1. */
static const char *PILOT =
    "{\"properties\": {\"network_id\": \"n-1\", \"site\": \"north-7\", "
    "\"network_size\": 800, \"tool_version\": \"2.4.1\"}}";

/* ---- typed values ------------------------------------------------------- */

static void test_double(cha_handle *h) {
    double v = UNTOUCHED_DOUBLE;
    cha_flag_details d = {NULL, NULL, NULL};
    CHECK_STATUS(cha_flag_double(h, "velocity_limit", PILOT, 2.0, &v, &d), CHA_OK);
    CHECK(v == 1.8);
    CHECK(streq(d.reason, "TARGETING_MATCH"));
    CHECK(d.error == NULL);
    CHECK(streq(d.variant, "strict"));

    /* Another site: the catch-all rule and the flag's own variant. */
    CHECK_STATUS(cha_flag_double(h, "velocity_limit",
                                 "{\"properties\": {\"network_id\": \"n-1\", \"site\": \"south-1\", "
                                 "\"network_size\": 800, \"tool_version\": \"2.4.1\"}}",
                                 2.0, &v, &d),
                 CHA_OK);
    CHECK(v == 2.5);
    CHECK(streq(d.variant, "standard"));

    /* A kiosk: the first rule serves off; the default, with the rule's reason. */
    CHECK_STATUS(cha_flag_double(h, "velocity_limit",
                                 "{\"remote_address\": \"192.0.2.44\", \"properties\": "
                                 "{\"network_id\": \"n-1\", \"site\": \"north-7\", "
                                 "\"network_size\": 800, \"tool_version\": \"3.0.0\"}}",
                                 9.5, &v, &d),
                 CHA_OK);
    CHECK(v == 9.5);
    CHECK(streq(d.reason, "TARGETING_MATCH"));
    CHECK(d.error == NULL && d.variant == NULL);

    /* The details are optional. */
    v = UNTOUCHED_DOUBLE;
    CHECK_STATUS(cha_flag_double(h, "velocity_limit", PILOT, 2.0, &v, NULL), CHA_OK);
    CHECK(v == 1.8);

    /* A JSON payload is no number: the default, TYPE_MISMATCH. */
    CHECK_STATUS(cha_flag_double(h, "pipe_catalogue", "{\"user_id\": \"planner-001\"}", 3.25,
                                 &v, &d),
                 CHA_OK);
    CHECK(v == 3.25);
    CHECK(streq(d.reason, "ERROR"));
    CHECK(streq(d.error, "TYPE_MISMATCH"));
    CHECK(streq(d.variant, "din_en_253"));
}

static void test_int_and_bool(cha_handle *h) {
    int64_t i = UNTOUCHED_INT;
    cha_flag_details d = {NULL, NULL, NULL};
    CHECK_STATUS(cha_flag_int(h, "max_iterations", "{\"user_id\": \"u1\"}", 50, &i, &d), CHA_OK);
    CHECK(i == 200);
    CHECK(streq(d.variant, "default_budget"));
    CHECK(d.error == NULL);
    /* 1.8 is not a whole number. */
    CHECK_STATUS(cha_flag_int(h, "velocity_limit", PILOT, 7, &i, &d), CHA_OK);
    CHECK(i == 7);
    CHECK(streq(d.reason, "ERROR") && streq(d.error, "TYPE_MISMATCH"));

    /* Environments pick the flag's override. */
    bool on = false;
    CHECK_STATUS(cha_flag_bool(h, "solver_v3",
                               "{\"user_id\": \"u1\", \"environment\": \"development\"}", false,
                               &on, &d),
                 CHA_OK);
    CHECK(on == true);
    CHECK_STATUS(cha_flag_bool(h, "solver_v3",
                               "{\"user_id\": \"u1\", \"environment\": \"production\"}", true, &on,
                               &d),
                 CHA_OK);
    CHECK(on == false);
    CHECK(d.error == NULL);
    CHECK_STATUS(cha_flag_bool(h, "solver_v3",
                               "{\"user_id\": \"u1\", \"environment\": \"production\", "
                               "\"groups\": [\"hydraulics_team\"]}",
                               false, &on, &d),
                 CHA_OK);
    CHECK(on == true);
    CHECK(streq(d.reason, "TARGETING_MATCH"));

    /* A prerequisite on a variant: strict_report follows velocity_limit. */
    CHECK_STATUS(cha_flag_bool(h, "strict_report",
                               "{\"properties\": {\"email\": \"anna@stadtwerke.example\"}}", true,
                               &on, &d),
                 CHA_OK);
    CHECK(on == false);
    CHECK(streq(d.reason, "PREREQUISITE_FAILED"));
    CHECK_STATUS(cha_flag_bool(h, "strict_report",
                               "{\"properties\": {\"site\": \"harbour-2\", \"network_size\": 500, "
                               "\"tool_version\": \"2.4.0\", \"email\": "
                               "\"anna@stadtwerke.EXAMPLE\"}}",
                               false, &on, &d),
                 CHA_OK);
    CHECK(on == true);
}

static void test_string_and_json(cha_handle *h) {
    char *s = untouched_text;
    cha_flag_details d = {NULL, NULL, NULL};
    /* An object payload is not a string: a copy of the default. */
    CHECK_STATUS(cha_flag_string(h, "pipe_catalogue", "{\"user_id\": \"planner-001\"}", "none",
                                 &s, &d),
                 CHA_OK);
    CHECK(streq(s, "none") && s != untouched_text);
    CHECK(streq(d.error, "TYPE_MISMATCH"));
    cha_string_free(s);
    /* A NULL default: NULL when the default applies. */
    s = untouched_text;
    CHECK_STATUS(cha_flag_string(h, "pipe_catalogue", "{\"user_id\": \"planner-001\"}", NULL, &s,
                                 NULL),
                 CHA_OK);
    CHECK(s == NULL);

    /* The JSON payload, with planner-001's override. */
    char *j = untouched_text;
    CHECK_STATUS(cha_flag_json(h, "pipe_catalogue", "{\"user_id\": \"planner-001\"}", "null", &j,
                               &d),
                 CHA_OK);
    CHECK(streq(j, "{\"max_dn\":1000,\"standard\":\"DIN EN 253\"}"));
    CHECK(streq(d.variant, "din_en_253"));
    cha_string_free(j);
    /* A number payload is JSON too. */
    j = NULL;
    CHECK_STATUS(cha_flag_json(h, "max_iterations", "{\"user_id\": \"u1\"}", NULL, &j, NULL),
                 CHA_OK);
    CHECK(streq(j, "200"));
    cha_string_free(j);
    /* Off for the kiosk: the default's copy. */
    j = NULL;
    CHECK_STATUS(cha_flag_json(h, "velocity_limit",
                               "{\"remote_address\": \"192.0.2.1\", \"properties\": "
                               "{\"network_id\": \"n\"}}",
                               "{\"fallback\": true}", &j, &d),
                 CHA_OK);
    CHECK(streq(j, "{\"fallback\": true}"));
    CHECK(d.error == NULL);
    cha_string_free(j);
}

/* Evaluation errors are answers (the default, the reason), not failures. */
static void test_evaluation_errors(cha_handle *h) {
    cha_flag_details d = {NULL, NULL, NULL};
    double v = UNTOUCHED_DOUBLE;
    CHECK_STATUS(cha_flag_double(h, "velocity_limt", PILOT, 4.5, &v, &d), CHA_OK);
    CHECK(v == 4.5);
    CHECK(streq(d.reason, "ERROR") && streq(d.error, "FLAG_NOT_FOUND"));
    CHECK(d.variant == NULL);

    /* A context that is not JSON. */
    v = UNTOUCHED_DOUBLE;
    CHECK_STATUS(cha_flag_double(h, "velocity_limit", "{not json", 4.5, &v, &d), CHA_OK);
    CHECK(v == 4.5);
    CHECK(streq(d.reason, "ERROR") && streq(d.error, "INVALID_CONTEXT"));
    /* A context that is not UTF-8 is no context either. */
    bool on = true;
    CHECK_STATUS(cha_flag_bool(h, "solver_v3", bad_utf8, true, &on, &d), CHA_OK);
    CHECK(on == true);
    CHECK(streq(d.error, "INVALID_CONTEXT"));
    /* No context at all, and no such flag. */
    int64_t i = UNTOUCHED_INT;
    CHECK_STATUS(cha_flag_int(h, "unknown.flag", NULL, -1, &i, &d), CHA_OK);
    CHECK(i == -1);
    CHECK(streq(d.error, "FLAG_NOT_FOUND"));
}

/* Failed calls: the status, the message, and the out-values untouched. */
static void test_contract(cha_handle *h) {
    cha_flag_details d = {NULL, NULL, NULL};
    double v = UNTOUCHED_DOUBLE;
    CHECK_STATUS(cha_flag_double(NULL, "velocity_limit", PILOT, 1.0, &v, &d), CHA_ERR_NULL_ARGUMENT);
    CHECK(v == UNTOUCHED_DOUBLE);
    CHECK_MESSAGE_HAS("h");
    CHECK_STATUS(cha_flag_double(h, NULL, PILOT, 1.0, &v, &d), CHA_ERR_NULL_ARGUMENT);
    CHECK_MESSAGE_HAS("flag");
    CHECK(v == UNTOUCHED_DOUBLE);
    CHECK_STATUS(cha_flag_double(h, "velocity_limit", PILOT, 1.0, NULL, &d),
                 CHA_ERR_NULL_ARGUMENT);
    CHECK_MESSAGE_HAS("out_value");
    CHECK_STATUS(cha_flag_double(h, bad_utf8, PILOT, 1.0, &v, &d), CHA_ERR_INVALID_UTF8);
    CHECK(v == UNTOUCHED_DOUBLE);

    bool on;
    poison_bool(&on);
    CHECK_STATUS(cha_flag_bool(h, NULL, NULL, true, &on, NULL), CHA_ERR_NULL_ARGUMENT);
    CHECK(bool_untouched(&on));
    CHECK_STATUS(cha_flag_bool(h, bad_utf8, NULL, true, &on, NULL), CHA_ERR_INVALID_UTF8);
    CHECK(bool_untouched(&on));
    CHECK_STATUS(cha_flag_bool(h, "solver_v3", NULL, true, NULL, NULL), CHA_ERR_NULL_ARGUMENT);

    int64_t i = UNTOUCHED_INT;
    CHECK_STATUS(cha_flag_int(NULL, "max_iterations", NULL, 1, &i, NULL), CHA_ERR_NULL_ARGUMENT);
    CHECK_STATUS(cha_flag_int(h, bad_utf8, NULL, 1, &i, NULL), CHA_ERR_INVALID_UTF8);
    CHECK(i == UNTOUCHED_INT);

    char *s = untouched_text;
    CHECK_STATUS(cha_flag_string(h, "pipe_catalogue", NULL, bad_utf8, &s, NULL),
                 CHA_ERR_INVALID_UTF8);
    CHECK_MESSAGE_HAS("default_value");
    CHECK(s == untouched_text);
    CHECK_STATUS(cha_flag_string(h, NULL, NULL, "x", &s, NULL), CHA_ERR_NULL_ARGUMENT);
    CHECK_STATUS(cha_flag_string(h, "pipe_catalogue", NULL, "x", NULL, NULL),
                 CHA_ERR_NULL_ARGUMENT);
    CHECK(s == untouched_text);

    char *j = untouched_text;
    CHECK_STATUS(cha_flag_json(h, "pipe_catalogue", NULL, bad_utf8, &j, NULL),
                 CHA_ERR_INVALID_UTF8);
    CHECK_STATUS(cha_flag_json(NULL, "pipe_catalogue", NULL, "1", &j, NULL),
                 CHA_ERR_NULL_ARGUMENT);
    CHECK_STATUS(cha_flag_json(h, "pipe_catalogue", NULL, "1", NULL, NULL), CHA_ERR_NULL_ARGUMENT);
    CHECK(j == untouched_text);
}

/* ---- prepared contexts ------------------------------------------------------ */

/* A context prepared with cha_context_new answers as the same JSON does,
 * through every typed call, with any handle. */
static void test_prepared_answers(cha_handle *h) {
    cha_context *pilot = NULL;
    CHECK_STATUS(cha_context_new(PILOT, &pilot), CHA_OK);
    CHECK(pilot != NULL);
    cha_flag_details d = {NULL, NULL, NULL};

    double v = UNTOUCHED_DOUBLE;
    CHECK_STATUS(cha_flag_double_with_context(h, "velocity_limit", pilot, 2.0, &v, &d), CHA_OK);
    CHECK(v == 1.8);
    CHECK(streq(d.reason, "TARGETING_MATCH"));
    CHECK(d.error == NULL);
    CHECK(streq(d.variant, "strict"));
    /* The details are optional. */
    v = UNTOUCHED_DOUBLE;
    CHECK_STATUS(cha_flag_double_with_context(h, "velocity_limit", pilot, 2.0, &v, NULL), CHA_OK);
    CHECK(v == 1.8);
    /* A payload that is no whole number: the default, TYPE_MISMATCH. */
    int64_t i = UNTOUCHED_INT;
    CHECK_STATUS(cha_flag_int_with_context(h, "velocity_limit", pilot, 7, &i, &d), CHA_OK);
    CHECK(i == 7);
    CHECK(streq(d.reason, "ERROR") && streq(d.error, "TYPE_MISMATCH"));
    /* No such flag: the default, FLAG_NOT_FOUND. */
    v = UNTOUCHED_DOUBLE;
    CHECK_STATUS(cha_flag_double_with_context(h, "velocity_limt", pilot, 4.5, &v, &d), CHA_OK);
    CHECK(v == 4.5);
    CHECK(streq(d.reason, "ERROR") && streq(d.error, "FLAG_NOT_FOUND"));
    CHECK(d.variant == NULL);
    bool on = true;
    CHECK_STATUS(cha_flag_bool_with_context(h, "unknown.flag", pilot, false, &on, &d), CHA_OK);
    CHECK(on == false);
    CHECK(streq(d.error, "FLAG_NOT_FOUND"));

    /* The same context with a second handle on the same database. */
    char db[4096];
    cha_handle *other = NULL;
    CHECK_STATUS(cha_open(in_work_dir(db, sizeof db, "targeting.db"), &other), CHA_OK);
    v = UNTOUCHED_DOUBLE;
    CHECK_STATUS(cha_flag_double_with_context(other, "velocity_limit", pilot, 2.0, &v, &d),
                 CHA_OK);
    CHECK(v == 1.8);
    CHECK(streq(d.variant, "strict"));
    cha_close(other);
    cha_context_free(pilot);

    /* Groups and the environment. */
    cha_context *production = NULL;
    CHECK_STATUS(cha_context_new("{\"user_id\": \"u1\", \"environment\": \"production\", "
                                 "\"groups\": [\"hydraulics_team\"]}",
                                 &production),
                 CHA_OK);
    on = false;
    CHECK_STATUS(cha_flag_bool_with_context(h, "solver_v3", production, false, &on, &d), CHA_OK);
    CHECK(on == true);
    CHECK(streq(d.reason, "TARGETING_MATCH"));
    CHECK(d.error == NULL);
    cha_context_free(production);

    /* The empty context: solver_v3 is at 0% outside its environments. */
    cha_context *empty = NULL;
    CHECK_STATUS(cha_context_new("{}", &empty), CHA_OK);
    on = true;
    CHECK_STATUS(cha_flag_bool_with_context(h, "solver_v3", empty, true, &on, &d), CHA_OK);
    CHECK(on == false);
    CHECK(streq(d.reason, "SPLIT"));

    /* Strings and JSON, with planner-001's override. */
    cha_context *planner = NULL;
    CHECK_STATUS(cha_context_new("{\"user_id\": \"planner-001\"}", &planner), CHA_OK);
    i = UNTOUCHED_INT;
    CHECK_STATUS(cha_flag_int_with_context(h, "max_iterations", planner, 50, &i, &d), CHA_OK);
    CHECK(i == 200);
    CHECK(streq(d.variant, "default_budget"));
    char *s = untouched_text;
    CHECK_STATUS(cha_flag_string_with_context(h, "pipe_catalogue", planner, "none", &s, &d),
                 CHA_OK);
    CHECK(streq(s, "none") && s != untouched_text);
    CHECK(streq(d.reason, "ERROR") && streq(d.error, "TYPE_MISMATCH"));
    CHECK(streq(d.variant, "din_en_253"));
    cha_string_free(s);
    s = untouched_text;
    CHECK_STATUS(cha_flag_string_with_context(h, "pipe_catalogue", planner, NULL, &s, NULL),
                 CHA_OK);
    CHECK(s == NULL);
    char *j = untouched_text;
    CHECK_STATUS(cha_flag_json_with_context(h, "pipe_catalogue", planner, "null", &j, &d),
                 CHA_OK);
    CHECK(streq(j, "{\"max_dn\":1000,\"standard\":\"DIN EN 253\"}"));
    CHECK(streq(d.variant, "din_en_253"));
    cha_string_free(j);
    j = untouched_text;
    CHECK_STATUS(cha_flag_json_with_context(h, "solver_v3", empty, "{\"fallback\": true}", &j,
                                            &d),
                 CHA_OK);
    CHECK(streq(j, "{\"fallback\": true}"));
    cha_string_free(j);
    cha_context_free(planner);
    cha_context_free(empty);
}

/* cha_context_new refuses what is not a context, saying what and where,
 * and leaves *out_context alone. */
static void test_prepared_new_errors(void) {
    char marker;
    cha_context *const untouched = (cha_context *)(void *)&marker;
    cha_context *c = untouched;

    CHECK_STATUS(cha_context_new(NULL, &c), CHA_ERR_NULL_ARGUMENT);
    CHECK_MESSAGE_HAS("cha_context_new: argument `context_json` is NULL");
    CHECK(c == untouched);
    CHECK_STATUS(cha_context_new("{}", NULL), CHA_ERR_NULL_ARGUMENT);
    CHECK_MESSAGE_HAS("out_context");
    CHECK_STATUS(cha_context_new(bad_utf8, &c), CHA_ERR_INVALID_UTF8);
    CHECK_MESSAGE_HAS("context_json");
    CHECK(c == untouched);
    CHECK_STATUS(cha_context_new("{\"user_id\": ", &c), CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("context is not valid JSON");
    CHECK_MESSAGE_HAS("line 1 column 12");
    CHECK(c == untouched);
    CHECK_STATUS(cha_context_new("{\n  \"user_id\": \"u1\",\n  \"groups\": [\"a\",]\n}", &c),
                 CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("line 3");
    CHECK_STATUS(cha_context_new("[1]", &c), CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("context must be a JSON object");
    CHECK_STATUS(cha_context_new("{\"userId\": \"u1\"}", &c), CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("unknown key `userId`");
    CHECK_STATUS(cha_context_new("{\"groups\": [\"a\", 1]}", &c), CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("context.groups[1]: expected a string");
    CHECK_STATUS(cha_context_new("{\"properties\": {\"site\": [1]}}", &c),
                 CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("context.properties.site");
    CHECK_STATUS(cha_context_new("{\"current_time\": \"yesterday\"}", &c),
                 CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("context.current_time");
    CHECK(c == untouched);
    /* Freeing NULL does nothing. */
    cha_context_free(NULL);
}

/* Failed calls with a prepared context: the status, the message, and the
 * out-values untouched; a freed context is refused, and so is a second
 * free. */
static void test_prepared_contract(cha_handle *h) {
    cha_context *pilot = NULL;
    CHECK_STATUS(cha_context_new(PILOT, &pilot), CHA_OK);
    cha_flag_details d = {NULL, NULL, NULL};

    double v = UNTOUCHED_DOUBLE;
    CHECK_STATUS(cha_flag_double_with_context(h, "velocity_limit", NULL, 1.0, &v, &d),
                 CHA_ERR_NULL_ARGUMENT);
    CHECK_MESSAGE_HAS("cha_flag_double_with_context: argument `context` is NULL");
    CHECK(v == UNTOUCHED_DOUBLE);
    CHECK_STATUS(cha_flag_double_with_context(NULL, "velocity_limit", pilot, 1.0, &v, &d),
                 CHA_ERR_NULL_ARGUMENT);
    CHECK_MESSAGE_HAS("`h`");
    CHECK_STATUS(cha_flag_double_with_context(h, NULL, pilot, 1.0, &v, &d),
                 CHA_ERR_NULL_ARGUMENT);
    CHECK_MESSAGE_HAS("`flag`");
    CHECK_STATUS(cha_flag_double_with_context(h, bad_utf8, pilot, 1.0, &v, &d),
                 CHA_ERR_INVALID_UTF8);
    CHECK_MESSAGE_HAS("flag");
    CHECK_STATUS(cha_flag_double_with_context(h, "velocity_limit", pilot, 1.0, NULL, &d),
                 CHA_ERR_NULL_ARGUMENT);
    CHECK_MESSAGE_HAS("out_value");
    CHECK(v == UNTOUCHED_DOUBLE);

    bool on;
    poison_bool(&on);
    CHECK_STATUS(cha_flag_bool_with_context(h, "solver_v3", NULL, true, &on, NULL),
                 CHA_ERR_NULL_ARGUMENT);
    CHECK_MESSAGE_HAS("cha_flag_bool_with_context: argument `context` is NULL");
    CHECK_STATUS(cha_flag_bool_with_context(h, bad_utf8, pilot, true, &on, NULL),
                 CHA_ERR_INVALID_UTF8);
    CHECK_STATUS(cha_flag_bool_with_context(h, "solver_v3", pilot, true, NULL, NULL),
                 CHA_ERR_NULL_ARGUMENT);
    CHECK(bool_untouched(&on));

    int64_t i = UNTOUCHED_INT;
    CHECK_STATUS(cha_flag_int_with_context(h, "max_iterations", NULL, 1, &i, NULL),
                 CHA_ERR_NULL_ARGUMENT);
    CHECK_MESSAGE_HAS("cha_flag_int_with_context: argument `context` is NULL");
    CHECK_STATUS(cha_flag_int_with_context(NULL, "max_iterations", pilot, 1, &i, NULL),
                 CHA_ERR_NULL_ARGUMENT);
    CHECK(i == UNTOUCHED_INT);

    char *s = untouched_text;
    CHECK_STATUS(cha_flag_string_with_context(h, "pipe_catalogue", NULL, "x", &s, NULL),
                 CHA_ERR_NULL_ARGUMENT);
    CHECK_MESSAGE_HAS("cha_flag_string_with_context: argument `context` is NULL");
    CHECK_STATUS(cha_flag_string_with_context(h, "pipe_catalogue", pilot, bad_utf8, &s, NULL),
                 CHA_ERR_INVALID_UTF8);
    CHECK_MESSAGE_HAS("default_value");
    CHECK_STATUS(cha_flag_string_with_context(h, "pipe_catalogue", pilot, "x", NULL, NULL),
                 CHA_ERR_NULL_ARGUMENT);
    CHECK(s == untouched_text);

    char *j = untouched_text;
    CHECK_STATUS(cha_flag_json_with_context(h, "pipe_catalogue", NULL, "1", &j, NULL),
                 CHA_ERR_NULL_ARGUMENT);
    CHECK_MESSAGE_HAS("cha_flag_json_with_context: argument `context` is NULL");
    CHECK_STATUS(cha_flag_json_with_context(h, "pipe_catalogue", pilot, bad_utf8, &j, NULL),
                 CHA_ERR_INVALID_UTF8);
    CHECK_MESSAGE_HAS("default_json");
    CHECK_STATUS(cha_flag_json_with_context(h, NULL, pilot, "1", &j, NULL),
                 CHA_ERR_NULL_ARGUMENT);
    CHECK(j == untouched_text);

    /* Freed: every call refuses it, and a second free changes nothing. */
    cha_context_free(pilot);
    v = UNTOUCHED_DOUBLE;
    CHECK_STATUS(cha_flag_double_with_context(h, "velocity_limit", pilot, 1.0, &v, &d),
                 CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("cha_flag_double_with_context: the context was freed by cha_context_free");
    CHECK(v == UNTOUCHED_DOUBLE);
    poison_bool(&on);
    CHECK_STATUS(cha_flag_bool_with_context(h, "solver_v3", pilot, true, &on, NULL),
                 CHA_ERR_INVALID_ARGUMENT);
    CHECK(bool_untouched(&on));
    CHECK_STATUS(cha_flag_int_with_context(h, "max_iterations", pilot, 1, &i, NULL),
                 CHA_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(cha_flag_string_with_context(h, "pipe_catalogue", pilot, "x", &s, NULL),
                 CHA_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(cha_flag_json_with_context(h, "pipe_catalogue", pilot, "1", &j, NULL),
                 CHA_ERR_INVALID_ARGUMENT);
    CHECK(i == UNTOUCHED_INT && s == untouched_text && j == untouched_text);
    cha_context_free(pilot);
    CHECK_MESSAGE_HAS("cha_context_free: the context was freed by cha_context_free");
}

/* ---- segments ------------------------------------------------------------- */

static void test_segments(cha_handle *h) {
    char *list = NULL;
    CHECK_STATUS(cha_segment_list(h, &list), CHA_OK);
    CHECK_HAS(list, "\"name\":\"large_networks\"");
    CHECK_HAS(list, "\"name\":\"pilot_sites\"");
    CHECK_HAS(list, "\"description\":\"The district-heating networks of the pilot\"");
    cha_string_free(list);

    /* West-3 joins the pilot: velocity_limit follows at once. */
    const char *west = "{\"properties\": {\"network_id\": \"n-1\", \"site\": \"west-3\", "
                       "\"network_size\": 800, \"tool_version\": \"2.4.1\"}}";
    double v = 0;
    CHECK_STATUS(cha_flag_double(h, "velocity_limit", west, 0.0, &v, NULL), CHA_OK);
    CHECK(v == 2.5);
    char *change = NULL;
    CHECK_STATUS(cha_segment_set(h, "pilot_sites",
                                 "{\"constraints\": [{\"attribute\": \"site\", \"operator\": "
                                 "\"IN\", \"values\": [\"north-7\", \"harbour-2\", \"west-3\"]}]}",
                                 "c-tool", &change),
                 CHA_OK);
    CHECK_HAS(change, "\"segment\":\"pilot_sites\"");
    CHECK_HAS(change, "\"version\":2");
    CHECK_HAS(change, "\"changed\":true");
    cha_string_free(change);
    CHECK_STATUS(cha_flag_double(h, "velocity_limit", west, 0.0, &v, NULL), CHA_OK);
    CHECK(v == 1.8);

    /* Create one, then delete it with NULL; out_json may be NULL. */
    CHECK_STATUS(cha_segment_set(h, "roles",
                                 "{\"constraints\": [{\"attribute\": \"role\", \"operator\": "
                                 "\"REGEX\", \"value\": \"^plan(ner)?$\"}]}",
                                 "c-tool", NULL),
                 CHA_OK);
    change = NULL;
    CHECK_STATUS(cha_segment_set(h, "roles", NULL, "c-tool", &change), CHA_OK);
    CHECK_HAS(change, "\"after\":null");
    cha_string_free(change);

    /* Rejections with the field path; nothing changes. */
    change = untouched_text;
    CHECK_STATUS(cha_segment_set(h, "bad",
                                 "{\"constraints\": [{\"attribute\": \"role\", \"operator\": "
                                 "\"REGEX\", \"value\": \"(\"}]}",
                                 "c-tool", &change),
                 CHA_ERR_CONFIG);
    CHECK_MESSAGE_HAS("segments.bad.constraints[0].value: `(` is not a valid regular expression");
    CHECK(change == untouched_text);
    CHECK_STATUS(cha_segment_set(h, "bad",
                                 "{\"constraints\": [{\"attribute\": \"ip\", \"operator\": "
                                 "\"IN_CIDR\", \"values\": [\"10.0.0.0/33\"]}]}",
                                 "c-tool", NULL),
                 CHA_ERR_CONFIG);
    CHECK_MESSAGE_HAS("segments.bad.constraints[0].values[0]");
    CHECK_STATUS(cha_segment_set(h, "bad",
                                 "{\"constraints\": [{\"attribute\": \"a\", \"operator\": "
                                 "\"LIKE\", \"values\": [\"b\"]}]}",
                                 "c-tool", NULL),
                 CHA_ERR_CONFIG);
    CHECK_MESSAGE_HAS("unknown operator `LIKE`");
    /* A segment a flag names cannot go. */
    CHECK_STATUS(cha_segment_set(h, "large_networks", NULL, "c-tool", NULL), CHA_ERR_CONFIG);
    CHECK_MESSAGE_HAS("flags.velocity_limit.rules[1].segments[1]: segment `large_networks` does not exist");
    CHECK_STATUS(cha_segment_set(h, "nothing", NULL, "c-tool", NULL), CHA_ERR_NOT_FOUND);
    CHECK_STATUS(cha_segment_set(h, "bad", "[1]", "c-tool", NULL), CHA_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(cha_segment_set(h, "bad", "{\"constraints\": []}", "", NULL),
                 CHA_ERR_INVALID_ARGUMENT);

    CHECK_STATUS(cha_segment_set(NULL, "bad", NULL, "c-tool", NULL), CHA_ERR_NULL_ARGUMENT);
    CHECK_STATUS(cha_segment_set(h, NULL, NULL, "c-tool", NULL), CHA_ERR_NULL_ARGUMENT);
    CHECK_STATUS(cha_segment_set(h, bad_utf8, NULL, "c-tool", NULL), CHA_ERR_INVALID_UTF8);
    CHECK_STATUS(cha_segment_set(h, "bad", bad_utf8, "c-tool", NULL), CHA_ERR_INVALID_UTF8);
    CHECK_STATUS(cha_segment_list(NULL, &list), CHA_ERR_NULL_ARGUMENT);
    CHECK_STATUS(cha_segment_list(h, NULL), CHA_ERR_NULL_ARGUMENT);

    list = NULL;
    CHECK_STATUS(cha_segment_list(h, &list), CHA_OK);
    CHECK(list != NULL && strstr(list, "\"name\":\"bad\"") == NULL);
    CHECK(list != NULL && strstr(list, "\"name\":\"roles\"") == NULL);
    cha_string_free(list);
}

/* ---- experiment parameters ---------------------------------------------- */

static void test_experiment_params(void) {
    cha_handle *h = open_deployed("params.db", "configs");
    if (h == NULL) {
        return;
    }
    const char *exp = "pipe_sizing_comparison";
    double v = UNTOUCHED_DOUBLE;
    CHECK_STATUS(cha_experiment_param_double(h, exp, "intelligent", "max_velocity_ms", &v), CHA_OK);
    CHECK(v == 2.0);
    CHECK_STATUS(cha_experiment_param_double(h, exp, "intelligent", "min_velocity_ms", &v), CHA_OK);
    CHECK(v == 0.1);
    int64_t i = UNTOUCHED_INT;
    CHECK_STATUS(cha_experiment_param_int(h, exp, "traditional", "default_diameter_mm", &i), CHA_OK);
    CHECK(i == 100);
    bool b = false;
    CHECK_STATUS(cha_experiment_param_bool(h, exp, "intelligent", "enable_intelligent_sizing", &b),
                 CHA_OK);
    CHECK(b == true);
    char *s = NULL;
    CHECK_STATUS(cha_experiment_param_string(h, exp, "traditional", "pipe_sizing_method", &s),
                 CHA_OK);
    CHECK(streq(s, "fixed_diameter"));
    cha_string_free(s);

    /* The wrong type, a missing test, variant or key. */
    v = UNTOUCHED_DOUBLE;
    CHECK_STATUS(cha_experiment_param_double(h, exp, "intelligent", "pipe_sizing_method", &v),
                 CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("`pipe_sizing_method` of variant `intelligent` of experiment "
                      "`pipe_sizing_comparison` is \"intelligent\", not a number");
    CHECK(v == UNTOUCHED_DOUBLE);
    i = UNTOUCHED_INT;
    CHECK_STATUS(cha_experiment_param_int(h, exp, "intelligent", "min_velocity_ms", &i),
                 CHA_ERR_INVALID_ARGUMENT);
    CHECK(i == UNTOUCHED_INT);
    poison_bool(&b);
    CHECK_STATUS(cha_experiment_param_bool(h, exp, "intelligent", "max_velocity_ms", &b),
                 CHA_ERR_INVALID_ARGUMENT);
    CHECK(bool_untouched(&b));
    s = untouched_text;
    CHECK_STATUS(cha_experiment_param_string(h, exp, "intelligent", "max_velocity_ms", &s),
                 CHA_ERR_INVALID_ARGUMENT);
    CHECK(s == untouched_text);
    CHECK_STATUS(cha_experiment_param_double(h, "pipe_sizing_comparisn", "intelligent", "x", &v),
                 CHA_ERR_NOT_FOUND);
    CHECK_MESSAGE_HAS("did you mean `pipe_sizing_comparison`?");
    CHECK_STATUS(cha_experiment_param_double(h, exp, "smart", "x", &v), CHA_ERR_NOT_FOUND);
    CHECK_MESSAGE_HAS("(its variants: traditional, intelligent)");
    CHECK_STATUS(cha_experiment_param_double(h, exp, "intelligent", "max_velocity", &v),
                 CHA_ERR_NOT_FOUND);
    CHECK_MESSAGE_HAS("did you mean `max_velocity_ms`?");
    CHECK(v == UNTOUCHED_DOUBLE);

    CHECK_STATUS(cha_experiment_param_double(NULL, exp, "intelligent", "max_velocity_ms", &v),
                 CHA_ERR_NULL_ARGUMENT);
    CHECK_STATUS(cha_experiment_param_double(h, NULL, "intelligent", "max_velocity_ms", &v),
                 CHA_ERR_NULL_ARGUMENT);
    CHECK_STATUS(cha_experiment_param_int(h, exp, NULL, "default_diameter_mm", &i),
                 CHA_ERR_NULL_ARGUMENT);
    CHECK_STATUS(cha_experiment_param_bool(h, exp, "intelligent", NULL, &b),
                 CHA_ERR_NULL_ARGUMENT);
    CHECK_STATUS(cha_experiment_param_string(h, exp, "intelligent", "pipe_sizing_method", NULL),
                 CHA_ERR_NULL_ARGUMENT);
    CHECK_STATUS(cha_experiment_param_double(h, exp, bad_utf8, "max_velocity_ms", &v),
                 CHA_ERR_INVALID_UTF8);
    CHECK_STATUS(cha_experiment_param_string(h, exp, "intelligent", bad_utf8, &s),
                 CHA_ERR_INVALID_UTF8);
    CHECK(v == UNTOUCHED_DOUBLE && s == untouched_text);
    cha_close(h);
}

/* ---- the Unleash import --------------------------------------------------- */

static void test_import(void) {
    char db[4096];
    cha_handle *h = NULL;
    CHECK_STATUS(cha_open(in_work_dir(db, sizeof db, "import.db"), &h), CHA_OK);
    if (h == NULL) {
        return;
    }
    char path[4096];
    char *document = read_file(in_repo(path, sizeof path, "tests/fixtures/targeting/unleash.json"));

    char *report = NULL;
    CHECK_STATUS(cha_import_unleash(h, document, "{\"actor\": \"c-tool\", \"dry_run\": true}",
                                    &report),
                 CHA_OK);
    CHECK_HAS(report, "\"dry_run\":true");
    CHECK_HAS(report, "{\"name\":\"network_heatmap\",\"action\":\"create\",\"version\":0}");
    CHECK_HAS(report, "\"untranslated\":[{\"item\":\"network_heatmap\","
                      "\"path\":\"features[0].strategies[1]\"");
    cha_string_free(report);
    /* The dry run wrote nothing. */
    bool on = true;
    cha_flag_details d = {NULL, NULL, NULL};
    CHECK_STATUS(cha_flag_bool(h, "network_heatmap", NULL, false, &on, &d), CHA_OK);
    CHECK(on == false && streq(d.error, "FLAG_NOT_FOUND"));

    report = NULL;
    CHECK_STATUS(cha_import_unleash(h, document, "{\"actor\": \"c-tool\"}", &report), CHA_OK);
    CHECK_HAS(report, "\"actor\":\"c-tool\"");
    CHECK_HAS(report, "{\"name\":\"network_heatmap\",\"action\":\"create\",\"version\":1}");
    CHECK_HAS(report, "{\"name\":\"export_gis\",\"action\":\"create\",\"version\":1}");
    CHECK_HAS(report, "custom strategy `myCustomStrategy`");
    cha_string_free(report);

    /* The imported flag's string payload, and its dependent flag. */
    const char *sizer = "{\"user_id\": \"planner-001\", \"app_name\": \"sizer\", "
                        "\"properties\": {\"site\": \"north-7\", \"toolVersion\": \"2.1.0\"}}";
    char *s = NULL;
    CHECK_STATUS(cha_flag_string(h, "network_heatmap", sizer, "none", &s, &d), CHA_OK);
    CHECK(streq(s, "blues"));
    CHECK(streq(d.variant, "blue"));
    cha_string_free(s);
    CHECK_STATUS(cha_flag_bool(h, "export_gis", sizer, false, &on, NULL), CHA_OK);
    CHECK(on == true);
    CHECK_STATUS(cha_flag_bool(h, "export_gis", "{\"user_id\": \"planner-001\"}", true, &on, &d),
                 CHA_OK);
    CHECK(on == false);
    CHECK(streq(d.reason, "PREREQUISITE_FAILED"));

    /* Errors: nothing changes, the out-pointer is untouched. */
    report = untouched_text;
    CHECK_STATUS(cha_import_unleash(h, "{\"flags\": []}", NULL, &report),
                 CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("not an Unleash client-features document");
    CHECK_STATUS(cha_import_unleash(h, "features", NULL, &report), CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("not JSON");
    CHECK_STATUS(cha_import_unleash(h, document, "{\"dry\": true}", &report),
                 CHA_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(cha_import_unleash(h, document, "[", &report), CHA_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(cha_import_unleash(NULL, document, NULL, &report), CHA_ERR_NULL_ARGUMENT);
    CHECK_STATUS(cha_import_unleash(h, NULL, NULL, &report), CHA_ERR_NULL_ARGUMENT);
    CHECK_STATUS(cha_import_unleash(h, bad_utf8, NULL, &report), CHA_ERR_INVALID_UTF8);
    CHECK_STATUS(cha_import_unleash(h, document, bad_utf8, &report), CHA_ERR_INVALID_UTF8);
    CHECK(report == untouched_text);

    free(document);
    cha_close(h);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s WORK_DIR\n", argv[0]);
        return 2;
    }
    work_dir = argv[1];
    if (!find_repo()) {
        fprintf(stderr, "cannot tell where the repository is from __FILE__\n");
        return 2;
    }
    cha_handle *h = open_deployed("targeting.db", "tests/fixtures/targeting");
    if (h != NULL) {
        test_double(h);
        test_int_and_bool(h);
        test_string_and_json(h);
        test_evaluation_errors(h);
        test_contract(h);
        test_prepared_answers(h);
        test_prepared_contract(h);
        test_segments(h);
        cha_close(h);
    }
    test_prepared_new_errors();
    test_experiment_params();
    test_import();
    return harness_summary("test_targeting");
}

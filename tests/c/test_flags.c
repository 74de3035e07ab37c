/*
 * test_flags.c: feature flags and deployment through the C ABI, as a C
 * simulation tool uses them: deploying the repository's configs/, the hot
 * calls (cha_flag_enabled, cha_flag_lookup + cha_flag_enabled_id), detailed
 * evaluation as JSON, updates with their audit history and restore, config
 * templates, visibility of a change in a second handle, and one handle
 * evaluated from many threads while another thread updates it.
 *
 * Run by tests/c_abi.rs as `test_flags WORK_DIR [CONFIG_DIR]`. CONFIG_DIR
 * defaults to the configs/ folder of the repository this file is in (found
 * from __FILE__, which c_abi.rs passes to the compiler as an absolute path).
 * Prints one line per failed check and a summary; exits non-zero if any
 * check failed. Every returned string is freed: LeakSanitizer runs.
 *
 * Percentage and variant checks are exact: the library documents its
 * bucketing (murmur3_32("{seed}:{unit}", 0) % 10000 < percentage * 100), and
 * this file computes it independently.
 */
#define _POSIX_C_SOURCE 200809L

#include "cha_deploy.h"
#include "harness.h"
#include "murmur3.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* Values no real result has: an out-pointer must keep them after a failure. */
static char untouched_text[] = "untouched";
#define UNTOUCHED_STR untouched_text
#define UNTOUCHED_ID 0xdeadbeefu
#define UNTOUCHED_BYTE 0x5a

/* A bool out-parameter preset to a byte no bool has, read back as a byte
 * (reading it as a bool would be undefined behaviour). */
static void poison_bool(bool *b) { memset(b, UNTOUCHED_BYTE, sizeof *b); }
static int bool_untouched(const bool *b) {
    unsigned char raw;
    memcpy(&raw, b, 1);
    return raw == UNTOUCHED_BYTE;
}

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

/* The bucket (0..9999) of `unit` for a flag seeded with `seed`. */
static uint32_t bucket_of(const char *seed, const char *unit) {
    char key[256];
    int n = snprintf(key, sizeof key, "%s:%s", seed, unit);
    if (n < 0 || (size_t)n >= sizeof key) {
        fprintf(stderr, "key too long: %s:%s\n", seed, unit);
        exit(2);
    }
    return murmur3_32((const unsigned char *)key, (size_t)n, 0) % 10000u;
}

static void user_name(char *buf, size_t size, int i) { snprintf(buf, size, "planner-%05d", i); }

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

/* cha_flag_enabled that must succeed; returns the answer. */
static bool enabled(const cha_handle *h, const char *flag, const char *user,
                    const char *const *groups, size_t n_groups) {
    bool on = false;
    cha_status status = cha_flag_enabled(h, flag, user, groups, n_groups, &on);
    if (status != CHA_OK) {
        failed++;
        fprintf(stderr, "cha_flag_enabled(%s, %s) returned %s: %s\n", flag,
                user ? user : "NULL", cha_status_name(status), last_error_or("(NULL)"));
    }
    return on;
}

/* cha_flag_evaluate that must succeed; returns the JSON (free it). */
static char *evaluate(const cha_handle *h, const char *flag, const char *context) {
    char *json = NULL;
    cha_status status = cha_flag_evaluate(h, flag, context, &json);
    if (status != CHA_OK) {
        failed++;
        fprintf(stderr, "cha_flag_evaluate(%s, %s) returned %s: %s\n", flag,
                context ? context : "NULL", cha_status_name(status), last_error_or("(NULL)"));
    }
    return json;
}

/* The integer after `"key":` in `json`, or -1. */
static long json_int(const char *json, const char *key) {
    char needle[64];
    snprintf(needle, sizeof needle, "\"%s\":", key);
    const char *at = json ? strstr(json, needle) : NULL;
    return at ? strtol(at + strlen(needle), NULL, 10) : -1;
}

/* The current version of a stored flag, or -1. */
static long flag_version(const cha_handle *h, const char *flag) {
    char *json = NULL;
    if (cha_flag_get(h, flag, &json) != CHA_OK) {
        return -1;
    }
    /* "version" of the record comes after the definition, which has none. */
    const char *at = strstr(json, "},\"version\":");
    long version = at ? strtol(at + strlen("},\"version\":"), NULL, 10) : -1;
    cha_string_free(json);
    return version;
}

static int write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return 0;
    }
    int ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- tests ------------------------------------------------------------- */

static void test_deploy(cha_handle *h) {
    char *report = deploy(h, config_dir);
    CHECK_HAS(report, "\"files\":[{\"file\":\"feature_flags.yml\"");
    CHECK_HAS(report, "\"created\":[\"cost_optimisation\",\"flow_based_calculation\",");
    CHECK_HAS(report, "\"updated\":[],\"unchanged\":[],\"removed\":[]");
    cha_string_free(report);

    /* The same directory again changes nothing. */
    report = deploy(h, config_dir);
    CHECK_HAS(report, "\"created\":[],\"updated\":[],\"unchanged\":[\"cost_optimisation\",");
    cha_string_free(report);

    /* An invalid file changes nothing and says where it is wrong. */
    char dir[4096];
    char file[4200];
    path_in_work_dir(dir, sizeof dir, "bad-config");
    CHECK(mkdir(dir, 0700) == 0);
    snprintf(file, sizeof file, "%s/feature_flags.yml", dir);
    CHECK(write_file(file, "version: 2\n"
                           "flags:\n"
                           "  flow_based_calculation:\n"
                           "    type: boolean\n"
                           "    enabled: false\n"
                           "  intelligent_pipe_sizing:\n"
                           "    type: percentage\n"
                           "    enabled: true\n"
                           "    percentage: 150\n"));
    long version = flag_version(h, "flow_based_calculation");
    char *out = UNTOUCHED_STR;
    CHECK_STATUS(cha_deploy_all(h, dir, &out), CHA_ERR_CONFIG);
    CHECK_MESSAGE_HAS("feature_flags.yml:9:");
    CHECK_MESSAGE_HAS("intelligent_pipe_sizing.percentage");
    CHECK_MESSAGE_HAS("150");
    CHECK(out == UNTOUCHED_STR);
    CHECK(flag_version(h, "flow_based_calculation") == version);
    CHECK(enabled(h, "flow_based_calculation", NULL, NULL, 0));

    path_in_work_dir(dir, sizeof dir, "no-such-dir");
    CHECK_STATUS(cha_deploy_all(h, dir, &out), CHA_ERR_NOT_FOUND);
    CHECK_MESSAGE_HAS("no-such-dir");
    path_in_work_dir(dir, sizeof dir, "empty-config");
    CHECK(mkdir(dir, 0700) == 0);
    CHECK_STATUS(cha_deploy_all(h, dir, &out), CHA_ERR_NOT_FOUND);
    CHECK_MESSAGE_HAS("feature_flags.yml");
    CHECK_STATUS(cha_deploy_all(h, "bad-\xff", &out), CHA_ERR_INVALID_UTF8);
    CHECK_MESSAGE_HAS("cha_deploy_all: argument `config_dir` is not valid UTF-8");
    CHECK(out == UNTOUCHED_STR);
}

static void test_null_arguments(cha_handle *h) {
    const char *flag = "flow_based_calculation";
    const char *groups[] = {"beta_testers"};
    bool on;
    uint32_t id = UNTOUCHED_ID;
    char *json = UNTOUCHED_STR;

#define CHECK_NULL(call, message)                                                \
    do {                                                                         \
        poison_bool(&on);                                                        \
        CHECK_STATUS(call, CHA_ERR_NULL_ARGUMENT);                               \
        CHECK_MESSAGE_HAS(message);                                              \
        CHECK(bool_untouched(&on) && id == UNTOUCHED_ID && json == UNTOUCHED_STR); \
    } while (0)

    CHECK_NULL(cha_flag_enabled(NULL, flag, "u", groups, 1, &on),
               "cha_flag_enabled: argument `h` is NULL");
    CHECK_NULL(cha_flag_enabled(h, NULL, "u", groups, 1, &on),
               "cha_flag_enabled: argument `flag` is NULL");
    CHECK_NULL(cha_flag_enabled(h, flag, "u", NULL, 1, &on),
               "cha_flag_enabled: argument `groups` is NULL");
    CHECK_NULL(cha_flag_enabled(h, flag, "u", groups, 1, NULL),
               "cha_flag_enabled: argument `out_enabled` is NULL");
    const char *with_hole[] = {"beta_testers", NULL};
    CHECK_NULL(cha_flag_enabled(h, flag, "u", with_hole, 2, &on),
               "cha_flag_enabled: argument `groups[1]` is NULL");

    CHECK_NULL(cha_flag_lookup(NULL, flag, &id), "cha_flag_lookup: argument `h` is NULL");
    CHECK_NULL(cha_flag_lookup(h, NULL, &id), "cha_flag_lookup: argument `flag` is NULL");
    CHECK_NULL(cha_flag_lookup(h, flag, NULL), "cha_flag_lookup: argument `out_id` is NULL");

    uint32_t real_id = 0;
    CHECK_STATUS(cha_flag_lookup(h, flag, &real_id), CHA_OK);
    CHECK_NULL(cha_flag_enabled_id(NULL, real_id, "u", groups, 1, &on),
               "cha_flag_enabled_id: argument `h` is NULL");
    CHECK_NULL(cha_flag_enabled_id(h, real_id, "u", NULL, 1, &on),
               "cha_flag_enabled_id: argument `groups` is NULL");
    CHECK_NULL(cha_flag_enabled_id(h, real_id, "u", groups, 1, NULL),
               "cha_flag_enabled_id: argument `out_enabled` is NULL");

    CHECK_NULL(cha_flag_evaluate(NULL, flag, "{}", &json), "cha_flag_evaluate: argument `h` is NULL");
    CHECK_NULL(cha_flag_evaluate(h, NULL, "{}", &json), "cha_flag_evaluate: argument `flag` is NULL");
    CHECK_NULL(cha_flag_evaluate(h, flag, "{}", NULL),
               "cha_flag_evaluate: argument `out_json` is NULL");

    long version = flag_version(h, flag);
    CHECK_NULL(cha_flag_update(NULL, flag, "{}", "c-test"), "cha_flag_update: argument `h` is NULL");
    CHECK_NULL(cha_flag_update(h, NULL, "{}", "c-test"), "cha_flag_update: argument `flag` is NULL");
    CHECK_NULL(cha_flag_update(h, flag, NULL, "c-test"),
               "cha_flag_update: argument `updates_json` is NULL");
    CHECK_NULL(cha_flag_update(h, flag, "{\"enabled\": false}", NULL),
               "cha_flag_update: argument `actor` is NULL");
    CHECK(flag_version(h, flag) == version);
    CHECK_NULL(cha_flag_change(NULL, flag, "{}", "c-test", &json), "cha_flag_change: argument `h` is NULL");
    CHECK_NULL(cha_flag_change(h, NULL, "{}", "c-test", &json), "cha_flag_change: argument `flag` is NULL");
    CHECK_NULL(cha_flag_change(h, flag, NULL, "c-test", &json),
               "cha_flag_change: argument `updates_json` is NULL");
    CHECK_NULL(cha_flag_change(h, flag, "{}", NULL, &json), "cha_flag_change: argument `actor` is NULL");
    CHECK_NULL(cha_flag_change(h, flag, "{\"enabled\": false}", "c-test", NULL),
               "cha_flag_change: argument `out_json` is NULL");
    CHECK(flag_version(h, flag) == version);
    /* A real change reports itself, with the version and both definitions. */
    char *change = NULL;
    CHECK_STATUS(cha_flag_change(h, flag, "{\"description\": \"changed from C\"}", "c-test", &change), CHA_OK);
    if (change != NULL) {
        CHECK(strstr(change, "\"changed\":true") != NULL);
        CHECK(strstr(change, "changed from C") != NULL);
        CHECK(strstr(change, "\"before\":{") != NULL);
        cha_string_free(change);
    }
    CHECK(flag_version(h, flag) == version + 1);
    version = flag_version(h, flag);

    CHECK_NULL(cha_flag_get(NULL, flag, &json), "cha_flag_get: argument `h` is NULL");
    CHECK_NULL(cha_flag_get(h, NULL, &json), "cha_flag_get: argument `flag` is NULL");
    CHECK_NULL(cha_flag_get(h, flag, NULL), "cha_flag_get: argument `out_json` is NULL");

    CHECK_NULL(cha_flag_list(NULL, &json), "cha_flag_list: argument `h` is NULL");
    CHECK_NULL(cha_flag_list(h, NULL), "cha_flag_list: argument `out_json` is NULL");

    CHECK_NULL(cha_flag_history(NULL, flag, &json), "cha_flag_history: argument `h` is NULL");
    CHECK_NULL(cha_flag_history(h, NULL, &json), "cha_flag_history: argument `flag` is NULL");
    CHECK_NULL(cha_flag_history(h, flag, NULL), "cha_flag_history: argument `out_json` is NULL");

    CHECK_NULL(cha_flag_restore(NULL, flag, 1, "c-test", &json),
               "cha_flag_restore: argument `h` is NULL");
    CHECK_NULL(cha_flag_restore(h, NULL, 1, "c-test", &json),
               "cha_flag_restore: argument `flag` is NULL");
    CHECK_NULL(cha_flag_restore(h, flag, 1, NULL, &json),
               "cha_flag_restore: argument `actor` is NULL");
    CHECK_NULL(cha_flag_restore(h, flag, 1, "c-test", NULL),
               "cha_flag_restore: argument `out_json` is NULL");
    CHECK(flag_version(h, flag) == version);

    CHECK_NULL(cha_config_template(NULL, "minimal", &json),
               "cha_config_template: argument `template_name` is NULL");
    CHECK_NULL(cha_config_template("t", "minimal", NULL),
               "cha_config_template: argument `out_yaml` is NULL");

    CHECK_NULL(cha_deploy_all(NULL, config_dir, &json), "cha_deploy_all: argument `h` is NULL");
    CHECK_NULL(cha_deploy_all(h, NULL, &json), "cha_deploy_all: argument `config_dir` is NULL");
    CHECK_NULL(cha_deploy_all(h, config_dir, NULL), "cha_deploy_all: argument `out_json` is NULL");
#undef CHECK_NULL
}

static void test_invalid_utf8(cha_handle *h) {
    const char *bad = "flow_\xff";
    const char *ok_flag = "pressure_drop_check";
    bool on;
    uint32_t id = UNTOUCHED_ID;
    char *json = UNTOUCHED_STR;
    uint32_t real_id = 0;
    CHECK_STATUS(cha_flag_lookup(h, ok_flag, &real_id), CHA_OK);

#define CHECK_UTF8(call, message)                                                \
    do {                                                                         \
        poison_bool(&on);                                                        \
        CHECK_STATUS(call, CHA_ERR_INVALID_UTF8);                                \
        CHECK_MESSAGE_HAS(message);                                              \
        CHECK(bool_untouched(&on) && id == UNTOUCHED_ID && json == UNTOUCHED_STR); \
    } while (0)

    const char *groups_ok[] = {"beta_testers"};
    const char *groups_bad[] = {"beta_testers", "hydraulics_\xc3"};
    CHECK_UTF8(cha_flag_enabled(h, bad, "u", NULL, 0, &on), "argument `flag` is not valid UTF-8");
    CHECK_UTF8(cha_flag_enabled(h, ok_flag, "planner-\xfe", groups_ok, 1, &on),
               "argument `user_id` is not valid UTF-8");
    CHECK_UTF8(cha_flag_enabled(h, ok_flag, "u", groups_bad, 2, &on),
               "argument `groups[1]` is not valid UTF-8");
    CHECK_UTF8(cha_flag_enabled_id(h, real_id, "planner-\xfe", NULL, 0, &on),
               "cha_flag_enabled_id: argument `user_id` is not valid UTF-8");
    CHECK_UTF8(cha_flag_enabled_id(h, real_id, "u", groups_bad, 2, &on),
               "cha_flag_enabled_id: argument `groups[1]` is not valid UTF-8");
    CHECK_UTF8(cha_flag_lookup(h, bad, &id), "cha_flag_lookup: argument `flag` is not valid UTF-8");
    CHECK_UTF8(cha_flag_evaluate(h, bad, NULL, &json), "argument `flag` is not valid UTF-8");
    CHECK_UTF8(cha_flag_evaluate(h, ok_flag, "{\"user_id\": \"\xff\"}", &json),
               "argument `context_json` is not valid UTF-8");
    long version = flag_version(h, ok_flag);
    CHECK_UTF8(cha_flag_update(h, bad, "{}", "c-test"), "argument `flag` is not valid UTF-8");
    CHECK_UTF8(cha_flag_update(h, ok_flag, "{\"description\": \"\xff\"}", "c-test"),
               "argument `updates_json` is not valid UTF-8");
    CHECK_UTF8(cha_flag_update(h, ok_flag, "{\"enabled\": false}", "engineer-\xff"),
               "argument `actor` is not valid UTF-8");
    CHECK_UTF8(cha_flag_restore(h, ok_flag, 1, "engineer-\xff", &json),
               "argument `actor` is not valid UTF-8");
    CHECK(flag_version(h, ok_flag) == version);
    CHECK_UTF8(cha_flag_get(h, bad, &json), "cha_flag_get: argument `flag` is not valid UTF-8");
    CHECK_UTF8(cha_flag_history(h, bad, &json), "cha_flag_history: argument `flag` is not valid UTF-8");
    CHECK_UTF8(cha_config_template("Pilot \xff", NULL, &json),
               "argument `template_name` is not valid UTF-8");
    CHECK_UTF8(cha_config_template("Pilot", "mini\xff", &json),
               "argument `config_type` is not valid UTF-8");
#undef CHECK_UTF8
}

static void test_optional_arguments(cha_handle *h) {
    bool on = false;
    /* NULL user_id: an anonymous caller. A boolean needs no unit... */
    CHECK_STATUS(cha_flag_enabled(h, "flow_based_calculation", NULL, NULL, 0, &on), CHA_OK);
    CHECK(on);
    /* ...a 25% split without its unit serves the default (false). */
    on = true;
    CHECK_STATUS(cha_flag_enabled(h, "intelligent_pipe_sizing", NULL, NULL, 0, &on), CHA_OK);
    CHECK(!on);
    on = true;
    CHECK_STATUS(cha_flag_enabled(h, "intelligent_pipe_sizing", "", NULL, 0, &on), CHA_OK);
    CHECK(!on);
    char *json = evaluate(h, "intelligent_pipe_sizing", NULL);
    CHECK_HAS(json, "\"enabled\":false");
    CHECK_HAS(json, "\"reason\":\"ERROR\"");
    CHECK_HAS(json, "\"error\":\"INVALID_CONTEXT\"");
    CHECK_HAS(json, "\"rule\":\"context has no user_id\"");
    cha_string_free(json);

    /* A whole-number id in the context is its decimal digits: 4711 and
     * "4711" are one user; a fraction is refused, naming the key. */
    for (int user = 4700; user < 4800; user++) {
        char as_number[64], as_string[64];
        snprintf(as_number, sizeof as_number, "{\"user_id\": %d}", user);
        snprintf(as_string, sizeof as_string, "{\"user_id\": \"%d\"}", user);
        char *by_number = evaluate(h, "intelligent_pipe_sizing", as_number);
        char *by_string = evaluate(h, "intelligent_pipe_sizing", as_string);
        CHECK(by_number != NULL && by_string != NULL && strcmp(by_number, by_string) == 0);
        cha_string_free(by_number);
        cha_string_free(by_string);
    }
    json = NULL;
    CHECK_STATUS(cha_flag_evaluate(h, "intelligent_pipe_sizing", "{\"user_id\": 47.5}", &json),
                 CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("context.user_id: expected a string or a whole number");
    CHECK(json == NULL);

    /* groups NULL is fine with n_groups 0 (and ignored), an error otherwise. */
    CHECK_STATUS(cha_flag_enabled(h, "pressure_drop_check", "planner-017", NULL, 0, &on), CHA_OK);
    CHECK(on);
    uint32_t id = 0;
    CHECK_STATUS(cha_flag_lookup(h, "pressure_drop_check", &id), CHA_OK);
    on = false;
    CHECK_STATUS(cha_flag_enabled_id(h, id, "planner-017", NULL, 0, &on), CHA_OK);
    CHECK(on);
    poison_bool(&on);
    CHECK_STATUS(cha_flag_enabled(h, "pressure_drop_check", "planner-017", NULL, 3, &on),
                 CHA_ERR_NULL_ARGUMENT);
    CHECK_MESSAGE_HAS("`groups`");
    CHECK(bool_untouched(&on));
}

static void test_many_groups(cha_handle *h) {
    /* More groups than the 16 converted without allocating. */
    enum { N = 20 };
    char names[N][32];
    const char *groups[N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "team-%02d", i);
        groups[i] = names[i];
    }
    CHECK(!enabled(h, "pressure_drop_check", "planner-100", groups, N));
    groups[18] = "beta_testers";
    CHECK(enabled(h, "pressure_drop_check", "planner-100", groups, N));
    uint32_t id = 0;
    CHECK_STATUS(cha_flag_lookup(h, "pressure_drop_check", &id), CHA_OK);
    bool on = false;
    CHECK_STATUS(cha_flag_enabled_id(h, id, "planner-100", groups, N, &on), CHA_OK);
    CHECK(on);
    /* An excluded group anywhere in the list wins over an included one. */
    groups[19] = "external_consultants";
    CHECK(!enabled(h, "pressure_drop_check", "planner-100", groups, N));
    /* Exactly 16, the last one matching. */
    groups[15] = "hydraulics_team";
    CHECK(enabled(h, "pressure_drop_check", "planner-100", groups, 16));
    /* Bad strings past the 16th are still caught. */
    groups[17] = "team-\xff";
    poison_bool(&on);
    CHECK_STATUS(cha_flag_enabled(h, "pressure_drop_check", "planner-100", groups, N, &on),
                 CHA_ERR_INVALID_UTF8);
    CHECK_MESSAGE_HAS("groups[17]");
    CHECK(bool_untouched(&on));
    groups[17] = NULL;
    CHECK_STATUS(cha_flag_enabled(h, "pressure_drop_check", "planner-100", groups, N, &on),
                 CHA_ERR_NULL_ARGUMENT);
    CHECK(bool_untouched(&on));
}

static void test_unknown_flag(cha_handle *h) {
    bool on;
    poison_bool(&on);
    CHECK_STATUS(cha_flag_enabled(h, "no_such_flag", "u", NULL, 0, &on), CHA_ERR_NOT_FOUND);
    CHECK_MESSAGE_HAS("cha_flag_enabled: flag `no_such_flag` does not exist");
    CHECK(bool_untouched(&on));
    uint32_t id = UNTOUCHED_ID;
    CHECK_STATUS(cha_flag_lookup(h, "no_such_flag", &id), CHA_ERR_NOT_FOUND);
    CHECK_MESSAGE_HAS("no_such_flag");
    CHECK(id == UNTOUCHED_ID);

    /* Not a failed call: an evaluation that says what is wrong. */
    char *json = evaluate(h, "no_such_flag", "{\"user_id\": \"planner-001\"}");
    CHECK_HAS(json, "\"flag\":\"no_such_flag\"");
    CHECK_HAS(json, "\"enabled\":false");
    CHECK_HAS(json, "\"reason\":\"ERROR\"");
    CHECK_HAS(json, "\"error\":\"FLAG_NOT_FOUND\"");
    cha_string_free(json);

    json = UNTOUCHED_STR;
    CHECK_STATUS(cha_flag_get(h, "no_such_flag", &json), CHA_ERR_NOT_FOUND);
    CHECK_STATUS(cha_flag_history(h, "no_such_flag", &json), CHA_ERR_NOT_FOUND);
    CHECK_STATUS(cha_flag_restore(h, "no_such_flag", 1, "c-test", &json), CHA_ERR_NOT_FOUND);
    CHECK(json == UNTOUCHED_STR);

    /* A near miss names the flag meant, as the CLI and Python do. */
    CHECK_STATUS(cha_flag_get(h, "flow_based_calculaton", &json), CHA_ERR_NOT_FOUND);
    CHECK_MESSAGE_HAS("did you mean `flow_based_calculation`?");
    CHECK_STATUS(cha_flag_enabled(h, "Flow_Based_Calculation", "u", NULL, 0, &on),
                 CHA_ERR_NOT_FOUND);
    CHECK_MESSAGE_HAS("did you mean `flow_based_calculation`?");
    CHECK(json == UNTOUCHED_STR);

    /* A bad context is a failed call. */
    CHECK_STATUS(cha_flag_evaluate(h, "flow_based_calculation", "{\"user_id\": ", &json),
                 CHA_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(cha_flag_evaluate(h, "flow_based_calculation", "[1, 2]", &json),
                 CHA_ERR_INVALID_ARGUMENT);
    CHECK(json == UNTOUCHED_STR);
}

/* Every user of 0..n whose percentage-flag answer differs from the documented
 * bucketing at `hundredths`; also counts how many are on. */
static int percentage_mismatches(const cha_handle *h, const char *flag, uint32_t id,
                                 uint32_t hundredths, int n, int *on_count) {
    int mismatches = 0;
    *on_count = 0;
    for (int i = 0; i < n; i++) {
        char user[32];
        user_name(user, sizeof user, i);
        int expected = bucket_of(flag, user) < hundredths;
        bool by_name = enabled(h, flag, user, NULL, 0);
        bool by_id = false;
        cha_status status = cha_flag_enabled_id(h, id, user, NULL, 0, &by_id);
        if (status != CHA_OK || by_name != expected || by_id != expected) {
            if (mismatches++ < 5) {
                fprintf(stderr, "%s for %s: expected %d, by name %d, by id %d (%s)\n", flag,
                        user, expected, by_name, by_id, cha_status_name(status));
            }
        }
        *on_count += expected;
    }
    return mismatches;
}

static void test_types_and_reasons(cha_handle *h) {
    /* boolean */
    CHECK(enabled(h, "flow_based_calculation", "planner-001", NULL, 0));
    char *json = evaluate(h, "flow_based_calculation", "{\"user_id\": \"planner-001\"}");
    CHECK_HAS(json, "{\"flag\":\"flow_based_calculation\",\"enabled\":true,\"variant\":null,"
                    "\"reason\":\"STATIC\"");
    CHECK_HAS(json, "\"error\":null");
    cha_string_free(json);

    /* percentage: exactly the documented buckets, about a quarter of users */
    uint32_t id = 0;
    CHECK_STATUS(cha_flag_lookup(h, "intelligent_pipe_sizing", &id), CHA_OK);
    int on = 0;
    CHECK(percentage_mismatches(h, "intelligent_pipe_sizing", id, 2500, 4000, &on) == 0);
    CHECK(on > 900 && on < 1100);
    json = evaluate(h, "intelligent_pipe_sizing", "{\"user_id\": \"planner-00001\"}");
    CHECK_HAS(json, "\"reason\":\"SPLIT\"");
    CHECK_HAS(json, "\"rule\":\"25% by user_id\"");
    cha_string_free(json);

    /* percentage sticky on session_id: a user id alone is not its unit */
    CHECK(!enabled(h, "pandapipes_simulation", "planner-00001", NULL, 0));
    json = evaluate(h, "pandapipes_simulation", "{\"user_id\": \"planner-00001\"}");
    CHECK_HAS(json, "\"error\":\"INVALID_CONTEXT\"");
    CHECK_HAS(json, "context has no session_id");
    cha_string_free(json);
    int sessions_on = 0;
    for (int i = 0; i < 200; i++) {
        char context[128];
        snprintf(context, sizeof context, "{\"session_id\": \"run-%d\"}", i);
        char session[32];
        snprintf(session, sizeof session, "run-%d", i);
        json = evaluate(h, "pandapipes_simulation", context);
        int expected = bucket_of("pandapipes_simulation", session) < 1000;
        sessions_on += expected;
        CHECK_HAS(json, expected ? "\"enabled\":true" : "\"enabled\":false");
        cha_string_free(json);
    }
    CHECK(sessions_on > 0);

    /* user_group: deny, allow, exclude, include, default */
    const char *beta[] = {"beta_testers"};
    const char *beta_external[] = {"beta_testers", "external_consultants"};
    CHECK(!enabled(h, "pressure_drop_check", "kiosk-01", beta, 1));
    CHECK(enabled(h, "pressure_drop_check", "planner-042", beta_external, 2));
    CHECK(!enabled(h, "pressure_drop_check", "planner-100", beta_external, 2));
    CHECK(enabled(h, "pressure_drop_check", "planner-100", beta, 1));
    CHECK(!enabled(h, "pressure_drop_check", "planner-100", NULL, 0));
    static const struct {
        const char *context;
        const char *expected;
    } group_cases[] = {
        {"{\"user_id\": \"kiosk-01\", \"groups\": [\"beta_testers\"]}",
         "\"enabled\":false,\"variant\":null,\"reason\":\"TARGETING_MATCH\",\"rule\":\"deny_users\""},
        {"{\"user_id\": \"planner-017\"}",
         "\"enabled\":true,\"variant\":null,\"reason\":\"TARGETING_MATCH\",\"rule\":\"allow_users\""},
        {"{\"user_id\": \"p\", \"groups\": [\"beta_testers\", \"external_consultants\"]}",
         "\"enabled\":false,\"variant\":null,\"reason\":\"TARGETING_MATCH\","
         "\"rule\":\"exclude_groups: external_consultants\""},
        {"{\"groups\": [\"hydraulics_team\"]}",
         "\"enabled\":true,\"variant\":null,\"reason\":\"TARGETING_MATCH\","
         "\"rule\":\"include_groups: hydraulics_team\""},
        {"{\"user_id\": \"p\", \"groups\": [\"sales\"]}",
         "\"enabled\":false,\"variant\":null,\"reason\":\"DEFAULT\""},
    };
    for (size_t i = 0; i < sizeof group_cases / sizeof group_cases[0]; i++) {
        json = evaluate(h, "pressure_drop_check", group_cases[i].context);
        CHECK_HAS(json, group_cases[i].expected);
        cha_string_free(json);
    }

    /* DISABLED: the kill switch beats every rule */
    CHECK(!enabled(h, "new_ui", "planner-017", beta, 1));
    json = evaluate(h, "new_ui", "{\"user_id\": \"u\", \"groups\": [\"beta_testers\"]}");
    CHECK_HAS(json, "\"enabled\":false,\"variant\":null,\"reason\":\"DISABLED\"");
    cha_string_free(json);

    /* a_b_test (requires intelligent_pipe_sizing): variants by bucket, the
     * control arm off, the other on with its payload */
    int arms[2] = {0, 0};
    int prerequisite_failures = 0;
    for (int i = 0; i < 400; i++) {
        char user[32];
        char context[64];
        user_name(user, sizeof user, i);
        snprintf(context, sizeof context, "{\"user_id\": \"%s\"}", user);
        json = evaluate(h, "cost_optimisation", context);
        bool on_now = enabled(h, "cost_optimisation", user, NULL, 0);
        if (bucket_of("intelligent_pipe_sizing", user) >= 2500) {
            prerequisite_failures++;
            CHECK_HAS(json, "\"enabled\":false,\"variant\":null,\"reason\":\"PREREQUISITE_FAILED\","
                            "\"rule\":\"prerequisite intelligent_pipe_sizing is off\"");
            CHECK(!on_now);
        } else if (bucket_of("cost_optimisation", user) < 5000) {
            arms[0]++;
            CHECK_HAS(json, "\"enabled\":false,\"variant\":\"traditional\",\"reason\":\"SPLIT\"");
            CHECK(json == NULL || strstr(json, "\"payload\"") == NULL);
            CHECK(!on_now);
        } else {
            arms[1]++;
            CHECK_HAS(json, "\"enabled\":true,\"variant\":\"lifetime_cost\",\"reason\":\"SPLIT\"");
            CHECK_HAS(json, "\"payload\":{\"discount_rate\":0.04,\"horizon_years\":30}");
            CHECK(on_now);
        }
        cha_string_free(json);
    }
    CHECK(arms[0] > 20 && arms[1] > 20 && prerequisite_failures > 200);

    /* time_based: window and ramp, evaluated at chosen instants */
    json = evaluate(h, "network_analysis",
                    "{\"user_id\": \"planner-00001\", \"current_time\": \"2026-01-04T23:59:59Z\"}");
    CHECK_HAS(json, "\"enabled\":false,\"variant\":null,\"reason\":\"SCHEDULE\","
                    "\"rule\":\"before start_time\"");
    cha_string_free(json);
    json = evaluate(h, "network_analysis",
                    "{\"user_id\": \"planner-00001\", \"current_time\": \"2026-02-01T00:00:00Z\"}");
    CHECK_HAS(json, "\"enabled\":true,\"variant\":null,\"reason\":\"SCHEDULE\"");
    CHECK_HAS(json, "100%");
    cha_string_free(json);
    int ramp_mismatches = 0;
    for (int i = 0; i < 300; i++) {
        char user[32];
        char context[128];
        user_name(user, sizeof user, i);
        /* The step of 2026-01-12 (25%) is in force from its first millisecond. */
        snprintf(context, sizeof context,
                 "{\"user_id\": \"%s\", \"current_time\": \"2026-01-12T00:00:00Z\"}", user);
        json = evaluate(h, "network_analysis", context);
        int expected = bucket_of("network_analysis", user) < 2500;
        if (json == NULL || strstr(json, expected ? "\"enabled\":true" : "\"enabled\":false") ==
                                NULL ||
            strstr(json, "25%") == NULL) {
            ramp_mismatches++;
        }
        cha_string_free(json);
    }
    CHECK(ramp_mismatches == 0);
}

static void test_updates(cha_handle *h) {
    const char *flag = "intelligent_pipe_sizing";
    uint32_t id = 0;
    CHECK_STATUS(cha_flag_lookup(h, flag, &id), CHA_OK);
    long version = flag_version(h, flag);
    CHECK(version >= 1);

    /* Invalid updates change nothing and say why. */
    static const struct {
        const char *updates;
        cha_status status;
        const char *needle;
    } bad[] = {
        {"{\"percentage\": 150}", CHA_ERR_CONFIG,
         "intelligent_pipe_sizing.percentage: must be between 0 and 100, not 150"},
        {"{\"percentage\": \"50\"}", CHA_ERR_CONFIG, "intelligent_pipe_sizing.percentage"},
        {"{\"percentge\": 50}", CHA_ERR_CONFIG, "unknown field `percentge`"},
        {"{\"prerequisites\": [\"no_such_flag\"]}", CHA_ERR_CONFIG, "no_such_flag"},
        {"{\"percentage\": 50", CHA_ERR_INVALID_ARGUMENT, "updates_json is not valid JSON"},
        {"not json", CHA_ERR_INVALID_ARGUMENT, "updates_json is not valid JSON"},
        {"[50]", CHA_ERR_INVALID_ARGUMENT, "must be a JSON object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cha_status status = cha_flag_update(h, flag, bad[i].updates, "c-test");
        if (status != bad[i].status) {
            fprintf(stderr, "update %s:\n", bad[i].updates);
        }
        CHECK(status == bad[i].status);
        CHECK_MESSAGE_HAS("cha_flag_update: ");
        CHECK_MESSAGE_HAS(bad[i].needle);
    }
    CHECK_STATUS(cha_flag_update(h, flag, "{\"percentage\": 50}", "  "), CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("actor");
    CHECK_STATUS(cha_flag_update(h, "brand_new", "{\"enabled\": true}", "c-test"), CHA_ERR_NOT_FOUND);
    CHECK_MESSAGE_HAS("give its `type`");
    CHECK(flag_version(h, flag) == version);
    int on = 0;
    CHECK(percentage_mismatches(h, flag, id, 2500, 500, &on) == 0);

    /* A valid update is seen at once by this handle, by name and by id. */
    CHECK_STATUS(cha_flag_update(h, flag, "{\"percentage\": 50}", "c-test"), CHA_OK);
    CHECK(flag_version(h, flag) == version + 1);
    CHECK(percentage_mismatches(h, flag, id, 5000, 500, &on) == 0);
    char *json = evaluate(h, flag, "{\"user_id\": \"planner-00001\"}");
    CHECK_HAS(json, "\"rule\":\"50% by user_id\"");
    cha_string_free(json);
    /* Two decimals. */
    CHECK_STATUS(cha_flag_update(h, flag, "{\"percentage\": 12.34}", "c-test"), CHA_OK);
    CHECK(percentage_mismatches(h, flag, id, 1234, 500, &on) == 0);

    /* The prerequisite switched off turns the flag off for everyone. */
    CHECK_STATUS(cha_flag_update(h, "flow_based_calculation", "{\"enabled\": false}", "c-test"),
                 CHA_OK);
    json = evaluate(h, flag, "{\"user_id\": \"planner-00001\"}");
    CHECK_HAS(json, "\"enabled\":false,\"variant\":null,\"reason\":\"PREREQUISITE_FAILED\","
                    "\"rule\":\"prerequisite flow_based_calculation is off\"");
    cha_string_free(json);
    json = evaluate(h, "flow_based_calculation", NULL);
    CHECK_HAS(json, "\"reason\":\"DISABLED\"");
    cha_string_free(json);
    CHECK(percentage_mismatches(h, flag, id, 0, 300, &on) == 0);
    CHECK_STATUS(cha_flag_update(h, "flow_based_calculation", "{\"enabled\": true}", "c-test"),
                 CHA_OK);

    /* get, history, restore */
    json = NULL;
    CHECK_STATUS(cha_flag_get(h, flag, &json), CHA_OK);
    CHECK_HAS(json, "{\"definition\":{\"name\":\"intelligent_pipe_sizing\"");
    CHECK_HAS(json, "\"percentage\":12.34");
    CHECK_HAS(json, "\"updated_by\":\"c-test\"");
    cha_string_free(json);

    json = NULL;
    CHECK_STATUS(cha_flag_history(h, flag, &json), CHA_OK);
    CHECK_HAS(json, "\"action\":\"create\"");
    CHECK_HAS(json, "\"action\":\"update\",\"kind\":\"flag\",\"subject\":\"intelligent_pipe_sizing\"");
    CHECK_HAS(json, "\"actor\":\"c-test\"");
    CHECK_HAS(json, "\"before\":{");
    CHECK_HAS(json, "\"percentage\":50.0");
    /* Oldest first: the first entry is the deployment that created it. */
    long first_version = json_int(json, "version");
    CHECK(first_version == version);
    cha_string_free(json);

    json = NULL;
    CHECK_STATUS(cha_flag_restore(h, flag, first_version, "c-test-restore", &json), CHA_OK);
    CHECK_HAS(json, "\"flag\":\"intelligent_pipe_sizing\"");
    CHECK_HAS(json, "\"changed\":true");
    CHECK_HAS(json, "\"percentage\":25.0");
    CHECK(json_int(json, "version") == version + 3);
    cha_string_free(json);
    CHECK(percentage_mismatches(h, flag, id, 2500, 500, &on) == 0);
    json = NULL;
    CHECK_STATUS(cha_flag_history(h, flag, &json), CHA_OK);
    CHECK_HAS(json, "\"actor\":\"c-test-restore\",\"action\":\"restore\"");
    cha_string_free(json);

    json = UNTOUCHED_STR;
    CHECK_STATUS(cha_flag_restore(h, flag, 999, "c-test", &json), CHA_ERR_NOT_FOUND);
    CHECK_MESSAGE_HAS("no version 999");
    CHECK(json == UNTOUCHED_STR);

    json = NULL;
    CHECK_STATUS(cha_flag_list(h, &json), CHA_OK);
    static const char *const names[] = {
        "cost_optimisation", "flow_based_calculation", "intelligent_pipe_sizing",
        "network_analysis", "new_ui", "pandapipes_simulation", "performance_monitoring",
        "pressure_drop_check", "standards_compliance", "velocity_constraints",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char needle[96];
        snprintf(needle, sizeof needle, "{\"definition\":{\"name\":\"%s\"", names[i]);
        CHECK_HAS(json, needle);
    }
    cha_string_free(json);

    /* Creating a flag needs its type; its handle id survives a deployment
     * that removes it (then it evaluates off) and one that brings it back. */
    CHECK_STATUS(cha_flag_update(h, "solver_trace", "{\"type\": \"boolean\", \"enabled\": true}",
                                 "c-test"),
                 CHA_OK);
    uint32_t trace = 0;
    CHECK_STATUS(cha_flag_lookup(h, "solver_trace", &trace), CHA_OK);
    bool is_on = false;
    CHECK_STATUS(cha_flag_enabled_id(h, trace, NULL, NULL, 0, &is_on), CHA_OK);
    CHECK(is_on);
    /* By default a deployment refuses to delete a flag created at runtime. */
    char *refused = NULL;
    CHECK_STATUS(cha_deploy_all(h, config_dir, &refused), CHA_ERR_DRIFT);
    CHECK(refused == NULL);
    CHECK(strstr(last_error_or(""), "flag `solver_trace` (created at runtime): delete it") != NULL);
    CHECK_STATUS(cha_flag_enabled_id(h, trace, NULL, NULL, 0, &is_on), CHA_OK);
    CHECK(is_on);
    char *report = deploy_overwrite(h, config_dir);
    CHECK_HAS(report, "\"removed\":[\"solver_trace\"]");
    cha_string_free(report);
    is_on = true;
    CHECK_STATUS(cha_flag_enabled_id(h, trace, NULL, NULL, 0, &is_on), CHA_OK);
    CHECK(!is_on);
    uint32_t gone = UNTOUCHED_ID;
    CHECK_STATUS(cha_flag_lookup(h, "solver_trace", &gone), CHA_ERR_NOT_FOUND);
    CHECK(gone == UNTOUCHED_ID);
    CHECK_STATUS(cha_flag_update(h, "solver_trace", "{\"type\": \"boolean\", \"enabled\": true}",
                                 "c-test"),
                 CHA_OK);
    CHECK_STATUS(cha_flag_enabled_id(h, trace, NULL, NULL, 0, &is_on), CHA_OK);
    CHECK(is_on);
    /* Looking the same name up again gives the same id. */
    uint32_t again = 0;
    CHECK_STATUS(cha_flag_lookup(h, "solver_trace", &again), CHA_OK);
    CHECK(again == trace);

    /* Ids this handle never gave. */
    poison_bool(&is_on);
    CHECK_STATUS(cha_flag_enabled_id(h, 9999, "u", NULL, 0, &is_on), CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("flag handle 9999");
    CHECK(bool_untouched(&is_on));
    CHECK_STATUS(cha_flag_enabled_id(h, UINT32_MAX, "u", NULL, 0, &is_on), CHA_ERR_INVALID_ARGUMENT);
    CHECK(bool_untouched(&is_on));
}

static void test_templates(void) {
    static const char *const types[] = {NULL, "cha_intelligent_sizing", "minimal"};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        char *yaml = NULL;
        CHECK_STATUS(cha_config_template("Pilot network", types[i], &yaml), CHA_OK);
        CHECK_HAS(yaml, "# Pilot network");
        CHECK_HAS(yaml, "version: 2");
        if (types[i] == NULL || strcmp(types[i], "minimal") != 0) {
            CHECK_HAS(yaml, "type: percentage");
            CHECK_HAS(yaml, "type: user_group");
            CHECK_HAS(yaml, "type: a_b_test");
            CHECK_HAS(yaml, "type: time_based");
            CHECK_HAS(yaml, "schedule:");
        }

        /* What the template says deploys as it is. */
        char dir[4096];
        char name[64];
        char file[4200];
        snprintf(name, sizeof name, "template-%zu", i);
        path_in_work_dir(dir, sizeof dir, name);
        CHECK(mkdir(dir, 0700) == 0);
        snprintf(file, sizeof file, "%s/feature_flags.yml", dir);
        CHECK(yaml != NULL && write_file(file, yaml));
        cha_string_free(yaml);
        snprintf(name, sizeof name, "template-%zu.db", i);
        cha_handle *h = open_db(name);
        char *report = deploy(h, dir);
        CHECK_HAS(report, "\"intelligent_pipe_sizing\"");
        cha_string_free(report);
        char *json = evaluate(h, "intelligent_pipe_sizing", "{\"user_id\": \"planner-00001\"}");
        CHECK_HAS(json, "\"error\":null");
        cha_string_free(json);
        cha_close(h);
    }
    char *yaml = UNTOUCHED_STR;
    CHECK_STATUS(cha_config_template("Pilot", "maximal", &yaml), CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("unknown config type `maximal`");
    CHECK(yaml == UNTOUCHED_STR);
}

/* A change made through one handle reaches another handle on the same file
 * (as it would reach another process) within its refresh interval. */
static void test_cross_handle_visibility(cha_handle *writer) {
    char path[4096];
    path_in_work_dir(path, sizeof path, "flags.db");
    cha_handle *reader = NULL;
    CHECK_STATUS(cha_open_with_options(path, "{\"refresh_interval_ms\": 50}", &reader), CHA_OK);
    if (reader == NULL) {
        return;
    }
    CHECK(enabled(reader, "performance_monitoring", "planner-1", NULL, 0));
    uint32_t id = 0;
    CHECK_STATUS(cha_flag_lookup(reader, "performance_monitoring", &id), CHA_OK);

    /* An id of a handle that never looked anything up is not valid. */
    cha_handle *fresh = open_db("flags.db");
    bool on;
    poison_bool(&on);
    CHECK_STATUS(cha_flag_enabled_id(fresh, id, "u", NULL, 0, &on), CHA_ERR_INVALID_ARGUMENT);
    CHECK(bool_untouched(&on));
    cha_close(fresh);

    static const bool wanted[] = {false, true};
    for (int round = 0; round < 2; round++) {
        const char *updates = wanted[round] ? "{\"enabled\": true}" : "{\"enabled\": false}";
        CHECK_STATUS(cha_flag_update(writer, "performance_monitoring", updates, "cli-operator"),
                     CHA_OK);
        double start = now_s();
        bool seen = false;
        bool seen_by_id = false;
        while (now_s() - start < 5.0) {
            bool by_id = !wanted[round];
            cha_status status = cha_flag_enabled_id(reader, id, "planner-1", NULL, 0, &by_id);
            if (enabled(reader, "performance_monitoring", "planner-1", NULL, 0) == wanted[round]) {
                seen = true;
                seen_by_id = status == CHA_OK && by_id == wanted[round];
                break;
            }
            sleep_ms(5);
        }
        double waited = now_s() - start;
        if (!seen) {
            fprintf(stderr, "round %d: the second handle did not see the change in %.1f s\n", round,
                    waited);
        }
        CHECK(seen);
        /* The id may have been read just before the name: read it once more. */
        if (!seen_by_id) {
            bool by_id = !wanted[round];
            CHECK_STATUS(cha_flag_enabled_id(reader, id, "planner-1", NULL, 0, &by_id), CHA_OK);
            seen_by_id = by_id == wanted[round];
        }
        CHECK(seen_by_id);
    }
    cha_close(reader);
}

/* ---- one handle, many threads ------------------------------------------ */

struct evaluator {
    const cha_handle *h;
    uint32_t id;
    int thread;
    int failures;
    int evaluations;
};

enum { EVALUATORS = 8, UPDATES = 20 };
static volatile int updates_done;

/* Evaluates a flag that another thread keeps re-rolling between 10% and
 * 90%: every answer must be exact for one of the two snapshots. */
static void *evaluate_many(void *arg) {
    struct evaluator *e = arg;
    for (int i = 0; !__atomic_load_n(&updates_done, __ATOMIC_ACQUIRE) || i < 200; i++) {
        char user[32];
        char context[64];
        user_name(user, sizeof user, e->thread * 100000 + i);
        uint32_t bucket = bucket_of("intelligent_pipe_sizing", user);
        bool on = false;
        if (cha_flag_enabled_id(e->h, e->id, user, NULL, 0, &on) != CHA_OK) {
            e->failures++;
        }
        bool steady = false;
        if (cha_flag_enabled(e->h, "velocity_constraints", user, NULL, 0, &steady) != CHA_OK ||
            !steady) {
            e->failures++;
        }
        snprintf(context, sizeof context, "{\"user_id\": \"%s\"}", user);
        char *json = NULL;
        if (cha_flag_evaluate(e->h, "intelligent_pipe_sizing", context, &json) != CHA_OK) {
            e->failures++;
            continue;
        }
        /* The rule and the answer come from one snapshot. */
        int at10 = strstr(json, "\"rule\":\"10% by user_id\"") != NULL;
        int at90 = strstr(json, "\"rule\":\"90% by user_id\"") != NULL;
        int answer = strstr(json, "\"enabled\":true") != NULL;
        if (!(at10 && answer == (bucket < 1000)) && !(at90 && answer == (bucket < 9000))) {
            if (e->failures++ < 3) {
                fprintf(stderr, "thread %d, %s: inconsistent %s\n", e->thread, user, json);
            }
        }
        cha_string_free(json);
        e->evaluations++;
    }
    return NULL;
}

static void test_many_threads(cha_handle *h) {
    const char *flag = "intelligent_pipe_sizing";
    CHECK_STATUS(cha_flag_update(h, flag, "{\"percentage\": 10}", "c-test"), CHA_OK);
    uint32_t id = 0;
    CHECK_STATUS(cha_flag_lookup(h, flag, &id), CHA_OK);
    __atomic_store_n(&updates_done, 0, __ATOMIC_RELEASE);

    pthread_t threads[EVALUATORS];
    struct evaluator work[EVALUATORS];
    for (int i = 0; i < EVALUATORS; i++) {
        work[i] = (struct evaluator){h, id, i, 0, 0};
        CHECK(pthread_create(&threads[i], NULL, evaluate_many, &work[i]) == 0);
    }
    int update_failures = 0;
    for (int i = 0; i < UPDATES; i++) {
        const char *updates = i % 2 == 0 ? "{\"percentage\": 90}" : "{\"percentage\": 10}";
        if (cha_flag_update(h, flag, updates, "c-test-thread") != CHA_OK) {
            update_failures++;
            fprintf(stderr, "update %d failed: %s\n", i, last_error_or("(NULL)"));
        }
        sleep_ms(2);
    }
    __atomic_store_n(&updates_done, 1, __ATOMIC_RELEASE);
    CHECK(update_failures == 0);
    int evaluations = 0;
    for (int i = 0; i < EVALUATORS; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
        CHECK(work[i].failures == 0);
        evaluations += work[i].evaluations;
    }
    CHECK(evaluations >= EVALUATORS * 200);
    /* The last update (10%) is what every thread sees now. */
    int on = 0;
    CHECK(percentage_mismatches(h, flag, id, 1000, 300, &on) == 0);
}

int main(int argc, char **argv) {
    harness_dirs(argc, argv, &work_dir, &config_dir);

    cha_handle *h = open_db("flags.db");
    test_deploy(h);
    test_null_arguments(h);
    test_invalid_utf8(h);
    test_optional_arguments(h);
    test_many_groups(h);
    test_unknown_flag(h);
    test_types_and_reasons(h);
    test_updates(h);
    test_templates();
    test_cross_handle_visibility(h);
    test_many_threads(h);
    cha_close(h);

    return harness_summary("test_flags");
}

/*
 * test_deploy.c: deployments through the C ABI, as a legacy C tool (or an
 * operator's script around one) drives them:
 *
 * - runtime changes (a rollout step, a kill switch, a paused test, a flag
 *   created at runtime) are drift until the files say the same, and meet
 *   each on_drift choice: refuse (the default), overwrite, keep_runtime;
 * - plans (cha_deploy_plan, cha_deploy_rollback_plan) that write nothing;
 * - per-subsystem deploys and the options' errors;
 * - invalid config files, and config names that are not regular files;
 * - the canonical export and the exact rollback it allows, and collected
 *   data that survives a rollback;
 * - the status, the history, backups and restore;
 * - cha_config_validate without a database;
 * - the NULL / UTF-8 / bad-options contract of every deployment function.
 *
 * Run by tests/c_abi.rs as `test_deploy WORK_DIR [CONFIG_DIR]`. CONFIG_DIR
 * defaults to the configs/ folder of the repository this file is in (found
 * from __FILE__, which c_abi.rs passes to the compiler as an absolute path).
 * Prints one line per failed check and a summary; exits non-zero if any
 * check failed. Every returned string is freed: LeakSanitizer runs.
 *
 * Flag answers are checked exactly against the documented bucketing
 * (murmur3.h): a unit is in a percentage flag with seed s when
 * murmur3_32("{s}:{unit}", 0) % 10000 < percentage * 100; a unit of an
 * experiment with full coverage gets the first of two 50/50 variants when
 * the same hash of the experiment's seed is below 5000.
 */
#define _POSIX_C_SOURCE 200809L

#include "cha_deploy.h"
#include "harness.h"
#include "murmur3.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* A value no real result has: an out-pointer must keep it after a failure. */
static char untouched_text[] = "untouched";
#define UNTOUCHED_STR untouched_text

static const char *work_dir;
static const char *config_dir;

#define SIZING "intelligent_pipe_sizing"
#define PIPE_TEST "pipe_sizing_comparison"

/* ---- files ------------------------------------------------------------- */

static const char *path_in_work_dir(char *buf, size_t size, const char *name) {
    int n = snprintf(buf, size, "%s/%s", work_dir, name);
    if (n < 0 || (size_t)n >= size) {
        fprintf(stderr, "path too long: %s/%s\n", work_dir, name);
        exit(2);
    }
    return buf;
}

static int write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return 0;
    }
    int ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok;
}

/* The whole file (free it), or NULL. */
static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    size_t size = 0, cap = 4096;
    char *text = malloc(cap);
    size_t n;
    while (text != NULL && (n = fread(text + size, 1, cap - size - 1, f)) > 0) {
        size += n;
        if (cap - size <= 1) {
            char *bigger = realloc(text, cap *= 2);
            if (bigger == NULL) {
                free(text);
            }
            text = bigger;
        }
    }
    fclose(f);
    if (text != NULL) {
        text[size] = '\0';
    }
    return text;
}

/* The repository's config file `name` (free it); exits if it cannot be read. */
static char *repository_file(const char *name) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", config_dir, name);
    char *text = read_text(path);
    if (text == NULL) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(2);
    }
    return text;
}

/* `text` with the first `from` replaced by `to` (free it); exits if `from`
 * is not there, since the edited config would not test what it should. */
static char *replace_first(const char *text, const char *from, const char *to) {
    const char *at = strstr(text, from);
    if (at == NULL) {
        fprintf(stderr, "the config no longer contains \"%s\"; update test_deploy.c\n", from);
        exit(2);
    }
    size_t head = (size_t)(at - text), from_len = strlen(from), to_len = strlen(to);
    size_t tail = strlen(at + from_len);
    char *out = malloc(head + to_len + tail + 1);
    if (out == NULL) {
        exit(2);
    }
    memcpy(out, text, head);
    memcpy(out + head, to, to_len);
    memcpy(out + head + to_len, at + from_len, tail + 1);
    return out;
}

/* Creates WORK_DIR/name holding feature_flags.yml and ab_tests.yml with the
 * given texts (NULL: the file is left out); writes the folder to `dir`. */
static void make_config_dir(char *dir, size_t size, const char *name, const char *flags_yml,
                            const char *ab_yml) {
    path_in_work_dir(dir, size, name);
    CHECK(mkdir(dir, 0700) == 0);
    char file[4200];
    if (flags_yml != NULL) {
        snprintf(file, sizeof file, "%s/feature_flags.yml", dir);
        CHECK(write_file(file, flags_yml));
    }
    if (ab_yml != NULL) {
        snprintf(file, sizeof file, "%s/ab_tests.yml", dir);
        CHECK(write_file(file, ab_yml));
    }
}

/* A copy of configs/ whose intelligent_pipe_sizing is at `percentage`
 * (e.g. "40") instead of 25. */
static void make_percentage_dir(char *dir, size_t size, const char *name, const char *percentage) {
    char *flags = repository_file("feature_flags.yml");
    char *ab = repository_file("ab_tests.yml");
    char line[64];
    snprintf(line, sizeof line, "    percentage: %s\n", percentage);
    /* The first "    percentage: 25" line is intelligent_pipe_sizing's. */
    char *edited = replace_first(flags, "    percentage: 25\n", line);
    make_config_dir(dir, size, name, edited, ab);
    free(edited);
    free(flags);
    free(ab);
}

/* ---- JSON ---------------------------------------------------------------- */

/* The integer after the first `"key":` in `json`, or -1. */
static long json_int(const char *json, const char *key) {
    char needle[64];
    snprintf(needle, sizeof needle, "\"%s\":", key);
    const char *at = json ? strstr(json, needle) : NULL;
    return at ? strtol(at + strlen(needle), NULL, 10) : -1;
}

/* Copies the string after the first `"key":"` (paths and names here have
 * no escapes); returns whether it was there. */
static int json_str(const char *json, const char *key, char *buf, size_t size) {
    char needle[64];
    snprintf(needle, sizeof needle, "\"%s\":\"", key);
    const char *at = json ? strstr(json, needle) : NULL;
    if (at == NULL) {
        buf[0] = '\0';
        return 0;
    }
    at += strlen(needle);
    const char *end = strchr(at, '"');
    size_t n = end ? (size_t)(end - at) : 0;
    if (n >= size) {
        n = size - 1;
    }
    memcpy(buf, at, n);
    buf[n] = '\0';
    return end != NULL;
}

/* The number of elements of the JSON array `json` (0 if it is not one):
 * the commas at depth 1, outside strings, plus one. */
static size_t json_array_len(const char *json) {
    if (json == NULL || json[0] != '[') {
        return 0;
    }
    const char *p = json + 1;
    while (*p == ' ' || *p == '\n') {
        p++;
    }
    if (*p == ']') {
        return 0;
    }
    size_t n = 1;
    int depth = 1, in_string = 0;
    for (; *p && depth > 0; p++) {
        if (in_string) {
            if (*p == '\\' && p[1]) {
                p++;
            } else if (*p == '"') {
                in_string = 0;
            }
        } else if (*p == '"') {
            in_string = 1;
        } else if (*p == '[' || *p == '{') {
            depth++;
        } else if (*p == ']' || *p == '}') {
            depth--;
        } else if (*p == ',' && depth == 1) {
            n++;
        }
    }
    return n;
}

/* Whether `text` has `hex` lowercase hex digits after `needle` and then
 * a closing quote. */
static int has_hex_after(const char *text, const char *needle, size_t hex) {
    const char *at = text ? strstr(text, needle) : NULL;
    if (at == NULL) {
        return 0;
    }
    at += strlen(needle);
    for (size_t i = 0; i < hex; i++) {
        if (!((at[i] >= '0' && at[i] <= '9') || (at[i] >= 'a' && at[i] <= 'f'))) {
            return 0;
        }
    }
    return at[hex] == '"';
}

/* ---- the documented bucketing, computed independently ------------------ */

static uint32_t bucket_of(const char *seed, const char *unit) {
    char key[256];
    int n = snprintf(key, sizeof key, "%s:%s", seed, unit);
    if (n < 0 || (size_t)n >= sizeof key) {
        exit(2);
    }
    return murmur3_32((const unsigned char *)key, (size_t)n, 0) % 10000u;
}

/* A planner whose bucket of `seed` is in [lo, hi), into `buf`. */
static void planner_in_buckets(char *buf, size_t size, const char *seed, uint32_t lo,
                               uint32_t hi) {
    for (int i = 0; i < 1000000; i++) {
        snprintf(buf, size, "planner-%05d", i);
        uint32_t b = bucket_of(seed, buf);
        if (b >= lo && b < hi) {
            return;
        }
    }
    fprintf(stderr, "no planner in buckets [%u, %u) of %s\n", lo, hi, seed);
    exit(2);
}

/* ---- the library --------------------------------------------------------- */

/* Frees a result that a call written to `*out` although it should have
 * failed (a library bug the check before reports), so that it shows as one
 * failed check and not also as a leak; resets `*out` for the next call. */
static void drop_if_written(char **out) {
    if (*out != UNTOUCHED_STR) {
        cha_string_free(*out);
        *out = UNTOUCHED_STR;
    }
}

/* A failed call left its out-pointer alone. */
#define CHECK_UNTOUCHED(out)                                                     \
    do {                                                                         \
        CHECK((out) == UNTOUCHED_STR);                                           \
        drop_if_written(&(out));                                                 \
    } while (0)

static cha_handle *open_db(const char *name, const char *options) {
    char path[4096];
    path_in_work_dir(path, sizeof path, name);
    cha_handle *h = NULL;
    if (options == NULL) {
        CHECK_STATUS(cha_open(path, &h), CHA_OK);
    } else {
        CHECK_STATUS(cha_open_with_options(path, options, &h), CHA_OK);
    }
    if (h == NULL) {
        fprintf(stderr, "cannot open %s: %s\n", path, last_error_or("?"));
        exit(2);
    }
    return h;
}

/* A deploy of `dir` with `options` that must succeed; the report (free it). */
static char *deploy_with(cha_handle *h, const char *dir, const char *options) {
    char *report = NULL;
    CHECK_STATUS(cha_deploy_all_with_options(h, dir, options, &report), CHA_OK);
    return report;
}

/* The id of the newest deployment, 0 for none: it changes exactly when
 * something is recorded in the history. */
static long latest_deployment(cha_handle *h) {
    char *json = NULL;
    if (cha_deploy_history(h, 1, &json) != CHA_OK) {
        failed++;
        fprintf(stderr, "cha_deploy_history failed: %s\n", last_error_or("(NULL)"));
        return -1;
    }
    long id = strcmp(json, "[]") == 0 ? 0 : json_int(json, "id");
    cha_string_free(json);
    return id;
}

static char *export_of(cha_handle *h) {
    char *json = NULL;
    CHECK_STATUS(cha_deploy_export(h, &json), CHA_OK);
    return json;
}

/* What "nothing changed" compares: the history and the whole configuration. */
struct state {
    long deployment;
    char *export;
};

static struct state state_of(cha_handle *h) {
    struct state s = {latest_deployment(h), export_of(h)};
    return s;
}

static void free_state(struct state *s) {
    cha_string_free(s->export);
    s->export = NULL;
}

#define CHECK_UNCHANGED(h, before)                                               \
    do {                                                                         \
        struct state now_ = state_of(h);                                         \
        CHECK(now_.deployment == (before).deployment);                           \
        CHECK(now_.export != NULL && (before).export != NULL &&                  \
              strcmp(now_.export, (before).export) == 0);                        \
        free_state(&now_);                                                       \
    } while (0)

/* cha_flag_enabled that must succeed. */
static bool flag_on(cha_handle *h, const char *flag, const char *user) {
    bool on = false;
    cha_status status = cha_flag_enabled(h, flag, user, NULL, 0, &on);
    if (status != CHA_OK) {
        failed++;
        fprintf(stderr, "cha_flag_enabled(%s, %s) returned %s: %s\n", flag, user,
                cha_status_name(status), last_error_or("(NULL)"));
    }
    return on;
}

static char *flag_json(cha_handle *h, const char *flag) {
    char *json = NULL;
    CHECK_STATUS(cha_flag_get(h, flag, &json), CHA_OK);
    return json;
}

static char *experiment_json(cha_handle *h, const char *experiment) {
    char *json = NULL;
    CHECK_STATUS(cha_experiment_get(h, experiment, &json), CHA_OK);
    return json;
}

static void set_status(cha_handle *h, const char *experiment, const char *status) {
    char *json = NULL;
    CHECK_STATUS(cha_experiment_set_status(h, experiment, status, "ops", &json), CHA_OK);
    cha_string_free(json);
}

/* Deployment `id` of the history (free it). */
static char *deployment_json(cha_handle *h, long id) {
    char *json = NULL;
    CHECK_STATUS(cha_deploy_get(h, id, &json), CHA_OK);
    return json;
}

static size_t backup_count(cha_handle *h) {
    char *json = NULL;
    CHECK_STATUS(cha_backup_list(h, &json), CHA_OK);
    size_t n = json_array_len(json);
    cha_string_free(json);
    return n;
}

/* The operator's three runtime changes: a rollout step, a paused test and
 * a flag created at runtime, all by "ops". */
static void make_drift(cha_handle *h) {
    CHECK_STATUS(cha_flag_update(h, SIZING, "{\"percentage\": 60}", "ops"), CHA_OK);
    set_status(h, PIPE_TEST, "paused");
    CHECK_STATUS(cha_flag_update(h, "night_mode", "{\"type\":\"boolean\",\"enabled\":true}", "ops"),
                 CHA_OK);
}

/* The runtime changes of make_drift are all in force; `planner` is a unit
 * the 60% step takes in and 25% leaves out. */
static void check_runtime_state(cha_handle *h, const char *planner) {
    char *json = flag_json(h, SIZING);
    CHECK_HAS(json, "\"percentage\":60.0");
    cha_string_free(json);
    CHECK(flag_on(h, SIZING, planner));
    json = experiment_json(h, PIPE_TEST);
    CHECK_HAS(json, "\"status\":\"paused\"");
    cha_string_free(json);
    /* A paused test admits no new unit. */
    const char *variant = "x";
    CHECK_STATUS(cha_experiment_assign(h, PIPE_TEST, "newcomer-1", &variant), CHA_OK);
    CHECK(variant == NULL);
    CHECK(flag_on(h, "night_mode", "anyone"));
}

/* ---- 1, 2, 7: drift met by refuse, keep_runtime and overwrite ----------- */

static void check_plan_of_drift(cha_handle *h, const struct state *before) {
    char *plan = NULL;
    CHECK_STATUS(cha_deploy_plan(h, config_dir, NULL, &plan), CHA_OK);
    CHECK_HAS(plan, "\"on_drift\":\"refuse\",\"last_deployment\":1,");
    CHECK_HAS(plan, "{\"name\":\"intelligent_pipe_sizing\",\"action\":\"update\",\"fields\":"
                    "[{\"field\":\"percentage\",\"before\":60.0,\"after\":25.0}],"
                    "\"undoes_drift\":true}");
    CHECK_HAS(plan, "{\"name\":\"night_mode\",\"action\":\"delete\",\"fields\":[],"
                    "\"undoes_drift\":true}");
    CHECK_HAS(plan, "{\"name\":\"pipe_sizing_comparison\",\"action\":\"update\",\"fields\":"
                    "[{\"field\":\"status\",\"before\":\"paused\",\"after\":\"running\"}],"
                    "\"undoes_drift\":true}");
    /* The drift with who made it. */
    CHECK_HAS(plan, "{\"name\":\"intelligent_pipe_sizing\",\"kind\":\"modified\",\"fields\":"
                    "[{\"field\":\"percentage\",\"before\":25.0,\"after\":60.0}],"
                    "\"actor\":\"ops\",\"at_ms\":");
    CHECK_HAS(plan, "{\"name\":\"night_mode\",\"kind\":\"created\",\"fields\":[],"
                    "\"actor\":\"ops\",\"at_ms\":");
    CHECK_HAS(plan, "{\"name\":\"pipe_sizing_comparison\",\"kind\":\"modified\",\"fields\":"
                    "[{\"field\":\"status\",\"before\":\"running\",\"after\":\"paused\"}],"
                    "\"actor\":\"ops\",\"at_ms\":");
    CHECK_HAS(plan, ",\"action\":\"paused\"}");
    /* A refused deployment is a plan with refused lines, not an error. */
    CHECK_HAS(plan, "\"refused\":[\"feature_flags.yml: flag `intelligent_pipe_sizing`: undo its "
                    "runtime change (percentage 60 → 25)\",\"feature_flags.yml: flag `night_mode` "
                    "(created at runtime): delete it, though the target does not mention it\","
                    "\"ab_tests.yml: experiment `pipe_sizing_comparison`: undo its runtime change "
                    "(status paused → running)\"]}");
    cha_string_free(plan);

    /* keep_runtime refuses nothing and keeps the three. */
    plan = NULL;
    CHECK_STATUS(cha_deploy_plan(h, config_dir, "{\"on_drift\": \"keep_runtime\"}", &plan), CHA_OK);
    CHECK_HAS(plan, "\"on_drift\":\"keep_runtime\"");
    CHECK_HAS(plan, "{\"name\":\"night_mode\",\"action\":\"keep_runtime\"");
    CHECK_HAS(plan, "{\"name\":\"pipe_sizing_comparison\",\"action\":\"keep_runtime\"");
    CHECK(plan != NULL && strstr(plan, "\"refused\":[]}") != NULL &&
          strstr(plan, "undo its runtime change") == NULL);
    cha_string_free(plan);

    /* Plans write nothing. */
    CHECK_UNCHANGED(h, *before);
}

static void check_status_of_drift(cha_handle *h) {
    char *status = NULL;
    CHECK_STATUS(cha_deploy_status(h, &status), CHA_OK);
    char db[4096];
    CHECK_HAS(status, path_in_work_dir(db, sizeof db, "drift.db"));
    CHECK_HAS(status, "\"last_deployment\":{\"id\":1,");
    CHECK_HAS(status, "\"subsystems\":[{\"subsystem\":\"feature_flags\",\"file\":"
                      "\"feature_flags.yml\",\"items\":\"flags\",\"count\":11,");
    CHECK_HAS(status, "{\"subsystem\":\"ab_tests\",\"file\":\"ab_tests.yml\",\"items\":"
                      "\"experiments\",\"count\":3,");
    CHECK_HAS(status, "\"deployed_by\":1,");
    CHECK_HAS(status, "{\"name\":\"intelligent_pipe_sizing\",\"kind\":\"modified\",\"fields\":"
                      "[{\"field\":\"percentage\",\"before\":25.0,\"after\":60.0}],"
                      "\"actor\":\"ops\",\"at_ms\":");
    CHECK_HAS(status, "{\"name\":\"night_mode\",\"kind\":\"created\",\"fields\":[],"
                      "\"actor\":\"ops\",\"at_ms\":");
    CHECK_HAS(status, "{\"name\":\"pipe_sizing_comparison\",\"kind\":\"modified\",\"fields\":"
                      "[{\"field\":\"status\",\"before\":\"running\",\"after\":\"paused\"}],"
                      "\"actor\":\"ops\",\"at_ms\":");
    /* Rollouts by flag name: no percentage or time-based flag sorts before
     * intelligent_pipe_sizing, whatever today's date. */
    CHECK_HAS(status, "\"rollouts\":[{\"flag\":\"intelligent_pipe_sizing\",\"next_step\":null,"
                      "\"percentage\":60.0,\"type\":\"percentage\"}");
    CHECK_HAS(status, "{\"flag\":\"pandapipes_simulation\",\"next_step\":null,"
                      "\"percentage\":10.0,\"type\":\"percentage\"}");
    CHECK_HAS(status, "\"disabled\":[\"new_ui\"]");
    CHECK_HAS(status, "\"paused\":1,\"running\":1,");
    CHECK_HAS(status, "\"recent_deployments\":[{\"id\":1,\"at_ms\":");
    cha_string_free(status);
}

/* Each choice on drift, with the state checked after each. */
static void test_drift(void) {
    cha_handle *h = open_db("drift.db", NULL);
    char *report = deploy_with(h, config_dir, NULL);
    CHECK_HAS(report, "{\"deployment_id\":1,\"action\":\"deploy\",");
    CHECK_HAS(report, "\"on_drift\":\"refuse\"");
    cha_string_free(report);

    char planner[32]; /* in at 60%, out at 25% */
    planner_in_buckets(planner, sizeof planner, SIZING, 2500, 6000);
    CHECK(!flag_on(h, SIZING, planner));
    make_drift(h);
    check_runtime_state(h, planner);
    struct state before = state_of(h);

    /* refuse, the default: an error listing each item; nothing changes. */
    char *out = UNTOUCHED_STR;
    CHECK_STATUS(cha_deploy_all(h, config_dir, &out), CHA_ERR_DRIFT);
    CHECK_UNTOUCHED(out);
    CHECK_MESSAGE_HAS("nothing was changed");
    CHECK_MESSAGE_HAS("feature_flags.yml: flag `intelligent_pipe_sizing`: undo its runtime change "
                      "(percentage 60 → 25)");
    CHECK_MESSAGE_HAS("feature_flags.yml: flag `night_mode` (created at runtime): delete it");
    CHECK_MESSAGE_HAS("ab_tests.yml: experiment `pipe_sizing_comparison`: undo its runtime change "
                      "(status paused → running)");
    CHECK_MESSAGE_HAS("\"overwrite\"");
    CHECK_MESSAGE_HAS("\"keep_runtime\"");
    CHECK_UNCHANGED(h, before);
    check_runtime_state(h, planner);
    CHECK_STATUS(cha_deploy_all_with_options(h, config_dir, "{\"on_drift\": \"refuse\"}", &out),
                 CHA_ERR_DRIFT);
    CHECK_UNTOUCHED(out);
    CHECK_UNCHANGED(h, before);

    check_plan_of_drift(h, &before);
    check_status_of_drift(h);
    free_state(&before);

    /* keep_runtime: the three runtime changes stay, reported as kept. */
    report = deploy_with(h, config_dir, "{\"on_drift\": \"keep_runtime\"}");
    CHECK_HAS(report, "{\"deployment_id\":2,");
    CHECK_HAS(report, "\"on_drift\":\"keep_runtime\"");
    CHECK_HAS(report, "\"removed\":[],\"kept\":[\"intelligent_pipe_sizing\",\"night_mode\"]}");
    CHECK_HAS(report, "\"experiments\":{\"created\":[],\"updated\":[],\"unchanged\":"
                      "[\"flow_calculation_comparison\",\"network_analysis_comparison\"],"
                      "\"removed\":[],\"kept\":[\"pipe_sizing_comparison\"]}");
    cha_string_free(report);
    check_runtime_state(h, planner);

    /* Still drift: the files still say 25% and running. */
    struct state kept = state_of(h);
    CHECK_STATUS(cha_deploy_all(h, config_dir, &out), CHA_ERR_DRIFT);
    CHECK_MESSAGE_HAS("(percentage 60 → 25)");
    CHECK_UNCHANGED(h, kept);
    free_state(&kept);
    /* The status still lists it, and still says who made it: the audit log
     * knows, and an operator deciding what to do with drift needs it. */
    char *status = NULL;
    CHECK_STATUS(cha_deploy_status(h, &status), CHA_OK);
    CHECK_HAS(status, "{\"name\":\"intelligent_pipe_sizing\",\"kind\":\"modified\",\"fields\":"
                      "[{\"field\":\"percentage\",\"before\":25.0,\"after\":60.0}],\"actor\":");
    CHECK_HAS(status, "\"after\":60.0}],\"actor\":\"ops\"");
    cha_string_free(status);

    /* overwrite: the files win. */
    report = deploy_with(h, config_dir, "{\"on_drift\": \"overwrite\", \"actor\": \"ci-bot\"}");
    CHECK_HAS(report, "{\"deployment_id\":3,");
    CHECK_HAS(report, "\"actor\":\"ci-bot\"");
    CHECK_HAS(report, "\"flags\":{\"created\":[],\"updated\":[\"intelligent_pipe_sizing\"],");
    CHECK_HAS(report, "\"removed\":[\"night_mode\"]}");
    CHECK_HAS(report, "\"experiments\":{\"created\":[],\"updated\":[\"pipe_sizing_comparison\"],");
    cha_string_free(report);
    char *json = flag_json(h, SIZING);
    CHECK_HAS(json, "\"percentage\":25.0");
    CHECK_HAS(json, "\"updated_by\":\"ci-bot\"");
    cha_string_free(json);
    CHECK(!flag_on(h, SIZING, planner));
    json = experiment_json(h, PIPE_TEST);
    CHECK_HAS(json, "\"status\":\"running\"");
    cha_string_free(json);
    json = UNTOUCHED_STR;
    CHECK_STATUS(cha_flag_get(h, "night_mode", &json), CHA_ERR_NOT_FOUND);
    CHECK_UNTOUCHED(json);
    json = deployment_json(h, 3);
    CHECK_HAS(json, "{\"subsystem\":\"feature_flags\",\"name\":\"intelligent_pipe_sizing\","
                    "\"kind\":\"modified\",");
    CHECK_HAS(json, "\"actor\":\"ops\"");
    CHECK_HAS(json, "\"action\":\"update\",\"outcome\":\"overwritten\"}");
    CHECK_HAS(json, "{\"subsystem\":\"feature_flags\",\"name\":\"night_mode\",\"kind\":\"created\",");
    CHECK_HAS(json, "\"action\":\"create\",\"outcome\":\"overwritten\"}");
    cha_string_free(json);

    /* No drift left: the default deploy goes through and changes nothing. */
    report = deploy_with(h, config_dir, NULL);
    CHECK_HAS(report, "\"flags\":{\"created\":[],\"updated\":[],\"unchanged\":[\"cost_optimisation\",");
    CHECK_HAS(report, "\"experiments\":{\"created\":[],\"updated\":[],\"unchanged\":"
                      "[\"flow_calculation_comparison\",\"network_analysis_comparison\","
                      "\"pipe_sizing_comparison\"],\"removed\":[]}");
    cha_string_free(report);
    status = NULL;
    CHECK_STATUS(cha_deploy_status(h, &status), CHA_OK);
    CHECK(status != NULL && strstr(status, "\"drift\":[{") == NULL);
    cha_string_free(status);

    /* The kill switch: keep_runtime leaves it off, refuse refuses and
     * leaves it off. */
    char early[32]; /* in at 25% */
    planner_in_buckets(early, sizeof early, SIZING, 0, 2500);
    CHECK(flag_on(h, SIZING, early));
    CHECK_STATUS(cha_flag_update(h, SIZING, "{\"enabled\": false}", "ops"), CHA_OK);
    CHECK(!flag_on(h, SIZING, early));
    report = deploy_with(h, config_dir, "{\"on_drift\": \"keep_runtime\"}");
    CHECK_HAS(report, "\"kept\":[\"intelligent_pipe_sizing\"]");
    cha_string_free(report);
    CHECK(!flag_on(h, SIZING, early));
    struct state off = state_of(h);
    CHECK_STATUS(cha_deploy_all(h, config_dir, &out), CHA_ERR_DRIFT);
    CHECK_MESSAGE_HAS("flag `intelligent_pipe_sizing`: undo its runtime change (enabled false → true)");
    CHECK_UNTOUCHED(out);
    CHECK_UNCHANGED(h, off);
    free_state(&off);
    CHECK(!flag_on(h, SIZING, early));

    /* The files move the rollout to 40% while the kill switch is off:
     * keep_runtime merges field by field, the switch stays off. */
    char dir40[4096];
    make_percentage_dir(dir40, sizeof dir40, "drift-40", "40");
    report = deploy_with(h, dir40, "{\"on_drift\": \"keep_runtime\"}");
    CHECK_HAS(report, "\"updated\":[\"intelligent_pipe_sizing\"]");
    CHECK_HAS(report, "\"fields\":[{\"field\":\"percentage\",\"before\":25.0,\"after\":40.0}]");
    long merged = json_int(report, "deployment_id");
    cha_string_free(report);
    json = flag_json(h, SIZING);
    CHECK_HAS(json, "\"enabled\":false");
    CHECK_HAS(json, "\"percentage\":40.0");
    cha_string_free(json);
    CHECK(!flag_on(h, SIZING, early));
    /* The history must not say the kill switch was overwritten: it was kept. */
    json = deployment_json(h, merged);
    CHECK_HAS(json, "\"name\":\"intelligent_pipe_sizing\",\"kind\":\"modified\"");
    CHECK_HAS(json, "\"outcome\":\"merged\"");
    CHECK(json != NULL && strstr(json, "\"outcome\":\"overwritten\"") == NULL);
    cha_string_free(json);
    report = deploy_with(h, dir40, "{\"on_drift\": \"overwrite\"}");
    cha_string_free(report);
    CHECK(flag_on(h, SIZING, early));

    /* Drift ends when the files say the same: 60%, paused, night_mode. */
    make_drift(h);
    char *flags = repository_file("feature_flags.yml");
    char *ab = repository_file("ab_tests.yml");
    char *flags60 = replace_first(flags, "    percentage: 25\n", "    percentage: 60\n");
    size_t size = strlen(flags60) + 128;
    char *flags_all = malloc(size);
    CHECK(flags_all != NULL);
    if (flags_all != NULL) {
        /* `flags:` is the file's last key: a flag appended is one of them. */
        snprintf(flags_all, size, "%s\n  night_mode:\n    type: boolean\n    enabled: true\n",
                 flags60);
        char *ab_paused = replace_first(ab, "    status: running\n", "    status: paused\n");
        char same[4096];
        make_config_dir(same, sizeof same, "drift-same", flags_all, ab_paused);
        free(ab_paused);
        report = deploy_with(h, same, NULL);
        CHECK_HAS(report, "\"flags\":{\"created\":[],\"updated\":[],\"unchanged\":[");
        CHECK_HAS(report, "\"experiments\":{\"created\":[],\"updated\":[],\"unchanged\":[");
        CHECK(report != NULL && strstr(report, "\"kept\"") == NULL);
        cha_string_free(report);
        check_runtime_state(h, planner);
        status = NULL;
        CHECK_STATUS(cha_deploy_status(h, &status), CHA_OK);
        CHECK(status != NULL && strstr(status, "\"drift\":[{") == NULL);
        cha_string_free(status);
        free(flags_all);
    }
    free(flags60);
    free(flags);
    free(ab);
    cha_close(h);
}

/* ---- 3: options ------------------------------------------------------ */

static void test_options(void) {
    cha_handle *h = open_db("options.db", NULL);

    /* Only ab_tests.yml, as ci-bot. */
    char *report = deploy_with(h, config_dir,
                               "{\"subsystems\": [\"ab_tests\"], \"actor\": \"ci-bot\"}");
    CHECK_HAS(report, "\"actor\":\"ci-bot\"");
    CHECK_HAS(report, "\"files\":[{\"file\":\"ab_tests.yml\",\"sha256\":\"");
    const char *files = report ? strstr(report, "\"files\":[") : NULL;
    const char *files_end = files ? strstr(files, "],\"flags\":") : NULL;
    CHECK(files_end != NULL);
    if (files_end != NULL) {
        /* No other file in the list. */
        size_t n = (size_t)(files_end - files);
        char *list = malloc(n + 1);
        if (list != NULL) {
            memcpy(list, files, n);
            list[n] = '\0';
            CHECK(strstr(list, "feature_flags.yml") == NULL);
            free(list);
        }
    }
    CHECK_HAS(report, "\"flags\":{\"created\":[],\"updated\":[],\"unchanged\":[],\"removed\":[]}");
    CHECK_HAS(report, "\"experiments\":{\"created\":[\"flow_calculation_comparison\","
                      "\"network_analysis_comparison\",\"pipe_sizing_comparison\"],");
    CHECK_HAS(report, "{\"subsystem\":\"feature_flags\",\"file\":\"feature_flags.yml\","
                      "\"items\":\"flags\",\"included\":false,");
    long id = json_int(report, "deployment_id");
    cha_string_free(report);
    char *json = UNTOUCHED_STR;
    CHECK_STATUS(cha_flag_get(h, SIZING, &json), CHA_ERR_NOT_FOUND);
    CHECK_UNTOUCHED(json);
    json = deployment_json(h, id);
    CHECK_HAS(json, "\"actor\":\"ci-bot\",\"action\":\"deploy\"");
    cha_string_free(json);

    /* Then only the flags: the tests stay as they are. */
    report = deploy_with(h, config_dir, "{\"subsystems\": [\"feature_flags\"]}");
    CHECK_HAS(report, "\"files\":[{\"file\":\"feature_flags.yml\",");
    CHECK_HAS(report, "\"flags\":{\"created\":[\"cost_optimisation\",");
    CHECK_HAS(report, "\"experiments\":{\"created\":[],\"updated\":[],\"unchanged\":"
                      "[\"flow_calculation_comparison\",\"network_analysis_comparison\","
                      "\"pipe_sizing_comparison\"],\"removed\":[]}");
    cha_string_free(report);
    char *status = NULL;
    CHECK_STATUS(cha_deploy_status(h, &status), CHA_OK);
    CHECK_HAS(status, "\"items\":\"flags\",\"count\":10,");
    CHECK_HAS(status, "\"items\":\"experiments\",\"count\":3,");
    cha_string_free(status);

    /* Bad options: each an INVALID_ARGUMENT naming what is wrong, and
     * nothing deployed. */
    struct state before = state_of(h);
    static const struct {
        const char *options;
        const char *message;
    } bad[] = {
        {"{\"subsystems\": [\"monitoring_x\"]}", "unknown subsystem `monitoring_x`"},
        {"{\"force\": true}", "unknown field `force`"},
        {"{\"on_drift\": \"maybe\"}", "`on_drift`: unknown variant `maybe`"},
        {"{\"subsystems\": \"ab_tests\"}", "`subsystems`"},
        {"{\"actor\": 7}", "`actor`"},
        {"[1]", "expected a JSON object"},
        {"\"overwrite\"", "expected a JSON object"},
        {"{\"on_drift\": ", "deploy options"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *out = UNTOUCHED_STR;
        CHECK_STATUS(cha_deploy_all_with_options(h, config_dir, bad[i].options, &out),
                     CHA_ERR_INVALID_ARGUMENT);
        CHECK_MESSAGE_HAS(bad[i].message);
        CHECK_UNTOUCHED(out);
        CHECK_STATUS(cha_deploy_plan(h, config_dir, bad[i].options, &out),
                     CHA_ERR_INVALID_ARGUMENT);
        CHECK_MESSAGE_HAS(bad[i].message);
        CHECK_UNTOUCHED(out);
    }
    /* A blank actor: the deploy refuses it, so the plan that predicts the
     * deploy must too. */
    char *out = UNTOUCHED_STR;
    CHECK_STATUS(cha_deploy_all_with_options(h, config_dir, "{\"actor\": \"  \"}", &out),
                 CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("actor is empty");
    CHECK_UNTOUCHED(out);
    CHECK_STATUS(cha_deploy_plan(h, config_dir, "{\"actor\": \"  \"}", &out),
                 CHA_ERR_INVALID_ARGUMENT);
    CHECK_UNTOUCHED(out);
    CHECK_UNCHANGED(h, before);

    /* A chosen subsystem's file must be there. */
    char *ab = repository_file("ab_tests.yml");
    char dir[4096];
    make_config_dir(dir, sizeof dir, "only-ab", NULL, ab);
    free(ab);
    CHECK_STATUS(cha_deploy_all_with_options(h, dir, "{\"subsystems\": [\"feature_flags\"]}", &out),
                 CHA_ERR_NOT_FOUND);
    CHECK_MESSAGE_HAS("feature_flags.yml");
    CHECK_UNTOUCHED(out);
    CHECK_UNCHANGED(h, before);
    free_state(&before);
    cha_close(h);
}

/* ---- 4: invalid config and unusable config files ------------------------ */

/* Fails the run if a call hangs (a FIFO opened for reading blocks until a
 * writer comes): better a clear failure than a test that never ends. */
static void on_alarm(int sig) {
    (void)sig;
    static const char message[] = "test_deploy: a call hung on a FIFO config file\n";
    ssize_t ignored = write(2, message, sizeof message - 1);
    (void)ignored;
    _exit(1);
}

/* `dir` with a valid ab_tests.yml whose feature_flags.yml is made by
 * `make` (a folder, a dangling link, a FIFO): every deployment call must
 * fail with CHA_ERR_CONFIG naming the path and `why`, and change nothing. */
static void check_unusable(cha_handle *h, const char *name, int (*make)(const char *path),
                           const char *why) {
    char dir[4096];
    char *ab = repository_file("ab_tests.yml");
    make_config_dir(dir, sizeof dir, name, NULL, ab);
    free(ab);
    char path[4200];
    snprintf(path, sizeof path, "%s/feature_flags.yml", dir);
    CHECK(make(path) == 0);
    struct state before = state_of(h);
    char *out = UNTOUCHED_STR;
    alarm(30);
    CHECK_STATUS(cha_deploy_all(h, dir, &out), CHA_ERR_CONFIG);
    CHECK_MESSAGE_HAS(path);
    CHECK_MESSAGE_HAS(why);
    CHECK_UNTOUCHED(out);
    CHECK_STATUS(cha_deploy_all_with_options(h, dir, "{\"on_drift\": \"overwrite\"}", &out),
                 CHA_ERR_CONFIG);
    CHECK_MESSAGE_HAS(path);
    CHECK_UNTOUCHED(out);
    CHECK_STATUS(cha_deploy_plan(h, dir, NULL, &out), CHA_ERR_CONFIG);
    CHECK_MESSAGE_HAS(path);
    CHECK_UNTOUCHED(out);
    CHECK_STATUS(cha_config_validate(dir, NULL, &out), CHA_ERR_CONFIG);
    CHECK_MESSAGE_HAS(path);
    CHECK_MESSAGE_HAS(why);
    CHECK_UNTOUCHED(out);
    alarm(0);
    CHECK_UNCHANGED(h, before);
    free_state(&before);
}

static int make_folder(const char *path) { return mkdir(path, 0700); }
static int make_dangling_link(const char *path) { return symlink("nowhere.yml", path); }
static int make_fifo(const char *path) { return mkfifo(path, 0600); }

static void test_invalid_config(void) {
    cha_handle *h = open_db("config.db", NULL);
    char *report = deploy_with(h, config_dir, NULL);
    cha_string_free(report);
    struct state before = state_of(h);

    /* Problems in both files, all reported at once with file:line:column
     * and the field path; nothing changes. */
    char dir[4096];
    make_config_dir(dir, sizeof dir, "bad-config",
                    "version: 2\n"
                    "flags:\n"
                    "  intelligent_pipe_sizing:\n"
                    "    type: percentage\n"
                    "    enabled: true\n"
                    "    percentage: 150\n"
                    "  night_mode:\n"
                    "    type: boolean\n"
                    "    enabled: maybe\n",
                    "version: 1\n"
                    "ab_tests:\n"
                    "  t:\n"
                    "    name: T\n"
                    "    test_type: pipe_sizing\n"
                    "    status: running\n"
                    "    variants: []\n");
    char *out = UNTOUCHED_STR;
    CHECK_STATUS(cha_deploy_all(h, dir, &out), CHA_ERR_CONFIG);
    CHECK_MESSAGE_HAS("bad-config/feature_flags.yml:6:17: flags.intelligent_pipe_sizing.percentage");
    CHECK_MESSAGE_HAS("150");
    CHECK_MESSAGE_HAS("bad-config/feature_flags.yml:9:14: flags.night_mode.enabled");
    CHECK_MESSAGE_HAS("bad-config/ab_tests.yml:7:15: ab_tests.t.variants");
    CHECK_UNTOUCHED(out);
    CHECK_STATUS(cha_deploy_all_with_options(h, dir, "{\"on_drift\": \"overwrite\"}", &out),
                 CHA_ERR_CONFIG);
    CHECK_UNTOUCHED(out);
    CHECK_STATUS(cha_deploy_plan(h, dir, NULL, &out), CHA_ERR_CONFIG);
    CHECK_MESSAGE_HAS("feature_flags.yml:6:17");
    CHECK_UNTOUCHED(out);
    CHECK_UNCHANGED(h, before);
    CHECK(flag_on(h, "flow_based_calculation", "planner-1"));

    /* A YAML syntax error, with where. */
    make_config_dir(dir, sizeof dir, "syntax-error", "version: 2\nflags:\n  a: [\n", NULL);
    CHECK_STATUS(cha_deploy_all(h, dir, &out), CHA_ERR_CONFIG);
    CHECK_MESSAGE_HAS("syntax-error/feature_flags.yml:3:6: invalid YAML");
    CHECK_UNTOUCHED(out);
    CHECK_UNCHANGED(h, before);
    free_state(&before);

    /* A name that is not a regular file is an error, never skipped. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    check_unusable(h, "folder-config", make_folder, "is a folder");
    check_unusable(h, "link-config", make_dangling_link, "nowhere.yml");
    check_unusable(h, "fifo-config", make_fifo, "FIFO");

    /* A link to a regular file is fine. */
    path_in_work_dir(dir, sizeof dir, "linked-config");
    CHECK(mkdir(dir, 0700) == 0);
    char link[4200], target[4200];
    snprintf(link, sizeof link, "%s/feature_flags.yml", dir);
    snprintf(target, sizeof target, "%s/feature_flags.yml", config_dir);
    CHECK(symlink(target, link) == 0);
    char *plan = NULL;
    CHECK_STATUS(cha_deploy_plan(h, dir, NULL, &plan), CHA_OK);
    CHECK_HAS(plan, "\"files\":[{\"file\":\"feature_flags.yml\",");
    cha_string_free(plan);
    cha_close(h);
}

/* ---- 5, 8: export, rollback, cha_deploy_history and cha_deploy_get ------ */

/* The history lists `newest` down to 1, newest first. */
static void check_history_order(cha_handle *h, long newest) {
    char *json = NULL;
    CHECK_STATUS(cha_deploy_history(h, 100, &json), CHA_OK);
    CHECK(json_array_len(json) == (size_t)newest);
    const char *at = json;
    for (long id = newest; id >= 1 && at != NULL; id--) {
        char entry[64];
        snprintf(entry, sizeof entry, "{\"id\":%ld,\"at_ms\":", id);
        at = strstr(at, entry);
        if (at == NULL) {
            failed++;
            fprintf(stderr, "%s:%d: history lacks deployment %ld in order: %s\n", __FILE__,
                    __LINE__, id, json);
        } else {
            passed++;
        }
    }
    cha_string_free(json);
}

static void test_export_and_rollback(void) {
    cha_handle *h = open_db("rollback.db", NULL);
    char *out = UNTOUCHED_STR;

    /* Nothing to go back to, yet. */
    CHECK_STATUS(cha_deploy_rollback(h, 0, &out), CHA_ERR_NOT_FOUND);
    CHECK_MESSAGE_HAS("no deployment to roll back");
    CHECK_STATUS(cha_deploy_rollback_plan(h, 0, NULL, &out), CHA_ERR_NOT_FOUND);
    CHECK_UNTOUCHED(out);
    char *history = NULL;
    CHECK_STATUS(cha_deploy_history(h, 10, &history), CHA_OK);
    CHECK(history != NULL && strcmp(history, "[]") == 0);
    cha_string_free(history);
    char *empty = export_of(h);
    CHECK(empty != NULL &&
          strcmp(empty, "{\n  \"experiments\": {},\n  \"feedback_settings\": {},\n  \"flags\": {},\n  \"monitoring\": {},\n  \"segments\": {}\n}") == 0);
    cha_string_free(empty);

    char *report = deploy_with(h, config_dir, NULL);
    cha_string_free(report);
    CHECK_STATUS(cha_deploy_rollback(h, 0, &out), CHA_ERR_NOT_FOUND);
    CHECK_MESSAGE_HAS("deployment 1 is in force and there is no deployment before it");
    CHECK_UNTOUCHED(out);

    /* Canonical: sorted keys, two-space indentation, the same bytes twice. */
    char *first = export_of(h);
    char *again = export_of(h);
    CHECK(first != NULL && again != NULL && strcmp(first, again) == 0);
    cha_string_free(again);
    const char *head = "{\n  \"experiments\": {\n    \"flow_calculation_comparison\": {\n";
    CHECK(first != NULL && strncmp(first, head, strlen(head)) == 0);
    CHECK_HAS(first, "\n  \"flags\": {\n    \"cost_optimisation\": {\n");
    CHECK_HAS(first, "\"percentage\": 25.0");

    char dir40[4096];
    make_percentage_dir(dir40, sizeof dir40, "rollback-40", "40");
    report = deploy_with(h, dir40, NULL);
    CHECK_HAS(report, "{\"deployment_id\":2,");
    CHECK_HAS(report, "\"flags\":{\"created\":[],\"updated\":[\"intelligent_pipe_sizing\"],");
    CHECK_HAS(report, "\"fields\":[{\"field\":\"percentage\",\"before\":25.0,\"after\":40.0}],"
                      "\"undoes_drift\":false}");
    cha_string_free(report);
    char *second = export_of(h);
    CHECK(second != NULL && first != NULL && strcmp(first, second) != 0);
    CHECK_HAS(second, "\"percentage\": 40.0");

    /* The rollback plan says what would come back, and writes nothing. */
    struct state before = state_of(h);
    char *plan = NULL;
    CHECK_STATUS(cha_deploy_rollback_plan(h, 0, NULL, &plan), CHA_OK);
    CHECK_HAS(plan, "{\"config_dir\":null,\"rollback_to\":1,\"on_drift\":\"refuse\","
                    "\"last_deployment\":2,");
    CHECK_HAS(plan, "{\"name\":\"intelligent_pipe_sizing\",\"action\":\"update\",\"fields\":"
                    "[{\"field\":\"percentage\",\"before\":40.0,\"after\":25.0}]");
    CHECK_HAS(plan, "\"refused\":[]}");
    cha_string_free(plan);
    /* Options a rollback cannot honour are refused, not ignored: asked to
     * roll back only the tests, it must not plan to roll back the flags. */
    plan = NULL;
    cha_status status = cha_deploy_rollback_plan(h, 0, "{\"subsystems\": [\"ab_tests\"]}", &plan);
    CHECK(status == CHA_ERR_INVALID_ARGUMENT ||
          (status == CHA_OK && plan != NULL &&
           strstr(plan, "\"file\":\"feature_flags.yml\",\"items\":\"flags\",\"included\":false,") != NULL));
    cha_string_free(plan);
    plan = UNTOUCHED_STR;
    CHECK_STATUS(cha_deploy_rollback_plan(h, 0, "{\"subsystems\": [\"nonsense\"]}", &plan),
                 CHA_ERR_INVALID_ARGUMENT);
    CHECK_UNTOUCHED(plan);
    CHECK_UNCHANGED(h, before);
    free_state(&before);

    /* Rollback to the previous deployment: the export comes back byte for byte. */
    char planner[32]; /* in at 40%, out at 25% */
    planner_in_buckets(planner, sizeof planner, SIZING, 2500, 4000);
    CHECK(flag_on(h, SIZING, planner));
    report = NULL;
    CHECK_STATUS(cha_deploy_rollback(h, 0, &report), CHA_OK);
    CHECK_HAS(report, "{\"deployment_id\":3,\"action\":\"rollback\",\"config_dir\":null,"
                      "\"rolled_back_to\":1,");
    CHECK_HAS(report, "\"flags\":{\"created\":[],\"updated\":[\"intelligent_pipe_sizing\"],");
    CHECK_HAS(report, "\"duration_ms\":");
    CHECK_HAS(report, "\"backup\":\"");
    cha_string_free(report);
    char *back = export_of(h);
    CHECK(back != NULL && first != NULL && strcmp(back, first) == 0);
    cha_string_free(back);
    CHECK(!flag_on(h, SIZING, planner));

    /* Deployment 1 is in force again: there is nothing before it. */
    out = UNTOUCHED_STR;
    CHECK_STATUS(cha_deploy_rollback(h, 0, &out), CHA_ERR_NOT_FOUND);
    CHECK_UNTOUCHED(out);

    /* To a named deployment, then 0 steps back from the one in force. */
    report = NULL;
    CHECK_STATUS(cha_deploy_rollback_with_options(h, 2, "{\"actor\": \"ci-bot\"}", &report), CHA_OK);
    CHECK_HAS(report, "\"rolled_back_to\":2,\"actor\":\"ci-bot\",");
    cha_string_free(report);
    back = export_of(h);
    CHECK(back != NULL && second != NULL && strcmp(back, second) == 0);
    cha_string_free(back);
    CHECK(flag_on(h, SIZING, planner));
    report = NULL;
    CHECK_STATUS(cha_deploy_rollback(h, 0, &report), CHA_OK);
    CHECK_HAS(report, "\"rolled_back_to\":1,");
    cha_string_free(report);
    back = export_of(h);
    CHECK(back != NULL && first != NULL && strcmp(back, first) == 0);
    cha_string_free(back);

    /* Ids that are not deployments. */
    before = state_of(h);
    out = UNTOUCHED_STR;
    CHECK_STATUS(cha_deploy_rollback(h, 999, &out), CHA_ERR_NOT_FOUND);
    CHECK_MESSAGE_HAS("deployment 999 does not exist");
    CHECK_UNTOUCHED(out);
    CHECK_STATUS(cha_deploy_rollback_plan(h, 999, NULL, &out), CHA_ERR_NOT_FOUND);
    CHECK_UNTOUCHED(out);
    CHECK_STATUS(cha_deploy_rollback(h, -1, &out), CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("deployment id -1");
    CHECK_UNTOUCHED(out);
    CHECK_STATUS(cha_deploy_rollback_with_options(h, INT64_MIN, NULL, &out),
                 CHA_ERR_INVALID_ARGUMENT);
    CHECK_UNTOUCHED(out);
    CHECK_STATUS(cha_deploy_rollback_plan(h, -5, NULL, &out), CHA_ERR_INVALID_ARGUMENT);
    CHECK_UNTOUCHED(out);
    CHECK_UNCHANGED(h, before);

    /* A rollback refuses to undo drift, as a deploy does. */
    CHECK_STATUS(cha_flag_update(h, SIZING, "{\"percentage\": 60}", "ops"), CHA_OK);
    free_state(&before);
    before = state_of(h);
    CHECK_STATUS(cha_deploy_rollback(h, 2, &out), CHA_ERR_DRIFT);
    CHECK_MESSAGE_HAS("rollback refused");
    CHECK_MESSAGE_HAS("flag `intelligent_pipe_sizing`: undo its runtime change (percentage 60 → 40)");
    CHECK_UNTOUCHED(out);
    CHECK_UNCHANGED(h, before);
    free_state(&before);
    report = NULL;
    CHECK_STATUS(cha_deploy_rollback_with_options(h, 2, "{\"on_drift\": \"overwrite\"}", &report),
                 CHA_OK);
    CHECK_HAS(report, "\"on_drift\":\"overwrite\"");
    cha_string_free(report);
    back = export_of(h);
    CHECK(back != NULL && second != NULL && strcmp(back, second) == 0);
    cha_string_free(back);

    /* The history: newest first, one by id, a limit, an unknown id. */
    long newest = latest_deployment(h);
    CHECK(newest == 6);
    check_history_order(h, newest);
    history = NULL;
    CHECK_STATUS(cha_deploy_history(h, 2, &history), CHA_OK);
    CHECK(json_array_len(history) == 2);
    CHECK(history != NULL && strncmp(history, "[{\"id\":6,", 9) == 0);
    cha_string_free(history);
    history = deployment_json(h, 3);
    CHECK(history != NULL && strncmp(history, "{\"id\":3,", 8) == 0);
    CHECK_HAS(history, "\"action\":\"rollback\",\"config_dir\":null,\"rolled_back_to\":1,");
    cha_string_free(history);
    history = deployment_json(h, 2);
    CHECK_HAS(history, "\"action\":\"deploy\"");
    CHECK_HAS(history, "\"files\":[{\"file\":\"feature_flags.yml\",\"sha256\":\"");
    CHECK_HAS(history, "rollback-40");
    cha_string_free(history);
    out = UNTOUCHED_STR;
    CHECK_STATUS(cha_deploy_get(h, 77, &out), CHA_ERR_NOT_FOUND);
    CHECK_MESSAGE_HAS("deployment 77 does not exist");
    CHECK_UNTOUCHED(out);
    CHECK_STATUS(cha_deploy_get(h, 0, &out), CHA_ERR_INVALID_ARGUMENT);
    CHECK_UNTOUCHED(out);
    CHECK_STATUS(cha_deploy_get(h, -3, &out), CHA_ERR_INVALID_ARGUMENT);
    CHECK_UNTOUCHED(out);
    /* A limit of 0 lists nothing. */
    history = NULL;
    CHECK_STATUS(cha_deploy_history(h, 0, &history), CHA_OK);
    CHECK(history != NULL && strcmp(history, "[]") == 0);
    cha_string_free(history);

    cha_string_free(first);
    cha_string_free(second);
    cha_close(h);
}

/* ---- 6: a rollback keeps collected data ---------------------------------- */

/* The analysis's exposures of both variants of pipe_sizing_comparison. */
static void check_exposures(cha_handle *h, int traditional, int intelligent) {
    char *json = NULL;
    CHECK_STATUS(cha_experiment_analyze(h, PIPE_TEST, &json), CHA_OK);
    char needle[160];
    snprintf(needle, sizeof needle,
             "{\"name\":\"traditional\",\"is_control\":true,\"traffic_percentage\":50.0,"
             "\"exposures\":%d,", traditional);
    CHECK_HAS(json, needle);
    snprintf(needle, sizeof needle,
             "{\"name\":\"intelligent\",\"is_control\":false,\"traffic_percentage\":50.0,"
             "\"exposures\":%d,", intelligent);
    CHECK_HAS(json, needle);
    snprintf(needle, sizeof needle, "\"control\":{\"variant\":\"traditional\",\"n\":%d,",
             traditional);
    CHECK_HAS(json, needle);
    cha_string_free(json);
}

static uint64_t exported_rows(cha_handle *h, const char *name) {
    char path[4096];
    path_in_work_dir(path, sizeof path, name);
    uint64_t rows = 0;
    CHECK_STATUS(cha_experiment_export(h, PIPE_TEST, path, &rows), CHA_OK);
    return rows;
}

static void test_rollback_keeps_data(void) {
    cha_handle *h = open_db("data.db", NULL);
    char *report = deploy_with(h, config_dir, NULL);
    cha_string_free(report);

    enum { UNITS = 200 };
    int traditional = 0;
    for (int i = 0; i < UNITS; i++) {
        char unit[32];
        snprintf(unit, sizeof unit, "network-%03d", i);
        CHECK_STATUS(cha_experiment_record(h, PIPE_TEST, unit, "pipe_cost_efficiency", 40.0 + i % 7),
                     CHA_OK);
        traditional += bucket_of(PIPE_TEST, unit) < 5000;
    }
    CHECK_STATUS(cha_flush(h), CHA_OK);
    check_exposures(h, traditional, UNITS - traditional);
    CHECK(exported_rows(h, "before.csv") == UNITS);

    /* A deployment that drops the test (asked for), then a rollback. */
    char *ab = repository_file("ab_tests.yml");
    const char *rest = strstr(ab, "  flow_calculation_comparison:\n");
    CHECK(rest != NULL);
    size_t size = strlen("version: 1\nab_tests:\n") + strlen(rest ? rest : "") + 1;
    char *without = malloc(size);
    char *flags = repository_file("feature_flags.yml");
    if (without != NULL && rest != NULL) {
        snprintf(without, size, "version: 1\nab_tests:\n%s", rest);
        char dir[4096];
        make_config_dir(dir, sizeof dir, "without-pipe-test", flags, without);
        char *out = UNTOUCHED_STR;
        CHECK_STATUS(cha_deploy_all(h, dir, &out), CHA_ERR_DRIFT);
        CHECK_MESSAGE_HAS("experiment `pipe_sizing_comparison` (deployed before): delete it");
        CHECK_UNTOUCHED(out);
        report = deploy_with(h, dir, "{\"on_drift\": \"overwrite\"}");
        CHECK_HAS(report, "\"removed\":[\"pipe_sizing_comparison\"]");
        cha_string_free(report);
        char *json = UNTOUCHED_STR;
        CHECK_STATUS(cha_experiment_get(h, PIPE_TEST, &json), CHA_ERR_NOT_FOUND);
        CHECK_UNTOUCHED(json);

        report = NULL;
        CHECK_STATUS(cha_deploy_rollback(h, 0, &report), CHA_OK);
        CHECK_HAS(report, "\"experiments\":{\"created\":[\"pipe_sizing_comparison\"],");
        cha_string_free(report);
    }
    free(without);
    free(flags);
    free(ab);

    /* The units and their observations are all still counted, and a unit
     * keeps its variant. */
    check_exposures(h, traditional, UNITS - traditional);
    CHECK(exported_rows(h, "after.csv") == UNITS);
    const char *variant = NULL;
    CHECK_STATUS(cha_experiment_assign(h, PIPE_TEST, "network-000", &variant), CHA_OK);
    CHECK(variant != NULL &&
          strcmp(variant, bucket_of(PIPE_TEST, "network-000") < 5000 ? "traditional"
                                                                     : "intelligent") == 0);
    char *status = NULL;
    CHECK_STATUS(cha_deploy_status(h, &status), CHA_OK);
    char needle[128];
    snprintf(needle, sizeof needle, "\"exposed_units\":{\"intelligent\":%d,\"traditional\":%d},"
             "\"id\":\"pipe_sizing_comparison\"", UNITS - traditional, traditional);
    CHECK_HAS(status, needle);
    cha_string_free(status);
    cha_close(h);
}

/* ---- 9: backups and restore ---------------------------------------------- */

/* Waits up to 5 s for `reader` to see `flag` as `wanted` for `user`. */
static int seen_within(cha_handle *reader, const char *flag, const char *user, bool wanted) {
    for (int i = 0; i < 1000; i++) {
        bool on = !wanted;
        if (cha_flag_enabled(reader, flag, user, NULL, 0, &on) == CHA_OK && on == wanted) {
            return 1;
        }
        struct timespec ts = {0, 5000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
    }
    return 0;
}

static void test_backups(void) {
    char db[4096];
    path_in_work_dir(db, sizeof db, "backups.db");
    cha_handle *h = open_db("backups.db", NULL);
    char *list = NULL;
    CHECK_STATUS(cha_backup_list(h, &list), CHA_OK);
    CHECK(list != NULL && strcmp(list, "[]") == 0);
    cha_string_free(list);

    /* A deploy backs the database up first, beside it, owner-only. */
    char *report = deploy_with(h, config_dir, NULL);
    char backup_path[4200];
    CHECK(json_str(report, "backup", backup_path, sizeof backup_path));
    cha_string_free(report);
    list = NULL;
    CHECK_STATUS(cha_backup_list(h, &list), CHA_OK);
    CHECK(json_array_len(list) == 1);
    CHECK_HAS(list, "[{\"name\":\"backups.db.");
    CHECK_HAS(list, ".deploy.db\",\"path\":\"");
    CHECK_HAS(list, "\"reason\":\"deploy\"");
    char path[4200];
    CHECK(json_str(list, "path", path, sizeof path));
    CHECK(strcmp(path, backup_path) == 0);
    cha_string_free(list);
    char folder[4200];
    snprintf(folder, sizeof folder, "%s-backups/", db);
    CHECK(strncmp(path, folder, strlen(folder)) == 0);
    struct stat st;
    CHECK(stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0600);
    folder[strlen(folder) - 1] = '\0';
    CHECK(stat(folder, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0077) == 0);

    /* Manual backups, named by their reason. */
    char *manual = NULL;
    CHECK_STATUS(cha_backup_create(h, NULL, &manual), CHA_OK);
    CHECK_HAS(manual, "\"reason\":\"manual\"");
    CHECK_HAS(manual, ".manual.db\",\"path\":\"");
    CHECK(json_int(manual, "size_bytes") > 0);
    char at_25[256];
    CHECK(json_str(manual, "name", at_25, sizeof at_25));
    char at_25_path[4200];
    CHECK(json_str(manual, "path", at_25_path, sizeof at_25_path));
    CHECK(stat(at_25_path, &st) == 0 && (st.st_mode & 0777) == 0600);
    cha_string_free(manual);
    char *named = NULL;
    CHECK_STATUS(cha_backup_create(h, "pre-upgrade-2", &named), CHA_OK);
    CHECK_HAS(named, "\"reason\":\"pre-upgrade-2\"");
    cha_string_free(named);
    CHECK(backup_count(h) == 3);
    static const char *const bad_reasons[] = {
        "no spaces!", "", "a-reason-that-is-longer-than-32-c", "r\xc3\xa9sum\xc3\xa9", "../up",
    };
    for (size_t i = 0; i < sizeof bad_reasons / sizeof bad_reasons[0]; i++) {
        char *out = UNTOUCHED_STR;
        CHECK_STATUS(cha_backup_create(h, bad_reasons[i], &out), CHA_ERR_INVALID_ARGUMENT);
        CHECK_MESSAGE_HAS("backup reason");
        CHECK_UNTOUCHED(out);
    }
    CHECK(backup_count(h) == 3);

    /* Restore: the earlier state comes back, here and in another handle. */
    char planner[32]; /* in at 70%, out at 25% */
    planner_in_buckets(planner, sizeof planner, SIZING, 2500, 7000);
    CHECK_STATUS(cha_flag_update(h, SIZING, "{\"percentage\": 70}", "ops"), CHA_OK);
    cha_handle *reader = open_db("backups.db", "{\"refresh_interval_ms\": 50}");
    CHECK(flag_on(reader, SIZING, planner));
    long before_restore = latest_deployment(h);
    report = NULL;
    CHECK_STATUS(cha_backup_restore(h, at_25, "ops", &report), CHA_OK);
    CHECK_HAS(report, "\"action\":\"restore\"");
    CHECK_HAS(report, "\"actor\":\"ops\"");
    CHECK_HAS(report, at_25);
    char taken_first[4200];
    CHECK(json_str(report, "backup", taken_first, sizeof taken_first));
    CHECK(strstr(taken_first, ".restore.db") != NULL);
    cha_string_free(report);
    char *json = flag_json(h, SIZING);
    CHECK_HAS(json, "\"percentage\":25.0");
    cha_string_free(json);
    CHECK(!flag_on(h, SIZING, planner));
    CHECK(seen_within(reader, SIZING, planner, false));
    json = deployment_json(h, latest_deployment(h));
    CHECK_HAS(json, "\"actor\":\"ops\",\"action\":\"restore\"");
    cha_string_free(json);
    CHECK(latest_deployment(h) == before_restore + 1);

    /* What changed since is in the backup taken first: restored by path. */
    report = NULL;
    CHECK_STATUS(cha_backup_restore(h, taken_first, "ops", &report), CHA_OK);
    cha_string_free(report);
    CHECK(flag_on(h, SIZING, planner));
    CHECK(seen_within(reader, SIZING, planner, true));
    /* "latest": the newest backup, the one that restore took (flag off). */
    CHECK_STATUS(cha_backup_restore(h, "latest", "ops", &report), CHA_OK);
    cha_string_free(report);
    CHECK(!flag_on(h, SIZING, planner));
    CHECK(seen_within(reader, SIZING, planner, false));
    /* and again: each restore backs up first, so "latest" undoes the last. */
    CHECK_STATUS(cha_backup_restore(h, "latest", "ops", &report), CHA_OK);
    cha_string_free(report);
    CHECK(flag_on(h, SIZING, planner));
    cha_close(reader);

    /* Failures change nothing. */
    struct state before = state_of(h);
    char *out = UNTOUCHED_STR;
    CHECK_STATUS(cha_backup_restore(h, "backups.db.20260101T000000.000Z.nope.db", "ops", &out),
                 CHA_ERR_NOT_FOUND);
    CHECK_MESSAGE_HAS("backups.db.20260101T000000.000Z.nope.db does not exist");
    CHECK_UNTOUCHED(out);
    CHECK_STATUS(cha_backup_restore(h, at_25, "", &out), CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("actor is empty");
    CHECK_UNTOUCHED(out);
    CHECK_UNCHANGED(h, before);
    CHECK(flag_on(h, SIZING, planner));

    /* Garbage named like a backup: a storage error, nothing changed (not
     * even a new backup, which could push a good one out). */
    char garbage[4400];
    snprintf(garbage, sizeof garbage, "%s/backups.db.20260101T000000.000Z.manual.db", folder);
    CHECK(write_file(garbage, "not a database, whatever its name says; "
                              "not a database, whatever its name says\n"));
    size_t backups = backup_count(h);
    CHECK_STATUS(cha_backup_restore(h, "backups.db.20260101T000000.000Z.manual.db", "ops", &out),
                 CHA_ERR_STORAGE);
    CHECK_MESSAGE_HAS("backups.db.20260101T000000.000Z.manual.db");
    CHECK_UNTOUCHED(out);
    CHECK_UNCHANGED(h, before);
    CHECK(flag_on(h, SIZING, planner));
    CHECK(backup_count(h) == backups);

    /* An empty file named like a backup (what a backup interrupted by a
     * crash leaves) is not a backup either: restoring it would wipe every
     * flag, test and deployment. */
    char hollow[4400];
    snprintf(hollow, sizeof hollow, "%s/backups.db.20260101T000000.001Z.manual.db", folder);
    CHECK(write_file(hollow, ""));
    CHECK_STATUS(cha_backup_restore(h, "backups.db.20260101T000000.001Z.manual.db", "ops", &out),
                 CHA_ERR_STORAGE);
    CHECK_UNTOUCHED(out);
    CHECK_UNCHANGED(h, before);
    free_state(&before);
    cha_close(h);

    /* backups_kept: the newest are kept; a failed restore must not push a
     * good backup out. */
    h = open_db("kept.db", "{\"backups_kept\": 2}");
    report = deploy_with(h, config_dir, NULL);
    char deploy_backup[4200];
    CHECK(json_str(report, "backup", deploy_backup, sizeof deploy_backup));
    cha_string_free(report);
    char *one = NULL;
    CHECK_STATUS(cha_backup_create(h, "one", &one), CHA_OK);
    cha_string_free(one);
    CHECK(backup_count(h) == 2);
    char elsewhere[4096];
    path_in_work_dir(elsewhere, sizeof elsewhere, "garbage.db");
    CHECK(write_file(elsewhere, "not a database either, and not in the backup folder\n"));
    CHECK_STATUS(cha_backup_restore(h, elsewhere, "ops", &out), CHA_ERR_STORAGE);
    CHECK_UNTOUCHED(out);
    list = NULL;
    CHECK_STATUS(cha_backup_list(h, &list), CHA_OK);
    CHECK_HAS(list, deploy_backup);
    cha_string_free(list);
    /* Three more: only the newest two stay. */
    for (int i = 0; i < 3; i++) {
        char *b = NULL;
        CHECK_STATUS(cha_backup_create(h, "more", &b), CHA_OK);
        cha_string_free(b);
    }
    CHECK(backup_count(h) == 2);
    cha_close(h);
}

/* ---- 10: validation without a database ---------------------------------- */

static void test_validate(void) {
    char *json = NULL;
    CHECK_STATUS(cha_config_validate(config_dir, NULL, &json), CHA_OK);
    CHECK(json_array_len(json) == 4);
    CHECK(has_hex_after(json, "{\"file\":\"performance_monitoring.yml\",\"sha256\":\"", 64));
    CHECK(has_hex_after(json, "{\"file\":\"user_feedback.yml\",\"sha256\":\"", 64));
    CHECK(has_hex_after(json, "[{\"file\":\"feature_flags.yml\",\"sha256\":\"", 64));
    CHECK(has_hex_after(json, "{\"file\":\"ab_tests.yml\",\"sha256\":\"", 64));
    CHECK_HAS(json, "\"source_version\":2,");
    CHECK_HAS(json, "\"source_version\":1,");
    cha_string_free(json);

    json = NULL;
    CHECK_STATUS(cha_config_validate(config_dir, "{\"subsystems\": [\"ab_tests\"]}", &json), CHA_OK);
    CHECK(json_array_len(json) == 1);
    CHECK_HAS(json, "[{\"file\":\"ab_tests.yml\",");
    cha_string_free(json);

    /* The SHA-256 of known bytes (sha256sum gives the same). */
    char dir[4096];
    make_config_dir(dir, sizeof dir, "known-hash",
                    "version: 2\nflags:\n  night_mode:\n    type: boolean\n    enabled: true\n",
                    NULL);
    json = NULL;
    CHECK_STATUS(cha_config_validate(dir, NULL, &json), CHA_OK);
    CHECK_HAS(json, "[{\"file\":\"feature_flags.yml\",\"sha256\":"
                    "\"d13c3a614f9532f4fc1c130dfb43bf31e20275b64220545390d410f4a37528b2\","
                    "\"source_version\":2,\"migration\":null}]");
    cha_string_free(json);

    /* The files together: a flag naming a test the tests file lacks. */
    char *ab = repository_file("ab_tests.yml");
    make_config_dir(dir, sizeof dir, "dangling-experiment",
                    "version: 2\nflags:\n  sizing_split:\n    type: a_b_test\n    enabled: true\n"
                    "    experiment: no_such_test\n",
                    ab);
    free(ab);
    char *out = UNTOUCHED_STR;
    CHECK_STATUS(cha_config_validate(dir, NULL, &out), CHA_ERR_CONFIG);
    CHECK_MESSAGE_HAS("no_such_test");
    CHECK_UNTOUCHED(out);

    path_in_work_dir(dir, sizeof dir, "bad-config"); /* made by test_invalid_config */
    CHECK_STATUS(cha_config_validate(dir, NULL, &out), CHA_ERR_CONFIG);
    CHECK_MESSAGE_HAS("bad-config/feature_flags.yml:6:17: flags.intelligent_pipe_sizing.percentage");
    CHECK_MESSAGE_HAS("bad-config/ab_tests.yml:7:15");
    CHECK_UNTOUCHED(out);
    path_in_work_dir(dir, sizeof dir, "no-such-dir");
    CHECK_STATUS(cha_config_validate(dir, NULL, &out), CHA_ERR_NOT_FOUND);
    CHECK_MESSAGE_HAS("no-such-dir");
    CHECK_UNTOUCHED(out);
    CHECK_STATUS(cha_config_validate(config_dir, "{\"subsystems\": [\"nope\"]}", &out),
                 CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("unknown subsystem `nope`");
    CHECK_UNTOUCHED(out);
}

/* ---- 11: NULL, UTF-8 and bad options ------------------------------------ */

static void test_contract(void) {
    CHECK(CHA_ERR_DRIFT == 9);
    CHECK(strcmp(cha_status_name(CHA_ERR_DRIFT), "CHA_ERR_DRIFT") == 0);

    cha_handle *h = open_db("contract.db", NULL);
    char *report = deploy_with(h, config_dir, NULL);
    cha_string_free(report);
    char *backup = NULL;
    CHECK_STATUS(cha_backup_create(h, NULL, &backup), CHA_OK);
    char name[256];
    CHECK(json_str(backup, "name", name, sizeof name));
    cha_string_free(backup);
    struct state before = state_of(h);
    size_t backups = backup_count(h);
    char *json = UNTOUCHED_STR;
    const char *d = config_dir;

#define CHECK_FAILS(call, status, message)                                       \
    do {                                                                         \
        CHECK_STATUS(call, status);                                              \
        CHECK_MESSAGE_HAS(message);                                              \
        CHECK_UNTOUCHED(json);                                                   \
    } while (0)
#define CHECK_NULL(call, message) CHECK_FAILS(call, CHA_ERR_NULL_ARGUMENT, message)

    CHECK_NULL(cha_deploy_all_with_options(NULL, d, NULL, &json),
               "cha_deploy_all_with_options: argument `h` is NULL");
    CHECK_NULL(cha_deploy_all_with_options(h, NULL, NULL, &json),
               "cha_deploy_all_with_options: argument `config_dir` is NULL");
    CHECK_NULL(cha_deploy_all_with_options(h, d, "{\"on_drift\": \"overwrite\"}", NULL),
               "cha_deploy_all_with_options: argument `out_json` is NULL");
    CHECK_NULL(cha_deploy_plan(NULL, d, NULL, &json), "cha_deploy_plan: argument `h` is NULL");
    CHECK_NULL(cha_deploy_plan(h, NULL, NULL, &json), "cha_deploy_plan: argument `config_dir` is NULL");
    CHECK_NULL(cha_deploy_plan(h, d, NULL, NULL), "cha_deploy_plan: argument `out_json` is NULL");
    CHECK_NULL(cha_deploy_rollback(NULL, 0, &json), "cha_deploy_rollback: argument `h` is NULL");
    CHECK_NULL(cha_deploy_rollback(h, 1, NULL), "cha_deploy_rollback: argument `out_json` is NULL");
    CHECK_NULL(cha_deploy_rollback_with_options(NULL, 1, NULL, &json),
               "cha_deploy_rollback_with_options: argument `h` is NULL");
    CHECK_NULL(cha_deploy_rollback_with_options(h, 1, "{\"on_drift\": \"overwrite\"}", NULL),
               "cha_deploy_rollback_with_options: argument `out_json` is NULL");
    CHECK_NULL(cha_deploy_rollback_plan(NULL, 1, NULL, &json),
               "cha_deploy_rollback_plan: argument `h` is NULL");
    CHECK_NULL(cha_deploy_rollback_plan(h, 1, NULL, NULL),
               "cha_deploy_rollback_plan: argument `out_json` is NULL");
    CHECK_NULL(cha_deploy_status(NULL, &json), "cha_deploy_status: argument `h` is NULL");
    CHECK_NULL(cha_deploy_status(h, NULL), "cha_deploy_status: argument `out_json` is NULL");
    CHECK_NULL(cha_deploy_export(NULL, &json), "cha_deploy_export: argument `h` is NULL");
    CHECK_NULL(cha_deploy_export(h, NULL), "cha_deploy_export: argument `out_json` is NULL");
    CHECK_NULL(cha_deploy_history(NULL, 10, &json), "cha_deploy_history: argument `h` is NULL");
    CHECK_NULL(cha_deploy_history(h, 10, NULL), "cha_deploy_history: argument `out_json` is NULL");
    CHECK_NULL(cha_deploy_get(NULL, 1, &json), "cha_deploy_get: argument `h` is NULL");
    CHECK_NULL(cha_deploy_get(h, 1, NULL), "cha_deploy_get: argument `out_json` is NULL");
    CHECK_NULL(cha_backup_create(NULL, NULL, &json), "cha_backup_create: argument `h` is NULL");
    CHECK_NULL(cha_backup_create(h, "manual", NULL), "cha_backup_create: argument `out_json` is NULL");
    CHECK_NULL(cha_backup_list(NULL, &json), "cha_backup_list: argument `h` is NULL");
    CHECK_NULL(cha_backup_list(h, NULL), "cha_backup_list: argument `out_json` is NULL");
    CHECK_NULL(cha_backup_restore(NULL, name, "ops", &json), "cha_backup_restore: argument `h` is NULL");
    CHECK_NULL(cha_backup_restore(h, NULL, "ops", &json), "cha_backup_restore: argument `name` is NULL");
    CHECK_NULL(cha_backup_restore(h, name, NULL, &json), "cha_backup_restore: argument `actor` is NULL");
    CHECK_NULL(cha_backup_restore(h, name, "ops", NULL),
               "cha_backup_restore: argument `out_json` is NULL");
    CHECK_NULL(cha_config_validate(NULL, NULL, &json), "cha_config_validate: argument `config_dir` is NULL");
    CHECK_NULL(cha_config_validate(d, NULL, NULL), "cha_config_validate: argument `out_json` is NULL");
    /* None of them did anything: no deployment, rollback, restore or backup. */
    CHECK_UNCHANGED(h, before);
    CHECK(backup_count(h) == backups);

    /* Invalid UTF-8. */
#define CHECK_UTF8(call, message) CHECK_FAILS(call, CHA_ERR_INVALID_UTF8, message)
    const char *bad_dir = "configs-\xff";
    const char *bad_options = "{\"actor\": \"op\xc3\"}";
    CHECK_UTF8(cha_deploy_all_with_options(h, bad_dir, NULL, &json),
               "cha_deploy_all_with_options: argument `config_dir` is not valid UTF-8");
    CHECK_UTF8(cha_deploy_all_with_options(h, d, bad_options, &json),
               "cha_deploy_all_with_options: argument `options_json` is not valid UTF-8");
    CHECK_UTF8(cha_deploy_plan(h, bad_dir, NULL, &json),
               "cha_deploy_plan: argument `config_dir` is not valid UTF-8");
    CHECK_UTF8(cha_deploy_plan(h, d, bad_options, &json),
               "cha_deploy_plan: argument `options_json` is not valid UTF-8");
    CHECK_UTF8(cha_deploy_rollback_with_options(h, 1, bad_options, &json),
               "cha_deploy_rollback_with_options: argument `options_json` is not valid UTF-8");
    CHECK_UTF8(cha_deploy_rollback_plan(h, 1, bad_options, &json),
               "cha_deploy_rollback_plan: argument `options_json` is not valid UTF-8");
    CHECK_UTF8(cha_backup_create(h, "manual-\xfe", &json),
               "cha_backup_create: argument `reason` is not valid UTF-8");
    CHECK_UTF8(cha_backup_restore(h, "backup-\xff.db", "ops", &json),
               "cha_backup_restore: argument `name` is not valid UTF-8");
    CHECK_UTF8(cha_backup_restore(h, name, "op\xc3", &json),
               "cha_backup_restore: argument `actor` is not valid UTF-8");
    CHECK_UTF8(cha_config_validate(bad_dir, NULL, &json),
               "cha_config_validate: argument `config_dir` is not valid UTF-8");
    CHECK_UTF8(cha_config_validate(d, bad_options, &json),
               "cha_config_validate: argument `options_json` is not valid UTF-8");

    /* options_json that is not an object. */
#define CHECK_NOT_OBJECT(call, message)                                          \
    CHECK_FAILS(call, CHA_ERR_INVALID_ARGUMENT, message ": deploy options: expected a JSON object")
    CHECK_NOT_OBJECT(cha_deploy_all_with_options(h, d, "[1]", &json), "cha_deploy_all_with_options");
    CHECK_NOT_OBJECT(cha_deploy_plan(h, d, "[1]", &json), "cha_deploy_plan");
    CHECK_NOT_OBJECT(cha_deploy_rollback_with_options(h, 1, "[1]", &json),
                     "cha_deploy_rollback_with_options");
    CHECK_NOT_OBJECT(cha_deploy_rollback_plan(h, 1, "[1]", &json), "cha_deploy_rollback_plan");
    CHECK_NOT_OBJECT(cha_config_validate(d, "[1]", &json), "cha_config_validate");
    CHECK_FAILS(cha_deploy_rollback_with_options(h, 1, "{\"on_drift\": \"maybe\"}", &json),
                CHA_ERR_INVALID_ARGUMENT, "unknown variant `maybe`");
#undef CHECK_NOT_OBJECT
#undef CHECK_UTF8
#undef CHECK_NULL
#undef CHECK_FAILS
    CHECK_UNCHANGED(h, before);
    CHECK(backup_count(h) == backups);
    free_state(&before);
    cha_close(h);
}

/* A rollout held by hand (and lifted) from C: the same planners stay in
 * while held, whatever the percentage says; a guardrail check with nothing
 * guarded stops nothing. */
static void test_rollout_hold(void) {
    cha_handle *h = open_db("hold.db", NULL);
    char *report = deploy_with(h, config_dir, NULL);
    cha_string_free(report);
    char planner[32]; /* in at 60%, out at 25% */
    planner_in_buckets(planner, sizeof planner, SIZING, 2500, 6000);

    char *change = UNTOUCHED_STR;
    CHECK_STATUS(cha_flag_pause_rollout(h, SIZING, "winter peak", "ops", &change), CHA_OK);
    CHECK_HAS(change, "\"hold\":{\"percentage\":25.0,\"action\":\"pause\",\"reason\":\"winter peak\"");
    cha_string_free(change);
    CHECK_STATUS(cha_flag_update(h, SIZING, "{\"percentage\": 60}", "ops"), CHA_OK);
    CHECK(!flag_on(h, SIZING, planner));
    change = UNTOUCHED_STR;
    CHECK_STATUS(cha_flag_pause_rollout(h, SIZING, NULL, "ops", &change), CHA_ERR_INVALID_ARGUMENT);
    CHECK_UNTOUCHED(change);
    CHECK_MESSAGE_HAS("is held already");
    CHECK_STATUS(cha_flag_resume_rollout(h, SIZING, "ops", &change), CHA_OK);
    cha_string_free(change);
    CHECK(flag_on(h, SIZING, planner));
    change = UNTOUCHED_STR;
    CHECK_STATUS(cha_flag_resume_rollout(h, SIZING, "ops", &change), CHA_ERR_INVALID_ARGUMENT);
    CHECK_UNTOUCHED(change);
    CHECK_STATUS(cha_flag_pause_rollout(h, "new_ui", NULL, "ops", &change), CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("no rollout in progress");
    CHECK_STATUS(cha_flag_pause_rollout(h, "nope", NULL, "ops", &change), CHA_ERR_NOT_FOUND);
    CHECK_UNTOUCHED(change);

    char *events = UNTOUCHED_STR;
    CHECK_STATUS(cha_guardrails_check(h, 0, &events), CHA_OK);
    CHECK(events != NULL && strcmp(events, "[]") == 0);
    cha_string_free(events);

    /* The contract: NULLs and invalid UTF-8 change nothing. */
    events = UNTOUCHED_STR;
    CHECK_STATUS(cha_guardrails_check(NULL, 0, &events), CHA_ERR_NULL_ARGUMENT);
    CHECK_STATUS(cha_guardrails_check(h, 0, NULL), CHA_ERR_NULL_ARGUMENT);
    CHECK_UNTOUCHED(events);
    CHECK_STATUS(cha_flag_pause_rollout(NULL, SIZING, NULL, "ops", &change), CHA_ERR_NULL_ARGUMENT);
    CHECK_STATUS(cha_flag_pause_rollout(h, NULL, NULL, "ops", &change), CHA_ERR_NULL_ARGUMENT);
    CHECK_STATUS(cha_flag_pause_rollout(h, SIZING, NULL, NULL, &change), CHA_ERR_NULL_ARGUMENT);
    CHECK_STATUS(cha_flag_pause_rollout(h, SIZING, "\xff", "ops", &change), CHA_ERR_INVALID_UTF8);
    CHECK_STATUS(cha_flag_resume_rollout(h, SIZING, "ops", NULL), CHA_ERR_NULL_ARGUMENT);
    CHECK_STATUS(cha_flag_resume_rollout(h, "\xff", "ops", &change), CHA_ERR_INVALID_UTF8);
    CHECK_UNTOUCHED(change);
    cha_close(h);
}

int main(int argc, char **argv) {
    harness_dirs(argc, argv, &work_dir, &config_dir);
    /* Absolute, so that a symbolic link made elsewhere can point into it. */
    char cwd[4096], absolute[8200];
    if (config_dir[0] != '/') {
        if (getcwd(cwd, sizeof cwd) == NULL) {
            fprintf(stderr, "cannot find the current folder\n");
            return 2;
        }
        snprintf(absolute, sizeof absolute, "%s/%s", cwd, config_dir);
        config_dir = absolute;
    }

    test_drift();
    test_options();
    test_invalid_config();
    test_export_and_rollback();
    test_rollback_keeps_data();
    test_backups();
    test_validate();
    test_contract();
    test_rollout_hold();

    return harness_summary("test_deploy");
}

/*
 * test_config.c: configuration management through the C ABI as a C tool
 * uses it: the template of each subsystem (cha_config_template_for), written
 * to a folder that validates and deploys, and the migration of an older
 * feature_flags.yml (cha_config_migrate); with NULL, non-UTF-8, unknown
 * subsystems and missing or invalid files.
 *
 * Run by tests/c_abi.rs as `test_config WORK_DIR`, where WORK_DIR is an
 * empty folder for its files. Prints one line per failed check and a
 * summary; exits non-zero if any check failed.
 */
#define _POSIX_C_SOURCE 200809L

#include "cha_deploy.h"
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A pointer no call returns: an out-pointer must keep it after a failure. */
static char untouched_text[] = "untouched";
#define UNTOUCHED_STR untouched_text

static const char *work_dir;

/* The version 1 feature_flags.yml of the seed: the shape cha_config_migrate
 * brings to version 2. */
static const char *const flags_v1 =
    "feature_flags:\n"
    "  intelligent_pipe_sizing:\n"
    "    name: Intelligent Pipe Sizing\n"
    "    flag_type: percentage\n"
    "    enabled: true\n"
    "    rollout_percentage: 25.0\n"
    "    target_groups: [beta_testers]\n"
    "    component: pipe_sizing\n"
    "  new_ui:\n"
    "    flag_type: user_group\n"
    "    enabled: true\n"
    "    target_groups: [\"no\", \"007\"]\n";

/* Writes WORK_DIR/name into `buf`. */
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

/* The file's text (free it), or NULL. */
static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    char *text = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        if (size >= 0 && fseek(f, 0, SEEK_SET) == 0) {
            text = malloc((size_t)size + 1);
            if (text != NULL) {
                size_t got = fread(text, 1, (size_t)size, f);
                text[got] = '\0';
            }
        }
    }
    fclose(f);
    return text;
}

/* Each template validates and deploys; a folder of both does too. */
static void test_templates(void) {
    static const struct {
        const char *subsystem;
        const char *file;
        const char *marker;
    } subsystems[] = {
        {"feature_flags", "feature_flags.yml", "version: 2"},
        {"ab-tests", "ab_tests.yml", "ab_tests:"},
        {"user-feedback", "user_feedback.yml", "feedback_categories:"},
    };
    static const char *const types[] = {NULL, "cha_intelligent_sizing", "minimal"};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        char dir[4096];
        char name[64];
        snprintf(name, sizeof name, "templates-%zu", t);
        path_in_work_dir(dir, sizeof dir, name);
        CHECK(mkdir(dir, 0700) == 0);
        for (size_t s = 0; s < sizeof subsystems / sizeof subsystems[0]; s++) {
            char *yaml = NULL;
            CHECK_STATUS(cha_config_template_for(subsystems[s].subsystem, "Pilot network",
                                                 types[t], &yaml),
                         CHA_OK);
            CHECK_HAS(yaml, "# Pilot network: ");
            CHECK_HAS(yaml, subsystems[s].marker);
            char file[4200];
            snprintf(file, sizeof file, "%s/%s", dir, subsystems[s].file);
            CHECK(yaml != NULL && write_file(file, yaml));
            cha_string_free(yaml);
        }
        char *files = NULL;
        CHECK_STATUS(cha_config_validate(dir, NULL, &files), CHA_OK);
        CHECK_HAS(files, "\"feature_flags.yml\"");
        CHECK_HAS(files, "\"ab_tests.yml\"");
        CHECK_HAS(files, "\"user_feedback.yml\"");
        cha_string_free(files);

        char db[4096];
        snprintf(name, sizeof name, "templates-%zu.db", t);
        path_in_work_dir(db, sizeof db, name);
        cha_handle *h = NULL;
        CHECK_STATUS(cha_open(db, &h), CHA_OK);
        char *report = NULL;
        CHECK_STATUS(cha_deploy_all(h, dir, &report), CHA_OK);
        CHECK_HAS(report, "\"pipe_sizing_comparison\"");
        CHECK_HAS(report, "\"intelligent_pipe_sizing\"");
        cha_string_free(report);
        cha_close(h);
    }

    /* The feature-flag template is the one cha_config_template gives. */
    char *old = NULL;
    char *fresh = NULL;
    CHECK_STATUS(cha_config_template("t", "minimal", &old), CHA_OK);
    CHECK_STATUS(cha_config_template_for("feature-flags", "t", "minimal", &fresh), CHA_OK);
    CHECK(old != NULL && fresh != NULL && strcmp(old, fresh) == 0);
    cha_string_free(old);
    cha_string_free(fresh);
}

static void test_template_errors(void) {
    char *yaml = UNTOUCHED_STR;
    CHECK_STATUS(cha_config_template_for("flagz", "t", NULL, &yaml), CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS(
        "unknown subsystem `flagz` (known: feature_flags, ab_tests, performance_monitoring, user_feedback)");
    CHECK(yaml == UNTOUCHED_STR);
    CHECK_STATUS(cha_config_template_for("ab_tests", "t", "maximal", &yaml),
                 CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("unknown config type `maximal`");
    CHECK(yaml == UNTOUCHED_STR);

    CHECK_STATUS(cha_config_template_for(NULL, "t", NULL, &yaml), CHA_ERR_NULL_ARGUMENT);
    CHECK_MESSAGE_HAS("cha_config_template_for: argument `subsystem` is NULL");
    CHECK_STATUS(cha_config_template_for("ab_tests", NULL, NULL, &yaml), CHA_ERR_NULL_ARGUMENT);
    CHECK_MESSAGE_HAS("argument `template_name` is NULL");
    CHECK_STATUS(cha_config_template_for("ab_tests", "t", NULL, NULL), CHA_ERR_NULL_ARGUMENT);
    CHECK_MESSAGE_HAS("argument `out_yaml` is NULL");
    CHECK_STATUS(cha_config_template_for("ab_\xff", "t", NULL, &yaml), CHA_ERR_INVALID_UTF8);
    CHECK_MESSAGE_HAS("argument `subsystem` is not valid UTF-8");
    CHECK_STATUS(cha_config_template_for("ab_tests", "t", "min\xff", &yaml),
                 CHA_ERR_INVALID_UTF8);
    CHECK_MESSAGE_HAS("argument `config_type` is not valid UTF-8");
    CHECK(yaml == UNTOUCHED_STR);
}

static void test_migrate(void) {
    char dir[4096];
    path_in_work_dir(dir, sizeof dir, "migrate");
    CHECK(mkdir(dir, 0700) == 0);
    char file[4200];
    snprintf(file, sizeof file, "%s/feature_flags.yml", dir);
    CHECK(write_file(file, flags_v1));

    char *json = NULL;
    CHECK_STATUS(cha_config_migrate(file, &json), CHA_OK);
    CHECK_HAS(json, "\"from_version\":1");
    CHECK_HAS(json, "\"to_version\":2");
    CHECK_HAS(json, "\"rollout_percentage → percentage\"");
    CHECK_HAS(json, "\"component → metadata.component\"");
    CHECK_HAS(json, "version: 2\\nflags:\\n  intelligent_pipe_sizing:\\n    type: percentage\\n");
    /* Strings YAML would read as something else stay strings. */
    CHECK_HAS(json, "include_groups: [\\\"no\\\", \\\"007\\\"]");
    cha_string_free(json);
    /* Nothing is written: the file is as it was. */
    char *text = read_file(file);
    CHECK(text != NULL && strcmp(text, flags_v1) == 0);
    free(text);

    /* A current file: no report, its text unchanged. */
    char current[4200];
    snprintf(current, sizeof current, "%s/ab_tests.yml", dir);
    char *yaml = NULL;
    CHECK_STATUS(cha_config_template_for("ab_tests", "t", "minimal", &yaml), CHA_OK);
    CHECK(yaml != NULL && write_file(current, yaml));
    cha_string_free(yaml);
    CHECK_STATUS(cha_config_migrate(current, &json), CHA_OK);
    CHECK_HAS(json, "\"from_version\":1");
    CHECK_HAS(json, "\"to_version\":1");
    CHECK_HAS(json, "\"report\":null");
    cha_string_free(json);
}

static void test_migrate_errors(void) {
    char path[4096];
    char *json = UNTOUCHED_STR;
    path_in_work_dir(path, sizeof path, "missing/feature_flags.yml");
    CHECK_STATUS(cha_config_migrate(path, &json), CHA_ERR_NOT_FOUND);
    CHECK_MESSAGE_HAS("cha_config_migrate: ");
    CHECK_MESSAGE_HAS("no such config file");

    path_in_work_dir(path, sizeof path, "bad_flags.yml");
    CHECK(write_file(path, "feature_flags:\n"
                           "  a:\n"
                           "    flag_type: percentage\n"
                           "    rollout_percentage: 150\n"
                           "  b:\n"
                           "    flag_type: sometimes\n"));
    CHECK_STATUS(cha_config_migrate(path, &json), CHA_ERR_CONFIG);
    CHECK_MESSAGE_HAS("2 configuration problems");
    CHECK_MESSAGE_HAS("bad_flags.yml:4:25: flags.a.percentage: must be between 0 and 100");
    CHECK_MESSAGE_HAS("flags.b.type: unknown flag type `sometimes`");

    path_in_work_dir(path, sizeof path, "notes.yml");
    CHECK(write_file(path, "shopping: [milk]\n"));
    CHECK_STATUS(cha_config_migrate(path, &json), CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("not a config file cha-deploy knows");

    CHECK_STATUS(cha_config_migrate(NULL, &json), CHA_ERR_NULL_ARGUMENT);
    CHECK_MESSAGE_HAS("cha_config_migrate: argument `path` is NULL");
    CHECK_STATUS(cha_config_migrate(path, NULL), CHA_ERR_NULL_ARGUMENT);
    CHECK_MESSAGE_HAS("argument `out_json` is NULL");
    CHECK_STATUS(cha_config_migrate("flags-\xff.yml", &json), CHA_ERR_INVALID_UTF8);
    CHECK_MESSAGE_HAS("argument `path` is not valid UTF-8");
    CHECK(json == UNTOUCHED_STR);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s WORK_DIR\n", argv[0]);
        return 2;
    }
    work_dir = argv[1];
    test_templates();
    test_template_errors();
    test_migrate();
    test_migrate_errors();
    return harness_summary("test_config");
}

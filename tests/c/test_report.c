/*
 * test_report.c: the deployment report through the C ABI
 * (cha_deploy_report), as a legacy C tool asks for it:
 *
 * - returned as text (output_path NULL) in each format, JSON by default;
 * - written to a file in the format its extension names, or the one given,
 *   with {"path", "format", "bytes"} back (or nothing, out_json NULL);
 * - the contract: a NULL handle, a NULL out_json without a path, invalid
 *   UTF-8, an unknown format, an extension that names none, a folder in
 *   the way and a missing folder, each with its status, the out-pointer
 *   untouched and nothing written.
 *
 * Run by tests/c_abi.rs as `test_report WORK_DIR [CONFIG_DIR]`; CONFIG_DIR
 * defaults to the repository's configs/ (found from __FILE__). Every
 * returned string is freed: LeakSanitizer runs.
 */
#define _POSIX_C_SOURCE 200809L

#include "cha_deploy.h"
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char untouched_text[] = "untouched";
#define UNTOUCHED_STR untouched_text

static const char *work_dir;

static const char *in_work_dir(char *buf, size_t size, const char *name) {
    snprintf(buf, size, "%s/%s", work_dir, name);
    return buf;
}

/* The text of the file at `path` (freed by the caller), or NULL. */
static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)n + 1);
    if (text != NULL && fread(text, 1, (size_t)n, f) == (size_t)n) {
        text[n] = '\0';
    } else {
        free(text);
        text = NULL;
    }
    fclose(f);
    return text;
}

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static void test_returned_text(cha_handle *h) {
    char *out = NULL;
    CHECK_STATUS(cha_deploy_report(h, NULL, NULL, &out), CHA_OK);
    /* The report as a document: indented JSON. */
    CHECK_HAS(out, "\"title\": \"Deployment report\"");
    CHECK_HAS(out, "\"rollouts\": [");
    CHECK_HAS(out, "\"flag\": \"intelligent_pipe_sizing\"");
    cha_string_free(out);

    out = NULL;
    CHECK_STATUS(cha_deploy_report(h, "md", NULL, &out), CHA_OK);
    CHECK(out != NULL && strncmp(out, "# Deployment report\n", 20) == 0);
    CHECK_HAS(out, "## Rollouts");
    cha_string_free(out);

    out = NULL;
    CHECK_STATUS(cha_deploy_report(h, "HTML", NULL, &out), CHA_OK);
    CHECK(out != NULL && strncmp(out, "<!DOCTYPE html>", 15) == 0);
    CHECK_HAS(out, "<svg class=\"chart\"");
    CHECK(out != NULL && strstr(out, "<script") == NULL);
    cha_string_free(out);
}

static void test_files(cha_handle *h) {
    char path[4096];
    char *out = NULL;
    CHECK_STATUS(cha_deploy_report(h, NULL, in_work_dir(path, sizeof path, "r.html"), &out),
                 CHA_OK);
    CHECK_HAS(out, "\"format\":\"html\"");
    CHECK_HAS(out, "r.html\"");
    cha_string_free(out);
    char *text = read_file(path);
    CHECK(text != NULL && strncmp(text, "<!DOCTYPE html>", 15) == 0);
    free(text);

    /* The format given wins over the extension; out_json may be NULL. */
    CHECK_STATUS(cha_deploy_report(h, "md", in_work_dir(path, sizeof path, "r.html"), NULL),
                 CHA_OK);
    text = read_file(path);
    CHECK(text != NULL && strncmp(text, "# Deployment report", 19) == 0);
    free(text);

    out = NULL;
    CHECK_STATUS(cha_deploy_report(h, NULL, in_work_dir(path, sizeof path, "r.json"), &out),
                 CHA_OK);
    CHECK_HAS(out, "\"format\":\"json\"");
    cha_string_free(out);
    text = read_file(path);
    CHECK(text != NULL && text[0] == '{');
    free(text);
}

static void test_contract(cha_handle *h) {
    char path[4096];
    char *out = UNTOUCHED_STR;

    CHECK_STATUS(cha_deploy_report(NULL, "json", NULL, &out), CHA_ERR_NULL_ARGUMENT);
    CHECK_MESSAGE_HAS("cha_deploy_report: argument `h` is NULL");
    CHECK(out == UNTOUCHED_STR);

    /* Without a path the report comes back: out_json is required. */
    CHECK_STATUS(cha_deploy_report(h, "json", NULL, NULL), CHA_ERR_NULL_ARGUMENT);
    CHECK_MESSAGE_HAS("`out_json` is NULL");

    CHECK_STATUS(cha_deploy_report(h, "pdf", NULL, &out), CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("unknown report format `pdf` (known: html, md, json)");
    CHECK(out == UNTOUCHED_STR);

    CHECK_STATUS(cha_deploy_report(h, "ht\xffml", NULL, &out), CHA_ERR_INVALID_UTF8);
    CHECK_MESSAGE_HAS("`format`");
    CHECK_STATUS(cha_deploy_report(h, NULL, "r\xff.html", &out), CHA_ERR_INVALID_UTF8);
    CHECK_MESSAGE_HAS("`output_path`");
    CHECK(out == UNTOUCHED_STR);

    CHECK_STATUS(cha_deploy_report(h, NULL, in_work_dir(path, sizeof path, "r.txt"), &out),
                 CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS(".html, .md or .json");
    CHECK(!exists(path));

    CHECK_STATUS(cha_deploy_report(h, "html", work_dir, &out), CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("not a regular file");

    CHECK_STATUS(
        cha_deploy_report(h, NULL, in_work_dir(path, sizeof path, "missing/r.html"), &out),
        CHA_ERR_STORAGE);
    CHECK_MESSAGE_HAS("missing/r.html");
    CHECK(out == UNTOUCHED_STR);
}

int main(int argc, char **argv) {
    const char *config_dir = NULL;
    harness_dirs(argc, argv, &work_dir, &config_dir);
    char db[4096];
    cha_handle *h = NULL;
    CHECK_STATUS(cha_open(in_work_dir(db, sizeof db, "report.db"), &h), CHA_OK);
    if (h == NULL) {
        return harness_summary("test_report");
    }
    char *deployed = NULL;
    CHECK_STATUS(cha_deploy_all(h, config_dir, &deployed), CHA_OK);
    cha_string_free(deployed);

    test_returned_text(h);
    test_files(h);
    test_contract(h);

    cha_close(h);
    return harness_summary("test_report");
}

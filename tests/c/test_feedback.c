/*
 * test_feedback.c: user feedback through the C ABI, as a C simulation tool
 * sends it: deploying the repository's configs/ (user_feedback.yml among
 * them), submitting items (cha_feedback_submit) and reading them back with
 * their sentiment, priority, route and status (cha_feedback_get), every
 * refusal of bad input (which stores nothing), the workflow
 * (cha_feedback_set_status, cha_feedback_transition), merging
 * near-duplicates (on arrival and cha_feedback_merge), lists and the
 * analysis (cha_feedback_analyze and _with_options).
 *
 * Run by tests/c_abi.rs as `test_feedback WORK_DIR [CONFIG_DIR]`.
 * CONFIG_DIR defaults to the configs/ folder of the repository this file is
 * in (found from __FILE__). Every returned string is freed: LeakSanitizer
 * runs. Out-pointers must keep their value after a failed call.
 */
#define _POSIX_C_SOURCE 200809L

#include "cha_deploy.h"
#include "harness.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char untouched_text[] = "untouched";
#define UNTOUCHED_STR untouched_text
#define UNTOUCHED_ID ((int64_t)-4242)

static const char *work_dir;
static const char *config_dir;

static cha_handle *open_db(const char *name) {
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/%s", work_dir, name);
    if (n < 0 || (size_t)n >= sizeof path) {
        fprintf(stderr, "path too long\n");
        exit(2);
    }
    cha_handle *h = NULL;
    CHECK_STATUS(cha_open(path, &h), CHA_OK);
    if (h == NULL) {
        fprintf(stderr, "cannot open %s: %s\n", path, last_error_or("?"));
        exit(2);
    }
    return h;
}

/* Submits `json`, which must be accepted; returns the new id (or -1). */
static int64_t submit(cha_handle *h, const char *json) {
    int64_t id = UNTOUCHED_ID;
    CHECK_STATUS(cha_feedback_submit(h, json, &id), CHA_OK);
    return id == UNTOUCHED_ID ? -1 : id;
}

/* The item `id` as JSON (free it), or NULL. */
static char *get(cha_handle *h, int64_t id) {
    char *json = NULL;
    CHECK_STATUS(cha_feedback_get(h, id, &json), CHA_OK);
    return json;
}

/* How many items a list with `query` returns (counted by their "id" keys). */
static int listed(cha_handle *h, const char *query) {
    char *json = NULL;
    CHECK_STATUS(cha_feedback_list(h, query, &json), CHA_OK);
    int count = 0;
    for (const char *p = json; p != NULL && (p = strstr(p, "{\"id\":")) != NULL; p++) {
        count++;
    }
    cha_string_free(json);
    return count;
}

static void test_submit_and_get(cha_handle *h) {
    int64_t id = submit(h,
                        "{\"type\": \"bug_report\", \"user_id\": \"planner-042\","
                        " \"text\": \"The app crashes when I import a GIS network with 5000 pipes."
                        " Call me: +49 30 1234567\","
                        " \"context\": {\"network_id\": \"north-7\", \"app_version\": \"2.4.1\"}}");
    CHECK(id > 0);
    char *json = get(h, id);
    CHECK_HAS(json, "\"type\":\"bug_report\"");
    CHECK_HAS(json, "5000 pipes. Call me: [phone]\"");
    CHECK_HAS(json, "\"redacted\":true");
    CHECK_HAS(json, "\"sentiment\":{\"score\":-");
    CHECK_HAS(json, "\"label\":\"negative\"}");
    CHECK_HAS(json, "\"priority\":\"critical\"");
    CHECK_HAS(json, "\"route\":{\"queue\":\"sizing-oncall\"}");
    CHECK_HAS(json, "\"status\":\"new\"");
    CHECK_HAS(json, "\"category\":\"data_exchange\"");
    CHECK_HAS(json, "\"context\":{\"app_version\":\"2.4.1\",\"network_id\":\"north-7\"}");
    CHECK_HAS(json, "\"flags\":{\"cost_optimisation\":{\"enabled\":");
    CHECK_HAS(json, "\"history\":[{\"at_ms\":");
    CHECK_HAS(json, "\"actor\":\"planner-042\",\"from\":null,\"to\":\"new\"");
    CHECK_HAS(json, "Thank you for reporting this bug, planner-042.");
    cha_string_free(json);

    /* A survey with its rating; a positive text. */
    id = submit(h, "{\"type\": \"satisfaction_survey\", \"user_id\": \"u2\", \"rating\": 5,"
                   " \"text\": \"Excellent, the new sizing saves time on every project!\"}");
    json = get(h, id);
    CHECK_HAS(json, "\"rating\":5");
    CHECK_HAS(json, "\"label\":\"positive\"}");
    CHECK_HAS(json, "\"priority\":\"low\"");
    CHECK_HAS(json, "\"route\":{\"queue\":\"product-team\"}");
    cha_string_free(json);
}

/* A whole-number user id is its decimal digits, in a submission and in a
 * query. Run last: the other tests count the items. */
static void test_whole_number_user_id(cha_handle *h) {
    int64_t id = submit(h, "{\"type\": \"general_feedback\", \"user_id\": 4711, \"text\": \"fine\"}");
    char *json = get(h, id);
    CHECK_HAS(json, "\"user_id\":\"4711\"");
    cha_string_free(json);
    json = NULL;
    CHECK_STATUS(cha_feedback_list(h, "{\"user_id\": 4711}", &json), CHA_OK);
    CHECK_HAS(json, "\"user_id\":\"4711\"");
    cha_string_free(json);
}

/* Each bad submission: its status, its message, nothing stored. */
static void test_refusals(cha_handle *h) {
    int before = listed(h, "{\"limit\": 1000}");
    int64_t id = UNTOUCHED_ID;

#define REFUSED(json, status, message)                                           \
    do {                                                                         \
        CHECK_STATUS(cha_feedback_submit(h, (json), &id), (status));             \
        CHECK_MESSAGE_HAS(message);                                              \
        CHECK(id == UNTOUCHED_ID);                                               \
    } while (0)

    REFUSED("{\"type\": \"bug_report\", \"text\": \"x\", \"user_id\": 1.5}",
            CHA_ERR_INVALID_ARGUMENT,
            "cha_feedback_submit: feedback.user_id: expected a string or a whole number, found a number");
    REFUSED("{\"type\": \"complaint\", \"text\": \"x\", \"user_id\": \"u\"}",
            CHA_ERR_INVALID_ARGUMENT,
            "cha_feedback_submit: feedback.type `complaint` is not a feedback type");
    REFUSED("{\"type\": \"bug_report\", \"text\": \"x\", \"user_id\": \"u\", \"rating\": 0}",
            CHA_ERR_INVALID_ARGUMENT, "feedback.rating must be a whole number from 1 to 5, not 0");
    REFUSED("{\"type\": \"bug_report\", \"text\": \"x\", \"user_id\": \"u\", \"rating\": 6}",
            CHA_ERR_INVALID_ARGUMENT, "feedback.rating must be a whole number from 1 to 5, not 6");
    REFUSED("{\"type\": \"bug_report\", \"text\": \"   \", \"user_id\": \"u\"}",
            CHA_ERR_INVALID_ARGUMENT, "feedback.text is empty");
    REFUSED("{\"type\": \"bug_report\", \"text\": \"x\", \"user_id\": \"u\", \"context\": 7}",
            CHA_ERR_INVALID_ARGUMENT, "feedback.context must be a JSON object");
    REFUSED("{\"type\": \"satisfaction_survey\", \"text\": \"x\", \"user_id\": \"u\"}",
            CHA_ERR_INVALID_ARGUMENT, "a satisfaction_survey needs a rating from 1 to 5");
    REFUSED("{\"type\": \"bug_report\", \"text\": \"x\", \"user_id\": \"u\", \"category\": \"x\"}",
            CHA_ERR_INVALID_ARGUMENT, "feedback.category `x` is not a configured category");
    REFUSED("not json", CHA_ERR_INVALID_ARGUMENT, "feedback is not valid JSON");
    REFUSED("{\"type\": \"bug_report\", \"text\": \"bad \xff byte\", \"user_id\": \"u\"}",
            CHA_ERR_INVALID_UTF8,
            "cha_feedback_submit: argument `feedback_json` is not valid UTF-8 (bad byte at offset 36)");

    /* Text over 64 KiB. */
    size_t size = 64 * 1024 + 1;
    const char *head = "{\"type\": \"bug_report\", \"user_id\": \"u\", \"text\": \"";
    char *big = malloc(strlen(head) + size + 3);
    if (big == NULL) {
        exit(2);
    }
    strcpy(big, head);
    memset(big + strlen(head), 'x', size);
    strcpy(big + strlen(head) + size, "\"}");
    REFUSED(big, CHA_ERR_INVALID_ARGUMENT,
            "feedback.text is 65537 bytes, more than the 65536 bytes (64 KiB)");
    free(big);

    REFUSED(NULL, CHA_ERR_NULL_ARGUMENT, "cha_feedback_submit: argument `feedback_json` is NULL");
    CHECK_STATUS(cha_feedback_submit(NULL, "{}", &id), CHA_ERR_NULL_ARGUMENT);
    CHECK_MESSAGE_HAS("argument `h` is NULL");
    CHECK_STATUS(cha_feedback_submit(h, "{\"type\": \"bug_report\", \"text\": \"x\", \"user_id\": \"u\"}", NULL),
                 CHA_ERR_NULL_ARGUMENT);
    CHECK_MESSAGE_HAS("argument `out_id` is NULL");
#undef REFUSED

    CHECK(listed(h, "{\"limit\": 1000}") == before);
}

static void test_get_and_list_errors(cha_handle *h) {
    char *json = UNTOUCHED_STR;
    CHECK_STATUS(cha_feedback_get(h, 999999, &json), CHA_ERR_NOT_FOUND);
    CHECK_MESSAGE_HAS("cha_feedback_get: feedback #999999 does not exist");
    CHECK(json == UNTOUCHED_STR);
    CHECK_STATUS(cha_feedback_get(h, 1, NULL), CHA_ERR_NULL_ARGUMENT);
    CHECK_STATUS(cha_feedback_get(NULL, 1, &json), CHA_ERR_NULL_ARGUMENT);
    CHECK_STATUS(cha_feedback_list(h, "{\"colour\": 1}", &json), CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("cha_feedback_list: feedback query: unknown field `colour`");
    CHECK_STATUS(cha_feedback_list(h, "{\"status\": \"done\"}", &json), CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("status `done` is not one of new, acknowledged, in_progress");
    CHECK_STATUS(cha_feedback_list(h, "{\"type\": \"\xff\"}", &json), CHA_ERR_INVALID_UTF8);
    CHECK_STATUS(cha_feedback_list(h, NULL, NULL), CHA_ERR_NULL_ARGUMENT);
    CHECK(json == UNTOUCHED_STR);
    CHECK(listed(h, NULL) == 2);
    CHECK(listed(h, "{\"type\": \"satisfaction_survey\"}") == 1);
    CHECK(listed(h, "{\"queue\": \"sizing-oncall\", \"priority\": \"critical\"}") == 1);
    CHECK(listed(h, "{\"user_id\": \"nobody\"}") == 0);
}

static void test_workflow(cha_handle *h) {
    int64_t id = submit(h, "{\"type\": \"usability_issue\", \"user_id\": \"u3\","
                           " \"text\": \"The legend hides the pipe labels\"}");
    CHECK_STATUS(cha_feedback_set_status(h, id, "resolved", "ops"), CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("cannot move from new to resolved (from new an item can move to "
                      "acknowledged, duplicate)");
    CHECK_STATUS(cha_feedback_set_status(h, id, "acknowledged", "ops"), CHA_OK);
    CHECK_STATUS(cha_feedback_set_status(h, id, "in-progress", "dev"), CHA_OK);
    CHECK_STATUS(cha_feedback_set_status(h, id, "finished", "dev"), CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("status `finished` is not one of new, acknowledged, in_progress, resolved, "
                      "closed, duplicate");
    CHECK_STATUS(cha_feedback_set_status(h, id, "duplicate", "dev"), CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("a duplicate names its original; merge it instead");
    CHECK_STATUS(cha_feedback_set_status(h, id, "resolved", ""), CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("actor is empty");
    CHECK_STATUS(cha_feedback_set_status(h, id, "resolved", NULL), CHA_ERR_NULL_ARGUMENT);
    CHECK_STATUS(cha_feedback_set_status(h, id, NULL, "dev"), CHA_ERR_NULL_ARGUMENT);
    CHECK_STATUS(cha_feedback_set_status(h, id, "resolved", "d\xffv"), CHA_ERR_INVALID_UTF8);
    CHECK_STATUS(cha_feedback_set_status(NULL, id, "resolved", "dev"), CHA_ERR_NULL_ARGUMENT);
    CHECK_STATUS(cha_feedback_set_status(h, 999999, "resolved", "dev"), CHA_ERR_NOT_FOUND);

    char *json = UNTOUCHED_STR;
    CHECK_STATUS(cha_feedback_transition(h, id, "{\"status\": \"resolved\"}", &json),
                 CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("cha_feedback_transition: status change: missing field `actor`");
    CHECK_STATUS(cha_feedback_transition(h, id,
                                         "{\"status\": \"resolved\", \"actor\": \"dev\", "
                                         "\"at\": \"2001-01-01T00:00:00Z\"}",
                                         &json),
                 CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("cannot come before the item's last change");
    CHECK_STATUS(cha_feedback_transition(h, id, NULL, &json), CHA_ERR_NULL_ARGUMENT);
    CHECK_STATUS(cha_feedback_transition(h, id, "{\"status\": \"resolved\", \"actor\": \"dev\"}", NULL),
                 CHA_ERR_NULL_ARGUMENT);
    CHECK(json == UNTOUCHED_STR);
    CHECK_STATUS(cha_feedback_transition(h, id,
                                         "{\"status\": \"resolved\", \"actor\": \"dev\", "
                                         "\"note\": \"labels moved\"}",
                                         &json),
                 CHA_OK);
    CHECK_HAS(json, "\"status\":\"resolved\"");
    CHECK_HAS(json, "\"actor\":\"ops\",\"from\":\"new\",\"to\":\"acknowledged\",\"note\":null}");
    CHECK_HAS(json, "\"actor\":\"dev\",\"from\":\"in_progress\",\"to\":\"resolved\","
                    "\"note\":\"labels moved\"}");
    CHECK_HAS(json, "\"done_at_ms\":1");
    cha_string_free(json);
    CHECK_STATUS(cha_feedback_set_status(h, id, "closed", "ops"), CHA_OK);
    CHECK_STATUS(cha_feedback_set_status(h, id, "in_progress", "ops"), CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("closed is final");
}

static void test_duplicates(cha_handle *h) {
    int64_t first = submit(h, "{\"type\": \"bug_report\", \"user_id\": \"anna\","
                              " \"text\": \"Wrong diameter on the last segment of the loop\"}");
    int64_t copy = submit(h, "{\"type\": \"bug_report\", \"user_id\": \"ben\","
                             " \"text\": \"wrong diameters on the last segments of loops!\"}");
    char *json = get(h, copy);
    char expected[64];
    snprintf(expected, sizeof expected, "\"duplicate_of\":%lld", (long long)first);
    CHECK_HAS(json, expected);
    CHECK_HAS(json, "\"status\":\"duplicate\"");
    CHECK_HAS(json, "2 people have reported it in 2 reports");
    cha_string_free(json);

    int64_t other = submit(h, "{\"type\": \"bug_report\", \"user_id\": \"carl\","
                              " \"text\": \"The cost report shows the wrong currency\"}");
    CHECK_STATUS(cha_feedback_merge(h, other, copy, "triager"), CHA_OK);
    json = get(h, first);
    CHECK_HAS(json, "\"reports\":3,\"people\":3");
    cha_string_free(json);
    CHECK_STATUS(cha_feedback_merge(h, first, first, "triager"), CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("cannot be merged into itself");
    CHECK_STATUS(cha_feedback_merge(h, first, 999999, "triager"), CHA_ERR_NOT_FOUND);
    CHECK_STATUS(cha_feedback_merge(h, copy, first, "triager"), CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("duplicate is final");
    CHECK_STATUS(cha_feedback_merge(h, first, other, NULL), CHA_ERR_NULL_ARGUMENT);
    CHECK_STATUS(cha_feedback_merge(NULL, first, other, "t"), CHA_ERR_NULL_ARGUMENT);
}

static void test_analyze(cha_handle *h) {
    char *json = NULL;
    CHECK_STATUS(cha_feedback_analyze(h, 0, 0, &json), CHA_OK);
    CHECK_HAS(json, "\"total_items\":6");
    CHECK_HAS(json, "\"by_type\":{\"bug_report\":4,\"feature_request\":0");
    CHECK_HAS(json, "\"satisfaction_survey\":1");
    CHECK_HAS(json, "\"average_rating\":5.0");
    CHECK_HAS(json, "\"csat\":1.0");
    CHECK_HAS(json, "\"top_issues\":[{\"id\":");
    CHECK_HAS(json, "\"reports\":3,\"people\":3");
    CHECK_HAS(json, "{\"name\":\"collection_rate\"");
    CHECK_HAS(json, "\"recommendations\":[");
    cha_string_free(json);

    json = NULL;
    CHECK_STATUS(cha_feedback_analyze_with_options(h, 0, 0, "{\"period\": \"week\", \"top_issues\": 1}",
                                                   &json),
                 CHA_OK);
    CHECK_HAS(json, "\"period\":\"week\"");
    cha_string_free(json);
    json = NULL;
    CHECK_STATUS(cha_feedback_analyze_with_options(h, 0, 0, NULL, &json), CHA_OK);
    CHECK_HAS(json, "\"period\":\"day\"");
    cha_string_free(json);

    json = UNTOUCHED_STR;
    CHECK_STATUS(cha_feedback_analyze(h, 2000, 1000, &json), CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("cha_feedback_analyze: the range ends (1000) before or where it starts (2000)");
    CHECK_STATUS(cha_feedback_analyze(h, -5, 0, &json), CHA_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(cha_feedback_analyze(h, 0, 0, NULL), CHA_ERR_NULL_ARGUMENT);
    CHECK_STATUS(cha_feedback_analyze(NULL, 0, 0, &json), CHA_ERR_NULL_ARGUMENT);
    CHECK_STATUS(cha_feedback_analyze_with_options(h, 0, 0, "{\"period\": \"month\"}", &json),
                 CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("analysis options: unknown variant `month`");
    CHECK_STATUS(cha_feedback_analyze_with_options(h, 0, 0, "{\"colour\": 1}", &json),
                 CHA_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(cha_feedback_analyze_with_options(h, 0, 0, "\xff", &json), CHA_ERR_INVALID_UTF8);
    CHECK(json == UNTOUCHED_STR);
}

int main(int argc, char **argv) {
    harness_dirs(argc, argv, &work_dir, &config_dir);

    cha_handle *h = open_db("feedback.db");
    char *report = NULL;
    CHECK_STATUS(cha_deploy_all(h, config_dir, &report), CHA_OK);
    CHECK_HAS(report, "{\"file\":\"user_feedback.yml\"");
    cha_string_free(report);

    test_submit_and_get(h);
    test_refusals(h);
    test_get_and_list_errors(h);
    test_workflow(h);
    test_duplicates(h);
    test_analyze(h);
    test_whole_number_user_id(h);
    cha_close(h);

    return harness_summary("test_feedback");
}

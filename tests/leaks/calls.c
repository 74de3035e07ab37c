/*
 * calls.c: the C side of tests/leaks.rs. Makes N rounds of the calls a
 * simulation tool makes all day (flag checks and evaluations, assignments,
 * observations, metrics, errors, and now and then a piece of feedback),
 * freeing what it is given, and prints its resident memory after the first
 * fifth of the rounds and at the end:
 *
 *   calls DB CONFIG_DIR ROUNDS
 *   -> "rss KB_AFTER_A_FIFTH KB_AT_THE_END"
 *
 * Built with -fsanitize=address, LeakSanitizer reports at exit anything the
 * library gave and did not take back; built without, the two figures show
 * whether memory grows with the calls.
 */
#include "cha_deploy.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void must(cha_status status, const char *what) {
    if (status != CHA_OK) {
        fprintf(stderr, "%s: %s: %s\n", what, cha_status_name(status), cha_last_error_message());
        exit(1);
    }
}

static long resident_kb(void) {
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL || fscanf(f, "%ld %ld", &pages, &resident) != 2) {
        fprintf(stderr, "cannot read /proc/self/statm\n");
        exit(2);
    }
    fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s DB CONFIG_DIR ROUNDS\n", argv[0]);
        return 2;
    }
    const long rounds = atol(argv[3]);
    cha_handle *h = NULL;
    must(cha_open(argv[1], &h), "cha_open");
    char *json = NULL;
    must(cha_deploy_all(h, argv[2], &json), "cha_deploy_all");
    cha_string_free(json);

    const char *groups[] = {"beta_testers", "hydraulics_team"};
    char unit[64];
    long after_a_fifth = 0;
    for (long i = 0; i < rounds; i++) {
        snprintf(unit, sizeof unit, "network-%ld", i % 10000);
        bool on = false;
        must(cha_flag_enabled(h, "intelligent_pipe_sizing", unit, groups, 2, &on), "cha_flag_enabled");
        json = NULL;
        must(cha_flag_evaluate(h, "pressure_drop_check", "{\"user_id\": \"planner-7\", \"groups\": [\"beta_testers\"]}", &json),
             "cha_flag_evaluate");
        cha_string_free(json);
        const char *variant = NULL;
        must(cha_experiment_assign(h, "pipe_sizing_comparison", unit, &variant), "cha_experiment_assign");
        if (variant != NULL) {
            must(cha_experiment_record(h, "pipe_sizing_comparison", unit, "pipe_cost_efficiency", (double)(i % 97)),
                 "cha_experiment_record");
        }
        must(cha_metric_record_timer(h, "pipe_sizing_time_ms", 0.002, "{\"method\": \"intelligent\"}"),
             "cha_metric_record_timer");
        must(cha_metric_increment(h, "pipe_sizing_requests", 1.0, NULL), "cha_metric_increment");
        /* An error: its message is kept per thread, replaced, never piled up. */
        json = NULL;
        if (cha_flag_get(h, "no_such_flag", &json) != CHA_ERR_NOT_FOUND || json != NULL) {
            fprintf(stderr, "cha_flag_get of an unknown flag did not fail as documented\n");
            return 1;
        }
        if (cha_last_error_message() == NULL) return 1;
        if (i % 1000 == 0) {
            int64_t id = 0;
            must(cha_feedback_submit(h, "{\"type\": \"general_feedback\", \"text\": \"fine\", \"user_id\": \"planner-7\"}", &id),
                 "cha_feedback_submit");
            json = NULL;
            must(cha_experiment_assignment(h, "pipe_sizing_comparison", unit, &json), "cha_experiment_assignment");
            cha_string_free(json);
        }
        if (i + 1 == rounds / 5) {
            must(cha_flush(h), "cha_flush");
            after_a_fifth = resident_kb();
        }
    }
    must(cha_flush(h), "cha_flush");
    printf("rss %ld %ld\n", after_a_fifth, resident_kb());
    cha_close(h);
    return 0;
}

/*
 * writer.c: one of the processes of tests/sharing.rs, which run at once
 * against one database: this C one, a Python one (writer.py) and the CLI.
 *
 *   writer DB TAG STOP_FILE
 *
 * Until STOP_FILE exists it records an observation of a new unit of the A/B
 * test, a counter increment tagged with TAG, and every 50th time a piece of
 * feedback, and watches the flag `flow_based_calculation`, which the CLI
 * switches off and on: each change it sees is printed at once as
 * "seen on" / "seen off". At the end it flushes and prints what it
 * recorded: "recorded OBSERVATIONS INCREMENTS FEEDBACK". Any failed call
 * prints the error and exits 1: no "database is locked" may reach it.
 */
#include "cha_deploy.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void must(cha_status status, const char *what) {
    if (status != CHA_OK) {
        fprintf(stdout, "error in %s: %s: %s\n", what, cha_status_name(status),
                cha_last_error_message());
        fflush(stdout);
        exit(1);
    }
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s DB TAG STOP_FILE\n", argv[0]);
        return 2;
    }
    const char *db = argv[1], *tag = argv[2], *stop = argv[3];
    cha_handle *h = NULL;
    must(cha_open_with_options(db, "{\"refresh_interval_ms\": 100, \"flush_interval_ms\": 50}", &h),
         "cha_open_with_options");
    char tags[128], unit[128], feedback[256];
    snprintf(tags, sizeof tags, "{\"process\": \"%s\"}", tag);
    long observations = 0, increments = 0, items = 0;
    int last = -1;
    while (access(stop, F_OK) != 0) {
        bool on = false;
        must(cha_flag_enabled(h, "flow_based_calculation", NULL, NULL, 0, &on), "cha_flag_enabled");
        if ((int)on != last) {
            last = on;
            printf("seen %s\n", on ? "on" : "off");
            fflush(stdout);
        }
        snprintf(unit, sizeof unit, "%s-%ld", tag, observations);
        const char *variant = NULL;
        must(cha_experiment_assign(h, "pipe_sizing_comparison", unit, &variant), "cha_experiment_assign");
        if (variant != NULL) {
            must(cha_experiment_record(h, "pipe_sizing_comparison", unit, "pipe_cost_efficiency", 1.0),
                 "cha_experiment_record");
            observations++;
        }
        must(cha_metric_increment(h, "sharing_operations", 1.0, tags), "cha_metric_increment");
        increments++;
        if (increments % 50 == 0) {
            snprintf(feedback, sizeof feedback,
                     "{\"type\": \"general_feedback\", \"text\": \"%s item %ld\", \"user_id\": \"%s\"}",
                     tag, items, tag);
            int64_t id = 0;
            must(cha_feedback_submit(h, feedback, &id), "cha_feedback_submit");
            items++;
        }
    }
    must(cha_flush(h), "cha_flush");
    cha_close(h);
    printf("recorded %ld %ld %ld\n", observations, increments, items);
    return 0;
}

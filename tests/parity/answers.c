/*
 * answers.c: the C side of tests/parity.rs. For each context of CONTEXTS
 * (one JSON object per line, with its unit id on the same line of UNITS),
 * prints one tab-separated line: the unit; whether each of the flags is on;
 * the double of velocity_limit, the int of max_iterations, the variant of
 * pipe_catalogue; the variant pipe_sizing_comparison would give the unit.
 *
 *   answers DB CONTEXTS UNITS
 */
#include "cha_deploy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const FLAGS[] = {"velocity_limit", "solver_v3", "pipe_catalogue", "max_iterations",
                                    "strict_report"};

static void must(cha_status status, const char *what) {
    if (status != CHA_OK) {
        fprintf(stderr, "%s: %s: %s\n", what, cha_status_name(status), cha_last_error_message());
        exit(1);
    }
}

static char *chomp(char *line) {
    line[strcspn(line, "\r\n")] = '\0';
    return line;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s DB CONTEXTS UNITS\n", argv[0]);
        return 2;
    }
    cha_handle *h = NULL;
    must(cha_open(argv[1], &h), "cha_open");
    FILE *contexts = fopen(argv[2], "r");
    FILE *units = fopen(argv[3], "r");
    if (contexts == NULL || units == NULL) return 2;
    static char context[4096], unit[256];
    while (fgets(context, sizeof context, contexts) != NULL && fgets(unit, sizeof unit, units) != NULL) {
        chomp(context);
        chomp(unit);
        printf("%s", unit);
        for (size_t i = 0; i < sizeof FLAGS / sizeof FLAGS[0]; i++) {
            bool on = false;
            must(cha_flag_bool(h, FLAGS[i], context, false, &on, NULL), "cha_flag_bool");
            printf("\t%d", on ? 1 : 0);
        }
        double velocity = 0.0;
        must(cha_flag_double(h, "velocity_limit", context, -1.0, &velocity, NULL), "cha_flag_double");
        int64_t iterations = 0;
        must(cha_flag_int(h, "max_iterations", context, -1, &iterations, NULL), "cha_flag_int");
        char *catalogue = NULL;
        cha_flag_details details;
        must(cha_flag_json(h, "pipe_catalogue", context, "null", &catalogue, &details), "cha_flag_json");
        printf("\t%.17g\t%lld\t%s", velocity, (long long)iterations,
               details.variant != NULL ? details.variant : "-");
        cha_string_free(catalogue);
        const char *variant = NULL;
        must(cha_experiment_peek(h, "pipe_sizing_comparison", unit, &variant), "cha_experiment_peek");
        printf("\t%s\n", variant != NULL ? variant : "-");
    }
    fclose(contexts);
    fclose(units);
    cha_close(h);
    return 0;
}

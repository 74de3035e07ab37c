/*
 * pipe_sizing_sim.c: a small simulation tool in the old style, sizing the
 * pipes of district-heating networks run after run, with cha-deploy linked
 * in statically to roll the new sizing method out safely.
 *
 *   pipe_sizing_sim DB CONFIG_DIR [RUNS]
 *
 * What it shows:
 *   - a flag (`intelligent_pipe_sizing`) that decides per engineer whether
 *     the new sizing may be used at all;
 *   - an A/B test (`pipe_sizing_comparison`) whose variant carries typed
 *     parameters: the velocity limit arrives as a double
 *     (cha_experiment_param_double), the fixed diameter as an integer;
 *   - timers of each sizing run, recorded at the simulation's own clock,
 *     and the alert rules evaluated at that clock; a faulty solver release
 *     between runs 300 and 360 slows the sizing down, and the alert
 *     callback pages as the alert fires and resolves;
 *   - feedback from the engineers, and the analysis at the end.
 *
 * Build with the Makefile beside it (`make`, or `make CHA_TREE=../..` in a
 * clone after `cargo build --release`).
 */
#include <cha_deploy.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ENGINEERS 60
#define PIPES_PER_NETWORK 40
#define MINUTE_MS 60000LL
#define PI 3.14159265358979323846

/* Inner diameter (m) and cost (EUR/m) of the standard series. */
static const struct { int dn; double diameter; double cost; } SERIES[] = {
    {25, 0.0285, 420},  {32, 0.0372, 450},  {40, 0.0431, 480},   {50, 0.0545, 530},
    {65, 0.0703, 600},  {80, 0.0825, 660},  {100, 0.1071, 760},  {125, 0.1325, 880},
    {150, 0.1603, 1000}, {200, 0.2101, 1250},
};
#define SERIES_LEN (sizeof SERIES / sizeof SERIES[0])

static unsigned long rng_state = 20261130UL;

static double uniform(void) {
    rng_state = rng_state * 1103515245UL + 12345UL;
    return (double)((rng_state >> 8) & 0xFFFFFF) / (double)0x1000000;
}

/* A failed cha_ call is fatal here: print the library's message and stop. */
static void check(cha_status status, const char *what) {
    if (status != CHA_OK) {
        fprintf(stderr, "%s: %s: %s\n", what, cha_status_name(status), cha_last_error_message());
        exit(1);
    }
}

/* The text of "key":"value" in `json`, or "-". */
static const char *field(const char *json, const char *key, char *buf, size_t size) {
    char pattern[64];
    sprintf(pattern, "\"%s\":\"", key);
    const char *at = strstr(json, pattern);
    if (at == NULL || size == 0) return "-";
    at += strlen(pattern);
    size_t n = strcspn(at, "\"");
    if (n >= size) n = size - 1;
    memcpy(buf, at, n);
    buf[n] = '\0';
    return buf;
}

/* Called on the library's alert thread with each alert event, as a page
 * to the on-call engineer would be. */
static pthread_mutex_t paged_lock = PTHREAD_MUTEX_INITIALIZER;
static int paged;

static void on_alert(const char *event_json, void *user_data) {
    char kind[32], rule[64], severity[32];
    (void)user_data;
    pthread_mutex_lock(&paged_lock);
    paged++;
    pthread_mutex_unlock(&paged_lock);
    printf("alert: %s %s %s\n", field(event_json, "rule", rule, sizeof rule),
           field(event_json, "kind", kind, sizeof kind),
           field(event_json, "severity", severity, sizeof severity));
    fflush(stdout);
}

/* How many events a JSON array of alert events holds. */
static int count_events(const char *json) {
    int n = 0;
    const char *at = json;
    while ((at = strstr(at, "\"kind\":")) != NULL) {
        n++;
        at++;
    }
    return n;
}

/* The smallest standard pipe that keeps the velocity at or below the limit. */
static int size_by_velocity(double load_kw, double max_velocity) {
    double flow = load_kw / (4.18 * 30.0) / 975.0; /* m3/s at dT 30 K */
    size_t i;
    for (i = 0; i < SERIES_LEN; i++) {
        double area = PI * SERIES[i].diameter * SERIES[i].diameter / 4.0;
        if (flow / area <= max_velocity) return (int)i;
    }
    return (int)SERIES_LEN - 1;
}

static int index_of_dn(long dn) {
    size_t i;
    for (i = 0; i < SERIES_LEN; i++)
        if (SERIES[i].dn == dn) return (int)i;
    return 6;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s DB CONFIG_DIR [RUNS]\n", argv[0]);
        return 2;
    }
    int runs = argc > 3 ? atoi(argv[3]) : 600;
    cha_handle *h = NULL;
    /* The simulation drives the clock: no alert evaluation by wall time. */
    check(cha_open_with_options(argv[1], "{\"evaluate_alerts\": false}", &h), "cha_open_with_options");

    char *report = NULL;
    cha_status deployed = cha_deploy_all(h, argv[2], &report);
    if (deployed == CHA_ERR_DRIFT) {
        /* Someone changed things at runtime: keep them, run as configured now. */
        printf("deploy skipped: %s\n", cha_last_error_message());
    } else {
        check(deployed, "cha_deploy_all");
        cha_string_free(report);
    }

    int alert_events = 0;
    check(cha_alerts_set_callback(h, on_alert, NULL), "cha_alerts_set_callback");

    /* The variants' parameters, typed, read once. */
    double max_velocity = 0.0;
    long long fixed_dn = 0;
    check(cha_experiment_param_double(h, "pipe_sizing_comparison", "intelligent", "max_velocity_ms",
                                      &max_velocity),
          "cha_experiment_param_double");
    int64_t dn = 0;
    check(cha_experiment_param_int(h, "pipe_sizing_comparison", "traditional", "default_diameter_mm", &dn),
          "cha_experiment_param_int");
    fixed_dn = (long long)dn;
    printf("intelligent sizing keeps velocities at or below %.1f m/s; traditional uses DN %lld\n",
           max_velocity, fixed_dn);

    uint32_t sizing_flag = 0;
    check(cha_flag_lookup(h, "intelligent_pipe_sizing", &sizing_flag), "cha_flag_lookup");
    const char *groups[] = {"beta_testers"};

    long long clock_ms = 1900000000000LL; /* the simulation's clock */
    int held_back = 0, sized = 0, feedback = 0;
    int run;
    for (run = 0; run < runs; run++) {
        char engineer[32], network[32];
        sprintf(engineer, "engineer-%02d", run % ENGINEERS);
        sprintf(network, "network-%04d", run);
        clock_ms += MINUTE_MS / 2;

        bool allowed = false;
        check(cha_flag_enabled_id(h, sizing_flag, engineer, groups, run % 4 == 0 ? 1 : 0, &allowed),
              "cha_flag_enabled_id");
        const char *variant = NULL;
        if (allowed) {
            check(cha_experiment_assign(h, "pipe_sizing_comparison", network, &variant),
                  "cha_experiment_assign");
        }
        int intelligent = variant != NULL && strcmp(variant, "intelligent") == 0;
        if (!allowed) held_back++;

        /* Size the network; cost and a solver time that grows with the pipes. */
        double cost = 0.0, load_total = 0.0;
        int p;
        for (p = 0; p < PIPES_PER_NETWORK; p++) {
            double load = 50.0 + 900.0 * uniform();
            double length = 20.0 + 180.0 * uniform();
            int size = intelligent ? size_by_velocity(load, max_velocity) : index_of_dn(fixed_dn);
            cost += length * SERIES[size].cost;
            load_total += load;
        }
        double solver_ms = 120.0 + 400.0 * uniform();
        /* A faulty solver release between runs 300 and 360: slow networks. */
        if (run >= 300 && run < 360) solver_ms *= 9.0;
        check(cha_metric_record_at(h, "counter", "pipe_sizing_requests", 1.0, NULL, clock_ms),
              "cha_metric_record_at");
        check(cha_metric_record_at(h, "timer", "pipe_sizing_time_ms", solver_ms / 1000.0,
                                   intelligent ? "{\"method\": \"intelligent\"}"
                                               : "{\"method\": \"traditional\"}",
                                   clock_ms),
              "cha_metric_record_at");
        if (variant != NULL) {
            check(cha_experiment_record(h, "pipe_sizing_comparison", network, "pipe_cost_efficiency",
                                        load_total / (cost / 1000.0)),
                  "cha_experiment_record");
        }
        sized++;

        if (run % 50 == 49) {
            char item[256];
            int64_t id = 0;
            sprintf(item,
                    "{\"type\": \"satisfaction_survey\", \"rating\": %d, \"text\": \"%s\", "
                    "\"user_id\": \"%s\", \"context\": {\"network_id\": \"%s\"}}",
                    intelligent ? 5 : 3,
                    intelligent ? "the new sizing saves time and the diameters look right"
                                : "fine, but the pipes look oversized",
                    engineer, network);
            check(cha_feedback_submit(h, item, &id), "cha_feedback_submit");
            feedback++;
        }
        if (run % 2 == 1) {
            char *events = NULL;
            check(cha_alerts_evaluate(h, clock_ms, &events), "cha_alerts_evaluate");
            alert_events += count_events(events);
            cha_string_free(events);
        }
    }
    check(cha_flush(h), "cha_flush");

    /* Events reach the callback once a second: give the pager a moment. */
    int waited;
    for (waited = 0; waited < 50; waited++) {
        pthread_mutex_lock(&paged_lock);
        int done = paged >= alert_events;
        pthread_mutex_unlock(&paged_lock);
        if (done) break;
        struct timespec pause = {0, 100 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }

    printf("%d networks sized, %d by engineers the flag held back, %d ratings, %d alert events\n",
           sized, held_back, feedback, alert_events);
    char *analysis = NULL;
    check(cha_experiment_analyze(h, "pipe_sizing_comparison", &analysis), "cha_experiment_analyze");
    const char *conclusion = strstr(analysis, "\"recommendation\"");
    printf("%.200s\n", conclusion != NULL ? conclusion : analysis);
    cha_string_free(analysis);

    check(cha_alerts_set_callback(h, NULL, NULL), "cha_alerts_set_callback");
    cha_close(h);
    return 0;
}

/*
 * pipe_sizing.c: how a C simulation tool uses cha-deploy.
 *
 * Sizes the pipes of a few small district-heating networks. Which method
 * sizes a network comes from the A/B test `pipe_sizing_comparison`
 * (configs/ab_tests.yml): the control keeps the traditional fixed DN100, the
 * treatment sizes each segment by its flow with a velocity limit taken from
 * the variant's configuration. The flag `intelligent_pipe_sizing` is the kill
 * switch an operator can flip from the CLI while this runs. Each network's
 * cost efficiency (kW of connected load per kEUR of pipe) is recorded, and the
 * analysis is printed at the end.
 *
 *   cargo build --release --lib
 *   cc -std=c11 -I include examples/pipe_sizing.c -L target/release -lcha_deploy \
 *      -Wl,-rpath,$PWD/target/release -o pipe_sizing
 *   ./pipe_sizing cha.db configs
 */
#include "cha_deploy.h"

#include <stdio.h>
#include <string.h>

#define CHECK(call)                                                                  \
    do {                                                                             \
        cha_status status_ = (call);                                                 \
        if (status_ != CHA_OK) {                                                     \
            fprintf(stderr, "%s failed: %s: %s\n", #call, cha_status_name(status_), \
                    cha_last_error_message());                                       \
            return 1;                                                                \
        }                                                                            \
    } while (0)

/* Inner diameters (m) of standard pre-insulated steel pipes, DN25 to DN200. */
static const double DIAMETERS_M[] = {0.0285, 0.0372, 0.0431, 0.0545, 0.0703,
                                     0.0825, 0.1071, 0.1325, 0.1603, 0.2101};
static const int DN[] = {25, 32, 40, 50, 65, 80, 100, 125, 150, 200};
/* Installed cost per metre (EUR/m) by DN. */
static const double COST_EUR_PER_M[] = {420, 450, 480, 530, 600, 660, 760, 880, 1000, 1250};
#define N_SIZES (sizeof DN / sizeof DN[0])

/* The smallest standard pipe keeping the water velocity at or below vmax. */
static int size_by_flow(double load_kw, double vmax) {
    const double cp = 4.18, dt = 30.0, rho = 975.0; /* kJ/kgK, K, kg/m3 */
    double flow_m3s = load_kw / (cp * dt) / rho;
    for (size_t i = 0; i < N_SIZES; i++) {
        double area = 3.14159265358979 * DIAMETERS_M[i] * DIAMETERS_M[i] / 4.0;
        if (flow_m3s / area <= vmax) return (int)i;
    }
    return (int)N_SIZES - 1;
}

/* A small deterministic network: segment loads (kW) and lengths (m). */
static double network_efficiency(unsigned seed, int intelligent, double vmax) {
    double load_total = 0, cost = 0;
    unsigned x = seed * 2654435761u + 1;
    for (int s = 0; s < 12; s++) {
        x = x * 1664525u + 1013904223u;
        double load = 50 + (x >> 8) % 900;   /* 50 to 950 kW */
        double length = 20 + (x >> 4) % 180; /* 20 to 200 m */
        int size = intelligent ? size_by_flow(load, vmax) : 6 /* DN100 */;
        load_total += load;
        cost += length * COST_EUR_PER_M[size];
    }
    return load_total / (cost / 1000.0);
}

int main(int argc, char **argv) {
    const char *db = argc > 1 ? argv[1] : "cha.db";
    const char *configs = argc > 2 ? argv[2] : "configs";
    cha_handle *h = NULL;
    CHECK(cha_open(db, &h));
    char *report = NULL;
    CHECK(cha_deploy_all(h, configs, &report));
    cha_string_free(report);

    uint32_t kill_switch = 0;
    CHECK(cha_flag_lookup(h, "intelligent_pipe_sizing", &kill_switch));

    int per_variant[2] = {0, 0}, held_back = 0;
    for (unsigned n = 0; n < 400; n++) {
        char network[32];
        snprintf(network, sizeof network, "network-%u", n);

        /* The operator's kill switch comes first: while it is off, every
         * network is sized the traditional way and the test gets no data. */
        bool allowed = false;
        CHECK(cha_flag_enabled_id(h, kill_switch, network, NULL, 0, &allowed));
        if (!allowed) {
            network_efficiency(n, 0, 0.0);
            held_back++;
            continue;
        }
        const char *variant = NULL;
        CHECK(cha_experiment_assign(h, "pipe_sizing_comparison", network, &variant));
        if (variant == NULL) continue; /* outside the test */
        int intelligent = strcmp(variant, "intelligent") == 0;
        per_variant[intelligent]++;
        CHECK(cha_experiment_record(h, "pipe_sizing_comparison", network, "pipe_cost_efficiency",
                                    network_efficiency(n, intelligent, 2.0)));
    }
    CHECK(cha_flush(h));
    printf("test: %d networks sized traditionally, %d by flow; %d held back by the flag\n",
           per_variant[0], per_variant[1], held_back);

    char *analysis = NULL;
    CHECK(cha_experiment_analyze(h, "pipe_sizing_comparison", &analysis));
    const char *conclusion = strstr(analysis, "\"recommendation\"");
    printf("%.120s\n", conclusion ? conclusion : analysis);
    cha_string_free(analysis);
    cha_close(h);
    return 0;
}

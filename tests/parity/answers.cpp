// answers.cpp: the C++ side of tests/parity.rs, through cha_deploy.hpp:
// the lines answers.c prints, for the same contexts and units.
//
//   answers_cpp DB CONTEXTS UNITS
#include "cha_deploy.hpp"

#include <cstdio>
#include <fstream>
#include <string>

int main(int argc, char **argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s DB CONTEXTS UNITS\n", argv[0]);
        return 2;
    }
    try {
        cha::Handle h = cha::Handle::open(argv[1]);
        std::ifstream contexts(argv[2]), units(argv[3]);
        std::string context, unit;
        const char *flags[] = {"velocity_limit", "solver_v3", "pipe_catalogue", "max_iterations",
                               "strict_report"};
        while (std::getline(contexts, context) && std::getline(units, unit)) {
            std::printf("%s", unit.c_str());
            for (const char *flag : flags) {
                std::printf("\t%d", h.flag_bool(flag, context.c_str(), false) ? 1 : 0);
            }
            cha_flag_details details{};
            double velocity = h.flag_double("velocity_limit", context.c_str(), -1.0);
            long long iterations = h.flag_int("max_iterations", context.c_str(), -1);
            h.flag_json("pipe_catalogue", context.c_str(), "null", &details);
            const char *variant = h.peek("pipe_sizing_comparison", unit);
            std::printf("\t%.17g\t%lld\t%s\t%s\n", velocity, iterations,
                        details.variant != nullptr ? details.variant : "-",
                        variant != nullptr ? variant : "-");
        }
    } catch (const cha::Error &e) {
        std::fprintf(stderr, "%s: %s\n", e.status_name(), e.what());
        return 1;
    }
    return 0;
}

/*
 * test_cpp.cpp: the C++ wrapper include/cha_deploy.hpp: RAII handles that
 * close themselves, move-only ownership, cha::Error exceptions that carry
 * the status and the library's message, flags and deployment, A/B
 * experiments (the repository's configs/, found from __FILE__ as in
 * test_flags.c), monitoring with an alert callback that is a C++ lambda,
 * feedback, deployments with plans, history, rollback, backups and the
 * report, and the config functions: every function of the C ABI through
 * the wrapper (tests/header.rs checks that the wrapper names them all),
 * and targeting: typed values with their details, segments, the Unleash
 * import and typed experiment parameters (tests/fixtures/targeting/).
 *
 * Run by tests/c_abi.rs as `test_cpp WORK_DIR`. Prints one line per failed
 * check and a summary; exits non-zero if any check failed.
 */
#include "cha_deploy.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>
#include <thread>
#include <vector>
#include <limits>
#include <string>
#include <sys/stat.h>
#include <type_traits>
#include <utility>

static int passed;
static int failed;

static void record(bool ok, const char *file, int line, const char *what) {
    if (ok) {
        passed++;
    } else {
        failed++;
        const char *message = cha_last_error_message();
        std::fprintf(stderr, "%s:%d: CHECK failed: %s\n    last error: %s\n", file, line, what,
                     message != nullptr ? message : "(NULL)");
    }
}

#define CHECK(cond) record(static_cast<bool>(cond), __FILE__, __LINE__, #cond)

/* Runs `statement`, which must throw cha::Error with `expected_status` and a
 * message containing `needle`. */
#define CHECK_THROWS(statement, expected_status, needle)                                 \
    do {                                                                                 \
        bool thrown_ = false;                                                            \
        try {                                                                            \
            statement;                                                                   \
        } catch (const cha::Error &e) {                                                  \
            thrown_ = true;                                                              \
            bool ok_ = e.status() == (expected_status) &&                                \
                       std::string(e.what()).find(needle) != std::string::npos;          \
            if (!ok_) {                                                                  \
                std::fprintf(stderr, "%s:%d: %s threw %s \"%s\", expected %s with \"%s\"\n", \
                             __FILE__, __LINE__, #statement, e.status_name(), e.what(),  \
                             cha_status_name(expected_status), std::string(needle).c_str()); \
            }                                                                            \
            record(ok_, __FILE__, __LINE__, #statement " throws the expected cha::Error"); \
        }                                                                                \
        if (!thrown_) {                                                                  \
            record(false, __FILE__, __LINE__, #statement " throws");                     \
        }                                                                                \
    } while (0)

static std::string work_dir;

static std::string in_work_dir(const char *name) { return work_dir + "/" + name; }

static bool file_exists(const std::string &path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0;
}

static void test_version() {
    CHECK(std::string(cha::version()) == CHA_VERSION_STRING);
    CHECK(cha::library_matches_header());
    CHECK(std::string(cha::status_name(CHA_ERR_STORAGE)) == "CHA_ERR_STORAGE");
    CHECK(std::string(cha::status_name(1234)) == "CHA_UNKNOWN_STATUS");
}

static void test_ownership_is_move_only() {
    static_assert(!std::is_copy_constructible_v<cha::Handle>);
    static_assert(!std::is_copy_assignable_v<cha::Handle>);
    static_assert(std::is_nothrow_move_constructible_v<cha::Handle>);
    static_assert(std::is_nothrow_move_assignable_v<cha::Handle>);
    static_assert(!std::is_copy_constructible_v<cha::String>);
    static_assert(std::is_nothrow_move_constructible_v<cha::String>);
    static_assert(std::is_base_of_v<std::exception, cha::Error>);
}

static void test_open_flush_close() {
    const std::string path = in_work_dir("cpp.db");
    const std::string wal = path + "-wal";
    {
        cha::Handle h = cha::Handle::open(path);
        CHECK(static_cast<bool>(h));
        CHECK(h.get() != nullptr);
        h.flush();
        CHECK(file_exists(path));
        CHECK(file_exists(wal)); /* open in WAL mode */
    }
    /* The destructor closed the last connection, which removes the WAL. */
    CHECK(!file_exists(wal));

    cha::Handle h = cha::Handle::open(path, R"({"journal_mode": "wal", "busy_timeout_ms": 100})");
    h.flush();
    {
        cha::String health = h.health();
        CHECK(std::strstr(health.get(), "\"state\":\"ok\"") != nullptr);
    }
    h.close();
    CHECK(!h);
    CHECK(!file_exists(wal));
    h.close(); /* closing again is a no-op */
    CHECK(!h);
}

static void test_move() {
    const std::string path = in_work_dir("move.db");
    cha::Handle a = cha::Handle::open(path);
    cha_handle *raw = a.get();

    cha::Handle b(std::move(a));
    CHECK(!a);  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
    CHECK(b.get() == raw);
    b.flush();

    /* Using the moved-from handle throws instead of crashing. */
    CHECK_THROWS(a.flush(), CHA_ERR_NULL_ARGUMENT, "argument `h` is NULL");

    /* Move assignment closes the handle held before. */
    cha::Handle c = cha::Handle::open(in_work_dir("other.db"));
    c = std::move(b);
    CHECK(c.get() == raw);
    CHECK(!file_exists(in_work_dir("other.db-wal")));
    c.flush();

    /* release() and adoption hand the same handle over without closing it. */
    cha_handle *released = c.release();
    CHECK(released == raw);
    CHECK(!c);
    cha::Handle adopted(released);
    adopted.flush();
}

static void test_errors() {
    CHECK_THROWS(cha::Handle::open(work_dir), CHA_ERR_STORAGE, work_dir);
    CHECK_THROWS(cha::Handle::open(in_work_dir("missing/x.db")), CHA_ERR_STORAGE,
                 in_work_dir("missing"));
    CHECK_THROWS(cha::Handle::open(in_work_dir("opts.db"), R"({"journal": "wal"})"),
                 CHA_ERR_INVALID_ARGUMENT, "unknown field `journal`");
    CHECK_THROWS(cha::Handle::open(in_work_dir("opts.db"), R"({"busy_timeout_ms": "5s"})"),
                 CHA_ERR_INVALID_ARGUMENT, "invalid type");
    CHECK_THROWS(cha::Handle::open(in_work_dir("bad-\xff.db")), CHA_ERR_INVALID_UTF8,
                 "`db_path` is not valid UTF-8");
    CHECK(!file_exists(in_work_dir("opts.db")));

    /* Error carries the status name, and is catchable as std::exception. */
    try {
        cha::Handle::open(work_dir);
        CHECK(false);
    } catch (const std::exception &e) {
        const cha::Error *error = dynamic_cast<const cha::Error *>(&e);
        CHECK(error != nullptr);
        CHECK(error != nullptr && std::string(error->status_name()) == "CHA_ERR_STORAGE");
    }

    cha::Handle empty;
    CHECK(!empty);
    CHECK_THROWS(empty.flush(), CHA_ERR_NULL_ARGUMENT, "cha_flush");
    empty.close(); /* a no-op, not an error */
}

static void test_string() {
    cha::String s;
    CHECK(!s);
    CHECK(s.get() == nullptr);
    CHECK(s.view().empty());
    CHECK(s.str().empty());
    char **slot = s.out();
    CHECK(slot != nullptr && *slot == nullptr);

    cha::String moved(std::move(s));
    CHECK(!moved);
    cha::String assigned;
    assigned = std::move(moved);
    CHECK(!assigned);
    CHECK(assigned.release() == nullptr);
}

/* configs/ of the repository holding this file (tests/c/test_cpp.cpp). */
static std::string config_dir() {
    const std::string file = __FILE__;
    const std::string suffix = "tests/c/test_cpp.cpp";
    if (file.size() < suffix.size() ||
        file.compare(file.size() - suffix.size(), suffix.size(), suffix) != 0) {
        return "configs";
    }
    return file.substr(0, file.size() - suffix.size()) + "configs";
}

static bool has(const cha::String &json, const char *needle) {
    return json && std::strstr(json.get(), needle) != nullptr;
}

/* A folder of the repository holding this file, e.g. "tests/fixtures/targeting". */
static std::string repo_dir(const char *rel) {
    std::string configs = config_dir();
    return configs.substr(0, configs.size() - std::strlen("configs")) + rel;
}

static bool same(const char *a, const char *b) {
    return a != nullptr && b != nullptr && std::strcmp(a, b) == 0;
}

static void test_flags() {
    cha::Handle h = cha::Handle::open(in_work_dir("flags.db"));
    cha::String report = h.deploy_all(config_dir());
    CHECK(has(report, "\"created\":[\"cost_optimisation\""));

    CHECK(h.flag_enabled("flow_based_calculation"));
    CHECK(h.flag_enabled("flow_based_calculation", "planner-1"));
    CHECK(!h.flag_enabled("new_ui", "planner-017", {"beta_testers"}));
    CHECK(h.flag_enabled("pressure_drop_check", std::string("planner-100"), {"beta_testers"}));
    CHECK(!h.flag_enabled("pressure_drop_check", "planner-100", {"beta_testers",
                                                                "external_consultants"}));
    const char *groups[] = {"hydraulics_team"};
    CHECK(h.flag_enabled("pressure_drop_check", "planner-100", groups, 1));
    /* Anonymous: a 25% split serves its default. */
    CHECK(!h.flag_enabled("intelligent_pipe_sizing"));
    CHECK_THROWS(h.flag_enabled("no_such_flag", "u"), CHA_ERR_NOT_FOUND,
                 "flag `no_such_flag` does not exist");
    CHECK_THROWS(h.flag_enabled("pressure_drop_check", "u", nullptr, 2), CHA_ERR_NULL_ARGUMENT,
                 "`groups`");

    /* The pre-resolved flag agrees with the by-name call, user by user. */
    cha::Flag sizing = h.flag_lookup("intelligent_pipe_sizing");
    static_assert(std::is_trivially_copyable_v<cha::Flag>);
    int on = 0;
    int disagreements = 0;
    for (int i = 0; i < 1000; i++) {
        const std::string user = "planner-" + std::to_string(i);
        bool by_id = sizing.enabled(user);
        on += by_id;
        disagreements += by_id != h.flag_enabled("intelligent_pipe_sizing", user);
    }
    CHECK(disagreements == 0);
    CHECK(on > 200 && on < 300);
    cha::Flag checks = h.flag_lookup("pressure_drop_check");
    CHECK(checks.enabled("planner-100", {"beta_testers"}));
    CHECK(!checks.enabled("kiosk-01", {"beta_testers"}));
    CHECK(checks.enabled("planner-042"));
    CHECK_THROWS(h.flag_lookup("no_such_flag"), CHA_ERR_NOT_FOUND, "no_such_flag");
    CHECK_THROWS(cha::Flag().enabled("u"), CHA_ERR_NULL_ARGUMENT, "argument `h` is NULL");
    CHECK_THROWS(cha::Flag(h.get(), 4242).enabled("u"), CHA_ERR_INVALID_ARGUMENT,
                 "flag handle 4242");

    cha::String json = h.evaluate("intelligent_pipe_sizing", R"({"user_id": "planner-1"})");
    CHECK(has(json, "\"reason\":\"SPLIT\""));
    CHECK(has(json, "\"rule\":\"25% by user_id\""));
    json = h.evaluate("intelligent_pipe_sizing");
    CHECK(has(json, "\"error\":\"INVALID_CONTEXT\""));
    json = h.evaluate("no_such_flag", std::string(R"({"user_id": "u"})"));
    CHECK(has(json, "\"error\":\"FLAG_NOT_FOUND\""));
    CHECK_THROWS(h.evaluate("new_ui", "{not json"), CHA_ERR_INVALID_ARGUMENT, "cha_flag_evaluate");

    /* Updates: invalid ones change nothing; the id follows valid ones. */
    CHECK_THROWS(h.update_flag("intelligent_pipe_sizing", R"({"percentage": 150})", "cpp-test"),
                 CHA_ERR_CONFIG, "intelligent_pipe_sizing.percentage");
    CHECK_THROWS(h.update_flag("intelligent_pipe_sizing", "{", "cpp-test"),
                 CHA_ERR_INVALID_ARGUMENT, "not valid JSON");
    CHECK(has(h.flag_get("intelligent_pipe_sizing"), "\"percentage\":25.0"));
    h.update_flag("intelligent_pipe_sizing", R"({"percentage": 100})", "cpp-test");
    CHECK(sizing.enabled("planner-1"));
    CHECK(sizing.enabled("planner-2"));
    h.update_flag("intelligent_pipe_sizing", R"({"percentage": 0})", "cpp-test");
    CHECK(!sizing.enabled("planner-1"));
    CHECK(has(h.flag_get("intelligent_pipe_sizing"), "\"updated_by\":\"cpp-test\""));
    cha::String history = h.flag_history("intelligent_pipe_sizing");
    CHECK(has(history, "\"action\":\"create\""));
    CHECK(has(history, "\"actor\":\"cpp-test\",\"action\":\"update\""));
    cha::String restored = h.restore_flag("intelligent_pipe_sizing", 1, "cpp-test");
    CHECK(has(restored, "\"changed\":true"));
    CHECK(has(h.flag_get("intelligent_pipe_sizing"), "\"percentage\":25.0"));
    CHECK(has(h.flag_list(), "\"name\":\"velocity_constraints\""));
    CHECK_THROWS(h.restore_flag("intelligent_pipe_sizing", 99, "cpp-test"), CHA_ERR_NOT_FOUND,
                 "no version 99");

    /* A template deploys as it is. */
    cha::String yaml = cha::config_template("Pilot network");
    CHECK(yaml.view().find("type: a_b_test") != std::string_view::npos);
    CHECK(cha::config_template("Pilot", "minimal").view().find("version: 2") !=
          std::string_view::npos);
    CHECK_THROWS(cha::config_template("Pilot", "maximal"), CHA_ERR_INVALID_ARGUMENT,
                 "unknown config type `maximal`");
    const std::string dir = in_work_dir("template");
    CHECK(mkdir(dir.c_str(), 0700) == 0);
    {
        std::ofstream out(dir + "/feature_flags.yml");
        out << yaml.view();
    }
    cha::Handle fresh = cha::Handle::open(in_work_dir("template.db"));
    CHECK(has(fresh.deploy_all(dir), "\"intelligent_pipe_sizing\""));
    CHECK(fresh.flag_enabled("flow_based_calculation"));
    CHECK_THROWS(fresh.deploy_all(in_work_dir("missing")), CHA_ERR_NOT_FOUND, "missing");

    /* A moved-from handle throws instead of crashing. */
    cha::Handle moved = std::move(fresh);
    CHECK_THROWS(fresh.flag_enabled("flow_based_calculation"), CHA_ERR_NULL_ARGUMENT,
                 "argument `h` is NULL");
    CHECK_THROWS(fresh.deploy_all(dir), CHA_ERR_NULL_ARGUMENT, "argument `h` is NULL");
}

static void test_experiments() {
    cha::Handle h = cha::Handle::open(in_work_dir("experiments.db"));
    CHECK(has(h.deploy_all(config_dir()), "\"pipe_sizing_comparison\"]"));
    CHECK(has(h.experiment_list(), "{\"definition\":{\"id\":\"pipe_sizing_comparison\""));
    const std::string e = "pipe_sizing_comparison";

    /* assign: a name owned by the handle, one pointer per variant, the same
     * from the const char * and the std::string overloads. */
    const char *first = h.assign(e.c_str(), "planner-1");
    CHECK(first != nullptr);
    CHECK(first != nullptr && (std::strcmp(first, "traditional") == 0 ||
                               std::strcmp(first, "intelligent") == 0));
    CHECK(h.assign(e, std::string("planner-1")) == first);
    int traditional = 0;
    for (int i = 0; i < 1000; i++) {
        const char *v = h.assign(e, "planner-" + std::to_string(i));
        traditional += v != nullptr && std::strcmp(v, "traditional") == 0;
    }
    CHECK(traditional > 430 && traditional < 570);

    cha::String json = h.assignment(e, "planner-1");
    CHECK(has(json, "\"reason\":\"ASSIGNED\""));
    CHECK(has(json, "\"configuration\":{"));
    /* Outside a 50% coverage, and a draft experiment: nullptr and a reason. */
    int outside = 0;
    for (int i = 0; i < 100; i++) {
        const std::string unit = "planner-" + std::to_string(i);
        if (h.assign("flow_calculation_comparison", unit.c_str()) == nullptr) {
            outside++;
            CHECK(has(h.assignment("flow_calculation_comparison", unit),
                      "\"variant\":null,\"reason\":\"OUTSIDE_COVERAGE\""));
        }
    }
    CHECK(outside > 30 && outside < 70);
    CHECK(h.assign("network_analysis_comparison", "planner-1") == nullptr);
    CHECK(has(h.assignment("network_analysis_comparison", "planner-1"),
              "\"reason\":\"NOT_RUNNING\""));

    CHECK_THROWS(h.assign("no_such_test", "u"), CHA_ERR_NOT_FOUND,
                 "experiment `no_such_test` does not exist");
    CHECK_THROWS(h.assign(e, ""), CHA_ERR_INVALID_ARGUMENT, "unit id must have 1 to 1024 bytes");
    CHECK_THROWS(h.assign(e.c_str(), nullptr), CHA_ERR_NULL_ARGUMENT, "argument `unit_id` is NULL");
    CHECK_THROWS(h.assignment("no_such_test", "u"), CHA_ERR_NOT_FOUND, "no_such_test");

    /* record, flush, analyze: every unit's mean is 11.5 (its values combine
     * by the metric's aggregation, mean). */
    for (int i = 0; i < 200; i++) {
        const std::string unit = "planner-" + std::to_string(i);
        h.record(e, unit, "pipe_cost_efficiency", 10.0);
        h.record(e.c_str(), unit.c_str(), "pipe_cost_efficiency", 13.0);
    }
    CHECK_THROWS(h.record(e, "planner-1", "no_such_metric", 1.0), CHA_ERR_NOT_FOUND,
                 "has no metric `no_such_metric`");
    CHECK_THROWS(h.record(e, "planner-1", "pipe_cost_efficiency", std::numeric_limits<double>::quiet_NaN()),
                 CHA_ERR_INVALID_ARGUMENT, "a finite number is needed");
    CHECK_THROWS(h.record("network_analysis_comparison", "planner-1", "pump_head_m", 1.0),
                 CHA_ERR_INVALID_ARGUMENT, "NOT_RUNNING");
    h.flush();
    cha::String analysis = h.analyze(e);
    CHECK(has(analysis, "{\"experiment_id\":\"pipe_sizing_comparison\""));
    CHECK(has(analysis, "{\"name\":\"pipe_cost_efficiency\",\"metric_type\":\"primary\""));
    CHECK(has(analysis, "\"correction\":\"holm\""));
    CHECK(has(analysis, "\"conclusion\":\"keep_running\""));
    CHECK(has(analysis, "\"control\":{\"variant\":\"traditional\",\"n\":98,\"mean\":11.5,"));
    CHECK(has(analysis, "\"treatment\":{\"variant\":\"intelligent\",\"n\":102,\"mean\":11.5,"));
    analysis = h.analyze(e, R"({"correction": "bh"})");
    CHECK(has(analysis, "\"correction\":\"bh\""));
    analysis = h.analyze(e, std::string(R"({"sequential": true})"));
    CHECK(has(analysis, "\"sequential\":true"));
    CHECK_THROWS(h.analyze(e, R"({"colour": "red"})"), CHA_ERR_INVALID_ARGUMENT,
                 "unknown field `colour`");
    CHECK_THROWS(h.analyze("no_such_test"), CHA_ERR_NOT_FOUND, "no_such_test");

    /* peek: the answer assign gives, without exposing anyone. */
    const char *looked = h.peek(e, std::string("cpp-peeker"));
    CHECK(looked != nullptr);
    CHECK(looked == h.assign(e, "cpp-peeker"));
    CHECK_THROWS(h.peek("no_such_test", "u"), CHA_ERR_NOT_FOUND, "no_such_test");

    /* plan: d = 0.5 at the level Holm's first step applies to the family of
     * two comparisons (0.025) needs 78 units per arm. */
    cha::String plan = h.plan(e, "pipe_cost_efficiency", 100.0, 10.0);
    CHECK(has(plan, "\"per_variant\":78,"));
    CHECK(has(plan, "\"total\":156,"));
    CHECK_THROWS(h.plan(e, "pipe_cost_efficiency", 100.0, 0.0), CHA_ERR_INVALID_ARGUMENT,
                 "cha_experiment_plan");
    CHECK_THROWS(h.plan(e, "no_such_metric", 100.0, 10.0), CHA_ERR_NOT_FOUND, "no_such_metric");

    /* set_experiment_status */
    cha::String status = h.set_experiment_status("network_analysis_comparison", "running",
                                                 "cpp-test");
    CHECK(has(status, "\"status\":\"running\""));
    CHECK(has(status, "\"updated_by\":\"cpp-test\""));
    int in = 0;
    for (int i = 0; i < 100; i++) {
        in += h.assign("network_analysis_comparison", "planner-" + std::to_string(i)) != nullptr;
    }
    CHECK(in > 5 && in < 40); /* 20% coverage */
    h.set_experiment_status("network_analysis_comparison", "completed", "cpp-test");
    CHECK_THROWS(h.set_experiment_status("network_analysis_comparison", "running", "cpp-test"),
                 CHA_ERR_INVALID_ARGUMENT, "is completed");
    CHECK_THROWS(h.set_experiment_status(e, "archived", "cpp-test"), CHA_ERR_INVALID_ARGUMENT,
                 "status `archived`");

    /* The variant name stays valid while the handle is open; a moved-from
     * handle throws instead of crashing. */
    cha::Handle moved = std::move(h);
    CHECK(moved.assign(e, "planner-1") == first);
    CHECK(std::strcmp(first, "traditional") == 0 || std::strcmp(first, "intelligent") == 0);
    CHECK_THROWS(h.assign(e, "planner-1"), CHA_ERR_NULL_ARGUMENT, "argument `h` is NULL");
    CHECK_THROWS(h.record(e, "planner-1", "pipe_cost_efficiency", 1.0), CHA_ERR_NULL_ARGUMENT,
                 "argument `h` is NULL");
    CHECK_THROWS(h.analyze(e), CHA_ERR_NULL_ARGUMENT, "argument `h` is NULL");
    CHECK_THROWS(h.experiment_list(), CHA_ERR_NULL_ARGUMENT, "argument `h` is NULL");
}

/* ---- monitoring, alerts and the C++ callback -------------------------------- */

static const int64_t T0 = 1900000800000LL;
static const int64_t MIN_MS = 60000;

static std::string alert_config_dir() {
    const std::string dir = in_work_dir("cpp_alert_conf");
    mkdir(dir.c_str(), 0700);
    std::ofstream(dir + "/performance_monitoring.yml")
        << "thresholds:\n"
           "  - metric_name: solve_time_ms\n"
           "    aggregation: max\n"
           "    comparison_operator: greater_than\n"
           "    warning_threshold: 1000\n"
           "    critical_threshold: 5000\n"
           "    recovery_threshold: 800\n"
           "    window_size_minutes: 1\n"
           "    evaluation_interval_seconds: 60\n"
           "    for_seconds: 60\n";
    return dir;
}

static void test_monitoring() {
    cha::Handle h = cha::Handle::open(in_work_dir("monitoring.db"), R"({"evaluate_alerts": false})");
    h.deploy_all(alert_config_dir());

    std::mutex lock;
    std::vector<std::string> kinds;
    h.on_alert([&](const char *event) {
        const char *kind = std::strstr(event, "\"kind\":\"");
        std::lock_guard<std::mutex> guard(lock);
        if (kind != nullptr) {
            kind += std::strlen("\"kind\":\"");
            kinds.emplace_back(kind, std::strcspn(kind, "\""));
        }
        throw std::runtime_error("dropped at the boundary, never unwinding into C");
    });
    h.metric_record_at("timer", "solve_time_ms", 1.2, nullptr, T0 + 1000);
    CHECK(has(h.evaluate_alerts(T0 + 30000), "\"kind\":\"pending\",\"severity\":\"warning\""));
    h.metric_record_at("timer", "solve_time_ms", 6.0, nullptr, T0 + MIN_MS + 1000);
    CHECK(has(h.evaluate_alerts(T0 + MIN_MS + 30000), "\"kind\":\"firing\",\"severity\":\"critical\""));
    for (int i = 0; i < 1500; i++) {
        {
            std::lock_guard<std::mutex> guard(lock);
            if (kinds.size() >= 2) break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    {
        std::lock_guard<std::mutex> guard(lock);
        CHECK(kinds == (std::vector<std::string>{"pending", "firing"}));
    }
    h.on_alert(nullptr); /* removed: no more calls after this returns */

    cha::String firing = h.alerts(0, 0, true);
    CHECK(has(firing, "\"rule\":\"solve_time_ms\",\"metric\":\"solve_time_ms\",\"state\":\"firing\""));
    const char *at = firing ? std::strstr(firing.get(), "\"id\":") : nullptr;
    const int64_t id = at != nullptr ? std::strtoll(at + 5, nullptr, 10) : 0;
    CHECK(has(h.acknowledge_alert(id, "anna"), "\"acknowledged_by\":\"anna\""));
    CHECK(has(h.resolve_alert(id, "anna"), "\"resolved_by\":\"anna\""));
    CHECK_THROWS(h.resolve_alert(id, "anna"), CHA_ERR_INVALID_ARGUMENT, "is resolved already");
    CHECK_THROWS(h.acknowledge_alert(99999, "anna"), CHA_ERR_NOT_FOUND, "no alert has id 99999");
    CHECK(has(h.alert_history("solve_time_ms"), "\"kind\":\"manually_resolved\""));
    CHECK(has(h.alert_history(), "\"kind\":\"pending\""));
    CHECK(has(h.alert_rules(), "[{\"name\":\"solve_time_ms\",\"metric_name\":\"solve_time_ms\""));

    h.metric_record("pipe_diameter_mm", 110.0, R"({"method": "intelligent"})");
    h.metric_record_timer("pipe_sizing_time_ms", 0.25);
    h.metric_increment("pipe_sizing_requests");
    h.metric_increment("pipe_sizing_requests", 2.0);
    h.metric_gauge("open_networks", 7.0);
    CHECK_THROWS(h.metric_increment("pipe_sizing_requests", -1.0), CHA_ERR_INVALID_ARGUMENT,
                 "pipe_sizing_requests");
    CHECK_THROWS(h.metric_record("bad name", 1.0), CHA_ERR_INVALID_ARGUMENT, "bad name");
    CHECK_THROWS(h.metric_gauge("open_networks", 1.0, "[1]"), CHA_ERR_INVALID_ARGUMENT, "tags");
    CHECK_THROWS(h.metric_record_at("rate", "x", 1.0, nullptr, T0), CHA_ERR_INVALID_ARGUMENT,
                 "rate");
    h.flush();
    cha::String report = h.performance_report();
    CHECK(has(report, "\"metric\":\"pipe_sizing_time_ms\""));
    CHECK(has(report, "\"metric\":\"pipe_sizing_requests\",\"kind\":\"counter\""));
    CHECK(has(h.metrics_list(), "\"open_networks\""));
    CHECK(has(h.export_metrics(), "# EOF"));
    CHECK(has(h.export_metrics("prometheus"), "pipe_sizing_requests"));
    CHECK_THROWS(h.export_metrics("xml"), CHA_ERR_INVALID_ARGUMENT, "xml");
    CHECK(has(h.flag_usage(), "\"stale_after_days\":30,\"flags\":[]"));
    CHECK(has(h.sample_system_metrics(), "\"memory_usage_mb\":"));
}

/* ---- feedback ----------------------------------------------------------------- */

static void test_feedback() {
    cha::Handle h = cha::Handle::open(in_work_dir("feedback.db"));
    h.deploy_all(config_dir());
    const int64_t bug = h.submit_feedback(
        R"({"type": "bug_report", "text": "the solver crashes on a looped network", "user_id": "planner-7"})");
    const int64_t again = h.submit_feedback(
        R"({"type": "bug_report", "text": "crash in the solver with a looped network", "user_id": "planner-8"})");
    const int64_t survey = h.submit_feedback(
        R"({"type": "satisfaction_survey", "rating": 5, "text": "saves time", "user_id": "planner-9"})");
    CHECK(bug > 0 && again > bug && survey > again);
    CHECK_THROWS(h.submit_feedback(
                     R"({"type": "satisfaction_survey", "text": "no rating", "user_id": "p"})"),
                 CHA_ERR_INVALID_ARGUMENT, "rating");
    CHECK_THROWS(h.submit_feedback(R"({"type": "rant", "text": "x"})"), CHA_ERR_INVALID_ARGUMENT,
                 "rant");
    CHECK(has(h.feedback_get(bug), "\"user_id\":\"planner-7\""));
    CHECK_THROWS(h.feedback_get(99999), CHA_ERR_NOT_FOUND, "99999");
    CHECK(has(h.feedback_list(), "\"id\":"));
    CHECK(has(h.feedback_list(R"({"user_id": "planner-9"})"), "\"rating\":5"));
    h.set_feedback_status(bug, "acknowledged", "triage");
    CHECK(has(h.feedback_get(bug), "\"status\":\"acknowledged\""));
    CHECK_THROWS(h.set_feedback_status(bug, "sleeping", "triage"), CHA_ERR_INVALID_ARGUMENT,
                 "sleeping");
    CHECK(has(h.feedback_transition(bug, R"({"status": "in_progress", "actor": "dev", "note": "looking"})"),
              "\"status\":\"in_progress\""));
    /* The second crash report was merged into the first on arrival. */
    CHECK(has(h.feedback_get(again), "\"status\":\"duplicate\""));
    CHECK_THROWS(h.merge_feedback(again, bug, "triage"), CHA_ERR_INVALID_ARGUMENT,
                 "duplicate is final");
    const int64_t other = h.submit_feedback(
        R"({"type": "bug_report", "text": "pressure drop too high on DN50 branches", "user_id": "planner-10"})");
    h.merge_feedback(other, bug, "triage");
    CHECK(has(h.feedback_get(other), "\"status\":\"duplicate\""));
    CHECK(has(h.analyze_feedback(), "\"total_items\":4"));
    CHECK(has(h.analyze_feedback(0, 0, R"({"top_issues": 1})"), "\"top_issues\":["));
    CHECK_THROWS(h.analyze_feedback(-5), CHA_ERR_INVALID_ARGUMENT, "");
}

/* ---- deployments, flags' rollouts, backups, the report and config files ---------- */

static void test_deployments() {
    cha::Handle h = cha::Handle::open(in_work_dir("deployments.db"));
    const std::string dir = config_dir();
    CHECK(has(h.plan_deployment(dir), "\"sections\":["));
    h.deploy_all(dir);
    CHECK(has(h.deployment_status(), "\"last_deployment\""));
    CHECK(has(h.export_state(), "\"intelligent_pipe_sizing\""));
    CHECK(has(h.deployment_history(), "\"action\":\"deploy\""));
    CHECK(has(h.deployment_get(1), "\"id\":1"));
    CHECK_THROWS(h.deployment_get(999), CHA_ERR_NOT_FOUND, "999");

    /* A runtime change is drift: the next deploy refuses until told. */
    CHECK(has(h.change_flag("intelligent_pipe_sizing", R"({"percentage": 60})", "ops"),
              "\"percentage\""));
    CHECK_THROWS(h.deploy_all(dir), CHA_ERR_DRIFT, "intelligent_pipe_sizing");
    CHECK(has(h.plan_deployment(dir), "\"undoes_drift\":true"));
    h.deploy_all(dir, R"({"on_drift": "keep_runtime"})");
    CHECK(has(h.flag_get("intelligent_pipe_sizing"), "\"percentage\":60"));

    CHECK(has(h.pause_rollout("intelligent_pipe_sizing", "pressure alarms", "ops"),
              "\"intelligent_pipe_sizing\""));
    CHECK(has(h.resume_rollout("intelligent_pipe_sizing", "ops"), "\"intelligent_pipe_sizing\""));
    CHECK_THROWS(h.pause_rollout("no_such_flag", "x", "ops"), CHA_ERR_NOT_FOUND, "no_such_flag");
    CHECK(has(h.check_guardrails(), "["));

    CHECK(has(h.rollback_plan(1), "\"rollback_to\""));
    CHECK(has(h.rollback(1, R"({"on_drift": "overwrite"})"), "\"rolled_back_to\":1"));
    CHECK_THROWS(h.rollback(999), CHA_ERR_NOT_FOUND, "999");

    CHECK(has(h.backup("cpp-test"), "\"name\""));
    CHECK(has(h.backup_list(), "\"name\""));
    CHECK(has(h.restore_backup("latest", "ops"), "\"action\":\"restore\""));
    CHECK_THROWS(h.restore_backup("no-such-backup.db", "ops"), CHA_ERR_NOT_FOUND, "no-such-backup");

    CHECK(has(h.report("md"), "# "));
    CHECK(has(h.report("json"), "\"deployments\""));
    const std::string html = in_work_dir("report.html");
    CHECK(has(h.report(nullptr, html.c_str()), "report.html"));
    CHECK(file_exists(html));
    CHECK_THROWS(h.report("pdf"), CHA_ERR_INVALID_ARGUMENT, "pdf");

    /* experiments: get, archive and restore, export, plan with options */
    const std::string e = "pipe_sizing_comparison";
    CHECK(has(h.experiment_get(e), "\"pipe_sizing_comparison\""));
    CHECK(has(h.peek_assignment(e, "planner-3"), "\"unit\":\"planner-3\""));
    h.record(e, "planner-3", "pipe_cost_efficiency", 1.5);
    CHECK(h.export_experiment(e, in_work_dir("observations.csv")) == 1);
    CHECK(has(h.plan(e, "pipe_cost_efficiency", 100.0, 10.0, R"({"correction": "none"})"), "\"per_variant\":64,"));
    CHECK(has(h.experiment_list_archived(), "["));
    CHECK_THROWS(h.restore_experiment(e, "ops"), CHA_ERR_INVALID_ARGUMENT, "pipe_sizing_comparison");
}

static void test_config_functions() {
    CHECK(has(cha::config_template_for("performance_monitoring", "monitoring"), "thresholds:"));
    CHECK(has(cha::config_template_for("user_feedback", "feedback"), "feedback_categories"));
    CHECK_THROWS(cha::config_template_for("weather", "x"), CHA_ERR_INVALID_ARGUMENT, "weather");
    CHECK(has(cha::config_validate(config_dir()), "{\"file\":\"feature_flags.yml\",\"sha256\":"));
    CHECK_THROWS(cha::config_validate(in_work_dir("no_such_dir")), CHA_ERR_NOT_FOUND, "no_such_dir");
    const std::string file = in_work_dir("feature_flags.yml");
    std::ofstream(file) << "feature_flags:\n  old_flag:\n    flag_type: percentage\n"
                           "    enabled: true\n    rollout_percentage: 25.0\n";
    CHECK(has(cha::config_migrate(file), "\"from_version\":1,\"to_version\":2"));
    CHECK_THROWS(cha::config_migrate(in_work_dir("missing.yml")), CHA_ERR_NOT_FOUND, "missing.yml");
}

static void test_targeting() {
    cha::Handle h = cha::Handle::open(in_work_dir("targeting.db"));
    h.deploy_all(repo_dir("tests/fixtures/targeting"));
    const char *pilot = R"({"properties": {"network_id": "n-1", "site": "north-7",
                            "network_size": 800, "tool_version": "2.4.1"}})";
    cha_flag_details d{};
    CHECK(h.flag_double("velocity_limit", pilot, 2.0, &d) == 1.8);
    CHECK(same(d.reason, "TARGETING_MATCH") && d.error == nullptr && same(d.variant, "strict"));
    CHECK(h.flag_double("velocity_limit", R"({"properties": {"network_id": "n-2"}})", 2.0) == 2.5);
    CHECK(h.flag_int("max_iterations", R"({"user_id": "u1"})", 1) == 200);
    CHECK(h.flag_bool("solver_v3", R"({"user_id": "u1", "environment": "development"})", false));
    CHECK(!h.flag_bool("solver_v3", R"({"user_id": "u1", "environment": "production"})", true));
    CHECK(h.flag_json("pipe_catalogue", R"({"user_id": "planner-001"})", "null") ==
          R"({"max_dn":1000,"standard":"DIN EN 253"})");
    /* The default on an evaluation error, never an exception. */
    CHECK(h.flag_string("pipe_catalogue", R"({"user_id": "planner-001"})", "none", &d) == "none");
    CHECK(same(d.reason, "ERROR") && same(d.error, "TYPE_MISMATCH"));
    CHECK(h.flag_double("no_such_flag", nullptr, -1.5, &d) == -1.5);
    CHECK(same(d.error, "FLAG_NOT_FOUND"));
    CHECK(h.flag_int("max_iterations", "{not json", 9, &d) == 9);
    CHECK(same(d.error, "INVALID_CONTEXT"));
    CHECK_THROWS(h.flag_bool("bad-\xff", nullptr, false), CHA_ERR_INVALID_UTF8, "flag");
    CHECK_THROWS(h.flag_string("pipe_catalogue", nullptr, "bad-\xff"), CHA_ERR_INVALID_UTF8,
                 "default_value");

    /* A context parsed once: the same answers through the _with_context calls. */
    cha::Context prepared(pilot);
    CHECK(static_cast<bool>(prepared) && prepared.get() != nullptr);
    CHECK(h.flag_double("velocity_limit", prepared, 2.0, &d) == 1.8);
    CHECK(same(d.reason, "TARGETING_MATCH") && d.error == nullptr && same(d.variant, "strict"));
    CHECK(h.flag_int("velocity_limit", prepared, 7, &d) == 7);
    CHECK(same(d.reason, "ERROR") && same(d.error, "TYPE_MISMATCH"));
    CHECK(h.flag_bool("no_such_flag", prepared, true, &d));
    CHECK(same(d.error, "FLAG_NOT_FOUND"));
    cha::Context planner(std::string(R"({"user_id": "planner-001"})"));
    CHECK(h.flag_json("pipe_catalogue", planner, "null") ==
          R"({"max_dn":1000,"standard":"DIN EN 253"})");
    CHECK(h.flag_string("pipe_catalogue", planner, "none", &d) == "none");
    CHECK(same(d.error, "TYPE_MISMATCH") && same(d.variant, "din_en_253"));
    CHECK(h.flag_bool("solver_v3", cha::Context(R"({"environment": "development", "user_id": "u1"})"),
                      false));
    /* Moving hands the context over; the moved-from one is empty. */
    cha::Context moved(std::move(planner));
    CHECK(!planner && moved.get() != nullptr);
    CHECK(h.flag_int("max_iterations", moved, 1) == 200);
    CHECK_THROWS(h.flag_int("max_iterations", planner, 1), CHA_ERR_NULL_ARGUMENT, "context");
    planner = std::move(moved);
    CHECK(h.flag_int("max_iterations", planner, 1) == 200);
    /* A context that does not parse throws, saying where. */
    CHECK_THROWS(cha::Context(R"({"user_id": )"), CHA_ERR_INVALID_ARGUMENT, "line 1 column 12");
    CHECK_THROWS(cha::Context(R"({"userId": "u"})"), CHA_ERR_INVALID_ARGUMENT,
                 "unknown key `userId`");
    CHECK_THROWS(cha::Context(std::string("\"\xff\"")), CHA_ERR_INVALID_UTF8, "context_json");
    CHECK_THROWS(h.flag_bool("bad-\xff", prepared, false), CHA_ERR_INVALID_UTF8, "flag");
    CHECK_THROWS(h.flag_json("pipe_catalogue", prepared, "bad-\xff"), CHA_ERR_INVALID_UTF8,
                 "default_json");

    /* Segments: west-3 joins the pilot. */
    CHECK(has(h.segment_list(), "\"name\":\"pilot_sites\""));
    const char *west = R"({"properties": {"network_id": "n-1", "site": "west-3",
                           "network_size": 800, "tool_version": "2.4.1"}})";
    CHECK(h.flag_double("velocity_limit", west, 0.0) == 2.5);
    cha::String change = h.set_segment(
        "pilot_sites",
        R"({"constraints": [{"attribute": "site", "operator": "IN", "values": ["north-7", "harbour-2", "west-3"]}]})",
        "cpp-test");
    CHECK(has(change, "\"changed\":true"));
    CHECK(h.flag_double("velocity_limit", west, 0.0) == 1.8);
    CHECK_THROWS(h.set_segment("bad", R"({"constraints": [{"attribute": "a", "operator": "REGEX", "value": "["}]})",
                               "cpp-test"),
                 CHA_ERR_CONFIG, "segments.bad.constraints[0].value");
    CHECK_THROWS(h.set_segment("nothing", nullptr, "cpp-test"), CHA_ERR_NOT_FOUND, "nothing");

    /* The Unleash import, into a database of its own. */
    cha::Handle imported = cha::Handle::open(in_work_dir("unleash.db"));
    std::ifstream file(repo_dir("tests/fixtures/targeting/unleash.json"));
    std::string document((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    cha::String report = imported.import_unleash(document, R"({"actor": "cpp-test"})");
    CHECK(has(report, "{\"name\":\"network_heatmap\",\"action\":\"create\",\"version\":1}"));
    CHECK(has(report, "\"item\":\"network_heatmap\",\"path\":\"features[0].strategies[1]\""));
    CHECK(imported.flag_string("network_heatmap",
                               R"({"user_id": "u", "app_name": "sizer", "properties": {"site": "north-7", "toolVersion": "2.1.0"}})",
                               "none") == "blues");
    CHECK_THROWS(imported.import_unleash("{}"), CHA_ERR_INVALID_ARGUMENT,
                 "not an Unleash client-features document");

    /* A variant's configuration, typed. */
    cha::Handle ab = cha::Handle::open(in_work_dir("params.db"));
    ab.deploy_all(config_dir());
    const std::string e = "pipe_sizing_comparison";
    CHECK(ab.experiment_param_double(e, "intelligent", "max_velocity_ms") == 2.0);
    CHECK(ab.experiment_param_int(e, "traditional", "default_diameter_mm") == 100);
    CHECK(ab.experiment_param_bool(e, "intelligent", "enable_intelligent_sizing"));
    CHECK(ab.experiment_param_string(e, "traditional", "pipe_sizing_method") == "fixed_diameter");
    CHECK_THROWS(ab.experiment_param_double(e, "intelligent", "pipe_sizing_method"),
                 CHA_ERR_INVALID_ARGUMENT, "not a number");
    CHECK_THROWS(ab.experiment_param_int(e, "smart", "x"), CHA_ERR_NOT_FOUND,
                 "has no variant `smart`");
}

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s WORK_DIR\n", argv[0]);
        return 2;
    }
    work_dir = argv[1];

    try {
        test_version();
        test_ownership_is_move_only();
        test_open_flush_close();
        test_move();
        test_errors();
        test_string();
        test_flags();
        test_experiments();
        test_monitoring();
        test_feedback();
        test_deployments();
        test_config_functions();
        test_targeting();
    } catch (const cha::Error &e) {
        failed++;
        std::fprintf(stderr, "unexpected cha::Error %s: %s\n", e.status_name(), e.what());
    }

    std::printf("test_cpp: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}

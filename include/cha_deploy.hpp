/*
 * cha_deploy.hpp: a header-only C++17 wrapper of the C ABI in cha_deploy.h.
 *
 * Hand-written (cha_deploy.h is generated). It adds ownership and exceptions
 * and nothing else: every call goes to the C function of the same name, so
 * C++ and C can never disagree.
 *
 *   cha::Handle  owns a cha_handle (move-only; the destructor closes it)
 *   cha::String  owns a `char *` returned by the library (cha_string_free)
 *   cha::Flag    a pre-resolved flag (cha_flag_lookup) for inner loops
 *   cha::Context a context parsed once (cha_context_new; move-only, the
 *                destructor frees it) for the typed flag calls
 *   cha::Error   the exception every failed call throws: status + message
 *
 * Every function of cha_deploy.h has its wrapper here (tests/header.rs
 * checks). Experiments: Handle::assign (the variant name, owned by the handle, or
 * nullptr; exposes the unit), peek (the same answer, exposing no one),
 * assignment, record, analyze, plan, set_experiment_status and
 * experiment_list wrap the cha_experiment_* functions; experiment_param_double,
 * _int, _bool and _string read a variant's configuration, typed.
 *
 * Typed flag values: Handle::flag_bool, flag_double, flag_int, flag_string
 * and flag_json return the value, or the caller's default on any evaluation
 * error (never throwing for one), and fill an optional cha_flag_details with
 * the reason. Each takes the context as JSON text (parsed on every call) or
 * as a cha::Context (parsed once: the fast path, cha_flag_*_with_context).
 * Targeting at runtime: segment_list, set_segment, and
 * import_unleash for an Unleash client-features document.
 *
 * Example:
 *
 *   try {
 *       cha::Handle h = cha::Handle::open("cha.db");
 *       h.deploy_all("configs");
 *       if (h.flag_enabled("intelligent_pipe_sizing", planner_id)) { ... }
 *       const char *method = h.assign("pipe_sizing_comparison", planner_id);
 *       if (method != nullptr) {        // nullptr: not in the experiment
 *           ... size the network with `method` ...
 *           h.record("pipe_sizing_comparison", planner_id, "sizing_time_ms", 812.0);
 *       }
 *       double limit = h.flag_double("velocity_limit", R"({"properties": {"site": "north-7"}})", 2.0);
 *       cha::Context site(R"({"app_name": "sizer", "properties": {"site": "north-7"}})");
 *       for (const auto &pipe : pipes)  // parsed once, evaluated many times
 *           if (h.flag_bool("targeted_sizing", site, false)) { ... }
 *       cha::Flag sizing = h.flag_lookup("intelligent_pipe_sizing");
 *       for (const auto &segment : segments)   // inner loop: no name lookup
 *           if (sizing.enabled(planner_id, {"hydraulics_team"})) { ... }
 *       h.close();                      // or let the destructor do it
 *   } catch (const cha::Error &e) {
 *       std::cerr << e.status_name() << ": " << e.what() << "\n";
 *   }
 */
#ifndef CHA_DEPLOY_HPP
#define CHA_DEPLOY_HPP

#include "cha_deploy.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace cha {

/// A failed call: the status code and the library's message, which says
/// what was wrong and where (`what()` returns the message).
class Error : public std::runtime_error {
public:
    Error(cha_status status, const std::string &message)
        : std::runtime_error(message), status_(status) {}

    /// The C status code, one of the CHA_ERR_* values.
    cha_status status() const noexcept { return status_; }

    /// The name of the status code, e.g. "CHA_ERR_STORAGE". Static.
    const char *status_name() const noexcept { return cha_status_name(status_); }

private:
    cha_status status_;
};

/// Throws cha::Error with this thread's last error message unless `status`
/// is CHA_OK. Every wrapper below goes through it.
inline void check(cha_status status) {
    if (status != CHA_OK) {
        const char *message = cha_last_error_message();
        throw Error(status, message != nullptr ? message : cha_status_name(status));
    }
}

/// The version of the library loaded at run time, "MAJOR.MINOR.PATCH".
inline const char *version() noexcept { return cha_version(); }

/// True when the library loaded at run time is the version this header
/// (cha_deploy.h) was generated for.
inline bool library_matches_header() noexcept {
    return std::strcmp(cha_version(), CHA_VERSION_STRING) == 0;
}

/// The static name of a status code ("CHA_OK", ..., "CHA_UNKNOWN_STATUS").
inline const char *status_name(cha_status status) noexcept { return cha_status_name(status); }

/// Owns a `char *` that a cha_ function returned; frees it with
/// cha_string_free. Move-only. May be empty (NULL).
class String {
public:
    String() noexcept = default;

    /// Takes ownership of `owned`, a `char *` from this library, or NULL.
    explicit String(char *owned) noexcept : ptr_(owned) {}

    ~String() { cha_string_free(ptr_); }

    String(String &&other) noexcept : ptr_(std::exchange(other.ptr_, nullptr)) {}

    String &operator=(String &&other) noexcept {
        if (this != &other) {
            cha_string_free(std::exchange(ptr_, std::exchange(other.ptr_, nullptr)));
        }
        return *this;
    }

    String(const String &) = delete;
    String &operator=(const String &) = delete;

    /// For a C out-parameter (`char **out_json`): frees the current string
    /// and returns where the library may write the new one.
    char **out() noexcept {
        cha_string_free(std::exchange(ptr_, nullptr));
        return &ptr_;
    }

    /// The string, or NULL when empty. Owned by this object.
    const char *get() const noexcept { return ptr_; }

    /// A view of the string; empty when NULL. Valid while this object is.
    std::string_view view() const noexcept {
        return ptr_ != nullptr ? std::string_view(ptr_) : std::string_view();
    }

    /// A copy of the string; "" when NULL.
    std::string str() const { return std::string(view()); }

    explicit operator bool() const noexcept { return ptr_ != nullptr; }

    /// Gives up ownership: the caller frees the result with cha_string_free.
    char *release() noexcept { return std::exchange(ptr_, nullptr); }

private:
    char *ptr_ = nullptr;
};

/// A flag resolved once with Handle::flag_lookup, for simulation inner loops:
/// `enabled` skips the name lookup (cha_flag_enabled_id). A plain value,
/// cheap to copy; it does not own the handle and is valid while the Handle
/// it came from is open. It stays valid across configuration changes; a
/// flag removed since evaluates off.
class Flag {
public:
    /// An empty flag; `enabled` on it throws CHA_ERR_NULL_ARGUMENT.
    Flag() noexcept = default;

    /// Wraps an id from cha_flag_lookup on `h`.
    Flag(const cha_handle *h, uint32_t id) noexcept : h_(h), id_(id) {}

    /// Whether the flag is on for `user_id` (NULL: anonymous) in the
    /// `n_groups` groups at `groups`. Never allocates.
    bool enabled(const char *user_id = nullptr, const char *const *groups = nullptr,
                 size_t n_groups = 0) const {
        bool on = false;
        check(cha_flag_enabled_id(h_, id_, user_id, groups, n_groups, &on));
        return on;
    }

    /// `enabled` with the groups in braces: `f.enabled(user, {"beta_testers"})`.
    bool enabled(const char *user_id, std::initializer_list<const char *> groups) const {
        return enabled(user_id, groups.begin(), groups.size());
    }

    bool enabled(const std::string &user_id, std::initializer_list<const char *> groups = {}) const {
        return enabled(user_id.c_str(), groups.begin(), groups.size());
    }

    /// The flag handle id (for calling cha_flag_enabled_id directly).
    uint32_t id() const noexcept { return id_; }

private:
    const cha_handle *h_ = nullptr;
    uint32_t id_ = 0;
};

/// A context parsed and checked once (cha_context_new), for the typed flag
/// calls of Handle that take a cha::Context: they evaluate without parsing
/// JSON. Move-only; the destructor frees it (cha_context_free). It belongs
/// to no Handle: use it with any open one, from any number of threads at
/// once, while it lives.
class Context {
public:
    /// An empty context object; a call with it throws CHA_ERR_NULL_ARGUMENT.
    Context() noexcept = default;

    /// Parses `context_json`, e.g. R"({"user_id": "planner-042",
    /// "properties": {"site": "north-7", "network_size": 800}})"; "{}" is
    /// the empty context. Throws CHA_ERR_INVALID_ARGUMENT for text that is
    /// not such an object (the message says where), CHA_ERR_INVALID_UTF8.
    explicit Context(const std::string &context_json) {
        check(cha_context_new(context_json.c_str(), &ctx_));
    }

    /// Takes ownership of `adopted`, from cha_context_new, or NULL.
    explicit Context(cha_context *adopted) noexcept : ctx_(adopted) {}

    ~Context() { cha_context_free(ctx_); }

    Context(Context &&other) noexcept : ctx_(std::exchange(other.ctx_, nullptr)) {}

    Context &operator=(Context &&other) noexcept {
        if (this != &other) {
            cha_context_free(std::exchange(ctx_, std::exchange(other.ctx_, nullptr)));
        }
        return *this;
    }

    Context(const Context &) = delete;
    Context &operator=(const Context &) = delete;

    /// The raw context (for calling the C functions directly), or NULL.
    const cha_context *get() const noexcept { return ctx_; }

    explicit operator bool() const noexcept { return ctx_ != nullptr; }

private:
    cha_context *ctx_ = nullptr;
};

/// A commented feature_flags.yml showing every flag type and field
/// (cha_config_template). `config_type` is "cha_intelligent_sizing" (the
/// default, when NULL) or "minimal"; another throws CHA_ERR_INVALID_ARGUMENT.
inline String config_template(const std::string &template_name,
                              const char *config_type = nullptr) {
    String yaml;
    check(cha_config_template(template_name.c_str(), config_type, yaml.out()));
    return yaml;
}

/// The commented template of `subsystem`'s config file
/// (cha_config_template_for): "feature_flags", "ab_tests",
/// "performance_monitoring" or "user_feedback". `config_type` as for
/// config_template (NULL: the default).
inline String config_template_for(const std::string &subsystem, const std::string &template_name,
                                  const char *config_type = nullptr) {
    String yaml;
    check(cha_config_template_for(subsystem.c_str(), template_name.c_str(), config_type,
                                  yaml.out()));
    return yaml;
}

/// Validates every config file in `config_dir` without a database
/// (cha_config_validate); returns the report as JSON. Invalid files throw
/// CHA_ERR_CONFIG listing every problem with file:line:column.
inline String config_validate(const std::string &config_dir, const char *options_json = nullptr) {
    String json;
    check(cha_config_validate(config_dir.c_str(), options_json, json.out()));
    return json;
}

/// Reads the config file at `path` and returns it migrated to the current
/// version with what changed, as JSON {"file","from_version","to_version",
/// "report","text"} (cha_config_migrate). Writes no file.
inline String config_migrate(const std::string &path) {
    String json;
    check(cha_config_migrate(path.c_str(), json.out()));
    return json;
}

/// Owns an open database (cha_handle). Move-only; the destructor closes it.
/// One handle may be used from many threads at once, but closing it (or
/// destroying or moving the Handle) must not race with other uses.
///
/// Calling a method on a closed or moved-from Handle throws cha::Error with
/// CHA_ERR_NULL_ARGUMENT: the C function is called with NULL and says so.
class Handle {
public:
    /// An empty handle; open one with Handle::open.
    Handle() noexcept = default;

    /// Takes ownership of `adopted`, from cha_open, or NULL.
    explicit Handle(cha_handle *adopted) noexcept : h_(adopted) {}

    /// Opens (creating if needed) the database at `path` with default options.
    /// Throws cha::Error (CHA_ERR_STORAGE, CHA_ERR_INVALID_UTF8, ...).
    static Handle open(const std::string &path) {
        cha_handle *h = nullptr;
        check(cha_open(path.c_str(), &h));
        return Handle(h);
    }

    /// Opens the database at `path` with options as a JSON object, e.g.
    /// R"({"journal_mode": "delete", "busy_timeout_ms": 250})". An unknown
    /// option or a wrong type throws CHA_ERR_INVALID_ARGUMENT.
    static Handle open(const std::string &path, const std::string &options_json) {
        cha_handle *h = nullptr;
        check(cha_open_with_options(path.c_str(), options_json.c_str(), &h));
        return Handle(h);
    }

    ~Handle() { cha_close(h_); }

    Handle(Handle &&other) noexcept
        : h_(std::exchange(other.h_, nullptr)),
          alert_callback_(std::move(other.alert_callback_)) {}

    /// Closes the handle held so far, then takes `other`'s.
    Handle &operator=(Handle &&other) noexcept {
        if (this != &other) {
            cha_close(std::exchange(h_, std::exchange(other.h_, nullptr)));
            // Closed above: the library no longer calls the old function.
            alert_callback_ = std::move(other.alert_callback_);
        }
        return *this;
    }

    Handle(const Handle &) = delete;
    Handle &operator=(const Handle &) = delete;

    /// Persists everything recorded so far.
    void flush() { check(cha_flush(h_)); }

    /// The handle's health as JSON (cha_health): "state" ("ok" or
    /// "failing"), the last flush and reload errors, what waits unpersisted,
    /// what was refused. Read from memory: it answers while the store fails.
    String health() const {
        String json;
        check(cha_health(h_, json.out()));
        return json;
    }

    /// Flushes and closes. Unlike the destructor, reports a failure to flush
    /// by throwing; the handle is closed either way. A no-op when empty.
    void close() {
        if (h_ == nullptr) {
            return;
        }
        cha_status flushed = cha_flush(h_);
        if (flushed == CHA_OK) {
            cha_close(std::exchange(h_, nullptr));
            return;
        }
        // Keep flush's message: closing may replace the thread's last error.
        const char *message = cha_last_error_message();
        Error error(flushed, message != nullptr ? message : cha_status_name(flushed));
        cha_close(std::exchange(h_, nullptr));
        throw error;
    }

    /// Deploys every known config file in `config_dir` (cha_deploy_all): all
    /// or nothing. Returns the report as JSON. Throws CHA_ERR_CONFIG (every
    /// problem, with file:line:column), CHA_ERR_NOT_FOUND, ...
    String deploy_all(const std::string &config_dir) {
        String report;
        check(cha_deploy_all(h_, config_dir.c_str(), report.out()));
        return report;
    }

    /// Whether `flag` is on for `user_id` (NULL: anonymous) in `groups`
    /// (cha_flag_enabled). Throws CHA_ERR_NOT_FOUND for an unknown flag.
    bool flag_enabled(const char *flag, const char *user_id = nullptr,
                      const char *const *groups = nullptr, size_t n_groups = 0) const {
        bool on = false;
        check(cha_flag_enabled(h_, flag, user_id, groups, n_groups, &on));
        return on;
    }

    bool flag_enabled(const std::string &flag, const std::string &user_id,
                      std::initializer_list<const char *> groups = {}) const {
        return flag_enabled(flag.c_str(), user_id.c_str(), groups.begin(), groups.size());
    }

    /// Resolves `flag` once for inner loops (cha_flag_lookup). Throws
    /// CHA_ERR_NOT_FOUND for an unknown flag.
    Flag flag_lookup(const std::string &flag) const {
        uint32_t id = 0;
        check(cha_flag_lookup(h_, flag.c_str(), &id));
        return Flag(h_, id);
    }

    /// The full evaluation of `flag` as JSON (cha_flag_evaluate):
    /// {"flag","enabled","variant","reason","rule","error"}. An unknown flag
    /// is not an error: it evaluates off with error FLAG_NOT_FOUND. A bad
    /// context throws CHA_ERR_INVALID_ARGUMENT.
    String evaluate(const std::string &flag, const char *context_json = nullptr) const {
        String json;
        check(cha_flag_evaluate(h_, flag.c_str(), context_json, json.out()));
        return json;
    }

    String evaluate(const std::string &flag, const std::string &context_json) const {
        return evaluate(flag, context_json.c_str());
    }

    /// Changes (or, with a `type`, creates) `flag` with `updates_json`
    /// (cha_flag_update), recorded under `actor`. Invalid updates change
    /// nothing and throw CHA_ERR_CONFIG naming each field.
    void update_flag(const std::string &flag, const std::string &updates_json,
                     const std::string &actor) {
        check(cha_flag_update(h_, flag.c_str(), updates_json.c_str(), actor.c_str()));
    }

    /// The stored definition of `flag` with its version, as JSON (cha_flag_get).
    String flag_get(const std::string &flag) const {
        String json;
        check(cha_flag_get(h_, flag.c_str(), json.out()));
        return json;
    }

    /// Every stored flag, as a JSON array (cha_flag_list).
    String flag_list() const {
        String json;
        check(cha_flag_list(h_, json.out()));
        return json;
    }

    /// Every change to `flag`, oldest first, as JSON (cha_flag_history).
    String flag_history(const std::string &flag) const {
        String json;
        check(cha_flag_history(h_, flag.c_str(), json.out()));
        return json;
    }

    /// Restores `flag` to its definition at `version` as a new version
    /// (cha_flag_restore); returns what changed, as JSON.
    String restore_flag(const std::string &flag, int64_t version, const std::string &actor) {
        String json;
        check(cha_flag_restore(h_, flag.c_str(), version, actor.c_str(), json.out()));
        return json;
    }

    /// Whether `flag` is on for the context `context_json` (nullptr: none),
    /// or `default_value` on any evaluation error (cha_flag_bool). How it
    /// was resolved goes to `details` when given (its strings are static or
    /// owned by the handle). Throws only for arguments: CHA_ERR_INVALID_UTF8.
    bool flag_bool(const std::string &flag, const char *context_json, bool default_value,
                   cha_flag_details *details = nullptr) const {
        bool value = default_value;
        check(cha_flag_bool(h_, flag.c_str(), context_json, default_value, &value, details));
        return value;
    }

    /// The number payload of the variant `flag` gives the context, or
    /// `default_value` (cha_flag_double): when the flag is off, on any
    /// evaluation error, and on a payload that is no number (reason ERROR,
    /// error TYPE_MISMATCH in `details`).
    double flag_double(const std::string &flag, const char *context_json, double default_value,
                       cha_flag_details *details = nullptr) const {
        double value = default_value;
        check(cha_flag_double(h_, flag.c_str(), context_json, default_value, &value, details));
        return value;
    }

    /// The whole-number payload, or `default_value` (cha_flag_int).
    int64_t flag_int(const std::string &flag, const char *context_json, int64_t default_value,
                     cha_flag_details *details = nullptr) const {
        int64_t value = default_value;
        check(cha_flag_int(h_, flag.c_str(), context_json, default_value, &value, details));
        return value;
    }

    /// The string payload (a variant without payload: its name), or
    /// `default_value` (cha_flag_string).
    std::string flag_string(const std::string &flag, const char *context_json,
                            const std::string &default_value,
                            cha_flag_details *details = nullptr) const {
        String value;
        check(cha_flag_string(h_, flag.c_str(), context_json, default_value.c_str(), value.out(),
                              details));
        return value.str();
    }

    /// The payload as JSON text (any JSON), or `default_json`
    /// (cha_flag_json).
    std::string flag_json(const std::string &flag, const char *context_json,
                          const std::string &default_json,
                          cha_flag_details *details = nullptr) const {
        String value;
        check(cha_flag_json(h_, flag.c_str(), context_json, default_json.c_str(), value.out(),
                            details));
        return value.str();
    }

    /// `flag_bool` with a prepared context (cha_flag_bool_with_context):
    /// the same answer without parsing JSON. Throws only for arguments:
    /// CHA_ERR_NULL_ARGUMENT for an empty Context.
    bool flag_bool(const std::string &flag, const Context &context, bool default_value,
                   cha_flag_details *details = nullptr) const {
        bool value = default_value;
        check(cha_flag_bool_with_context(h_, flag.c_str(), context.get(), default_value, &value,
                                         details));
        return value;
    }

    /// `flag_double` with a prepared context (cha_flag_double_with_context).
    double flag_double(const std::string &flag, const Context &context, double default_value,
                       cha_flag_details *details = nullptr) const {
        double value = default_value;
        check(cha_flag_double_with_context(h_, flag.c_str(), context.get(), default_value, &value,
                                           details));
        return value;
    }

    /// `flag_int` with a prepared context (cha_flag_int_with_context).
    int64_t flag_int(const std::string &flag, const Context &context, int64_t default_value,
                     cha_flag_details *details = nullptr) const {
        int64_t value = default_value;
        check(cha_flag_int_with_context(h_, flag.c_str(), context.get(), default_value, &value,
                                        details));
        return value;
    }

    /// `flag_string` with a prepared context (cha_flag_string_with_context).
    std::string flag_string(const std::string &flag, const Context &context,
                            const std::string &default_value,
                            cha_flag_details *details = nullptr) const {
        String value;
        check(cha_flag_string_with_context(h_, flag.c_str(), context.get(),
                                           default_value.c_str(), value.out(), details));
        return value.str();
    }

    /// `flag_json` with a prepared context (cha_flag_json_with_context).
    std::string flag_json(const std::string &flag, const Context &context,
                          const std::string &default_json,
                          cha_flag_details *details = nullptr) const {
        String value;
        check(cha_flag_json_with_context(h_, flag.c_str(), context.get(), default_json.c_str(),
                                         value.out(), details));
        return value.str();
    }

    /// Every stored segment, as a JSON array (cha_segment_list).
    String segment_list() const {
        String json;
        check(cha_segment_list(h_, json.out()));
        return json;
    }

    /// Sets `segment` to `definition_json` ({"description", "constraints"};
    /// nullptr deletes it) under `actor` (cha_segment_set); returns what
    /// changed, as JSON. Throws CHA_ERR_CONFIG naming the field (an invalid
    /// regex or CIDR, an unknown operator, a flag left naming a missing
    /// segment), CHA_ERR_NOT_FOUND (deleting a missing one).
    String set_segment(const std::string &segment, const char *definition_json,
                       const std::string &actor) {
        String json;
        check(cha_segment_set(h_, segment.c_str(), definition_json, actor.c_str(), json.out()));
        return json;
    }

    /// Imports an Unleash client-features document (cha_import_unleash);
    /// `options_json`: nullptr or {"actor", "dry_run"}. Returns the report
    /// as JSON, with what could not be translated by name. Throws
    /// CHA_ERR_INVALID_ARGUMENT (not such a document), CHA_ERR_CONFIG.
    String import_unleash(const std::string &document_json, const char *options_json = nullptr) {
        String json;
        check(cha_import_unleash(h_, document_json.c_str(), options_json, json.out()));
        return json;
    }

    /// Key `key` of the configuration of `variant` of `experiment`
    /// (ab_tests.yml) as a number (cha_experiment_param_double). Throws
    /// CHA_ERR_NOT_FOUND (no such experiment, variant or key) and
    /// CHA_ERR_INVALID_ARGUMENT (a value of another type). Exposes no one.
    double experiment_param_double(const std::string &experiment, const std::string &variant,
                                   const std::string &key) const {
        double value = 0;
        check(cha_experiment_param_double(h_, experiment.c_str(), variant.c_str(), key.c_str(),
                                          &value));
        return value;
    }

    /// As `experiment_param_double`, a whole number (cha_experiment_param_int).
    int64_t experiment_param_int(const std::string &experiment, const std::string &variant,
                                 const std::string &key) const {
        int64_t value = 0;
        check(cha_experiment_param_int(h_, experiment.c_str(), variant.c_str(), key.c_str(),
                                       &value));
        return value;
    }

    /// As `experiment_param_double`, true or false (cha_experiment_param_bool).
    bool experiment_param_bool(const std::string &experiment, const std::string &variant,
                               const std::string &key) const {
        bool value = false;
        check(cha_experiment_param_bool(h_, experiment.c_str(), variant.c_str(), key.c_str(),
                                        &value));
        return value;
    }

    /// As `experiment_param_double`, a string (cha_experiment_param_string).
    std::string experiment_param_string(const std::string &experiment,
                                        const std::string &variant,
                                        const std::string &key) const {
        String value;
        check(cha_experiment_param_string(h_, experiment.c_str(), variant.c_str(), key.c_str(),
                                          value.out()));
        return value.str();
    }

    /// The variant of `unit_id` in `experiment` (cha_experiment_assign):
    /// deterministic and sticky; the unit's exposure is logged once. Returns
    /// the variant name, owned by the handle and valid until it closes (do
    /// not free it), or nullptr when the unit gets no variant (the experiment
    /// is not running, or the unit is outside its coverage: `assignment`
    /// says which). In memory only. Throws CHA_ERR_NOT_FOUND for an unknown
    /// experiment, CHA_ERR_INVALID_ARGUMENT for an empty or over-long unit id.
    const char *assign(const char *experiment, const char *unit_id) {
        const char *variant = nullptr;
        check(cha_experiment_assign(h_, experiment, unit_id, &variant));
        return variant;
    }

    const char *assign(const std::string &experiment, const std::string &unit_id) {
        return assign(experiment.c_str(), unit_id.c_str());
    }

    /// The variant `assign` would give `unit_id` now, sticky pins included,
    /// without exposing the unit (cha_experiment_peek): nothing is logged or
    /// written. Returns as `assign` does; throws as `assign` does.
    const char *peek(const char *experiment, const char *unit_id) const {
        const char *variant = nullptr;
        check(cha_experiment_peek(h_, experiment, unit_id, &variant));
        return variant;
    }

    const char *peek(const std::string &experiment, const std::string &unit_id) const {
        return peek(experiment.c_str(), unit_id.c_str());
    }

    /// `assign` with the details, as JSON (cha_experiment_assignment):
    /// {"experiment","unit","variant","reason","configuration"}, reasons
    /// ASSIGNED, STICKY, NOT_RUNNING, PAUSED, OUTSIDE_COVERAGE.
    String assignment(const std::string &experiment, const std::string &unit_id) {
        String json;
        check(cha_experiment_assignment(h_, experiment.c_str(), unit_id.c_str(), json.out()));
        return json;
    }

    /// Records `value` of `metric` for `unit_id` in `experiment`
    /// (cha_experiment_record); the unit is assigned as by `assign`. Buffered:
    /// persisted within flush_interval_ms or by `flush`. Throws
    /// CHA_ERR_NOT_FOUND (experiment or metric) and CHA_ERR_INVALID_ARGUMENT
    /// (a value that is not finite, a unit without a variant).
    void record(const char *experiment, const char *unit_id, const char *metric, double value) {
        check(cha_experiment_record(h_, experiment, unit_id, metric, value));
    }

    void record(const std::string &experiment, const std::string &unit_id,
                const std::string &metric, double value) {
        record(experiment.c_str(), unit_id.c_str(), metric.c_str(), value);
    }

    /// The analysis of `experiment` as JSON (cha_experiment_analyze, or
    /// cha_experiment_analyze_with_options when `options_json` is given,
    /// e.g. R"({"correction": "benjamini_hochberg"})"). An unknown option
    /// throws CHA_ERR_INVALID_ARGUMENT.
    String analyze(const std::string &experiment, const char *options_json = nullptr) {
        String json;
        check(options_json == nullptr
                  ? cha_experiment_analyze(h_, experiment.c_str(), json.out())
                  : cha_experiment_analyze_with_options(h_, experiment.c_str(), options_json,
                                                        json.out()));
        return json;
    }

    String analyze(const std::string &experiment, const std::string &options_json) {
        return analyze(experiment, options_json.c_str());
    }

    /// Units each variant of `experiment` needs for `metric` given its
    /// unit-level baseline mean and standard deviation, as JSON
    /// (cha_experiment_plan): {"per_variant","total","nobs1","effect_size",...}.
    /// Throws CHA_ERR_INVALID_ARGUMENT for sd <= 0, mean 0 or NaN.
    String plan(const std::string &experiment, const std::string &metric, double baseline_mean,
                double baseline_sd) const {
        String json;
        check(cha_experiment_plan(h_, experiment.c_str(), metric.c_str(), baseline_mean,
                                  baseline_sd, json.out()));
        return json;
    }

    /// Sets the status of `experiment` ("draft", "running", "paused",
    /// "stopped", "completed") under `actor` (cha_experiment_set_status);
    /// returns the updated experiment as JSON. Leaving "completed" or an
    /// unknown status throws CHA_ERR_INVALID_ARGUMENT.
    String set_experiment_status(const std::string &experiment, const std::string &status,
                                 const std::string &actor) {
        String json;
        check(cha_experiment_set_status(h_, experiment.c_str(), status.c_str(), actor.c_str(),
                                        json.out()));
        return json;
    }

    /// Every stored experiment, as a JSON array (cha_experiment_list).
    String experiment_list() const {
        String json;
        check(cha_experiment_list(h_, json.out()));
        return json;
    }

    // ----- Flags: audited changes and guarded rollouts -----

    /// Changes (or, with a `type`, creates) `flag` as `update_flag` does and
    /// returns what changed, field by field, as JSON (cha_flag_change).
    String change_flag(const std::string &flag, const std::string &updates_json,
                       const std::string &actor) {
        String json;
        check(cha_flag_change(h_, flag.c_str(), updates_json.c_str(), actor.c_str(), json.out()));
        return json;
    }

    /// Holds `flag`'s rollout where it is, for `reason`
    /// (cha_flag_pause_rollout); returns the flag as JSON.
    String pause_rollout(const std::string &flag, const std::string &reason,
                         const std::string &actor) {
        String json;
        check(cha_flag_pause_rollout(h_, flag.c_str(), reason.c_str(), actor.c_str(), json.out()));
        return json;
    }

    /// Lets a paused rollout go on (cha_flag_resume_rollout).
    String resume_rollout(const std::string &flag, const std::string &actor) {
        String json;
        check(cha_flag_resume_rollout(h_, flag.c_str(), actor.c_str(), json.out()));
        return json;
    }

    /// Checks the guarded rollouts at `now_ms` (0: now) and stops those
    /// whose guardrails fire (cha_guardrails_check); returns the rollouts
    /// it stopped as a JSON array.
    String check_guardrails(int64_t now_ms = 0) {
        String json;
        check(cha_guardrails_check(h_, now_ms, json.out()));
        return json;
    }

    // ----- Experiments -----

    /// `assignment` without exposing the unit (cha_experiment_peek_assignment).
    String peek_assignment(const std::string &experiment, const std::string &unit_id) const {
        String json;
        check(cha_experiment_peek_assignment(h_, experiment.c_str(), unit_id.c_str(), json.out()));
        return json;
    }

    /// One stored experiment with its version and status, as JSON
    /// (cha_experiment_get). Throws CHA_ERR_NOT_FOUND.
    String experiment_get(const std::string &experiment) const {
        String json;
        check(cha_experiment_get(h_, experiment.c_str(), json.out()));
        return json;
    }

    /// The archived experiments, as a JSON array (cha_experiment_list_archived).
    String experiment_list_archived() const {
        String json;
        check(cha_experiment_list_archived(h_, json.out()));
        return json;
    }

    /// Brings an archived experiment back (cha_experiment_restore).
    String restore_experiment(const std::string &experiment, const std::string &actor) {
        String json;
        check(cha_experiment_restore(h_, experiment.c_str(), actor.c_str(), json.out()));
        return json;
    }

    /// `plan` with options as JSON, e.g. R"({"power": 0.9})"
    /// (cha_experiment_plan_with_options).
    String plan(const std::string &experiment, const std::string &metric, double baseline_mean,
                double baseline_sd, const std::string &options_json) const {
        String json;
        check(cha_experiment_plan_with_options(h_, experiment.c_str(), metric.c_str(),
                                               baseline_mean, baseline_sd, options_json.c_str(),
                                               json.out()));
        return json;
    }

    /// Writes every raw observation of `experiment` as CSV to `path`,
    /// replaced whole (cha_experiment_export); returns the rows written.
    uint64_t export_experiment(const std::string &experiment, const std::string &path) {
        uint64_t rows = 0;
        check(cha_experiment_export(h_, experiment.c_str(), path.c_str(), &rows));
        return rows;
    }

    // ----- Monitoring -----

    /// Records `value` of the histogram `name` with `tags_json` (a JSON
    /// object of scalars, or NULL) (cha_metric_record). In memory.
    void metric_record(const std::string &name, double value, const char *tags_json = nullptr) {
        check(cha_metric_record(h_, name.c_str(), value, tags_json));
    }

    /// Records a duration of `seconds` of the timer `name`, stored in ms
    /// (cha_metric_record_timer).
    void metric_record_timer(const std::string &name, double seconds,
                             const char *tags_json = nullptr) {
        check(cha_metric_record_timer(h_, name.c_str(), seconds, tags_json));
    }

    /// Adds `by` (>= 0) to the counter `name` (cha_metric_increment).
    void metric_increment(const std::string &name, double by = 1.0,
                          const char *tags_json = nullptr) {
        check(cha_metric_increment(h_, name.c_str(), by, tags_json));
    }

    /// Sets the gauge `name` (cha_metric_gauge).
    void metric_gauge(const std::string &name, double value, const char *tags_json = nullptr) {
        check(cha_metric_gauge(h_, name.c_str(), value, tags_json));
    }

    /// Records a sample of `kind` ("timer", "counter", "gauge",
    /// "histogram") at `at_ms` (cha_metric_record_at), for backfills and
    /// simulations.
    void metric_record_at(const std::string &kind, const std::string &name, double value,
                          const char *tags_json, int64_t at_ms) {
        check(cha_metric_record_at(h_, kind.c_str(), name.c_str(), value, tags_json, at_ms));
    }

    /// Calls `callback` with each alert event's JSON, on the library's
    /// evaluator thread, until replaced or the handle closes
    /// (cha_alerts_set_callback). An empty function removes it. An
    /// exception thrown by `callback` cannot cross the C library: it is
    /// caught and dropped, so catch what matters inside.
    void on_alert(std::function<void(const char *alert_event_json)> callback) {
        if (!callback) {
            check(cha_alerts_set_callback(h_, nullptr, nullptr));
            alert_callback_.reset();
            return;
        }
        auto owned = std::make_unique<std::function<void(const char *)>>(std::move(callback));
        check(cha_alerts_set_callback(h_, &Handle::deliver_alert, owned.get()));
        // The library now calls the new function; the old one may go.
        alert_callback_ = std::move(owned);
    }

    /// Evaluates every alert rule at `now_ms` (0: now) (cha_alerts_evaluate);
    /// returns the events it made as a JSON array.
    String evaluate_alerts(int64_t now_ms = 0) {
        String json;
        check(cha_alerts_evaluate(h_, now_ms, json.out()));
        return json;
    }

    /// The incidents active in [start_ms, end_ms) (0: unbounded), newest
    /// first (cha_alerts_list).
    String alerts(int64_t start_ms = 0, int64_t end_ms = 0, bool firing_only = false,
                  uint32_t limit = 0) const {
        String json;
        check(cha_alerts_list(h_, start_ms, end_ms, firing_only, limit, json.out()));
        return json;
    }

    /// Every alert event of `rule` (NULL: all) in [start_ms, end_ms)
    /// (cha_alerts_history).
    String alert_history(const char *rule = nullptr, int64_t start_ms = 0, int64_t end_ms = 0,
                         uint32_t limit = 0) const {
        String json;
        check(cha_alerts_history(h_, rule, start_ms, end_ms, limit, json.out()));
        return json;
    }

    /// The alert rules with their state (cha_alerts_rules).
    String alert_rules() const {
        String json;
        check(cha_alerts_rules(h_, json.out()));
        return json;
    }

    /// Acknowledges the incident `alert_id` (cha_alert_acknowledge).
    String acknowledge_alert(int64_t alert_id, const std::string &actor) {
        String json;
        check(cha_alert_acknowledge(h_, alert_id, actor.c_str(), json.out()));
        return json;
    }

    /// Resolves the incident `alert_id` by hand (cha_alert_resolve).
    String resolve_alert(int64_t alert_id, const std::string &actor) {
        String json;
        check(cha_alert_resolve(h_, alert_id, actor.c_str(), json.out()));
        return json;
    }

    /// The performance report of [start_ms, end_ms) (0: the first data /
    /// now) with percentiles, trends and alerts (cha_performance_report).
    String performance_report(int64_t start_ms = 0, int64_t end_ms = 0) {
        String json;
        check(cha_performance_report(h_, start_ms, end_ms, json.out()));
        return json;
    }

    /// The current values as "openmetrics" or "prometheus" text
    /// (cha_metrics_export).
    String export_metrics(const std::string &format = "openmetrics") {
        String text;
        check(cha_metrics_export(h_, format.c_str(), text.out()));
        return text;
    }

    /// Every metric with its kind and series (cha_metrics_list).
    String metrics_list() {
        String json;
        check(cha_metrics_list(h_, json.out()));
        return json;
    }

    /// Evaluations per flag in [start_ms, end_ms) (cha_flag_usage).
    String flag_usage(int64_t start_ms = 0, int64_t end_ms = 0) {
        String json;
        check(cha_flag_usage(h_, start_ms, end_ms, json.out()));
        return json;
    }

    /// Samples the system metrics once now and records them
    /// (cha_system_metrics_sample).
    String sample_system_metrics() {
        String json;
        check(cha_system_metrics_sample(h_, json.out()));
        return json;
    }

    // ----- Feedback -----

    /// Stores one piece of feedback, durable when this returns
    /// (cha_feedback_submit), e.g. R"({"type": "bug_report", "text": "...",
    /// "user_id": "planner-7"})". Returns its id.
    int64_t submit_feedback(const std::string &feedback_json) {
        int64_t id = 0;
        check(cha_feedback_submit(h_, feedback_json.c_str(), &id));
        return id;
    }

    /// One item with its sentiment, route, exposures and history
    /// (cha_feedback_get).
    String feedback_get(int64_t id) const {
        String json;
        check(cha_feedback_get(h_, id, json.out()));
        return json;
    }

    /// The items matching `query_json` (NULL: the newest 100)
    /// (cha_feedback_list).
    String feedback_list(const char *query_json = nullptr) const {
        String json;
        check(cha_feedback_list(h_, query_json, json.out()));
        return json;
    }

    /// Moves item `id` to `status` ("acknowledged", "in_progress", ...)
    /// (cha_feedback_set_status).
    void set_feedback_status(int64_t id, const std::string &status, const std::string &actor) {
        check(cha_feedback_set_status(h_, id, status.c_str(), actor.c_str()));
    }

    /// Applies a workflow change with its note (cha_feedback_transition).
    String feedback_transition(int64_t id, const std::string &change_json) {
        String json;
        check(cha_feedback_transition(h_, id, change_json.c_str(), json.out()));
        return json;
    }

    /// Merges item `id` into `into_id` as a duplicate (cha_feedback_merge).
    void merge_feedback(int64_t id, int64_t into_id, const std::string &actor) {
        check(cha_feedback_merge(h_, id, into_id, actor.c_str()));
    }

    /// The feedback analysis of [start_ms, end_ms) (0: unbounded)
    /// (cha_feedback_analyze, or _with_options when `options_json` is given).
    String analyze_feedback(int64_t start_ms = 0, int64_t end_ms = 0,
                            const char *options_json = nullptr) {
        String json;
        check(options_json == nullptr
                  ? cha_feedback_analyze(h_, start_ms, end_ms, json.out())
                  : cha_feedback_analyze_with_options(h_, start_ms, end_ms, options_json,
                                                      json.out()));
        return json;
    }

    // ----- Deployments -----

    /// `deploy_all` with options as JSON, e.g. R"({"overwrite": true})"
    /// (cha_deploy_all_with_options). Drift throws CHA_ERR_DRIFT.
    String deploy_all(const std::string &config_dir, const std::string &options_json) {
        String report;
        check(cha_deploy_all_with_options(h_, config_dir.c_str(), options_json.c_str(),
                                          report.out()));
        return report;
    }

    /// What a deploy would change, and the drift it would undo, writing
    /// nothing (cha_deploy_plan).
    String plan_deployment(const std::string &config_dir, const char *options_json = nullptr) {
        String json;
        check(cha_deploy_plan(h_, config_dir.c_str(), options_json, json.out()));
        return json;
    }

    /// Rolls back to the state before `deployment_id` (cha_deploy_rollback,
    /// or _with_options when `options_json` is given).
    String rollback(int64_t deployment_id, const char *options_json = nullptr) {
        String json;
        check(options_json == nullptr
                  ? cha_deploy_rollback(h_, deployment_id, json.out())
                  : cha_deploy_rollback_with_options(h_, deployment_id, options_json,
                                                     json.out()));
        return json;
    }

    /// What `rollback` would change, writing nothing (cha_deploy_rollback_plan).
    String rollback_plan(int64_t deployment_id, const char *options_json = nullptr) {
        String json;
        check(cha_deploy_rollback_plan(h_, deployment_id, options_json, json.out()));
        return json;
    }

    /// Every subsystem's state, the last deployment and the drift
    /// (cha_deploy_status).
    String deployment_status() {
        String json;
        check(cha_deploy_status(h_, json.out()));
        return json;
    }

    /// Everything that runs, as JSON (cha_deploy_export).
    String export_state() {
        String json;
        check(cha_deploy_export(h_, json.out()));
        return json;
    }

    /// The last `limit` deployments, newest first (cha_deploy_history).
    String deployment_history(uint32_t limit = 20) {
        String json;
        check(cha_deploy_history(h_, limit, json.out()));
        return json;
    }

    /// One deployment whole, with its plan (cha_deploy_get).
    String deployment_get(int64_t deployment_id) {
        String json;
        check(cha_deploy_get(h_, deployment_id, json.out()));
        return json;
    }

    /// The deployment report as "html", "md" or "json" (NULL: by the
    /// extension of `output_path`, else HTML) (cha_deploy_report). With an
    /// `output_path` it is written there and the result says where;
    /// without, the result is the report itself.
    String report(const char *format = nullptr, const char *output_path = nullptr) {
        String out;
        check(cha_deploy_report(h_, format, output_path, out.out()));
        return out;
    }

    /// Backs the database up, for `reason` (cha_backup_create).
    String backup(const std::string &reason) {
        String json;
        check(cha_backup_create(h_, reason.c_str(), json.out()));
        return json;
    }

    /// The backups, newest first (cha_backup_list).
    String backup_list() {
        String json;
        check(cha_backup_list(h_, json.out()));
        return json;
    }

    /// Restores the backup `name` ("latest": the newest)
    /// (cha_backup_restore).
    String restore_backup(const std::string &name, const std::string &actor) {
        String json;
        check(cha_backup_restore(h_, name.c_str(), actor.c_str(), json.out()));
        return json;
    }

    /// The C handle, for calling the C functions directly.
    /// Still owned by this object.
    cha_handle *get() const noexcept { return h_; }

    /// Gives up ownership: the caller closes the result with cha_close.
    cha_handle *release() noexcept { return std::exchange(h_, nullptr); }

    /// True while the handle is open.
    explicit operator bool() const noexcept { return h_ != nullptr; }

private:
    static void deliver_alert(const char *alert_event_json, void *user_data) noexcept {
        try {
            (*static_cast<std::function<void(const char *)> *>(user_data))(alert_event_json);
        } catch (...) {
            // An exception must not unwind into the C library.
        }
    }

    cha_handle *h_ = nullptr;
    // The function the library calls on alerts; outlives the registration.
    std::unique_ptr<std::function<void(const char *)>> alert_callback_;
};

}  // namespace cha

#endif  // CHA_DEPLOY_HPP

/*
 * test_cpp.cpp: the C++ wrapper include/cha_deploy.hpp: RAII handles that
 * close themselves, move-only ownership, and cha::Error exceptions that
 * carry the status and the library's message.
 *
 * Run by tests/c_abi.rs as `test_cpp WORK_DIR`. Prints one line per failed
 * check and a summary; exits non-zero if any check failed.
 */
#include "cha_deploy.hpp"

#include <cstdio>
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
    } catch (const cha::Error &e) {
        failed++;
        std::fprintf(stderr, "unexpected cha::Error %s: %s\n", e.status_name(), e.what());
    }

    std::printf("test_cpp: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}

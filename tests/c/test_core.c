/*
 * test_core.c: the core of the C ABI as a C program sees it: version,
 * status names, open/close/flush, NULL and non-UTF-8 arguments, bad paths,
 * a schema newer than the library, open options and the thread-local last
 * error message.
 *
 * Run by tests/c_abi.rs as `test_core WORK_DIR`, where WORK_DIR is an empty
 * folder for the databases. Prints one line per failed check and a summary;
 * exits non-zero if any check failed.
 */
#define _POSIX_C_SOURCE 200809L

#include "cha_deploy.h"
#include "harness.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A value no real handle has: an out-pointer must keep it after a failure. */
static cha_handle *const UNTOUCHED = (cha_handle *)(uintptr_t)0x5eed;

static const char *work_dir;

/* Writes WORK_DIR/name into `buf` (of size PATH_MAX-ish). */
static const char *path_in_work_dir(char *buf, size_t size, const char *name) {
    int n = snprintf(buf, size, "%s/%s", work_dir, name);
    if (n < 0 || (size_t)n >= size) {
        fprintf(stderr, "path too long: %s/%s\n", work_dir, name);
        exit(2);
    }
    return buf;
}

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static void test_version(void) {
    char expected[64];
    snprintf(expected, sizeof expected, "%d.%d.%d", CHA_VERSION_MAJOR, CHA_VERSION_MINOR,
             CHA_VERSION_PATCH);
    CHECK(cha_version() != NULL);
    CHECK(strcmp(cha_version(), expected) == 0);
    CHECK(strcmp(cha_version(), CHA_VERSION_STRING) == 0);
    CHECK(strcmp(expected, CHA_VERSION_STRING) == 0);
}

static void test_status_names(void) {
    static const struct {
        cha_status status;
        const char *name;
    } names[] = {
        {CHA_OK, "CHA_OK"},
        {CHA_ERR_NULL_ARGUMENT, "CHA_ERR_NULL_ARGUMENT"},
        {CHA_ERR_INVALID_UTF8, "CHA_ERR_INVALID_UTF8"},
        {CHA_ERR_INVALID_ARGUMENT, "CHA_ERR_INVALID_ARGUMENT"},
        {CHA_ERR_NOT_FOUND, "CHA_ERR_NOT_FOUND"},
        {CHA_ERR_CONFIG, "CHA_ERR_CONFIG"},
        {CHA_ERR_STORAGE, "CHA_ERR_STORAGE"},
        {CHA_ERR_BUSY, "CHA_ERR_BUSY"},
        {CHA_ERR_INTERNAL, "CHA_ERR_INTERNAL"},
        {CHA_ERR_DRIFT, "CHA_ERR_DRIFT"},
    };
    /* The values are part of the ABI: they must never change. */
    CHECK(CHA_OK == 0);
    CHECK(CHA_ERR_NULL_ARGUMENT == 1 && CHA_ERR_INVALID_UTF8 == 2);
    CHECK(CHA_ERR_INVALID_ARGUMENT == 3 && CHA_ERR_NOT_FOUND == 4);
    CHECK(CHA_ERR_CONFIG == 5 && CHA_ERR_STORAGE == 6);
    CHECK(CHA_ERR_BUSY == 7 && CHA_ERR_INTERNAL == 8);
    CHECK(CHA_ERR_DRIFT == 9);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *name = cha_status_name(names[i].status);
        if (name == NULL || strcmp(name, names[i].name) != 0) {
            fprintf(stderr, "status %d: name %s, expected %s\n", (int)names[i].status,
                    name ? name : "(NULL)", names[i].name);
        }
        CHECK(name != NULL && strcmp(name, names[i].name) == 0);
    }
    CHECK(strcmp(cha_status_name(10), "CHA_UNKNOWN_STATUS") == 0);
    CHECK(strcmp(cha_status_name(-1), "CHA_UNKNOWN_STATUS") == 0);
    CHECK(strcmp(cha_status_name(INT32_MAX), "CHA_UNKNOWN_STATUS") == 0);
}

static void test_open_flush_close(void) {
    char path[4096];
    path_in_work_dir(path, sizeof path, "core.db");

    cha_handle *h = NULL;
    CHECK_STATUS(cha_open(path, &h), CHA_OK);
    CHECK(h != NULL);
    CHECK(file_exists(path));
    CHECK_STATUS(cha_flush(h), CHA_OK);
    CHECK_STATUS(cha_flush(h), CHA_OK);
    cha_close(h);

    /* An existing database opens again, with and without options. */
    h = NULL;
    CHECK_STATUS(cha_open(path, &h), CHA_OK);
    CHECK(h != NULL);
    cha_close(h);

    h = NULL;
    CHECK_STATUS(cha_open_with_options(path, "{}", &h), CHA_OK);
    CHECK(h != NULL);
    CHECK_STATUS(cha_flush(h), CHA_OK);
    cha_close(h);

    h = NULL;
    CHECK_STATUS(cha_open_with_options(path,
                                       "{\"journal_mode\": \"delete\", \"synchronous\": \"full\", "
                                       "\"busy_timeout_ms\": 250, \"flush_interval_ms\": 50, "
                                       "\"refresh_interval_ms\": 20}",
                                       &h),
                 CHA_OK);
    CHECK(h != NULL);
    CHECK_STATUS(cha_flush(h), CHA_OK);
    cha_close(h);

    /* Two handles on one file at once. */
    cha_handle *a = NULL;
    cha_handle *b = NULL;
    CHECK_STATUS(cha_open(path, &a), CHA_OK);
    CHECK_STATUS(cha_open(path, &b), CHA_OK);
    CHECK(a != NULL && b != NULL && a != b);
    CHECK_STATUS(cha_flush(a), CHA_OK);
    CHECK_STATUS(cha_flush(b), CHA_OK);
    cha_close(b);
    cha_close(a);
}

static void test_null_arguments(void) {
    char path[4096];
    path_in_work_dir(path, sizeof path, "never-created.db");
    cha_handle *h = UNTOUCHED;

    CHECK_STATUS(cha_open(NULL, &h), CHA_ERR_NULL_ARGUMENT);
    CHECK_MESSAGE_HAS("cha_open: argument `db_path` is NULL");
    CHECK(h == UNTOUCHED);

    CHECK_STATUS(cha_open(path, NULL), CHA_ERR_NULL_ARGUMENT);
    CHECK_MESSAGE_HAS("cha_open: argument `out` is NULL");
    /* Nothing is done for a call whose result could not be delivered. */
    CHECK(!file_exists(path));

    CHECK_STATUS(cha_open_with_options(NULL, "{}", &h), CHA_ERR_NULL_ARGUMENT);
    CHECK_MESSAGE_HAS("cha_open_with_options: argument `db_path` is NULL");
    CHECK(h == UNTOUCHED);

    CHECK_STATUS(cha_open_with_options(path, NULL, &h), CHA_ERR_NULL_ARGUMENT);
    CHECK_MESSAGE_HAS("cha_open_with_options: argument `options_json` is NULL");
    CHECK(h == UNTOUCHED);

    CHECK_STATUS(cha_open_with_options(path, "{}", NULL), CHA_ERR_NULL_ARGUMENT);
    CHECK_MESSAGE_HAS("cha_open_with_options: argument `out` is NULL");
    CHECK(!file_exists(path));

    CHECK_STATUS(cha_flush(NULL), CHA_ERR_NULL_ARGUMENT);
    CHECK_MESSAGE_HAS("cha_flush: argument `h` is NULL");
}

static void test_invalid_utf8(void) {
    char path[4096];
    path_in_work_dir(path, sizeof path, "bad-\xff\xfe.db");
    cha_handle *h = UNTOUCHED;

    CHECK_STATUS(cha_open(path, &h), CHA_ERR_INVALID_UTF8);
    CHECK_MESSAGE_HAS("`db_path` is not valid UTF-8");
    CHECK(h == UNTOUCHED);
    CHECK(!file_exists(path));

    CHECK_STATUS(cha_open_with_options(path, "{}", &h), CHA_ERR_INVALID_UTF8);
    CHECK_MESSAGE_HAS("`db_path` is not valid UTF-8");
    CHECK(h == UNTOUCHED);

    path_in_work_dir(path, sizeof path, "utf8-options.db");
    CHECK_STATUS(cha_open_with_options(path, "{\"journal_mode\": \"\xc3\"}", &h),
                 CHA_ERR_INVALID_UTF8);
    CHECK_MESSAGE_HAS("`options_json` is not valid UTF-8");
    CHECK(h == UNTOUCHED);
    CHECK(!file_exists(path));
}

/* Opening `path` fails with CHA_ERR_STORAGE, a message naming the path and
 * `reason`, and leaves the out-pointer alone. */
static void check_storage_error(const char *path, const char *reason) {
    cha_handle *h = UNTOUCHED;
    CHECK_STATUS(cha_open(path, &h), CHA_ERR_STORAGE);
    CHECK_MESSAGE_HAS(path);
    CHECK_MESSAGE_HAS(reason);
    CHECK(h == UNTOUCHED);

    CHECK_STATUS(cha_open_with_options(path, "{}", &h), CHA_ERR_STORAGE);
    CHECK_MESSAGE_HAS(path);
    CHECK(h == UNTOUCHED);
}

static void test_bad_paths(void) {
    char path[4096];

    check_storage_error(work_dir, "is a directory");

    path_in_work_dir(path, sizeof path, "no-such-folder/x.db");
    check_storage_error(path, "does not exist");

    path_in_work_dir(path, sizeof path, "not-sqlite.db");
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f == NULL) {
        return;
    }
    for (int i = 0; i < 200; i++) {
        fputs("pipe segment 17: DN150, 42.0 m, not a database\n", f);
    }
    fclose(f);
    check_storage_error(path, "not a SQLite database");
}

/* Reads the SQLite header's user_version (big-endian, bytes 60..63). */
static int read_user_version(const char *path, uint32_t *out) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return 0;
    }
    unsigned char b[4];
    int ok = fseek(f, 60, SEEK_SET) == 0 && fread(b, 1, 4, f) == 4;
    fclose(f);
    if (ok) {
        *out = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    }
    return ok;
}

static int write_user_version(const char *path, uint32_t version) {
    FILE *f = fopen(path, "r+b");
    if (f == NULL) {
        return 0;
    }
    unsigned char b[4] = {(unsigned char)(version >> 24), (unsigned char)(version >> 16),
                          (unsigned char)(version >> 8), (unsigned char)version};
    int ok = fseek(f, 60, SEEK_SET) == 0 && fwrite(b, 1, 4, f) == 4;
    return fclose(f) == 0 && ok;
}

static void test_too_new_schema(void) {
    char path[4096];
    char wal[4200];
    path_in_work_dir(path, sizeof path, "too-new.db");
    snprintf(wal, sizeof wal, "%s-wal", path);

    cha_handle *h = NULL;
    CHECK_STATUS(cha_open(path, &h), CHA_OK);
    cha_close(h);
    /* Closing the last connection checkpoints the WAL into the main file,
     * so the header read below is the whole truth. */
    CHECK(!file_exists(wal));

    uint32_t current = 0;
    CHECK(read_user_version(path, &current));
    CHECK(current >= 1 && current < 9999);
    CHECK(write_user_version(path, 9999));

    char newer[64];
    char ours[64];
    snprintf(newer, sizeof newer, "schema version %u", 9999u);
    snprintf(ours, sizeof ours, "schema version %u", (unsigned)current);

    h = UNTOUCHED;
    CHECK_STATUS(cha_open(path, &h), CHA_ERR_STORAGE);
    CHECK_MESSAGE_HAS(path);
    CHECK_MESSAGE_HAS(newer);
    CHECK_MESSAGE_HAS(ours);
    CHECK(h == UNTOUCHED);

    CHECK_STATUS(cha_open_with_options(path, "{\"journal_mode\": \"delete\"}", &h),
                 CHA_ERR_STORAGE);
    CHECK_MESSAGE_HAS(newer);
    CHECK(h == UNTOUCHED);

    /* Refusing must not have changed the file. */
    uint32_t after = 0;
    CHECK(read_user_version(path, &after) && after == 9999);
}

static void test_bad_options(void) {
    char path[4096];
    path_in_work_dir(path, sizeof path, "options.db");
    static const struct {
        const char *json;
        const char *needle; /* what the message must name */
    } bad[] = {
        {"{\"journal\": \"wal\"}", "unknown field `journal`"},
        {"{\"journal_mode\": \"memory\"}", "unknown variant `memory`"},
        {"[]", "expected a JSON object"},
        {"{\"journal_mode\": 1}", "`journal_mode`: invalid type"},
        {"{\"busy_timeout_ms\": \"5s\"}", "invalid type"},
        {"{\"busy_timeout_ms\": -1}", "invalid value"},
        {"{\"flush_interval_ms\": 1.5}", "invalid type"},
        {"{\"refresh_interval_ms\": 0}", "refresh_interval_ms is 0"},
        {"not json", "open options"},
        {"", "open options"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cha_handle *h = UNTOUCHED;
        cha_status status = cha_open_with_options(path, bad[i].json, &h);
        if (status != CHA_ERR_INVALID_ARGUMENT) {
            fprintf(stderr, "options %s:\n", bad[i].json);
        }
        CHECK(status == CHA_ERR_INVALID_ARGUMENT);
        const char *message = cha_last_error_message();
        if (message == NULL || strstr(message, bad[i].needle) == NULL) {
            fprintf(stderr, "options %s: message should contain \"%s\"\n", bad[i].json,
                    bad[i].needle);
        }
        CHECK_MESSAGE_HAS(bad[i].needle);
        CHECK_MESSAGE_HAS("cha_open_with_options: ");
        CHECK(h == UNTOUCHED);
    }
    /* Options are checked before the file is touched. */
    CHECK(!file_exists(path));
}

static void test_null_is_a_no_op(void) {
    CHECK_STATUS(cha_flush(NULL), CHA_ERR_NULL_ARGUMENT);
    const char *before = cha_last_error_message();
    char saved[512];
    snprintf(saved, sizeof saved, "%s", before ? before : "");
    cha_close(NULL);
    cha_string_free(NULL);
    const char *after = cha_last_error_message();
    /* Neither is a failure, so the last error is still cha_flush's. */
    CHECK(after != NULL && strcmp(after, saved) == 0);
}

struct thread_report {
    int fresh_was_null;
    int null_after_success;
    int own_error_seen;
};

static void *thread_main(void *arg) {
    struct thread_report *report = arg;
    report->fresh_was_null = cha_last_error_message() == NULL;
    char path[4096];
    path_in_work_dir(path, sizeof path, "thread.db");
    cha_handle *h = NULL;
    if (cha_open(path, &h) == CHA_OK) {
        cha_close(h);
    }
    report->null_after_success = cha_last_error_message() == NULL;
    cha_open(NULL, NULL);
    const char *message = cha_last_error_message();
    report->own_error_seen =
        message != NULL && strstr(message, "cha_open: argument `db_path` is NULL") != NULL;
    return NULL;
}

static void test_last_error_is_thread_local(void) {
    CHECK_STATUS(cha_flush(NULL), CHA_ERR_NULL_ARGUMENT);
    CHECK_MESSAGE_HAS("cha_flush:");

    struct thread_report report = {0, 0, 0};
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, thread_main, &report) == 0);
    CHECK(pthread_join(thread, NULL) == 0);
    CHECK(report.fresh_was_null);
    CHECK(report.null_after_success);
    CHECK(report.own_error_seen);
    /* The other thread's failure did not replace this thread's message. */
    CHECK_MESSAGE_HAS("cha_flush: argument `h` is NULL");
}

struct flusher {
    cha_handle *h;
    int failures;
};

static void *flush_many(void *arg) {
    struct flusher *f = arg;
    for (int i = 0; i < 200; i++) {
        if (cha_flush(f->h) != CHA_OK) {
            f->failures++;
        }
    }
    return NULL;
}

/* One handle used from several threads at once (it is Send + Sync). */
static void test_one_handle_many_threads(void) {
    char path[4096];
    path_in_work_dir(path, sizeof path, "shared.db");
    cha_handle *h = NULL;
    CHECK_STATUS(cha_open(path, &h), CHA_OK);
    if (h == NULL) {
        return;
    }
    enum { THREADS = 4 };
    pthread_t threads[THREADS];
    struct flusher work[THREADS];
    for (int i = 0; i < THREADS; i++) {
        work[i] = (struct flusher){h, 0};
        CHECK(pthread_create(&threads[i], NULL, flush_many, &work[i]) == 0);
    }
    for (int i = 0; i < THREADS; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
        CHECK(work[i].failures == 0);
    }
    cha_close(h);
}

/* file_mode: a new database shared with a group, exactly (umask or not). */
static void test_file_mode(void) {
    char shared[4096];
    path_in_work_dir(shared, sizeof shared, "shared.db");
    cha_handle *h = NULL;
    CHECK_STATUS(cha_open_with_options(shared, "{\"file_mode\": \"0640\"}", &h), CHA_OK);
    struct stat st;
    CHECK(stat(shared, &st) == 0 && (st.st_mode & 0777) == 0640);
    cha_close(h);
    h = UNTOUCHED;
    CHECK_STATUS(cha_open_with_options(shared, "{\"file_mode\": \"0777\"}", &h),
                 CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("file_mode 0777 has bits besides read and write");
    CHECK(h == UNTOUCHED);
    CHECK_STATUS(cha_open_with_options(shared, "{\"file_mode\": 416}", &h),
                 CHA_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE_HAS("`file_mode`");
    CHECK(h == UNTOUCHED);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s WORK_DIR\n", argv[0]);
        return 2;
    }
    work_dir = argv[1];

    /* Before any failure on this thread there is no message. */
    CHECK(cha_last_error_message() == NULL);

    test_version();
    test_status_names();
    test_open_flush_close();
    CHECK(cha_last_error_message() == NULL);
    test_null_arguments();
    test_invalid_utf8();
    test_bad_paths();
    test_too_new_schema();
    test_bad_options();
    test_file_mode();
    test_null_is_a_no_op();
    test_last_error_is_thread_local();
    test_one_handle_many_threads();

    return harness_summary("test_core");
}

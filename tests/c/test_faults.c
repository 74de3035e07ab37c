/*
 * test_faults.c: disk faults as a C tool meets them: a database this
 * process cannot write is refused by cha_open with CHA_ERR_STORAGE; on a
 * full disk (a file size limit, RLIMIT_FSIZE, with SIGXFSZ ignored) flushes
 * fail with CHA_ERR_STORAGE, record calls are refused once the bounded
 * buffer is full instead of returning CHA_OK, flag checks keep answering,
 * cha_health says what fails; once there is room again everything
 * accepted is persisted. And cha_health's NULL contract, and cha_close
 * ending the library's threads before it returns.
 *
 * Each fault that changes the whole process (another user, a file size
 * limit) runs in a forked child, which opens its own handle.
 *
 * Run by tests/c_abi.rs as `test_faults WORK_DIR [CONFIG_DIR]`.
 */
#define _POSIX_C_SOURCE 200809L

#include "cha_deploy.h"
#include "harness.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *work_dir;
static const char *config_dir;

static const char *path_in_work_dir(char *buf, size_t size, const char *name) {
    int n = snprintf(buf, size, "%s/%s", work_dir, name);
    if (n < 0 || (size_t)n >= size) {
        fprintf(stderr, "path too long: %s/%s\n", work_dir, name);
        exit(2);
    }
    return buf;
}

/* A database with the repository's configuration deployed. */
static void deploy(const char *db) {
    cha_handle *h = NULL;
    CHECK_STATUS(cha_open(db, &h), CHA_OK);
    char *report = NULL;
    CHECK_STATUS(cha_deploy_all(h, config_dir, &report), CHA_OK);
    cha_string_free(report);
    cha_close(h);
}

/* In a forked child: counts its own failures and exits with them, without
 * the parent's atexit handlers. */
static int child_failures;

#define CHILD_CHECK(cond)                                                        \
    do {                                                                         \
        if (!(cond)) {                                                           \
            child_failures++;                                                    \
            const char *m_ = cha_last_error_message();                           \
            fprintf(stderr, "%s:%d: (child) CHECK failed: %s\n    last error: %s\n", \
                    __FILE__, __LINE__, #cond, m_ ? m_ : "(NULL)");              \
        }                                                                        \
    } while (0)

/* Runs `body(db)` in a child; CHECKs that it exited 0. */
static void in_child(void (*body)(const char *), const char *db) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        body(db);
        _exit(child_failures > 100 ? 100 : child_failures);
    }
    CHECK(pid > 0);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* As user nobody when root (root writes any file, whatever its mode). */
static void read_only_child(const char *db) {
    if (geteuid() == 0) {
        CHILD_CHECK(setgid(65534) == 0);
        CHILD_CHECK(setuid(65534) == 0);
    }
    cha_handle *h = (cha_handle *)0;
    cha_status status = cha_open(db, &h);
    CHILD_CHECK(status == CHA_ERR_STORAGE);
    CHILD_CHECK(h == NULL);
    const char *message = cha_last_error_message();
    CHILD_CHECK(message != NULL && strstr(message, "cannot be written") != NULL);
}

static void test_read_only_database(void) {
    char db[4096];
    path_in_work_dir(db, sizeof db, "read-only.db");
    deploy(db);
    CHECK(chmod(db, 0444) == 0);
    in_child(read_only_child, db);
}

static void limit_file_size(rlim_t bytes) {
    struct rlimit limit;
    CHILD_CHECK(getrlimit(RLIMIT_FSIZE, &limit) == 0);
    limit.rlim_cur = bytes;
    CHILD_CHECK(setrlimit(RLIMIT_FSIZE, &limit) == 0);
}

static void full_disk_child(const char *db) {
    /* Past the limit a write fails with EFBIG instead of killing us. */
    signal(SIGXFSZ, SIG_IGN);
    cha_handle *h = NULL;
    CHILD_CHECK(cha_open_with_options(db, "{\"max_buffered_records\": 100}", &h) == CHA_OK);
    if (h == NULL) {
        return;
    }
    const char *groups[] = {"engineers"};
    bool on = false;
    CHILD_CHECK(cha_flag_enabled(h, "flow_based_calculation", "planner-1", groups, 1, &on) ==
                CHA_OK && on);

    /* Every write at an offset past 1 byte fails: no room at all. */
    limit_file_size(1);
    int accepted = 0;
    cha_status status = CHA_OK;
    char unit[64];
    while (accepted < 100000) {
        snprintf(unit, sizeof unit, "network-%d", accepted);
        status = cha_experiment_record(h, "pipe_sizing_comparison", unit, "pipe_cost_efficiency",
                                       1.0);
        if (status != CHA_OK) {
            break;
        }
        accepted++;
    }
    CHILD_CHECK(status == CHA_ERR_STORAGE);
    const char *message = cha_last_error_message();
    CHILD_CHECK(message != NULL && strstr(message, "not recorded") != NULL);
    /* One buffered record per observation: the buffer holds 100. */
    CHILD_CHECK(accepted == 100);
    CHILD_CHECK(cha_flush(h) == CHA_ERR_STORAGE);

    /* Flags answer from the last good snapshot; the health says why. */
    on = false;
    CHILD_CHECK(cha_flag_enabled(h, "flow_based_calculation", "planner-1", groups, 1, &on) ==
                CHA_OK && on);
    char *health = NULL;
    CHILD_CHECK(cha_health(h, &health) == CHA_OK);
    CHILD_CHECK(health != NULL && strstr(health, "\"state\":\"failing\"") != NULL);
    CHILD_CHECK(health != NULL && strstr(health, "\"status\":\"CHA_ERR_STORAGE\"") != NULL);
    CHILD_CHECK(health != NULL && strstr(health, "\"refused_records\":1,") != NULL);
    cha_string_free(health);

    /* Room again: all of it lands. */
    limit_file_size(RLIM_INFINITY);
    CHILD_CHECK(cha_flush(h) == CHA_OK);
    health = NULL;
    CHILD_CHECK(cha_health(h, &health) == CHA_OK);
    CHILD_CHECK(health != NULL && strstr(health, "\"state\":\"ok\"") != NULL);
    cha_string_free(health);
    char *analysis = NULL;
    CHILD_CHECK(cha_experiment_analyze(h, "pipe_sizing_comparison", &analysis) == CHA_OK);
    /* Each variant's exposures are given twice: among the variants and in
     * its phase. Every accepted unit is counted, once. */
    long exposures = 0;
    for (const char *p = analysis; p != NULL && (p = strstr(p, "\"exposures\":")) != NULL;) {
        p += strlen("\"exposures\":");
        exposures += strtol(p, NULL, 10);
    }
    CHILD_CHECK(exposures == 2L * accepted);
    if (exposures != 2L * accepted) {
        fprintf(stderr, "%ld exposures for %d units: %.600s\n", exposures, accepted,
                analysis ? analysis : "(NULL)");
    }
    cha_string_free(analysis);
    cha_close(h);
}

static void test_full_disk(void) {
    char db[4096];
    path_in_work_dir(db, sizeof db, "full.db");
    deploy(db);
    in_child(full_disk_child, db);
}

/* How many of this process's threads are the library's (named "cha-..."),
 * or -1 without /proc. */
static int library_threads(void) {
    DIR *tasks = opendir("/proc/self/task");
    if (tasks == NULL) {
        return -1;
    }
    int n = 0;
    struct dirent *task;
    while ((task = readdir(tasks)) != NULL) {
        char path[512];
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", task->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL) {
            continue;
        }
        char name[64] = {0};
        if (fgets(name, sizeof name, f) != NULL && strncmp(name, "cha-", 4) == 0) {
            n++;
        }
        fclose(f);
    }
    closedir(tasks);
    return n;
}

/* cha_close returns once the background threads (refresh and flush, alert
 * evaluation, system sampling) have ended and the last records are
 * persisted: nothing of the library runs after it. */
static void test_close_stops_the_background_threads(void) {
    if (library_threads() < 0) {
        return; /* no /proc */
    }
    char db[4096];
    path_in_work_dir(db, sizeof db, "threads.db");
    deploy(db);
    for (int round = 0; round < 10; round++) {
        cha_handle *h = NULL;
        CHECK_STATUS(cha_open_with_options(db,
                                           "{\"flush_interval_ms\": 5, \"refresh_interval_ms\": 5,"
                                           " \"system_metrics_interval_ms\": 100}",
                                           &h),
                     CHA_OK);
        char unit[64];
        for (int i = 0; i < 200; i++) {
            snprintf(unit, sizeof unit, "r%d-%d", round, i);
            CHECK_STATUS(cha_experiment_record(h, "pipe_sizing_comparison", unit,
                                               "pipe_cost_efficiency", 1.0),
                         CHA_OK);
        }
        cha_close(h);
        CHECK(library_threads() == 0);
    }
}

static void test_health_contract(void) {
    char db[4096];
    cha_handle *h = NULL;
    CHECK_STATUS(cha_open(path_in_work_dir(db, sizeof db, "health.db"), &h), CHA_OK);
    char *out = (char *)"untouched";
    CHECK_STATUS(cha_health(NULL, &out), CHA_ERR_NULL_ARGUMENT);
    CHECK(strcmp(out, "untouched") == 0);
    CHECK_STATUS(cha_health(h, NULL), CHA_ERR_NULL_ARGUMENT);
    out = NULL;
    CHECK_STATUS(cha_health(h, &out), CHA_OK);
    CHECK_HAS(out, "\"state\":\"ok\"");
    CHECK_HAS(out, "\"last_flush_error\":null");
    CHECK_HAS(out, "\"buffer_limit\":1000000");
    cha_string_free(out);
    cha_close(h);
}

int main(int argc, char **argv) {
    harness_dirs(argc, argv, &work_dir, &config_dir);
    test_health_contract();
    test_close_stops_the_background_threads();
    test_read_only_database();
    test_full_disk();
    return harness_summary("test_faults");
}

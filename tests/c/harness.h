/*
 * harness.h: the small test harness the C test programs (test_core.c,
 * test_flags.c, test_experiments.c) share: the passed/failed counters, the
 * CHECK macros that count a check and, on failure, print where it is, what
 * failed and the thread's last error message, and the summary line
 * "<program>: N passed, M failed" that tests/c_abi.rs shows.
 *
 * Header-only, for one program (one translation unit) each: the counters
 * are `static`, every function is `static inline`, so a program that uses
 * only part of it still compiles cleanly under -Wall -Wextra -Werror.
 * Include it after defining _POSIX_C_SOURCE (it includes <stdio.h>).
 *
 * The counters are plain ints: only the main thread may use the CHECK
 * macros. A worker thread keeps its own tally (in its argument struct) and
 * the main thread checks it after pthread_join.
 */
#ifndef CHA_TEST_HARNESS_H
#define CHA_TEST_HARNESS_H

#include "cha_deploy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int passed;
static int failed;

/* The calling thread's last error message, or `fallback` if there is none. */
static inline const char *last_error_or(const char *fallback) {
    const char *message = cha_last_error_message();
    return message ? message : fallback;
}

/* Counts a check; on failure prints where, what, and the last error. */
#define CHECK(cond)                                                              \
    do {                                                                         \
        if (cond) {                                                              \
            passed++;                                                            \
        } else {                                                                 \
            failed++;                                                            \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n    last error: %s\n",     \
                    __FILE__, __LINE__, #cond, last_error_or("(NULL)"));         \
        }                                                                        \
    } while (0)

/* Checks that `call` returns `expected`, naming both codes on failure. */
#define CHECK_STATUS(call, expected)                                             \
    do {                                                                         \
        cha_status status_ = (call);                                             \
        if (status_ == (expected)) {                                             \
            passed++;                                                            \
        } else {                                                                 \
            failed++;                                                            \
            fprintf(stderr, "%s:%d: %s returned %s, expected %s\n"               \
                    "    last error: %s\n", __FILE__, __LINE__, #call,           \
                    cha_status_name(status_), cha_status_name(expected),         \
                    last_error_or("(NULL)"));                                    \
        }                                                                        \
    } while (0)

/* Checks that the last error message exists and contains `needle`. */
#define CHECK_MESSAGE_HAS(needle)                                                \
    do {                                                                         \
        const char *message_ = cha_last_error_message();                         \
        if (message_ != NULL && strstr(message_, (needle)) != NULL) {            \
            passed++;                                                            \
        } else {                                                                 \
            failed++;                                                            \
            fprintf(stderr, "%s:%d: last error should contain \"%s\"\n"          \
                    "    last error: %s\n", __FILE__, __LINE__, (needle),        \
                    message_ ? message_ : "(NULL)");                             \
        }                                                                        \
    } while (0)

/* Checks that the string `text` (a JSON answer) contains `needle`. */
#define CHECK_HAS(text, needle)                                                  \
    do {                                                                         \
        const char *text_ = (text);                                              \
        if (text_ != NULL && strstr(text_, (needle)) != NULL) {                  \
            passed++;                                                            \
        } else {                                                                 \
            failed++;                                                            \
            fprintf(stderr, "%s:%d: %s should contain \"%s\"\n    it is: %s\n",  \
                    __FILE__, __LINE__, #text, (needle),                         \
                    text_ ? text_ : "(NULL)");                                   \
        }                                                                        \
    } while (0)

/* Prints "<program>: N passed, M failed" on stdout; returns the exit code
 * (0 if no check failed, else 1). */
static inline int harness_summary(const char *program) {
    printf("%s: %d passed, %d failed\n", program, passed, failed);
    return failed == 0 ? 0 : 1;
}

/* The folders of a test program: WORK_DIR, its first argument, and
 * CONFIG_DIR, its second or else the repository's configs/ (found from
 * where this file is). Exits with 2 and a usage line when either is
 * missing. */
static inline void harness_dirs(int argc, char **argv, const char **work_dir,
                                const char **config_dir) {
    static char found[4096];
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: %s WORK_DIR [CONFIG_DIR]\n", argv[0]);
        exit(2);
    }
    *work_dir = argv[1];
    *config_dir = NULL;
    if (argc == 3) {
        *config_dir = argv[2];
    } else {
        const char *file = __FILE__;
        const char *suffix = "tests/c/harness.h";
        size_t n = strlen(file);
        size_t s = strlen(suffix);
        if (n >= s && strcmp(file + n - s, suffix) == 0 &&
            n - s + strlen("configs") < sizeof found) {
            snprintf(found, sizeof found, "%.*sconfigs", (int)(n - s), file);
            *config_dir = found;
        }
    }
    struct stat st;
    if (*config_dir == NULL || stat(*config_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "cannot find the repository's configs/ (from %s); pass it as CONFIG_DIR\n",
                __FILE__);
        exit(2);
    }
}

#endif /* CHA_TEST_HARNESS_H */

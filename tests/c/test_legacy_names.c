/*
 * test_legacy_names.c: cha_deploy.h in a legacy C file that has names of its
 * own. The header declares only cha_ and CHA_ names, so a simulation tool
 * that defines BUCKETS, FlagType or Summary for itself (before or after the
 * include) still compiles, and keeps its own values.
 *
 * Compiled by tests/c_abi.rs as strict C99 (-std=c99 -pedantic-errors -Wall
 * -Wextra -Werror), and run like the other programs as
 * `test_legacy_names WORK_DIR`. Prints one line per failed check and a
 * summary; exits non-zero if any check failed.
 */

/* Names the header used to define before it kept to its prefixes, defined
 * here as a legacy file's own configuration would: before the include... */
#define BUCKETS 64
#define MAX_UNIT_ID 16
#define MAX_FLAG_NAME 32
#define CURRENT_VERSION "3.2"
#define DEFAULT_POWER 0.9
#define SRM_THRESHOLD 0.01
#define MAX_CONFIG_BYTES 4096

#include "cha_deploy.h"
#include "harness.h"

#include <stdio.h>
#include <string.h>

/* ...and after it: the header declared these as opaque structs. */
typedef int FlagType;
typedef int Summary;

int main(int argc, char **argv) {
    FlagType kind = 3;
    Summary count = BUCKETS;

    if (argc != 2) {
        fprintf(stderr, "usage: %s WORK_DIR\n", argv[0]);
        return 2;
    }

    /* The file's own values stand. */
    CHECK(BUCKETS == 64 && MAX_UNIT_ID == 16 && MAX_FLAG_NAME == 32);
    CHECK(strcmp(CURRENT_VERSION, "3.2") == 0);
    CHECK(DEFAULT_POWER > 0.85 && SRM_THRESHOLD > 0.005 && MAX_CONFIG_BYTES == 4096);
    CHECK(kind == 3 && count == 64);

    /* The library's under their CHA_ names. */
    CHECK(CHA_BUCKETS == 10000);
    CHECK(CHA_MAX_UNIT_ID == 1024);
    CHECK(CHA_MAX_FLAG_NAME == 128);
    CHECK(strcmp(cha_version(), CHA_VERSION_STRING) == 0);
    CHECK(strcmp(cha_status_name(CHA_ERR_NOT_FOUND), "CHA_ERR_NOT_FOUND") == 0);

    return harness_summary("test_legacy_names");
}

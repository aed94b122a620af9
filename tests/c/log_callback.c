/*
 * The log callback's contract, from C: lines arrive on the library's own log thread, one at a
 * time, at the level asked for and no more detailed; the callback may call into s3os, even
 * to unset itself; once s3os_set_log_callback returns, the previous callback has had every
 * line and is never called again; a level that is not one is refused.
 *
 *   log_callback <file> key=value...
 *
 * Prints "== callback set" and "== callback unset" on stderr around the time lines go to the
 * callback (so that a test can check that S3OS_LOG's stderr stays quiet meanwhile), and
 * "log_callback: all checks passed" at the end; exits 1 at the first failed check.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3os.h"

struct record {
    pthread_t caller;
    s3os_log_level level;
    int lines;
    int too_detailed;
    int wrong_thread;
    int overlapping;
    int malformed;
    int attempts;
    int transfers;
    int stores;
    int inside;
};

static void on_line(s3os_log_level level, const char *message, void *user_data) {
    struct record *record = user_data;
    if (record->inside++) record->overlapping++;
    char name[16] = "";
    pthread_getname_np(pthread_self(), name, sizeof name);
    if (strcmp(name, "s3os-log") != 0 || pthread_equal(pthread_self(), record->caller))
        record->wrong_thread++;
    if (level > record->level || level < S3OS_LOG_ERROR) record->too_detailed++;
    if (!message || !*message || strchr(message, '\n')) record->malformed++;
    if (message && strstr(message, " attempt ")) record->attempts++;
    if (message && strstr(message, " bytes in ") && strstr(message, "MiB/s")) record->transfers++;
    if (message && strncmp(message, "store s3://", 11) == 0 && strstr(message, ": endpoint "))
        record->stores++;
    /* Calling into s3os from the callback is allowed. */
    if (strcmp(s3os_status_name(S3OS_TLS), "S3OS_TLS") != 0) record->malformed++;
    record->lines++;
    record->inside--;
}

static int unset_from_inside_status = -1;

static void unsetting(s3os_log_level level, const char *message, void *user_data) {
    (void)level;
    (void)message;
    int *calls = user_data;
    if ((*calls)++ == 0) unset_from_inside_status = s3os_set_log_callback(NULL, 0, NULL);
}

static void check(int ok, const char *what) {
    if (!ok) {
        fprintf(stderr, "FAILED: %s\n", what);
        exit(1);
    }
}

static s3os_store *open_store(int argc, char **argv) {
    s3os_config *cfg = s3os_config_new("test-bucket");
    for (int i = 2; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        check(eq != NULL, "settings are key=value");
        *eq = '\0';
        check(s3os_config_set(cfg, argv[i], eq + 1) == S3OS_OK, "a setting is accepted");
        *eq = '=';
    }
    s3os_store *store = NULL;
    s3os_status status = s3os_store_new(cfg, &store);
    s3os_config_free(cfg);
    if (status != S3OS_OK) fprintf(stderr, "%s\n", s3os_last_error());
    check(status == S3OS_OK, "the store is created");
    return store;
}

static void round_trip(s3os_store *store, const char *file) {
    check(s3os_upload_file(store, "log/object", file, NULL, NULL) == S3OS_OK, "upload");
    size_t length = strlen(file) + sizeof ".back";
    char *back = malloc(length);
    snprintf(back, length, "%s.back", file);
    check(s3os_download_file(store, "log/object", back, true, NULL, NULL) == S3OS_OK,
          "download");
    remove(back);
    free(back);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: log_callback <file> key=value...\n");
        return 2;
    }
    struct record record = {.caller = pthread_self(), .level = S3OS_LOG_DEBUG};

    check(s3os_set_log_callback(on_line, 0, &record) == S3OS_INVALID_ARGUMENT,
          "level 0 is refused");
    check(strstr(s3os_last_error(), "level") != NULL, "the refusal names the level");
    check(s3os_set_log_callback(on_line, 6, &record) == S3OS_INVALID_ARGUMENT,
          "level 6 is refused");

    fprintf(stderr, "== callback set\n");
    check(s3os_set_log_callback(on_line, S3OS_LOG_DEBUG, &record) == S3OS_OK, "set at DEBUG");
    s3os_store *store = open_store(argc, argv);
    round_trip(store, argv[1]);
    check(s3os_set_log_callback(NULL, 0, NULL) == S3OS_OK, "unset");
    fprintf(stderr, "== callback unset\n");

    /* Every line logged before the unset has arrived: the counts are final. */
    check(record.lines > 0, "lines reached the callback");
    check(record.stores == 1, "the store's settings were logged once");
    check(record.attempts >= 2, "request attempts were logged");
    check(record.transfers == 2, "both transfers were logged with their timing");
    check(record.too_detailed == 0, "no line was more detailed than asked for");
    check(record.wrong_thread == 0, "lines came on the library's log thread only");
    check(record.overlapping == 0, "the callback was never called twice at once");
    check(record.malformed == 0, "every message is one non-empty line");
    int delivered = record.lines;
    round_trip(store, argv[1]);
    check(record.lines == delivered, "the callback is not called after it was unset");

    /* Only warnings and errors: a clean round trip has none. */
    record = (struct record){.caller = pthread_self(), .level = S3OS_LOG_WARN};
    check(s3os_set_log_callback(on_line, S3OS_LOG_WARN, &record) == S3OS_OK, "set at WARN");
    round_trip(store, argv[1]);
    check(s3os_set_log_callback(NULL, 0, NULL) == S3OS_OK, "unset");
    check(record.too_detailed == 0, "nothing below WARN was delivered");

    /* A callback that unsets itself: the call returns at once instead of waiting for the
     * callback that makes it. */
    int calls = 0;
    check(s3os_set_log_callback(unsetting, S3OS_LOG_TRACE, &calls) == S3OS_OK, "set at TRACE");
    round_trip(store, argv[1]);
    check(s3os_set_log_callback(NULL, 0, NULL) == S3OS_OK, "unset after the callback did");
    check(calls >= 1 && unset_from_inside_status == S3OS_OK,
          "the callback unset itself without deadlock");

    s3os_store_free(store);
    printf("log_callback: all checks passed (%d lines at DEBUG)\n", delivered);
    return 0;
}

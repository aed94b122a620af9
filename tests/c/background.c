/*
 * Background transfers from C: progress polled and waits made from other threads, timeouts,
 * cancellation, freeing a running transfer, freeing the store under running transfers,
 * batches with per-item statuses, transfers from and into the caller's memory, fork() while
 * one runs, and bad input.
 *
 *   background <scratch-dir> key=value...   (the endpoint slows every body down, so that
 *                                            transfers are still running when looked at)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "s3os.h"

static int failures;

#define CHECK(cond, ...)                                                  \
    do {                                                                  \
        if (!(cond)) {                                                    \
            fprintf(stderr, "FAIL line %d: ", __LINE__);                  \
            fprintf(stderr, __VA_ARGS__);                                 \
            fprintf(stderr, " (last error: %s)\n", s3os_last_error());    \
            failures++;                                                   \
        }                                                                 \
    } while (0)

static int settings_argc;
static char **settings_argv;

static s3os_store *make_store(void) {
    s3os_config *cfg = s3os_config_new("test-bucket");
    for (int i = 0; i < settings_argc; i++) {
        char *eq = strchr(settings_argv[i], '=');
        *eq = '\0';
        s3os_config_set(cfg, settings_argv[i], eq + 1);
        *eq = '=';
    }
    s3os_store *store = NULL;
    if (s3os_store_new(cfg, &store) != S3OS_OK) {
        fprintf(stderr, "store: %s\n", s3os_last_error());
        exit(1);
    }
    s3os_config_free(cfg);
    return store;
}

static void write_file(const char *path, size_t len, int seed) {
    FILE *f = fopen(path, "wb");
    for (size_t i = 0; i < len; i++) fputc((int)((i * 31 + (size_t)seed) >> 3), f);
    fclose(f);
}

static void sleep_ms(long ms) {
    struct timespec pause = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&pause, NULL);
}

struct watcher {
    s3os_transfer *transfer;
    uint64_t last_done, last_total;
    int went_back;
    s3os_status waited;
};

/* Polls the progress from its own thread until the transfer finishes. */
static void *poll_progress(void *arg) {
    struct watcher *w = arg;
    for (;;) {
        uint64_t done = 0, total = 0;
        if (s3os_transfer_progress(w->transfer, &done, &total) != S3OS_OK) {
            w->went_back = 1;
            return NULL;
        }
        if (done < w->last_done) w->went_back = 1;
        w->last_done = done;
        w->last_total = total;
        if (s3os_transfer_wait(w->transfer, 20) != S3OS_IN_PROGRESS) return NULL;
    }
}

/* Waits for the transfer from its own thread, for as long as it takes. */
static void *wait_forever(void *arg) {
    struct watcher *w = arg;
    w->waited = s3os_transfer_wait(w->transfer, -1);
    return NULL;
}

static void *cancel_soon(void *arg) {
    sleep_ms(200);
    if (s3os_transfer_cancel(arg) != S3OS_OK) failures++;
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *dir = argv[1];
    settings_argc = argc - 2;
    settings_argv = argv + 2;
    char big[512], small[512], target[512];
    snprintf(big, sizeof big, "%s/big", dir);
    snprintf(small, sizeof small, "%s/small", dir);
    const size_t big_len = 6u << 20;
    write_file(big, big_len, 1);
    write_file(small, 100000, 2);
    s3os_store *store = make_store();

    /* One upload watched by two threads while this one waits with timeouts. */
    s3os_transfer *t = NULL;
    CHECK(s3os_upload_file_start(store, "bg/big", big, &t) == S3OS_OK && t, "start");
    s3os_status early = s3os_transfer_wait(t, 0);
    CHECK(early == S3OS_IN_PROGRESS && strstr(s3os_last_error(), "still running"),
          "a slow upload is not finished at once: %s", s3os_status_name(early));
    struct watcher w = {.transfer = t, .waited = S3OS_INTERNAL};
    pthread_t poller, waiter;
    pthread_create(&poller, NULL, poll_progress, &w);
    pthread_create(&waiter, NULL, wait_forever, &w);
    s3os_status final = s3os_transfer_wait(t, -1);
    pthread_join(poller, NULL);
    pthread_join(waiter, NULL);
    CHECK(final == S3OS_OK && w.waited == S3OS_OK, "upload: %s / %s", s3os_status_name(final),
          s3os_status_name(w.waited));
    CHECK(s3os_last_error()[0] == '\0' || final != S3OS_OK, "message after OK");
    CHECK(!w.went_back && w.last_done == big_len && w.last_total == big_len,
          "progress %llu of %llu", (unsigned long long)w.last_done,
          (unsigned long long)w.last_total);
    CHECK(s3os_transfer_wait(t, 0) == S3OS_OK, "a finished transfer stays finished");
    s3os_transfer_free(t);

    /* Cancelled from another thread: the multipart upload is aborted. */
    CHECK(s3os_upload_file_start(store, "bg/cancelled", big, &t) == S3OS_OK, "start");
    pthread_t canceller;
    pthread_create(&canceller, NULL, cancel_soon, t);
    final = s3os_transfer_wait(t, -1);
    pthread_join(canceller, NULL);
    CHECK(final == S3OS_CANCELLED && strstr(s3os_last_error(), "cancelled"), "cancel: %s",
          s3os_status_name(final));
    CHECK(s3os_transfer_cancel(t) == S3OS_OK, "cancelling again");
    s3os_transfer_free(t);
    uint64_t size = 0;
    CHECK(s3os_object_size(store, "bg/cancelled", &size) == S3OS_NOT_FOUND, "cancelled landed");

    /* Freed while running: it returns after the cleanup, so no temporary is left. */
    snprintf(target, sizeof target, "%s/freed/target", dir);
    CHECK(s3os_download_file_start(store, "bg/big", target, false, &t) == S3OS_OK, "start");
    sleep_ms(100);
    s3os_transfer_free(t);
    printf("freed-running-download %s\n", target);

    /* A missing object: the start succeeds, the wait reports it. */
    snprintf(target, sizeof target, "%s/missing", dir);
    CHECK(s3os_download_file_start(store, "bg/none", target, false, &t) == S3OS_OK, "start");
    CHECK(s3os_transfer_wait(t, -1) == S3OS_NOT_FOUND && strstr(s3os_last_error(), "bg/none"),
          "missing object");
    s3os_transfer_free(t);

    /* A batch in the background, with each item's status. */
    const char *names[3] = {"bg/batch/0", "bg/batch/1", "bg/batch/2"};
    const char *paths[3] = {small, small, "/nonexistent/file"};
    CHECK(s3os_upload_files_start(store, names, paths, 3, &t) == S3OS_OK, "batch start");
    s3os_status items[3];
    CHECK(s3os_transfer_item_statuses(t, items, 2) == S3OS_INVALID_ARGUMENT, "wrong count");
    CHECK(s3os_transfer_wait(t, -1) == S3OS_IO && strstr(s3os_last_error(), "1 of 3"), "batch");
    CHECK(s3os_transfer_item_statuses(t, items, 3) == S3OS_OK && items[0] == S3OS_OK &&
              items[1] == S3OS_OK && items[2] == S3OS_IO,
          "items %d %d %d", items[0], items[1], items[2]);
    s3os_transfer_free(t);
    CHECK(s3os_upload_file_start(store, "bg/single", small, &t) == S3OS_OK, "start");
    CHECK(s3os_transfer_item_statuses(t, items, 1) == S3OS_INVALID_ARGUMENT, "not a batch");
    CHECK(s3os_transfer_wait(t, -1) == S3OS_OK, "small upload");
    s3os_transfer_free(t);

    /* From and into memory: the caller's buffers are lent until the transfer has finished. */
    unsigned char *bytes = malloc(big_len);
    for (size_t i = 0; i < big_len; i++) bytes[i] = (unsigned char)((i * 7 + 3) >> 2);
    CHECK(s3os_upload_buffer_start(store, "bg/memory", bytes, big_len, &t) == S3OS_OK && t,
          "buffer upload start");
    CHECK(s3os_transfer_object_size(t, &size) == S3OS_INVALID_ARGUMENT, "size of an upload");
    CHECK(s3os_transfer_wait(t, -1) == S3OS_OK, "buffer upload");
    s3os_transfer_free(t);
    unsigned char *back = malloc(big_len);
    memset(back, 0xAB, big_len);
    CHECK(s3os_download_buffer_start(store, "bg/memory", back, big_len, &t) == S3OS_OK && t,
          "buffer download start");
    CHECK(s3os_transfer_wait(t, -1) == S3OS_OK, "buffer download");
    CHECK(s3os_transfer_object_size(t, &size) == S3OS_OK && size == big_len, "size %llu",
          (unsigned long long)size);
    s3os_transfer_free(t);
    CHECK(memcmp(bytes, back, big_len) == 0, "the bytes came back changed");

    /* Too small a buffer: nothing written, the size needed is known. */
    memset(back, 0xAB, big_len);
    CHECK(s3os_download_buffer_start(store, "bg/memory", back, big_len - 1, &t) == S3OS_OK,
          "start");
    CHECK(s3os_transfer_wait(t, -1) == S3OS_BUFFER_TOO_SMALL, "too small: %s", s3os_last_error());
    CHECK(s3os_transfer_object_size(t, &size) == S3OS_OK && size == big_len, "needed %llu",
          (unsigned long long)size);
    s3os_transfer_free(t);
    int untouched = 1;
    for (size_t i = 0; i < big_len; i++) untouched &= back[i] == 0xAB;
    CHECK(untouched, "a too-small buffer was written into");

    /* A missing object: no size ever announced. */
    CHECK(s3os_download_buffer_start(store, "bg/none", back, big_len, &t) == S3OS_OK, "start");
    CHECK(s3os_transfer_wait(t, -1) == S3OS_NOT_FOUND, "missing object into memory");
    CHECK(s3os_transfer_object_size(t, &size) == S3OS_INVALID_ARGUMENT && size == 0,
          "size of a missing object");
    s3os_transfer_free(t);

    /* Freed while uploading from memory: returns once nothing holds the bytes, which may then
     * change and go away at once; the upload left nothing. */
    CHECK(s3os_upload_buffer_start(store, "bg/memory-freed", bytes, big_len, &t) == S3OS_OK,
          "start");
    sleep_ms(100);
    CHECK(s3os_transfer_wait(t, 0) == S3OS_IN_PROGRESS, "still running when freed");
    s3os_transfer_free(t);
    memset(bytes, 0, big_len);
    free(bytes);
    CHECK(s3os_object_size(store, "bg/memory-freed", &size) == S3OS_NOT_FOUND,
          "a freed upload landed");
    free(back);

    /* fork() while a transfer runs: the child may neither wait for it nor stop it. */
    CHECK(s3os_upload_file_start(store, "bg/forked", big, &t) == S3OS_OK, "start");
    fflush(NULL);
    pid_t child = fork();
    if (child == 0) {
        int bad = s3os_transfer_wait(t, 0) != S3OS_INVALID_ARGUMENT ||
                  s3os_transfer_progress(t, NULL, NULL) != S3OS_INVALID_ARGUMENT ||
                  s3os_transfer_cancel(t) != S3OS_INVALID_ARGUMENT;
        s3os_transfer_free(t); /* releases nothing, must not hang */
        _exit(bad ? 3 : 0);
    }
    int child_status = 0;
    waitpid(child, &child_status, 0);
    CHECK(WIFEXITED(child_status) && WEXITSTATUS(child_status) == 0, "child: %d", child_status);
    CHECK(s3os_transfer_wait(t, -1) == S3OS_OK, "the parent's transfer went on");
    s3os_transfer_free(t);

    /* Freeing the store cancels what still runs; the handles stay valid. */
    s3os_transfer *running[3] = {NULL, NULL, NULL};
    snprintf(target, sizeof target, "%s/store-freed/target", dir);
    CHECK(s3os_download_file_start(store, "bg/big", target, false, &running[0]) == S3OS_OK, "s");
    CHECK(s3os_upload_file_start(store, "bg/store-freed", big, &running[1]) == S3OS_OK, "s");
    CHECK(s3os_upload_file_start(store, "bg/store-freed-small", small, &running[2]) == S3OS_OK,
          "s");
    sleep_ms(100);
    s3os_store_free(store);
    for (int i = 0; i < 3; i++) {
        s3os_status status = s3os_transfer_wait(running[i], 0);
        CHECK(status == S3OS_CANCELLED || (i == 2 && status == S3OS_OK),
              "transfer %d after store_free: %s", i, s3os_status_name(status));
        s3os_transfer_free(running[i]);
    }
    printf("store-freed-download %s\n", target);

    /* Bad input. */
    store = make_store();
    CHECK(s3os_upload_file_start(NULL, "x", small, &t) == S3OS_INVALID_ARGUMENT && t == NULL,
          "NULL store");
    CHECK(s3os_upload_file_start(store, "x", small, NULL) == S3OS_INVALID_ARGUMENT, "NULL out");
    CHECK(s3os_download_file_start(store, NULL, small, false, &t) == S3OS_INVALID_ARGUMENT,
          "NULL name");
    CHECK(s3os_upload_files_start(store, NULL, NULL, 2, &t) == S3OS_INVALID_ARGUMENT,
          "NULL arrays");
    CHECK(s3os_upload_dir_start(store, NULL, "p", &t) == S3OS_INVALID_ARGUMENT, "NULL dir");
    CHECK(s3os_download_prefix_start(store, "p", NULL, false, &t) == S3OS_INVALID_ARGUMENT,
          "NULL dir");
    t = (s3os_transfer *)1;
    CHECK(s3os_upload_buffer_start(store, "x", NULL, 5, &t) == S3OS_INVALID_ARGUMENT && t == NULL,
          "NULL data with a length");
    CHECK(s3os_download_buffer_start(store, "x", NULL, 5, &t) == S3OS_INVALID_ARGUMENT &&
              t == NULL,
          "NULL buffer with a capacity");
    CHECK(s3os_upload_buffer_start(store, "x", "", 0, NULL) == S3OS_INVALID_ARGUMENT, "NULL out");
    CHECK(s3os_upload_buffer_start(store, "bad\xff", "", 0, &t) == S3OS_INVALID_ARGUMENT &&
              strstr(s3os_last_error(), "UTF-8"),
          "a name that is not UTF-8");
    CHECK(s3os_transfer_object_size(NULL, &size) == S3OS_INVALID_ARGUMENT, "size NULL");
    CHECK(s3os_transfer_wait(NULL, 0) == S3OS_INVALID_ARGUMENT, "wait NULL");
    CHECK(s3os_transfer_progress(NULL, NULL, NULL) == S3OS_INVALID_ARGUMENT, "progress NULL");
    CHECK(s3os_transfer_cancel(NULL) == S3OS_INVALID_ARGUMENT, "cancel NULL");
    CHECK(s3os_transfer_item_statuses(NULL, items, 1) == S3OS_INVALID_ARGUMENT, "items NULL");
    s3os_transfer_free(NULL);
    CHECK(strcmp(s3os_status_name(S3OS_IN_PROGRESS), "S3OS_IN_PROGRESS") == 0, "name");
    s3os_store_free(store);

    if (failures) {
        fprintf(stderr, "%d failures\n", failures);
        return 1;
    }
    printf("background transfers behaved\n");
    return 0;
}

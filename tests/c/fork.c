/*
 * fork() after using the library: the child creates and uses its own store (no hang, no
 * crash) and is refused the parent's store, writer and reader at once, while the parent keeps
 * working (its writer and reader included).
 *
 *   fork <scratch-dir> key=value...
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "s3os.h"

static s3os_store *make_store(int argc, char **argv) {
    s3os_config *cfg = s3os_config_new("test-bucket");
    for (int i = 2; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        *eq = '\0';
        s3os_config_set(cfg, argv[i], eq + 1);
        *eq = '=';
    }
    s3os_store *store = NULL;
    if (s3os_store_new(cfg, &store) != S3OS_OK) {
        fprintf(stderr, "[%d] store: %s\n", (int)getpid(), s3os_last_error());
        exit(1);
    }
    s3os_config_free(cfg);
    return store;
}

static void round_trip(s3os_store *store, const char *dir, const char *who, int i) {
    char object[64], path[512], back[512];
    snprintf(object, sizeof object, "%s/%d", who, i);
    snprintf(path, sizeof path, "%s/%s-%d", dir, who, i);
    snprintf(back, sizeof back, "%s/%s-%d.back", dir, who, i);
    FILE *f = fopen(path, "wb");
    for (int j = 0; j < 100000; j++) fputc(j * 7 + i, f);
    fclose(f);
    uint64_t size = 0;
    if (s3os_upload_file(store, object, path, NULL, NULL) != S3OS_OK ||
        s3os_object_size(store, object, &size) != S3OS_OK || size != 100000 ||
        s3os_download_file(store, object, back, true, NULL, NULL) != S3OS_OK) {
        fprintf(stderr, "[%s] round trip %d: %s\n", who, i, s3os_last_error());
        exit(1);
    }
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *dir = argv[1];
    s3os_store *parent_store = make_store(argc, argv);
    round_trip(parent_store, dir, "before-fork", 0);
    /* A writer and a reader in use when the process forks (the reader fetching ahead). */
    s3os_writer *writer = NULL;
    s3os_reader *reader = NULL;
    static char piece[4096];
    size_t got = 0;
    if (s3os_writer_open(parent_store, "written-across-fork", &writer) != S3OS_OK ||
        s3os_writer_write(writer, "head", 4) != S3OS_OK ||
        s3os_reader_open(parent_store, "before-fork/0", &reader) != S3OS_OK ||
        s3os_reader_read(reader, piece, sizeof piece, &got) != S3OS_OK || got != sizeof piece) {
        fprintf(stderr, "[parent] writer/reader: %s\n", s3os_last_error());
        return 1;
    }

    /* Several generations of children, each forked while the parent's runtime is idle. */
    for (int generation = 0; generation < 3; generation++) {
        pid_t child = fork();
        if (child < 0) return 1;
        if (child == 0) {
            alarm(60); /* a hang in the child fails the test instead of blocking it */
            uint64_t size;
            if (s3os_object_size(parent_store, "before-fork/0", &size) != S3OS_INVALID_ARGUMENT) {
                fprintf(stderr, "[child] the parent's store must be refused after fork\n");
                _exit(1);
            }
            uint64_t reader_size = 0;
            if (s3os_writer_write(writer, "x", 1) != S3OS_INVALID_ARGUMENT ||
                s3os_reader_read(reader, piece, sizeof piece, &got) != S3OS_INVALID_ARGUMENT ||
                s3os_reader_seek(reader, 0) != S3OS_INVALID_ARGUMENT ||
                s3os_reader_size(reader, &reader_size) != S3OS_INVALID_ARGUMENT ||
                strstr(s3os_last_error(), "fork") == NULL) {
                fprintf(stderr, "[child] the parent's writer and reader must be refused: %s\n",
                        s3os_last_error());
                _exit(1);
            }
            /* Neither may stop or free what the parent's threads own; both return at once. */
            if (s3os_writer_close(writer) != S3OS_INVALID_ARGUMENT ||
                s3os_writer_abort(writer) != S3OS_INVALID_ARGUMENT) {
                fprintf(stderr, "[child] closing the parent's writer must be refused\n");
                _exit(1);
            }
            s3os_reader_free(reader);
            s3os_store *own = make_store(argc, argv);
            char who[32];
            snprintf(who, sizeof who, "child%d", generation);
            for (int i = 0; i < 5; i++) round_trip(own, dir, who, i);
            s3os_store_free(own);
            _exit(0);
        }
        for (int i = 0; i < 5; i++) round_trip(parent_store, dir, "parent", i);
        int status = 0;
        if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "child %d failed: status %d\n", generation, status);
            return 1;
        }
    }
    round_trip(parent_store, dir, "after-child", 0);
    uint64_t size = 0;
    if (s3os_writer_write(writer, "tail", 4) != S3OS_OK || s3os_writer_close(writer) != S3OS_OK ||
        s3os_object_size(parent_store, "written-across-fork", &size) != S3OS_OK || size != 8 ||
        s3os_reader_read(reader, piece, sizeof piece, &got) != S3OS_OK || got != sizeof piece) {
        fprintf(stderr, "[parent] writer/reader after the children: %s\n", s3os_last_error());
        return 1;
    }
    s3os_reader_free(reader);
    s3os_store_free(parent_store);
    printf("fork: child and parent both worked\n");
    return 0;
}

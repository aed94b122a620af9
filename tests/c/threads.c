/*
 * Many threads share one store: each uploads, sizes, lists, downloads, verifies and deletes
 * its own objects, repeatedly (5 operations a round). Exits nonzero on the first wrong answer;
 * prints the process's peak memory and thread count at the end.
 *
 *   threads <threads> <rounds> <scratch-dir> key=value...
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3os.h"

static s3os_store *store;
static const char *scratch;
static int rounds;

static int count_listed(const char *name, uint64_t size, void *user_data) {
    (void)name;
    (void)size;
    ++*(int *)user_data;
    return 0;
}

static void *worker(void *arg) {
    long id = (long)arg;
    char object[64], path[512], back[512], prefix[64];
    for (int round = 0; round < rounds; round++) {
        snprintf(prefix, sizeof prefix, "t%ld/", id);
        snprintf(object, sizeof object, "t%ld/r%d", id, round);
        snprintf(path, sizeof path, "%s/t%ld-r%d", scratch, id, round);
        snprintf(back, sizeof back, "%s/t%ld-r%d.back", scratch, id, round);
        size_t len = 1000 + (size_t)(id * 977 + round * 131) % 200000;
        unsigned char *data = malloc(len), *got = malloc(len);
        for (size_t i = 0; i < len; i++) data[i] = (unsigned char)(i * 31 + (size_t)id + (size_t)round);
        FILE *f = fopen(path, "wb");
        fwrite(data, 1, len, f);
        fclose(f);

        uint64_t size = 0;
        int listed = 0;
        if (s3os_upload_file(store, object, path, NULL, NULL) != S3OS_OK ||
            s3os_object_size(store, object, &size) != S3OS_OK || size != len ||
            s3os_list_objects(store, prefix, count_listed, &listed) != S3OS_OK || listed != 1 ||
            s3os_download_file(store, object, back, false, NULL, NULL) != S3OS_OK) {
            fprintf(stderr, "thread %ld round %d: %s\n", id, round, s3os_last_error());
            exit(1);
        }
        f = fopen(back, "rb");
        size_t n = fread(got, 1, len, f);
        fclose(f);
        if (n != len || memcmp(data, got, len) != 0) {
            fprintf(stderr, "thread %ld round %d: downloaded bytes differ\n", id, round);
            exit(1);
        }
        if (s3os_delete_object(store, object) != S3OS_OK) {
            fprintf(stderr, "thread %ld delete: %s\n", id, s3os_last_error());
            exit(1);
        }
        remove(path);
        remove(back);
        free(data);
        free(got);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 4) return 2;
    int threads = atoi(argv[1]);
    rounds = atoi(argv[2]);
    scratch = argv[3];
    s3os_config *cfg = s3os_config_new("test-bucket");
    for (int i = 4; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        *eq = '\0';
        if (s3os_config_set(cfg, argv[i], eq + 1) != S3OS_OK) return 3;
    }
    if (s3os_store_new(cfg, &store) != S3OS_OK) {
        fprintf(stderr, "store: %s\n", s3os_last_error());
        return 1;
    }
    s3os_config_free(cfg);
    pthread_t ids[256];
    for (long t = 0; t < threads; t++) pthread_create(&ids[t], NULL, worker, (void *)t);
    for (long t = 0; t < threads; t++) pthread_join(ids[t], NULL);
    /* Peak resident memory and the threads alive now (the runtime's stay for reuse). */
    char line[256];
    FILE *status = fopen("/proc/self/status", "r");
    while (status && fgets(line, sizeof line, status))
        if (!strncmp(line, "VmHWM:", 6) || !strncmp(line, "Threads:", 8)) fputs(line, stdout);
    if (status) fclose(status);
    s3os_store_free(store);
    printf("%d threads x %d rounds: all operations correct\n", threads, rounds);
    return 0;
}

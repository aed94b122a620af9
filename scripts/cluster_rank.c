/*
 * cluster_rank: one rank of scripts/test-cluster.sh. Moves a shard folder with one s3os call
 * and prints one line of figures.
 *
 *   cluster_rank upload   <local-dir> <object-prefix> <bucket> key=value...
 *   cluster_rank download <object-prefix> <local-dir> <bucket> key=value...
 *
 * Prints "rank <prefix>: <verb> <bytes> bytes in <s> s (<MiB/s> MiB/s), <objects> objects" on
 * success; on failure the status, the library's message and exit status 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "s3os.h"

struct totals {
    uint64_t done, total;
};

static int remember(uint64_t done, uint64_t total, void *user_data) {
    struct totals *totals = user_data;
    totals->done = done;
    totals->total = total;
    return 0;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int count_objects(const char *name, uint64_t size, void *user_data) {
    (void)name;
    (void)size;
    ++*(uint64_t *)user_data;
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 5 || (strcmp(argv[1], "upload") != 0 && strcmp(argv[1], "download") != 0)) {
        fprintf(stderr, "usage: %s upload DIR PREFIX BUCKET key=value... | download PREFIX DIR BUCKET key=value...\n",
                argv[0]);
        return 2;
    }
    int upload = strcmp(argv[1], "upload") == 0;
    const char *prefix = upload ? argv[3] : argv[2];
    const char *dir = upload ? argv[2] : argv[3];
    s3os_config *cfg = s3os_config_new(argv[4]);
    if (!cfg) {
        fprintf(stderr, "bucket: %s\n", s3os_last_error());
        return 1;
    }
    for (int i = 5; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) return 2;
        *eq = '\0';
        s3os_status st = s3os_config_set(cfg, argv[i], eq + 1);
        *eq = '=';
        if (st != S3OS_OK) {
            fprintf(stderr, "%s: %s\n", argv[i], s3os_last_error());
            return 1;
        }
    }
    s3os_store *store = NULL;
    s3os_status st = s3os_store_new(cfg, &store);
    s3os_config_free(cfg);
    if (st != S3OS_OK) {
        fprintf(stderr, "store: %s: %s\n", s3os_status_name(st), s3os_last_error());
        return 1;
    }
    struct totals totals = {0, 0};
    double started = now_seconds();
    st = upload ? s3os_upload_dir(store, dir, prefix, remember, &totals)
                : s3os_download_prefix(store, prefix, dir, true, remember, &totals);
    double seconds = now_seconds() - started;
    if (st != S3OS_OK) {
        fprintf(stderr, "rank %s: %s failed: %s: %s\n", prefix, argv[1], s3os_status_name(st),
                s3os_last_error());
        s3os_store_free(store);
        return 1;
    }
    uint64_t objects = 0;
    char listed[1024];
    snprintf(listed, sizeof listed, "%s/", prefix);
    st = s3os_list_objects(store, listed, count_objects, &objects);
    s3os_store_free(store);
    if (st != S3OS_OK) {
        fprintf(stderr, "rank %s: listing failed: %s\n", prefix, s3os_last_error());
        return 1;
    }
    printf("rank %s: %s %llu bytes in %.2f s (%.1f MiB/s), %llu objects\n", prefix,
           upload ? "uploaded" : "downloaded", (unsigned long long)totals.total, seconds,
           seconds > 0 ? (double)totals.total / (1 << 20) / seconds : 0.0,
           (unsigned long long)objects);
    return 0;
}

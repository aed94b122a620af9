/*
 * roundtrip: upload a file, download it back, verify every byte, print the throughput.
 *
 *   roundtrip <bucket> <file> <object-name> [key=value ...]
 *
 * Each key=value is passed to s3os_config_set (endpoint_url=..., prefix=..., ...); anything
 * not given comes from the environment and the standard AWS chain, as in boto3.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "s3os.h"

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Prints a progress line at most every 10 percent. */
static int show_progress(uint64_t done, uint64_t total, void *user_data) {
    int *last_tenth = user_data;
    int tenth = total ? (int)(done * 10 / total) : 10;
    if (tenth != *last_tenth) {
        *last_tenth = tenth;
        fprintf(stderr, "\r  %3d%% of %.1f MiB", tenth * 10, (double)total / (1 << 20));
        if (done == total) fputc('\n', stderr);
    }
    return 0; /* nonzero would cancel the transfer */
}

static int fail(const char *what, s3os_status status) {
    fprintf(stderr, "%s failed: %s: %s\n", what, s3os_status_name(status), s3os_last_error());
    return 1;
}

/* Compares two files byte for byte; returns 0 when identical. */
static int compare_files(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int differ = !fa || !fb;
    static char ba[1 << 16], bb[1 << 16];
    while (!differ) {
        size_t na = fread(ba, 1, sizeof ba, fa), nb = fread(bb, 1, sizeof bb, fb);
        if (na != nb || memcmp(ba, bb, na) != 0) differ = 1;
        if (na == 0) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return differ;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s <bucket> <file> <object-name> [key=value ...]\n", argv[0]);
        return 2;
    }
    const char *bucket = argv[1], *file = argv[2], *object = argv[3];

    s3os_config *cfg = s3os_config_new(bucket);
    if (!cfg) return fail("s3os_config_new", S3OS_INVALID_ARGUMENT);
    for (int i = 4; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) {
            fprintf(stderr, "expected key=value, got %s\n", argv[i]);
            return 2;
        }
        *eq = '\0';
        s3os_status st = s3os_config_set(cfg, argv[i], eq + 1);
        if (st != S3OS_OK) return fail("s3os_config_set", st);
    }
    s3os_store *store = NULL;
    s3os_status st = s3os_store_new(cfg, &store);
    s3os_config_free(cfg);
    if (st != S3OS_OK) return fail("s3os_store_new", st);

    char *uri = NULL;
    if ((st = s3os_get_uri(store, object, &uri)) != S3OS_OK) return fail("s3os_get_uri", st);
    printf("s3os %s: %s -> %s\n", s3os_version(), file, uri);
    s3os_string_free(uri);
    fflush(stdout);

    int tenth = -1;
    double t0 = now_seconds();
    if ((st = s3os_upload_file(store, object, file, show_progress, &tenth)) != S3OS_OK)
        return fail("upload", st);
    double upload_s = now_seconds() - t0;

    uint64_t size = 0;
    if ((st = s3os_object_size(store, object, &size)) != S3OS_OK) return fail("object size", st);

    size_t copy_len = strlen(file) + sizeof ".roundtrip";
    char *copy = malloc(copy_len);
    snprintf(copy, copy_len, "%s.roundtrip", file);
    tenth = -1;
    t0 = now_seconds();
    if ((st = s3os_download_file(store, object, copy, true, show_progress, &tenth)) != S3OS_OK)
        return fail("download", st);
    double download_s = now_seconds() - t0;

    int differ = compare_files(file, copy);
    remove(copy);
    free(copy);
    s3os_store_free(store);
    if (differ) {
        fprintf(stderr, "MISMATCH: the downloaded bytes differ from %s\n", file);
        return 1;
    }
    double mib = (double)size / (1 << 20);
    printf("verified %.1f MiB: upload %.2f s (%.0f MiB/s), download %.2f s (%.0f MiB/s)\n", mib,
           upload_s, mib / upload_s, download_s, mib / download_s);
    return 0;
}

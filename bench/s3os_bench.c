/*
 * s3os_bench: times s3os transfers through its C ABI, for bench/run.py.
 *
 * Usage:
 *   s3os_bench [-e ENDPOINT] [-r REGION] [-a ACCESS_KEY] [-s SECRET_KEY] MODE ARGS... [KEY=VALUE ...]
 *
 * Modes:
 *   upload        BUCKET OBJECT FILE                 one file -> one object
 *   download      BUCKET OBJECT FILE                 one object -> one file (overwritten)
 *   upload-many   BUCKET PREFIX DIR COUNT THREADS    DIR/obj-00000.. -> PREFIX/obj-00000..
 *   download-many BUCKET PREFIX DIR COUNT THREADS    PREFIX/obj-00000.. -> DIR/obj-00000..
 *   upload-memory   BUCKET OBJECT FILE   FILE read into memory first (not timed), then
 *                                        s3os_upload_buffer from that memory
 *   download-memory BUCKET OBJECT FILE   s3os_download_buffer into a buffer of the object's
 *                                        size (allocated, not timed); FILE written afterwards
 *   upload-writer   BUCKET OBJECT FILE   FILE read 1 MiB at a time into s3os_writer_write
 *   download-reader BUCKET OBJECT FILE   s3os_reader_read 1 MiB at a time, each written to FILE
 *   upload-files    BUCKET PREFIX DIR COUNT          as upload-many, in one s3os_upload_files call
 *   download-files  BUCKET PREFIX DIR COUNT          as download-many, in one s3os_download_files
 *   upload-dir      BUCKET PREFIX DIR COUNT          every file of DIR in one s3os_upload_dir
 *   download-prefix BUCKET PREFIX DIR COUNT          every object of PREFIX in one s3os_download_prefix
 *
 * The -e/-r/-a/-s options set the config keys endpoint_url, region_name, aws_access_key_id
 * and aws_secret_access_key. Any KEY=VALUE after the mode's arguments is passed to
 * s3os_config_set as is (e.g. max_concurrency=16 multipart_chunksize=16MiB), so defaults can
 * be tried without recompiling. In the -many modes, THREADS threads share one store and take
 * the next object from a common counter until all COUNT are done.
 *
 * On success prints one JSON line on stdout:
 *   {"seconds": S, "cpu_user": U, "cpu_sys": Y, "bytes": B, "objects": N}
 * where S is the wall time and U/Y the CPU time of the whole process (all threads) spent in
 * the transfers alone (creating the store is not counted). On failure prints the s3os status
 * and message on stderr and exits with 1.
 */

#include "s3os.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct job {
    s3os_store *store;
    const char *prefix;
    const char *dir;
    int count;
    int download;
    atomic_int next;
    atomic_int failed;
    atomic_ullong bytes;
};

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void cpu_seconds(double *user, double *sys)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    *sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static unsigned long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (unsigned long long)st.st_size : 0;
}

static int report_failure(s3os_status st, const char *what, const char *name)
{
    fprintf(stderr, "s3os_bench: %s %s: %s: %s\n", what, name, s3os_status_name(st), s3os_last_error());
    return 1;
}

/* Moves one object; returns 0 on success. */
static int transfer_one(s3os_store *store, int download, const char *object, const char *path,
                        unsigned long long *bytes)
{
    s3os_status st;
    if (download)
        st = s3os_download_file(store, object, path, true, NULL, NULL);
    else
        st = s3os_upload_file(store, object, path, NULL, NULL);
    if (st != S3OS_OK)
        return report_failure(st, download ? "download" : "upload", object);
    *bytes = file_size(path);
    return 0;
}

/* The timed part of a run: wall clock and process CPU at its start and end. */
struct span {
    double t0, user0, sys0, t1, user1, sys1;
};

static void span_start(struct span *span)
{
    cpu_seconds(&span->user0, &span->sys0);
    span->t0 = now_seconds();
}

static void span_stop(struct span *span)
{
    span->t1 = now_seconds();
    cpu_seconds(&span->user1, &span->sys1);
}

/* Bytes per write or read in the writer and reader modes. */
#define STREAM_PIECE (1024 * 1024)

static int read_whole_file(const char *path, unsigned char **data, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); return 1; }
    *size = (size_t)file_size(path);
    *data = malloc(*size ? *size : 1);
    size_t got = *data ? fread(*data, 1, *size, f) : 0;
    fclose(f);
    if (got != *size) { fprintf(stderr, "s3os_bench: reading %s failed\n", path); return 1; }
    return 0;
}

static int write_whole_file(const char *path, const unsigned char *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); return 1; }
    size_t put = fwrite(data, 1, size, f);
    return fclose(f) != 0 || put != size;
}

/* The memory and stream modes; only `span` is timed. Returns 0 on success. */
static int memory_mode(s3os_store *store, const char *mode, const char *object, const char *path,
                       struct span *span, unsigned long long *bytes)
{
    s3os_status st;
    if (strcmp(mode, "upload-memory") == 0) {
        unsigned char *data;
        size_t size;
        if (read_whole_file(path, &data, &size)) return 1;
        span_start(span);
        st = s3os_upload_buffer(store, object, data, size, NULL, NULL);
        span_stop(span);
        free(data);
        *bytes = size;
        return st == S3OS_OK ? 0 : report_failure(st, mode, object);
    }
    if (strcmp(mode, "download-memory") == 0) {
        uint64_t size = 0;
        st = s3os_object_size(store, object, &size);
        if (st != S3OS_OK) return report_failure(st, mode, object);
        unsigned char *data = malloc(size ? (size_t)size : 1);
        size_t len = 0;
        span_start(span);
        st = s3os_download_buffer(store, object, data, (size_t)size, &len, NULL, NULL);
        span_stop(span);
        *bytes = len;
        int failed = st != S3OS_OK ? report_failure(st, mode, object) : 0;
        /* The file is for verification: written after the clock stops (see main). */
        if (!failed) failed = write_whole_file(path, data, len);
        free(data);
        return failed;
    }
    unsigned char *piece = malloc(STREAM_PIECE);
    FILE *f = fopen(path, strcmp(mode, "upload-writer") == 0 ? "rb" : "wb");
    if (!f || !piece) { perror(path); free(piece); return 1; }
    span_start(span);
    int failed = 0;
    if (strcmp(mode, "upload-writer") == 0) {
        s3os_writer *writer = NULL;
        st = s3os_writer_open(store, object, &writer);
        size_t n;
        while (st == S3OS_OK && (n = fread(piece, 1, STREAM_PIECE, f)) > 0) {
            st = s3os_writer_write(writer, piece, n);
            *bytes += n;
        }
        if (st == S3OS_OK) st = s3os_writer_close(writer);
        else if (writer) { failed = report_failure(st, mode, object); s3os_writer_abort(writer); }
        if (st != S3OS_OK && !failed) failed = report_failure(st, mode, object);
    } else {
        s3os_reader *reader = NULL;
        st = s3os_reader_open(store, object, &reader);
        size_t n = 0;
        while (st == S3OS_OK && (st = s3os_reader_read(reader, piece, STREAM_PIECE, &n)) == S3OS_OK && n > 0) {
            if (fwrite(piece, 1, n, f) != n) { failed = 1; break; }
            *bytes += n;
        }
        if (st != S3OS_OK) failed = report_failure(st, mode, object);
        s3os_reader_free(reader);
    }
    span_stop(span);
    fclose(f);
    free(piece);
    return failed;
}

static void *worker(void *arg)
{
    struct job *job = arg;
    char object[1024], path[4096];
    for (;;) {
        int i = atomic_fetch_add(&job->next, 1);
        if (i >= job->count || atomic_load(&job->failed))
            break;
        snprintf(object, sizeof object, "%s/obj-%05d", job->prefix, i);
        snprintf(path, sizeof path, "%s/obj-%05d", job->dir, i);
        unsigned long long n = 0;
        if (transfer_one(job->store, job->download, object, path, &n) != 0) {
            atomic_store(&job->failed, 1);
            break;
        }
        atomic_fetch_add(&job->bytes, n);
    }
    return NULL;
}

/* One call for COUNT objects: PREFIX/obj-%05d <-> DIR/obj-%05d. Returns 0 on success. */
static int batch(s3os_store *store, const char *mode, const char *prefix, const char *dir, int count,
                 unsigned long long *bytes)
{
    s3os_status st;
    if (strcmp(mode, "upload-dir") == 0) {
        st = s3os_upload_dir(store, dir, prefix, NULL, NULL);
    } else if (strcmp(mode, "download-prefix") == 0) {
        st = s3os_download_prefix(store, prefix, dir, true, NULL, NULL);
    } else {
        char **names = calloc((size_t)count, sizeof *names), **paths = calloc((size_t)count, sizeof *paths);
        for (int i = 0; i < count; i++) {
            names[i] = malloc(strlen(prefix) + 16);
            paths[i] = malloc(strlen(dir) + 16);
            sprintf(names[i], "%s/obj-%05d", prefix, i);
            sprintf(paths[i], "%s/obj-%05d", dir, i);
        }
        const char *const *n = (const char *const *)names, *const *p = (const char *const *)paths;
        st = strcmp(mode, "upload-files") == 0
                 ? s3os_upload_files(store, n, p, (size_t)count, NULL, NULL, NULL)
                 : s3os_download_files(store, n, p, (size_t)count, true, NULL, NULL, NULL);
        for (int i = 0; i < count; i++) {
            free(names[i]);
            free(paths[i]);
        }
        free(names);
        free(paths);
    }
    if (st != S3OS_OK)
        return report_failure(st, mode, prefix);
    char path[4096];
    for (int i = 0; i < count; i++) {
        snprintf(path, sizeof path, "%s/obj-%05d", dir, i);
        *bytes += file_size(path);
    }
    return 0;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: s3os_bench [-e ENDPOINT] [-r REGION] [-a ACCESS_KEY] [-s SECRET_KEY] MODE ARGS... [KEY=VALUE ...]\n"
            "  upload|download|upload-memory|download-memory|upload-writer|download-reader BUCKET OBJECT FILE\n"
            "  upload-many|download-many BUCKET PREFIX DIR COUNT THREADS\n"
            "  upload-files|download-files|upload-dir|download-prefix BUCKET PREFIX DIR COUNT\n");
    return 2;
}

static int set(s3os_config *cfg, const char *key, const char *value)
{
    s3os_status st = s3os_config_set(cfg, key, value);
    if (st != S3OS_OK)
        return report_failure(st, "config", key);
    return 0;
}

int main(int argc, char **argv)
{
    const char *options[4][2] = {
        {"endpoint_url", NULL},
        {"region_name", NULL},
        {"aws_access_key_id", NULL},
        {"aws_secret_access_key", NULL},
    };
    int opt;
    while ((opt = getopt(argc, argv, "+e:r:a:s:")) != -1) {
        switch (opt) {
        case 'e': options[0][1] = optarg; break;
        case 'r': options[1][1] = optarg; break;
        case 'a': options[2][1] = optarg; break;
        case 's': options[3][1] = optarg; break;
        default: return usage();
        }
    }
    if (argc - optind < 4)
        return usage();
    const char *mode = argv[optind];
    int many = strcmp(mode, "upload-many") == 0 || strcmp(mode, "download-many") == 0;
    int single = strcmp(mode, "upload") == 0 || strcmp(mode, "download") == 0;
    int memory = strcmp(mode, "upload-memory") == 0 || strcmp(mode, "download-memory") == 0 ||
                 strcmp(mode, "upload-writer") == 0 || strcmp(mode, "download-reader") == 0;
    int batched = strcmp(mode, "upload-files") == 0 || strcmp(mode, "download-files") == 0 ||
                  strcmp(mode, "upload-dir") == 0 || strcmp(mode, "download-prefix") == 0;
    if (!many && !single && !memory && !batched)
        return usage();
    int positional = many ? 6 : batched ? 5 : 4; /* mode included */
    if (argc - optind < positional)
        return usage();
    char **args = argv + optind;
    const char *bucket = args[1];

    s3os_config *cfg = s3os_config_new(bucket);
    if (cfg == NULL)
        return report_failure(S3OS_INVALID_ARGUMENT, "config", bucket);
    for (int i = 0; i < 4; i++)
        if (options[i][1] != NULL && set(cfg, options[i][0], options[i][1]) != 0)
            return 1;
    for (int i = optind + positional; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (eq == NULL) {
            fprintf(stderr, "s3os_bench: expected KEY=VALUE, got '%s'\n", argv[i]);
            return 2;
        }
        *eq = '\0';
        if (set(cfg, argv[i], eq + 1) != 0)
            return 1;
    }
    s3os_store *store = NULL;
    s3os_status st = s3os_store_new(cfg, &store);
    s3os_config_free(cfg);
    if (st != S3OS_OK)
        return report_failure(st, "store", bucket);

    double user0, sys0, user1, sys1;
    cpu_seconds(&user0, &sys0);
    double t0 = now_seconds();
    unsigned long long bytes = 0;
    int objects = 1, failed = 0;

    struct span span = {0};
    if (memory) {
        failed = memory_mode(store, mode, args[2], args[3], &span, &bytes);
    } else if (single) {
        failed = transfer_one(store, strcmp(mode, "download") == 0, args[2], args[3], &bytes);
    } else if (batched) {
        objects = atoi(args[4]);
        if (objects < 1)
            return usage();
        failed = batch(store, mode, args[2], args[3], objects, &bytes);
    } else {
        struct job job = {
            .store = store,
            .prefix = args[2],
            .dir = args[3],
            .count = atoi(args[4]),
            .download = strcmp(mode, "download-many") == 0,
        };
        int threads = atoi(args[5]);
        if (job.count < 1 || threads < 1)
            return usage();
        atomic_init(&job.next, 0);
        atomic_init(&job.failed, 0);
        atomic_init(&job.bytes, 0);
        pthread_t *tids = calloc((size_t)threads, sizeof *tids);
        int started = 0;
        for (; started < threads; started++)
            if (pthread_create(&tids[started], NULL, worker, &job) != 0)
                break;
        for (int i = 0; i < started; i++)
            pthread_join(tids[i], NULL);
        free(tids);
        failed = started == 0 || atomic_load(&job.failed);
        bytes = atomic_load(&job.bytes);
        objects = job.count;
    }

    double seconds = now_seconds() - t0;
    cpu_seconds(&user1, &sys1);
    if (memory) {
        seconds = span.t1 - span.t0;
        user0 = span.user0, sys0 = span.sys0, user1 = span.user1, sys1 = span.sys1;
    }
    s3os_store_free(store);
    if (failed)
        return 1;
    printf("{\"seconds\": %.6f, \"cpu_user\": %.6f, \"cpu_sys\": %.6f, \"bytes\": %llu, \"objects\": %d}\n",
           seconds, user1 - user0, sys1 - sys0, bytes, objects);
    return 0;
}

/*
 * overlap: a training loop that computes while the previous step's checkpoint uploads in the
 * background, then prints how much of the upload time was hidden behind compute.
 *
 *   overlap <bucket> <scratch-dir> [key=value ...]
 *
 * Each step writes a checkpoint file, starts its upload with s3os_upload_file_start and goes
 * on computing; between slices of compute it looks (without blocking) whether the upload has
 * finished. Before the next upload starts, the previous one must be done: any time spent
 * waiting for it there is upload time that compute did not hide. Key=value pairs go to
 * s3os_config_set (endpoint_url=..., prefix=...); S3OS_OVERLAP_STEPS, S3OS_OVERLAP_MIB and
 * S3OS_OVERLAP_COMPUTE_MS change the number of steps, the checkpoint size and the compute per
 * step (defaults 4, 64 and 400).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "s3os.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static long env_or(const char *name, long fallback) {
    const char *value = getenv(name);
    return value && *value ? strtol(value, NULL, 10) : fallback;
}

/* One step's checkpoint: bytes that differ from step to step. */
static int write_checkpoint(const char *path, size_t len, int step) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    static uint64_t block[1 << 13];
    for (size_t i = 0; i < sizeof block / sizeof block[0]; i++)
        block[i] = (uint64_t)step * 0x9E3779B97F4A7C15ull ^ (i * 0xBF58476D1CE4E5B9ull);
    for (size_t written = 0; written < len; written += sizeof block) {
        size_t n = len - written < sizeof block ? len - written : sizeof block;
        if (fwrite(block, 1, n, f) != n) {
            fclose(f);
            return -1;
        }
    }
    return fclose(f);
}

struct upload {
    s3os_transfer *transfer;
    double started_ms, finished_ms;
    int done;
};

/* Looks, without blocking, whether the upload has finished; records when it was first seen
 * finished. Returns its status (S3OS_IN_PROGRESS while it runs). */
static s3os_status look(struct upload *up) {
    s3os_status status = s3os_transfer_wait(up->transfer, 0);
    if (status != S3OS_IN_PROGRESS && !up->done) {
        up->done = 1;
        up->finished_ms = now_ms();
    }
    return status;
}

/* Stands in for a training step: floating-point work for `ms` milliseconds, in slices, with a
 * look at the running upload after each. */
static double compute(long ms, struct upload *up) {
    double acc = 0.0;
    double until = now_ms() + (double)ms;
    while (now_ms() < until) {
        for (int i = 1; i < 200000; i++) acc += 1.0 / ((double)i * (double)i);
        if (up && up->transfer) look(up);
    }
    return acc;
}

/* Keeps the compiler from dropping the computation. */
static volatile double compute_result;

static int fail(const char *what, s3os_status status) {
    fprintf(stderr, "%s failed: %s: %s\n", what, s3os_status_name(status), s3os_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s <bucket> <scratch-dir> [key=value ...]\n", argv[0]);
        return 2;
    }
    const long steps = env_or("S3OS_OVERLAP_STEPS", 4);
    const size_t len = (size_t)env_or("S3OS_OVERLAP_MIB", 64) << 20;
    const long compute_ms = env_or("S3OS_OVERLAP_COMPUTE_MS", 400);

    s3os_config *cfg = s3os_config_new(argv[1]);
    if (!cfg) return fail("s3os_config_new", S3OS_INVALID_ARGUMENT);
    for (int i = 3; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) return fail(argv[i], S3OS_INVALID_ARGUMENT);
        *eq = '\0';
        s3os_status st = s3os_config_set(cfg, argv[i], eq + 1);
        *eq = '=';
        if (st != S3OS_OK) return fail(argv[i], st);
    }
    s3os_store *store = NULL;
    s3os_status st = s3os_store_new(cfg, &store);
    s3os_config_free(cfg);
    if (st != S3OS_OK) return fail("s3os_store_new", st);

    struct upload up = {0};
    double upload_total = 0, exposed_total = 0;
    char path[2][1024], name[64];
    for (long step = 0; step <= steps; step++) {
        if (step > 0) {
            /* The previous step's checkpoint is written: upload it while this step computes. */
            snprintf(name, sizeof name, "overlap/ckpt-%ld.bin", step - 1);
            up = (struct upload){.started_ms = now_ms()};
            st = s3os_upload_file_start(store, name, path[(step - 1) % 2], &up.transfer);
            if (st != S3OS_OK) return fail("s3os_upload_file_start", st);
        }
        double compute_started = now_ms();
        if (step < steps) compute_result += compute(compute_ms, &up);
        double computed = now_ms() - compute_started;
        if (step > 0) {
            /* The next checkpoint may only be written once this upload is done with its file. */
            double waiting = now_ms();
            st = s3os_transfer_wait(up.transfer, -1);
            if (!up.done) up.finished_ms = now_ms();
            double exposed = now_ms() - waiting;
            if (st != S3OS_OK) return fail("checkpoint upload", st);
            uint64_t done = 0, total = 0;
            s3os_transfer_progress(up.transfer, &done, &total);
            s3os_transfer_free(up.transfer);
            up.transfer = NULL;
            double took = up.finished_ms - up.started_ms;
            upload_total += took;
            exposed_total += exposed;
            printf("step %ld: computed %.0f ms; checkpoint %ld (%.0f MiB) uploaded in %.0f ms, "
                   "waited %.0f ms for it\n",
                   step, computed, step - 1, (double)total / (1 << 20), took, exposed);
        }
        if (step < steps) {
            snprintf(path[step % 2], sizeof path[0], "%s/ckpt-%ld.bin", argv[2], step);
            if (write_checkpoint(path[step % 2], len, (int)step) != 0) {
                perror(path[step % 2]);
                return 1;
            }
        }
    }

    /* Every checkpoint is in the store with its full size. */
    for (long step = 0; step < steps; step++) {
        uint64_t size = 0;
        snprintf(name, sizeof name, "overlap/ckpt-%ld.bin", step);
        st = s3os_object_size(store, name, &size);
        if (st != S3OS_OK) return fail("s3os_object_size", st);
        if (size != len) {
            fprintf(stderr, "%s has %llu bytes, not %zu\n", name, (unsigned long long)size, len);
            return 1;
        }
    }
    uint64_t deleted = 0;
    st = s3os_delete_prefix(store, "overlap", &deleted);
    if (st != S3OS_OK) return fail("s3os_delete_prefix", st);
    s3os_store_free(store);

    double hidden = upload_total - exposed_total;
    printf("%ld checkpoints verified and deleted (%llu objects)\n", steps,
           (unsigned long long)deleted);
    printf("upload time hidden behind compute: %.0f of %.0f ms (%.0f%%)\n", hidden,
           upload_total, upload_total > 0 ? 100.0 * hidden / upload_total : 0.0);
    return 0;
}

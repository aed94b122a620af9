/*
 * Every memory and stream call of s3os.h, from C: buffers up and down (caller's and
 * library-allocated), ranged reads, a stream writer closed and one aborted, a stream reader
 * read sequentially and at random, too-small buffers and bad arguments. Run under valgrind
 * by the tests: no memory error, no leak.
 *
 *   memory <scratch-dir> key=value...   (keys configure a store on a live server)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3os.h"

static int failures;

static void expect(const char *what, s3os_status got, s3os_status want) {
    if (got != want) {
        fprintf(stderr, "FAIL %s: got %s (%s), want %s\n", what, s3os_status_name(got),
                s3os_last_error(), s3os_status_name(want));
        failures++;
    }
}

static void check(const char *what, int ok) {
    if (!ok) {
        fprintf(stderr, "FAIL %s\n", what);
        failures++;
    }
}

static int progress_calls;
static int count_progress(uint64_t done, uint64_t total, void *user_data) {
    (void)done;
    (void)total;
    (void)user_data;
    progress_calls++;
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    s3os_config *cfg = s3os_config_new("test-bucket");
    for (int i = 2; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) return 2;
        *eq = '\0';
        expect("config_set", s3os_config_set(cfg, argv[i], eq + 1), S3OS_OK);
    }
    s3os_config_set(cfg, "prefix", "c-memory");
    s3os_store *store = NULL;
    expect("store_new", s3os_store_new(cfg, &store), S3OS_OK);
    s3os_config_free(cfg);
    if (!store) return 1;

    /* 11 MiB + 5: above the threshold, in three parts of 5 MiB. */
    size_t size = 11u * 1024 * 1024 + 5;
    unsigned char *data = malloc(size);
    for (size_t i = 0; i < size; i++) data[i] = (unsigned char)(i * 131u + i / 4099u);

    /* Buffers up and down. */
    expect("upload_buffer", s3os_upload_buffer(store, "obj", data, size, count_progress, NULL), S3OS_OK);
    check("upload progress reported", progress_calls > 0);
    unsigned char *back = malloc(size);
    size_t len = 0;
    expect("download_buffer", s3os_download_buffer(store, "obj", back, size, &len, NULL, NULL), S3OS_OK);
    check("download_buffer bytes", len == size && memcmp(back, data, size) == 0);
    memset(back, 0x5a, size);
    expect("download_buffer too small",
           s3os_download_buffer(store, "obj", back, size - 1, &len, NULL, NULL), S3OS_BUFFER_TOO_SMALL);
    check("too small: size reported, buffer untouched", len == size && back[0] == 0x5a && back[size - 2] == 0x5a);
    uint8_t *allocated = NULL;
    expect("download_alloc", s3os_download_alloc(store, "obj", &allocated, &len, NULL, NULL), S3OS_OK);
    check("download_alloc bytes", allocated && len == size && memcmp(allocated, data, size) == 0);
    s3os_buffer_free(allocated, len);
    s3os_buffer_free(NULL, 0);
    expect("upload_buffer empty", s3os_upload_buffer(store, "empty", NULL, 0, NULL, NULL), S3OS_OK);
    expect("download_alloc empty", s3os_download_alloc(store, "empty", &allocated, &len, NULL, NULL), S3OS_OK);
    check("an empty object gives NULL, 0", allocated == NULL && len == 0);

    /* Ranges. */
    size_t read = 0;
    expect("read_range", s3os_read_range(store, "obj", 1000, back, 9u * 1024 * 1024, &read), S3OS_OK);
    check("read_range bytes", read == 9u * 1024 * 1024 && memcmp(back, data + 1000, read) == 0);
    expect("read_range past the end", s3os_read_range(store, "obj", size - 3, back, 100, &read), S3OS_OK);
    check("read_range past the end reads what exists", read == 3 && memcmp(back, data + size - 3, 3) == 0);
    expect("read_range beyond", s3os_read_range(store, "obj", size + 1, back, 1, &read), S3OS_INVALID_ARGUMENT);
    check("the message names the size", strstr(s3os_last_error(), "11534341") != NULL);

    /* A writer closed, and one aborted. */
    s3os_writer *writer = NULL;
    expect("writer_open", s3os_writer_open(store, "streamed", &writer), S3OS_OK);
    for (size_t at = 0; at < size; at += 1024 * 1024 + 3) {
        size_t n = size - at < 1024 * 1024 + 3 ? size - at : 1024 * 1024 + 3;
        expect("writer_write", s3os_writer_write(writer, data + at, n), S3OS_OK);
    }
    expect("writer_close", s3os_writer_close(writer), S3OS_OK);
    expect("download_buffer of the streamed object",
           s3os_download_buffer(store, "streamed", back, size, &len, NULL, NULL), S3OS_OK);
    check("streamed bytes", len == size && memcmp(back, data, size) == 0);
    expect("writer_open", s3os_writer_open(store, "aborted", &writer), S3OS_OK);
    expect("writer_write", s3os_writer_write(writer, data, size), S3OS_OK);
    expect("writer_abort", s3os_writer_abort(writer), S3OS_OK);
    uint64_t object_size = 0;
    expect("an aborted writer leaves no object", s3os_object_size(store, "aborted", &object_size), S3OS_NOT_FOUND);

    /* A reader: sequential, then random. */
    s3os_reader *reader = NULL;
    expect("reader_open", s3os_reader_open(store, "obj", &reader), S3OS_OK);
    expect("reader_size", s3os_reader_size(reader, &object_size), S3OS_OK);
    check("reader_size", object_size == size);
    size_t total = 0;
    for (;;) {
        expect("reader_read", s3os_reader_read(reader, back + total, 1024 * 1024, &read), S3OS_OK);
        if (read == 0) break;
        total += read;
    }
    check("sequential reads", total == size && memcmp(back, data, size) == 0);
    expect("reader_seek", s3os_reader_seek(reader, 4321), S3OS_OK);
    expect("reader_read at random", s3os_reader_read(reader, back, 77, &read), S3OS_OK);
    check("random read", read == 77 && memcmp(back, data + 4321, 77) == 0);
    expect("reader_seek beyond", s3os_reader_seek(reader, size + 1), S3OS_INVALID_ARGUMENT);
    s3os_reader_free(reader);
    s3os_reader_free(NULL);
    reader = (s3os_reader *)0x1;
    expect("reader_open missing", s3os_reader_open(store, "missing", &reader), S3OS_NOT_FOUND);
    check("out_reader reset", reader == NULL);

    /* Bad arguments. */
    expect("upload_buffer NULL data", s3os_upload_buffer(store, "x", NULL, 1, NULL, NULL), S3OS_INVALID_ARGUMENT);
    expect("download_buffer NULL out_len", s3os_download_buffer(store, "obj", back, size, NULL, NULL, NULL), S3OS_INVALID_ARGUMENT);
    expect("download_alloc NULL out_data", s3os_download_alloc(store, "obj", NULL, &len, NULL, NULL), S3OS_INVALID_ARGUMENT);
    expect("read_range NULL buf", s3os_read_range(store, "obj", 0, NULL, 1, &read), S3OS_INVALID_ARGUMENT);
    expect("writer_open NULL out", s3os_writer_open(store, "x", NULL), S3OS_INVALID_ARGUMENT);
    expect("writer_open NULL store", s3os_writer_open(NULL, "x", &writer), S3OS_INVALID_ARGUMENT);
    check("out_writer reset", writer == NULL);
    expect("writer_write NULL", s3os_writer_write(NULL, data, 1), S3OS_INVALID_ARGUMENT);
    expect("writer_close NULL", s3os_writer_close(NULL), S3OS_INVALID_ARGUMENT);
    expect("writer_abort NULL", s3os_writer_abort(NULL), S3OS_OK);
    expect("reader_read NULL", s3os_reader_read(NULL, back, 1, &read), S3OS_INVALID_ARGUMENT);
    expect("reader_size NULL", s3os_reader_size(NULL, &object_size), S3OS_INVALID_ARGUMENT);
    check("status name", strcmp(s3os_status_name(S3OS_BUFFER_TOO_SMALL), "S3OS_BUFFER_TOO_SMALL") == 0);

    free(back);
    free(data);
    s3os_store_free(store);
    if (failures) {
        fprintf(stderr, "%d failures\n", failures);
        return 1;
    }
    printf("memory: every call answered as expected\n");
    return 0;
}

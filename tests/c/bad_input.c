/*
 * Every exported function given NULLs, invalid UTF-8, unknown keys and impossible values:
 * each must answer with the right status and a message, never crash.
 *
 *   bad_input <scratch-dir> key=value...   (keys configure a store on a live server)
 */
#include <stdio.h>
#include <string.h>

#include "s3os.h"

static int failures;

static void expect(const char *what, s3os_status got, s3os_status want) {
    const char *message = s3os_last_error();
    int ok = got == want && (want == S3OS_OK ? message[0] == '\0' : message[0] != '\0');
    if (!ok) {
        fprintf(stderr, "FAIL %s: got %s (%s), want %s\n", what, s3os_status_name(got), message,
                s3os_status_name(want));
        failures++;
    }
}

static int never_called(uint64_t a, uint64_t b, void *c) {
    (void)a; (void)b; (void)c;
    return 0;
}

static int list_cb(const char *name, uint64_t size, void *user_data) {
    (void)name; (void)size; (void)user_data;
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *bad_utf8 = "\xff\xfe-not-utf8";
    char path[512];
    snprintf(path, sizeof path, "%s/file", argv[1]);
    FILE *f = fopen(path, "wb");
    fputs("data", f);
    fclose(f);

    /* Config. */
    if (s3os_config_new(NULL) != NULL || s3os_last_error()[0] == '\0') failures++, fprintf(stderr, "FAIL config_new(NULL)\n");
    if (s3os_config_new(bad_utf8) != NULL) failures++, fprintf(stderr, "FAIL config_new(bad utf8)\n");
    if (s3os_config_new("") != NULL || s3os_config_new("///") != NULL) failures++, fprintf(stderr, "FAIL config_new(empty)\n");
    s3os_config *cfg = s3os_config_new("test-bucket");
    expect("config_set NULL cfg", s3os_config_set(NULL, "prefix", "x"), S3OS_INVALID_ARGUMENT);
    expect("config_set NULL key", s3os_config_set(cfg, NULL, "x"), S3OS_INVALID_ARGUMENT);
    expect("config_set NULL value", s3os_config_set(cfg, "prefix", NULL), S3OS_INVALID_ARGUMENT);
    expect("config_set unknown key", s3os_config_set(cfg, "no_such_key", "x"), S3OS_INVALID_ARGUMENT);
    if (!strstr(s3os_last_error(), "no_such_key")) failures++, fprintf(stderr, "FAIL message names key\n");
    expect("config_set bad utf8", s3os_config_set(cfg, "prefix", bad_utf8), S3OS_INVALID_ARGUMENT);
    expect("config_set bad size", s3os_config_set(cfg, "multipart_chunksize", "lots"), S3OS_INVALID_ARGUMENT);
    expect("config_set zero concurrency", s3os_config_set(cfg, "max_concurrency", "0"), S3OS_INVALID_ARGUMENT);
    expect("config_set bad style", s3os_config_set(cfg, "addressing_style", "sideways"), S3OS_INVALID_ARGUMENT);
    expect("config_set bad acl", s3os_config_set(cfg, "canned_acl", "everyone"), S3OS_INVALID_ARGUMENT);
    expect("config_set negative timeout", s3os_config_set(cfg, "read_timeout", "-1"), S3OS_INVALID_ARGUMENT);
    for (int i = 2; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        *eq = '\0';
        expect("config_set valid", s3os_config_set(cfg, argv[i], eq + 1), S3OS_OK);
    }
    s3os_config_free(NULL);

    /* Store creation. */
    s3os_store *store = (s3os_store *)0x1;
    expect("store_new NULL cfg", s3os_store_new(NULL, &store), S3OS_INVALID_ARGUMENT);
    if (store != NULL) failures++, fprintf(stderr, "FAIL out_store not reset to NULL\n");
    expect("store_new NULL out", s3os_store_new(cfg, NULL), S3OS_INVALID_ARGUMENT);
    expect("store_new", s3os_store_new(cfg, &store), S3OS_OK);
    s3os_config_free(cfg);
    s3os_store_free(NULL);

    /* Operations. */
    uint64_t size = 0;
    char *uri = (char *)0x1;
    expect("upload NULL store", s3os_upload_file(NULL, "o", path, NULL, NULL), S3OS_INVALID_ARGUMENT);
    expect("upload NULL name", s3os_upload_file(store, NULL, path, NULL, NULL), S3OS_INVALID_ARGUMENT);
    expect("upload NULL path", s3os_upload_file(store, "o", NULL, NULL, NULL), S3OS_INVALID_ARGUMENT);
    expect("upload bad utf8 name", s3os_upload_file(store, bad_utf8, path, NULL, NULL), S3OS_INVALID_ARGUMENT);
    expect("upload bad utf8 path", s3os_upload_file(store, "o", bad_utf8, never_called, NULL), S3OS_INVALID_ARGUMENT);
    expect("upload empty name", s3os_upload_file(store, "", path, NULL, NULL), S3OS_INVALID_ARGUMENT);
    expect("upload empty path", s3os_upload_file(store, "o", "", NULL, NULL), S3OS_INVALID_ARGUMENT);
    expect("upload directory", s3os_upload_file(store, "o", argv[1], NULL, NULL), S3OS_IO);
    expect("download NULL store", s3os_download_file(NULL, "o", path, true, NULL, NULL), S3OS_INVALID_ARGUMENT);
    expect("download NULL name", s3os_download_file(store, NULL, path, true, NULL, NULL), S3OS_INVALID_ARGUMENT);
    expect("download NULL path", s3os_download_file(store, "o", NULL, true, NULL, NULL), S3OS_INVALID_ARGUMENT);
    expect("download empty path", s3os_download_file(store, "o", "", true, NULL, NULL), S3OS_INVALID_ARGUMENT);
    expect("download bad utf8", s3os_download_file(store, bad_utf8, path, true, NULL, NULL), S3OS_INVALID_ARGUMENT);
    expect("size NULL store", s3os_object_size(NULL, "o", &size), S3OS_INVALID_ARGUMENT);
    expect("size NULL name", s3os_object_size(store, NULL, &size), S3OS_INVALID_ARGUMENT);
    expect("size NULL out", s3os_object_size(store, "o", NULL), S3OS_INVALID_ARGUMENT);
    expect("size missing", s3os_object_size(store, "missing", &size), S3OS_NOT_FOUND);
    expect("uri NULL store", s3os_get_uri(NULL, "o", &uri), S3OS_INVALID_ARGUMENT);
    if (uri != NULL) failures++, fprintf(stderr, "FAIL out_uri not reset to NULL\n");
    expect("uri NULL name", s3os_get_uri(store, NULL, &uri), S3OS_INVALID_ARGUMENT);
    expect("uri NULL out", s3os_get_uri(store, "o", NULL), S3OS_INVALID_ARGUMENT);
    expect("delete NULL store", s3os_delete_object(NULL, "o"), S3OS_INVALID_ARGUMENT);
    expect("delete NULL name", s3os_delete_object(store, NULL), S3OS_INVALID_ARGUMENT);
    expect("delete bad utf8", s3os_delete_object(store, bad_utf8), S3OS_INVALID_ARGUMENT);
    expect("list NULL store", s3os_list_objects(NULL, "", list_cb, NULL), S3OS_INVALID_ARGUMENT);
    expect("list NULL callback", s3os_list_objects(store, "", NULL, NULL), S3OS_INVALID_ARGUMENT);
    expect("list bad utf8 prefix", s3os_list_objects(store, bad_utf8, list_cb, NULL), S3OS_INVALID_ARGUMENT);
    expect("list NULL prefix means all", s3os_list_objects(store, NULL, list_cb, NULL), S3OS_OK);

    /* Helpers that cannot fail. */
    if (strcmp(s3os_status_name(S3OS_NOT_FOUND), "S3OS_NOT_FOUND") != 0) failures++, fprintf(stderr, "FAIL status_name\n");
    if (strcmp(s3os_status_name(-1), "S3OS_UNKNOWN_STATUS") != 0 || strcmp(s3os_status_name(12345), "S3OS_UNKNOWN_STATUS") != 0)
        failures++, fprintf(stderr, "FAIL status_name out of range\n");
    if (s3os_version()[0] == '\0') failures++, fprintf(stderr, "FAIL version\n");
    s3os_string_free(NULL);

    /* The store still works after all of that. */
    expect("upload after bad input", s3os_upload_file(store, "o", path, NULL, NULL), S3OS_OK);
    expect("size after bad input", s3os_object_size(store, "o", &size), S3OS_OK);

    /* Destinations that cannot be written: a directory, and a place no file can be created. */
    expect("download onto a directory", s3os_download_file(store, "o", argv[1], true, NULL, NULL), S3OS_IO);
    expect("download onto a directory, no overwrite", s3os_download_file(store, "o", argv[1], false, NULL, NULL), S3OS_ALREADY_EXISTS);
    expect("download under /proc", s3os_download_file(store, "o", "/proc/version/o", true, NULL, NULL), S3OS_IO);
    expect("upload from /proc dir", s3os_upload_file(store, "o2", "/proc/self", NULL, NULL), S3OS_IO);

    /* Names over S3's 1024-byte key limit are refused before any request. */
    static char long_name[2048];
    memset(long_name, 'n', sizeof long_name - 1);
    expect("upload long name", s3os_upload_file(store, long_name, path, NULL, NULL), S3OS_INVALID_ARGUMENT);
    expect("download long name", s3os_download_file(store, long_name, path, true, NULL, NULL), S3OS_INVALID_ARGUMENT);
    expect("size long name", s3os_object_size(store, long_name, &size), S3OS_INVALID_ARGUMENT);
    expect("delete long name", s3os_delete_object(store, long_name), S3OS_INVALID_ARGUMENT);
    FILE *check = fopen(path, "rb");
    char contents[8] = {0};
    if (!check || fread(contents, 1, sizeof contents, check) != 4 || memcmp(contents, "data", 4) != 0)
        failures++, fprintf(stderr, "FAIL a refused download touched %s\n", path);
    if (check) fclose(check);
    s3os_store_free(store);
    if (failures) {
        fprintf(stderr, "%d failures\n", failures);
        return 1;
    }
    printf("bad input: every call answered as expected\n");
    return 0;
}

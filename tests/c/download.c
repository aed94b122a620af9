/*
 * One download, as the caller names it:
 *
 *   download <object> <target> <overwrite: 0|1> key=value...
 *
 * Prints "download: <status>: <message>" and exits 0 whatever the status.
 */
#include <stdio.h>
#include <string.h>

#include "s3os.h"

int main(int argc, char **argv) {
    if (argc < 4) return 2;
    s3os_config *cfg = s3os_config_new("test-bucket");
    for (int i = 4; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) return 2;
        *eq = '\0';
        if (s3os_config_set(cfg, argv[i], eq + 1) != S3OS_OK) {
            fprintf(stderr, "%s\n", s3os_last_error());
            return 2;
        }
        *eq = '=';
    }
    s3os_store *store = NULL;
    if (s3os_store_new(cfg, &store) != S3OS_OK) return 1;
    s3os_config_free(cfg);
    s3os_status status =
        s3os_download_file(store, argv[1], argv[2], strcmp(argv[3], "1") == 0, NULL, NULL);
    printf("download: %s: %s\n", s3os_status_name(status), s3os_last_error());
    s3os_store_free(store);
    return 0;
}

/*
 * A dropped connection must fail the call, not kill the program: with SIGPIPE at its default
 * disposition (what every C program starts with), writing to a connection the server has
 * closed raises SIGPIPE, which terminates the process unless the library keeps it away.
 *
 *   sigpipe <file> <upload-endpoint> <target> <download-endpoint> key=value...
 *
 * The upload endpoint closes every connection in the middle of the request body; the download
 * endpoint resets every connection in the middle of the response. Both calls must return
 * S3OS_TRANSIENT, and the host's SIGPIPE disposition must be left as it was.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "s3os.h"

static s3os_store *make_store(const char *endpoint, int argc, char **argv) {
    s3os_config *cfg = s3os_config_new("test-bucket");
    for (int i = 5; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        *eq = '\0';
        s3os_config_set(cfg, argv[i], eq + 1);
        *eq = '=';
    }
    s3os_config_set(cfg, "endpoint_url", endpoint);
    s3os_store *store = NULL;
    s3os_status status = s3os_store_new(cfg, &store);
    s3os_config_free(cfg);
    if (status != S3OS_OK) fprintf(stderr, "store: %s\n", s3os_last_error());
    return store;
}

static int sigpipe_is_default(void) {
    struct sigaction current;
    sigaction(SIGPIPE, NULL, &current);
    return current.sa_handler == SIG_DFL;
}

int main(int argc, char **argv) {
    if (argc < 5) return 2;
    signal(SIGPIPE, SIG_DFL);
    s3os_store *uploads = make_store(argv[2], argc, argv);
    s3os_store *downloads = make_store(argv[4], argc, argv);
    if (!uploads || !downloads) return 1;

    s3os_status up = s3os_upload_file(uploads, "dropped", argv[1], NULL, NULL);
    printf("upload: %s: %s\n", s3os_status_name(up), s3os_last_error());
    s3os_status down = s3os_download_file(downloads, "object", argv[3], false, NULL, NULL);
    printf("download: %s: %s\n", s3os_status_name(down), s3os_last_error());
    s3os_store_free(uploads);
    s3os_store_free(downloads);

    if (up != S3OS_TRANSIENT || down != S3OS_TRANSIENT) return 1;
    if (!sigpipe_is_default()) {
        fprintf(stderr, "the library changed the process's SIGPIPE disposition\n");
        return 1;
    }
    printf("sigpipe: both calls returned and the process lives\n");
    return 0;
}

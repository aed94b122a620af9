/*
 * dlopen the library, use a store, free it, dlclose the library, and keep running: unloading
 * must not crash the process even though the runtime's threads outlive the handle.
 *
 *   unload <path-to-libs3os.so> <file> key=value...
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "s3os.h"

#define LOAD(handle, name) ((__typeof__(&name))dlsym(handle, #name))

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    s3os_config *(*config_new)(const char *) = LOAD(lib, s3os_config_new);
    s3os_status (*config_set)(s3os_config *, const char *, const char *) = LOAD(lib, s3os_config_set);
    void (*config_free)(s3os_config *) = LOAD(lib, s3os_config_free);
    s3os_status (*store_new)(const s3os_config *, s3os_store **) = LOAD(lib, s3os_store_new);
    void (*store_free)(s3os_store *) = LOAD(lib, s3os_store_free);
    s3os_status (*upload)(s3os_store *, const char *, const char *, s3os_progress_fn, void *) = LOAD(lib, s3os_upload_file);
    if (!config_new || !config_set || !config_free || !store_new || !store_free || !upload) return 1;

    s3os_config *cfg = config_new("test-bucket");
    for (int i = 3; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        *eq = '\0';
        config_set(cfg, argv[i], eq + 1);
    }
    s3os_store *store = NULL;
    if (store_new(cfg, &store) != S3OS_OK || upload(store, "unload/obj", argv[2], NULL, NULL) != S3OS_OK) return 1;
    config_free(cfg);
    store_free(store);
    if (dlclose(lib) != 0) {
        fprintf(stderr, "dlclose: %s\n", dlerror());
        return 1;
    }
    /* Give any thread left behind the chance to run (and crash, if the code were gone). */
    struct timespec pause = {0, 300 * 1000 * 1000};
    nanosleep(&pause, NULL);
    void *memory = malloc(1 << 20);
    memset(memory, 1, 1 << 20);
    free(memory);
    printf("unload: the process kept running after dlclose\n");
    return 0;
}

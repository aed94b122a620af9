/*
 * s3os called while a thread exits: from a pthread key destructor, which runs after the
 * thread's own thread-local storage (s3os's last error among it) was destroyed. Every call
 * must answer, none may take the process down.
 *
 *   thread_exit key=value...
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "s3os.h"

static pthread_key_t key;
static int answered;

static void at_thread_exit(void *store) {
    const char *message = s3os_last_error();
    s3os_config *cfg = s3os_config_new(NULL);
    const char *after_failure = s3os_last_error();
    uint64_t size = 0;
    s3os_status missing = s3os_object_size(store, "missing", &size);
    s3os_status null_store = s3os_object_size(NULL, "missing", &size);
    printf("in destructor: last error \"%s\"; config_new(NULL) %s, then \"%s\"; size of a missing "
           "object: %s; of a NULL store: %s\n",
           message, cfg ? "not NULL" : "NULL", after_failure, s3os_status_name(missing),
           s3os_status_name(null_store));
    answered = message != NULL && after_failure != NULL && cfg == NULL &&
               missing != S3OS_OK && null_store == S3OS_INVALID_ARGUMENT;
}

static void *worker(void *store) {
    pthread_setspecific(key, store);
    uint64_t size = 0;
    /* Uses the thread's last-error slot before the thread ends. */
    if (s3os_object_size(store, "missing", &size) != S3OS_NOT_FOUND) return store;
    return NULL;
}

int main(int argc, char **argv) {
    s3os_config *cfg = s3os_config_new("test-bucket");
    for (int i = 1; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        *eq = '\0';
        s3os_config_set(cfg, argv[i], eq + 1);
        *eq = '=';
    }
    s3os_store *store = NULL;
    if (s3os_store_new(cfg, &store) != S3OS_OK) return 1;
    s3os_config_free(cfg);
    pthread_key_create(&key, at_thread_exit);
    pthread_t thread;
    void *failed = NULL;
    if (pthread_create(&thread, NULL, worker, store) != 0 || pthread_join(thread, &failed) != 0)
        return 1;
    s3os_store_free(store);
    if (failed || !answered) return 1;
    printf("thread_exit: every call from the key destructor answered\n");
    return 0;
}

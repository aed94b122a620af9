/*
 * JNI glue between s3os.NativeStore (Java) and the C API of s3os.h.
 *
 * Strings arrive as byte[] holding UTF-8, already checked in Java (JNI's own string functions
 * speak modified UTF-8, which differs for NUL and characters outside the BMP), and are copied
 * into NUL-terminated buffers; a null array becomes NULL, which the C API rejects or, for a
 * listing prefix, reads as "everything".
 *
 * Each function returns the C status. A failing call's message is read with s3os_last_error()
 * on this thread right after the call, before any other s3os call, and handed back in
 * errorOut[0]; Java turns status and message into an exception.
 *
 * s3os runs progress and list callbacks on the calling thread, so they use the JNIEnv of the
 * native method that made the call. When the Java code they call throws, they return nonzero,
 * which stops the C call, and leave the exception pending: it propagates from the native
 * method once the C call has returned. While an exception is pending only JNI functions that
 * the specification allows then (ExceptionCheck, DeleteLocalRef) are called.
 */
#include <jni.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "s3os.h"
#include "s3os_NativeStore.h"

/* Returned when a Java exception is pending: Java never sees the value. */
#define EXCEPTION_PENDING (-1)

static jmethodID on_progress; /* s3os.ProgressListener.onProgress(JJ)Z */
static jmethodID list_add;    /* java.util.List.add(Object)Z */
static JavaVM *java_vm;
static jclass log_class;      /* s3os.S3osLog, a global reference */
static jmethodID log_dispatch; /* s3os.S3osLog.dispatch(JI[B)V */

JNIEXPORT jint JNICALL JNI_OnLoad(JavaVM *vm, void *reserved) {
    (void)reserved;
    JNIEnv *env;
    if ((*vm)->GetEnv(vm, (void **)&env, JNI_VERSION_1_8) != JNI_OK) return JNI_ERR;
    /* Method IDs stay valid while their classes are loaded: ProgressListener shares this
     * library's class loader, and List is a bootstrap class. */
    jclass listener = (*env)->FindClass(env, "s3os/ProgressListener");
    if (!listener) return JNI_ERR;
    on_progress = (*env)->GetMethodID(env, listener, "onProgress", "(JJ)Z");
    (*env)->DeleteLocalRef(env, listener);
    if (!on_progress) return JNI_ERR;
    jclass list = (*env)->FindClass(env, "java/util/List");
    if (!list) return JNI_ERR;
    list_add = (*env)->GetMethodID(env, list, "add", "(Ljava/lang/Object;)Z");
    (*env)->DeleteLocalRef(env, list);
    if (!list_add) return JNI_ERR;
    jclass log = (*env)->FindClass(env, "s3os/S3osLog");
    if (!log) return JNI_ERR;
    log_class = (*env)->NewGlobalRef(env, log);
    (*env)->DeleteLocalRef(env, log);
    if (!log_class) return JNI_ERR;
    log_dispatch = (*env)->GetStaticMethodID(env, log_class, "dispatch", "(JI[B)V");
    if (!log_dispatch) return JNI_ERR;
    java_vm = vm;
    return JNI_VERSION_1_8;
}

static s3os_store *as_store(jlong handle) {
    return (s3os_store *)(intptr_t)handle;
}

/* A NUL-terminated copy of `bytes` to free(): NULL for a null array, or NULL with an
 * OutOfMemoryError pending. */
static char *c_string(JNIEnv *env, jbyteArray bytes) {
    if (!bytes) return NULL;
    jsize length = (*env)->GetArrayLength(env, bytes);
    char *copy = malloc((size_t)length + 1);
    if (!copy) {
        jclass oom = (*env)->FindClass(env, "java/lang/OutOfMemoryError");
        if (oom) (*env)->ThrowNew(env, oom, "s3os: copying a string for the C library");
        return NULL;
    }
    (*env)->GetByteArrayRegion(env, bytes, 0, length, (jbyte *)copy);
    copy[length] = '\0';
    return copy;
}

/* The bytes of the C string `s` as a new byte[] (a local reference), or NULL with an
 * exception pending. */
static jbyteArray java_bytes(JNIEnv *env, const char *s) {
    size_t length = strlen(s);
    jsize java_length = length > INT32_MAX ? INT32_MAX : (jsize)length;
    jbyteArray bytes = (*env)->NewByteArray(env, java_length);
    if (bytes) (*env)->SetByteArrayRegion(env, bytes, 0, java_length, (const jbyte *)s);
    return bytes;
}

/* Stores the bytes of `s` in out[0]. */
static void set_first(JNIEnv *env, jobjectArray out, const char *s) {
    jbyteArray bytes = java_bytes(env, s);
    if (!bytes) return;
    (*env)->SetObjectArrayElement(env, out, 0, bytes);
    (*env)->DeleteLocalRef(env, bytes);
}

/* The status for Java, with this thread's last error in error_out[0] if the call failed.
 * Must follow the C call directly. */
static jint outcome(JNIEnv *env, s3os_status status, jobjectArray error_out) {
    if (status != S3OS_OK && !(*env)->ExceptionCheck(env))
        set_first(env, error_out, s3os_last_error());
    return (jint)status;
}

struct progress_target {
    JNIEnv *env;
    jobject listener;
};

static int report_progress(uint64_t bytes_done, uint64_t bytes_total, void *user_data) {
    struct progress_target *target = user_data;
    JNIEnv *env = target->env;
    if ((*env)->ExceptionCheck(env)) return 1;
    /* S3 objects (at most 5 TiB) are far from overflowing a jlong. */
    jboolean proceed = (*env)->CallBooleanMethod(env, target->listener, on_progress,
                                                 (jlong)bytes_done, (jlong)bytes_total);
    if ((*env)->ExceptionCheck(env)) return 1;
    return proceed ? 0 : 1;
}

struct list_target {
    JNIEnv *env;
    jobject names;
};

static int collect_name(const char *object_name, uint64_t size, void *user_data) {
    (void)size;
    struct list_target *target = user_data;
    JNIEnv *env = target->env;
    if ((*env)->ExceptionCheck(env)) return 1;
    jbyteArray name = java_bytes(env, object_name);
    if (!name) return 1;
    (*env)->CallBooleanMethod(env, target->names, list_add, name);
    /* A listing can be long: without this every name would stay referenced until return. */
    (*env)->DeleteLocalRef(env, name);
    return (*env)->ExceptionCheck(env) ? 1 : 0;
}

/* Sets configuration entry `index` of `keys`/`values` on `cfg`. */
static jint set_config_entry(JNIEnv *env, s3os_config *cfg, jobjectArray keys,
                             jobjectArray values, jsize index, jobjectArray error_out) {
    jbyteArray key_bytes = (*env)->GetObjectArrayElement(env, keys, index);
    jbyteArray value_bytes = (*env)->GetObjectArrayElement(env, values, index);
    char *key = (*env)->ExceptionCheck(env) ? NULL : c_string(env, key_bytes);
    char *value = (*env)->ExceptionCheck(env) ? NULL : c_string(env, value_bytes);
    (*env)->DeleteLocalRef(env, key_bytes);
    (*env)->DeleteLocalRef(env, value_bytes);
    jint result = EXCEPTION_PENDING;
    if (!(*env)->ExceptionCheck(env))
        result = outcome(env, s3os_config_set(cfg, key, value), error_out);
    free(key);
    free(value);
    return result;
}

JNIEXPORT jint JNICALL Java_s3os_NativeStore_open(JNIEnv *env, jclass cls, jbyteArray bucket,
                                                  jobjectArray keys, jobjectArray values,
                                                  jlongArray store_out, jobjectArray error_out) {
    (void)cls;
    char *bucket_name = c_string(env, bucket);
    if ((*env)->ExceptionCheck(env)) return EXCEPTION_PENDING;
    s3os_config *cfg = s3os_config_new(bucket_name);
    free(bucket_name);
    if (!cfg) return outcome(env, S3OS_INVALID_ARGUMENT, error_out);

    jsize count = (*env)->GetArrayLength(env, keys);
    if ((*env)->GetArrayLength(env, values) != count) {
        s3os_config_free(cfg);
        jclass iae = (*env)->FindClass(env, "java/lang/IllegalArgumentException");
        if (iae) (*env)->ThrowNew(env, iae, "s3os: as many config values as keys are needed");
        return EXCEPTION_PENDING;
    }
    for (jsize i = 0; i < count; i++) {
        jint result = set_config_entry(env, cfg, keys, values, i, error_out);
        if (result != S3OS_OK) {
            s3os_config_free(cfg);
            return result;
        }
    }

    s3os_store *store = NULL;
    jint result = outcome(env, s3os_store_new(cfg, &store), error_out);
    s3os_config_free(cfg);
    if (result == S3OS_OK) {
        jlong handle = (jlong)(intptr_t)store;
        (*env)->SetLongArrayRegion(env, store_out, 0, 1, &handle);
    }
    return result;
}

JNIEXPORT void JNICALL Java_s3os_NativeStore_free(JNIEnv *env, jclass cls, jlong store) {
    (void)env;
    (void)cls;
    s3os_store_free(as_store(store));
}

JNIEXPORT jint JNICALL Java_s3os_NativeStore_upload(JNIEnv *env, jclass cls, jlong store,
                                                    jbyteArray name, jbyteArray path,
                                                    jobject listener, jobjectArray error_out) {
    (void)cls;
    char *object_name = c_string(env, name);
    char *file = (*env)->ExceptionCheck(env) ? NULL : c_string(env, path);
    jint result = EXCEPTION_PENDING;
    if (!(*env)->ExceptionCheck(env)) {
        struct progress_target target = {env, listener};
        s3os_status status = s3os_upload_file(as_store(store), object_name, file,
                                              listener ? report_progress : NULL, &target);
        result = outcome(env, status, error_out);
    }
    free(object_name);
    free(file);
    return result;
}

JNIEXPORT jint JNICALL Java_s3os_NativeStore_download(JNIEnv *env, jclass cls, jlong store,
                                                      jbyteArray name, jbyteArray path,
                                                      jboolean overwrite, jobject listener,
                                                      jobjectArray error_out) {
    (void)cls;
    char *object_name = c_string(env, name);
    char *file = (*env)->ExceptionCheck(env) ? NULL : c_string(env, path);
    jint result = EXCEPTION_PENDING;
    if (!(*env)->ExceptionCheck(env)) {
        struct progress_target target = {env, listener};
        s3os_status status =
            s3os_download_file(as_store(store), object_name, file, overwrite == JNI_TRUE,
                               listener ? report_progress : NULL, &target);
        result = outcome(env, status, error_out);
    }
    free(object_name);
    free(file);
    return result;
}

JNIEXPORT jint JNICALL Java_s3os_NativeStore_objectSize(JNIEnv *env, jclass cls, jlong store,
                                                        jbyteArray name, jlongArray size_out,
                                                        jobjectArray error_out) {
    (void)cls;
    char *object_name = c_string(env, name);
    if ((*env)->ExceptionCheck(env)) return EXCEPTION_PENDING;
    uint64_t size = 0;
    jint result = outcome(env, s3os_object_size(as_store(store), object_name, &size), error_out);
    free(object_name);
    if (result == S3OS_OK) {
        jlong java_size = (jlong)size;
        (*env)->SetLongArrayRegion(env, size_out, 0, 1, &java_size);
    }
    return result;
}

JNIEXPORT jint JNICALL Java_s3os_NativeStore_uri(JNIEnv *env, jclass cls, jlong store,
                                                 jbyteArray name, jobjectArray uri_out,
                                                 jobjectArray error_out) {
    (void)cls;
    char *object_name = c_string(env, name);
    if ((*env)->ExceptionCheck(env)) return EXCEPTION_PENDING;
    char *uri = NULL;
    jint result = outcome(env, s3os_get_uri(as_store(store), object_name, &uri), error_out);
    free(object_name);
    if (result == S3OS_OK) set_first(env, uri_out, uri);
    s3os_string_free(uri);
    return result;
}

JNIEXPORT jint JNICALL Java_s3os_NativeStore_delete(JNIEnv *env, jclass cls, jlong store,
                                                    jbyteArray name, jobjectArray error_out) {
    (void)cls;
    char *object_name = c_string(env, name);
    if ((*env)->ExceptionCheck(env)) return EXCEPTION_PENDING;
    jint result = outcome(env, s3os_delete_object(as_store(store), object_name), error_out);
    free(object_name);
    return result;
}

JNIEXPORT jint JNICALL Java_s3os_NativeStore_list(JNIEnv *env, jclass cls, jlong store,
                                                  jbyteArray prefix, jobject names,
                                                  jobjectArray error_out) {
    (void)cls;
    char *name_prefix = c_string(env, prefix);
    if ((*env)->ExceptionCheck(env)) return EXCEPTION_PENDING;
    struct list_target target = {env, names};
    s3os_status status =
        s3os_list_objects(as_store(store), name_prefix, collect_name, &target);
    jint result = outcome(env, status, error_out);
    free(name_prefix);
    return result;
}

JNIEXPORT jbyteArray JNICALL Java_s3os_NativeStore_statusName(JNIEnv *env, jclass cls,
                                                              jint status) {
    (void)cls;
    return java_bytes(env, s3os_status_name(status));
}

JNIEXPORT jbyteArray JNICALL Java_s3os_NativeStore_version(JNIEnv *env, jclass cls) {
    (void)cls;
    return java_bytes(env, s3os_version());
}

/* Runs on the library's log thread, which is attached to the JVM (as a daemon, for the life of
 * the process) on its first line. Nothing may stay pending: an exception of the listener is
 * cleared, and the thread never returns to Java, so its local references are deleted here. */
static void forward_log(s3os_log_level level, const char *message, void *user_data) {
    JNIEnv *env = NULL;
    if ((*java_vm)->GetEnv(java_vm, (void **)&env, JNI_VERSION_1_8) == JNI_EDETACHED) {
        JavaVMAttachArgs args = {JNI_VERSION_1_8, "s3os-log", NULL};
        if ((*java_vm)->AttachCurrentThreadAsDaemon(java_vm, (void **)&env, &args) != JNI_OK)
            return;
    }
    if (!env) return;
    jbyteArray bytes = java_bytes(env, message);
    if (bytes) {
        (*env)->CallStaticVoidMethod(env, log_class, log_dispatch, (jlong)(intptr_t)user_data,
                                     (jint)level, bytes);
    }
    if ((*env)->ExceptionCheck(env)) (*env)->ExceptionClear(env);
    if (bytes) (*env)->DeleteLocalRef(env, bytes);
}

JNIEXPORT jint JNICALL Java_s3os_NativeStore_setLogListener(JNIEnv *env, jclass cls, jint level,
                                                            jlong registration,
                                                            jobjectArray error_out) {
    (void)cls;
    s3os_status status = s3os_set_log_callback(level > 0 ? forward_log : NULL, level,
                                               (void *)(intptr_t)registration);
    return outcome(env, status, error_out);
}

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

/* ---- Memory and streams ----
 *
 * Java heap arrays move, and pinning them (the "critical" functions) would stop the garbage
 * collector for as long as a transfer takes and forbid calling a progress listener, so a
 * byte[] is copied to or from native memory around the C call. Direct ByteBuffers are native
 * memory already and are passed to the library as they are. */

/* Throws `class_name` with `message`; returns EXCEPTION_PENDING. */
static jint throw_new(JNIEnv *env, const char *class_name, const char *message) {
    jclass cls = (*env)->FindClass(env, class_name);
    if (cls) (*env)->ThrowNew(env, cls, message);
    return EXCEPTION_PENDING;
}

/* The memory of a direct buffer, or NULL with IllegalArgumentException pending. */
static char *direct_address(JNIEnv *env, jobject buffer) {
    char *address = (*env)->GetDirectBufferAddress(env, buffer);
    if (!address) {
        throw_new(env, "java/lang/IllegalArgumentException",
                  "s3os: the buffer's memory is not accessible to native code");
    }
    return address;
}

/* malloc(size) (at least 1 byte), or NULL with an OutOfMemoryError pending. */
static void *allocate(JNIEnv *env, size_t size, const char *what) {
    void *memory = malloc(size ? size : 1);
    if (!memory) throw_new(env, "java/lang/OutOfMemoryError", what);
    return memory;
}

JNIEXPORT jint JNICALL Java_s3os_NativeStore_uploadBytes(JNIEnv *env, jclass cls, jlong store,
                                                         jbyteArray name, jbyteArray data,
                                                         jint offset, jint length,
                                                         jobject listener,
                                                         jobjectArray error_out) {
    (void)cls;
    char *object_name = c_string(env, name);
    if ((*env)->ExceptionCheck(env)) return EXCEPTION_PENDING;
    jbyte *copy = allocate(env, (size_t)length, "s3os: copying the bytes to upload");
    jint result = EXCEPTION_PENDING;
    if (copy) {
        (*env)->GetByteArrayRegion(env, data, offset, length, copy);
        if (!(*env)->ExceptionCheck(env)) {
            struct progress_target target = {env, listener};
            s3os_status status =
                s3os_upload_buffer(as_store(store), object_name, copy, (size_t)length,
                                   listener ? report_progress : NULL, &target);
            result = outcome(env, status, error_out);
        }
    }
    free(copy);
    free(object_name);
    return result;
}

JNIEXPORT jint JNICALL Java_s3os_NativeStore_uploadDirect(JNIEnv *env, jclass cls, jlong store,
                                                          jbyteArray name, jobject buffer,
                                                          jlong position, jlong length,
                                                          jobject listener,
                                                          jobjectArray error_out) {
    (void)cls;
    char *address = direct_address(env, buffer);
    if (!address) return EXCEPTION_PENDING;
    char *object_name = c_string(env, name);
    if ((*env)->ExceptionCheck(env)) return EXCEPTION_PENDING;
    struct progress_target target = {env, listener};
    s3os_status status = s3os_upload_buffer(as_store(store), object_name, address + position,
                                            (size_t)length, listener ? report_progress : NULL,
                                            &target);
    jint result = outcome(env, status, error_out);
    free(object_name);
    return result;
}

JNIEXPORT jint JNICALL Java_s3os_NativeStore_downloadDirect(JNIEnv *env, jclass cls, jlong store,
                                                            jbyteArray name, jobject buffer,
                                                            jlong position, jlong capacity,
                                                            jlongArray size_out,
                                                            jobject listener,
                                                            jobjectArray error_out) {
    (void)cls;
    char *address = direct_address(env, buffer);
    if (!address) return EXCEPTION_PENDING;
    char *object_name = c_string(env, name);
    if ((*env)->ExceptionCheck(env)) return EXCEPTION_PENDING;
    struct progress_target target = {env, listener};
    size_t size = 0;
    s3os_status status = s3os_download_buffer(as_store(store), object_name, address + position,
                                              (size_t)capacity, &size,
                                              listener ? report_progress : NULL, &target);
    jint result = outcome(env, status, error_out);
    free(object_name);
    if (!(*env)->ExceptionCheck(env)) {
        jlong java_size = (jlong)size;
        (*env)->SetLongArrayRegion(env, size_out, 0, 1, &java_size);
    }
    return result;
}

JNIEXPORT jint JNICALL Java_s3os_NativeStore_downloadBytes(JNIEnv *env, jclass cls, jlong store,
                                                           jbyteArray name, jobjectArray bytes_out,
                                                           jobject listener,
                                                           jobjectArray error_out) {
    (void)cls;
    char *object_name = c_string(env, name);
    if ((*env)->ExceptionCheck(env)) return EXCEPTION_PENDING;
    struct progress_target target = {env, listener};
    uint8_t *data = NULL;
    size_t size = 0;
    s3os_status status = s3os_download_alloc(as_store(store), object_name, &data, &size,
                                             listener ? report_progress : NULL, &target);
    jint result = outcome(env, status, error_out);
    free(object_name);
    if (result == S3OS_OK) {
        if (size > (size_t)INT32_MAX - 8) {
            result = throw_new(env, "java/lang/IllegalArgumentException",
                               "s3os: the object is larger than a Java array can hold");
        } else {
            jbyteArray bytes = (*env)->NewByteArray(env, (jsize)size);
            if (bytes) {
                (*env)->SetByteArrayRegion(env, bytes, 0, (jsize)size, (const jbyte *)data);
                (*env)->SetObjectArrayElement(env, bytes_out, 0, bytes);
                (*env)->DeleteLocalRef(env, bytes);
            }
            if ((*env)->ExceptionCheck(env)) result = EXCEPTION_PENDING;
        }
    }
    s3os_buffer_free(data, size);
    return result;
}

JNIEXPORT jint JNICALL Java_s3os_NativeStore_readRange(JNIEnv *env, jclass cls, jlong store,
                                                       jbyteArray name, jlong offset,
                                                       jbyteArray dst, jint dst_offset,
                                                       jint length, jintArray read_out,
                                                       jobjectArray error_out) {
    (void)cls;
    char *object_name = c_string(env, name);
    if ((*env)->ExceptionCheck(env)) return EXCEPTION_PENDING;
    jbyte *buffer = allocate(env, (size_t)length, "s3os: a buffer for the range");
    jint result = EXCEPTION_PENDING;
    if (buffer) {
        size_t read = 0;
        s3os_status status = s3os_read_range(as_store(store), object_name, (uint64_t)offset,
                                             buffer, (size_t)length, &read);
        result = outcome(env, status, error_out);
        if (result == S3OS_OK) {
            jint java_read = (jint)read;
            (*env)->SetByteArrayRegion(env, dst, dst_offset, java_read, buffer);
            if (!(*env)->ExceptionCheck(env))
                (*env)->SetIntArrayRegion(env, read_out, 0, 1, &java_read);
            if ((*env)->ExceptionCheck(env)) result = EXCEPTION_PENDING;
        }
    }
    free(buffer);
    free(object_name);
    return result;
}

JNIEXPORT jint JNICALL Java_s3os_NativeStore_writerOpen(JNIEnv *env, jclass cls, jlong store,
                                                        jbyteArray name, jlongArray writer_out,
                                                        jobjectArray error_out) {
    (void)cls;
    char *object_name = c_string(env, name);
    if ((*env)->ExceptionCheck(env)) return EXCEPTION_PENDING;
    s3os_writer *writer = NULL;
    jint result = outcome(env, s3os_writer_open(as_store(store), object_name, &writer), error_out);
    free(object_name);
    if (result == S3OS_OK) {
        jlong handle = (jlong)(intptr_t)writer;
        (*env)->SetLongArrayRegion(env, writer_out, 0, 1, &handle);
    }
    return result;
}

/* Bytes of a byte[] copied per call to s3os_writer_write (which copies them into its part). */
#define WRITE_CHUNK (1024 * 1024)

JNIEXPORT jint JNICALL Java_s3os_NativeStore_writerWrite(JNIEnv *env, jclass cls, jlong writer,
                                                         jbyteArray data, jint offset,
                                                         jint length, jobjectArray error_out) {
    (void)cls;
    size_t chunk = length < WRITE_CHUNK ? (size_t)length : WRITE_CHUNK;
    jbyte *copy = allocate(env, chunk, "s3os: copying the bytes to write");
    if (!copy) return EXCEPTION_PENDING;
    jint result = S3OS_OK;
    for (jint done = 0; done < length && result == S3OS_OK;) {
        jint n = length - done < (jint)chunk ? length - done : (jint)chunk;
        (*env)->GetByteArrayRegion(env, data, offset + done, n, copy);
        if ((*env)->ExceptionCheck(env)) {
            result = EXCEPTION_PENDING;
            break;
        }
        s3os_status status =
            s3os_writer_write((s3os_writer *)(intptr_t)writer, copy, (size_t)n);
        result = outcome(env, status, error_out);
        done += n;
    }
    free(copy);
    return result;
}

JNIEXPORT jint JNICALL Java_s3os_NativeStore_writerClose(JNIEnv *env, jclass cls, jlong writer,
                                                         jobjectArray error_out) {
    (void)cls;
    return outcome(env, s3os_writer_close((s3os_writer *)(intptr_t)writer), error_out);
}

JNIEXPORT jint JNICALL Java_s3os_NativeStore_writerAbort(JNIEnv *env, jclass cls, jlong writer,
                                                         jobjectArray error_out) {
    (void)cls;
    return outcome(env, s3os_writer_abort((s3os_writer *)(intptr_t)writer), error_out);
}

JNIEXPORT jint JNICALL Java_s3os_NativeStore_readerOpen(JNIEnv *env, jclass cls, jlong store,
                                                        jbyteArray name, jlongArray out,
                                                        jobjectArray error_out) {
    (void)cls;
    char *object_name = c_string(env, name);
    if ((*env)->ExceptionCheck(env)) return EXCEPTION_PENDING;
    s3os_reader *reader = NULL;
    jint result = outcome(env, s3os_reader_open(as_store(store), object_name, &reader), error_out);
    free(object_name);
    if (result == S3OS_OK) {
        uint64_t size = 0;
        s3os_reader_size(reader, &size);
        jlong handle_and_size[2] = {(jlong)(intptr_t)reader, (jlong)size};
        (*env)->SetLongArrayRegion(env, out, 0, 2, handle_and_size);
    }
    return result;
}

JNIEXPORT jint JNICALL Java_s3os_NativeStore_readerRead(JNIEnv *env, jclass cls, jlong reader,
                                                        jbyteArray dst, jint offset, jint length,
                                                        jintArray read_out,
                                                        jobjectArray error_out) {
    (void)cls;
    jbyte *buffer = allocate(env, (size_t)length, "s3os: a buffer for the read");
    if (!buffer) return EXCEPTION_PENDING;
    size_t read = 0;
    s3os_status status =
        s3os_reader_read((s3os_reader *)(intptr_t)reader, buffer, (size_t)length, &read);
    jint result = outcome(env, status, error_out);
    if (result == S3OS_OK) {
        jint java_read = (jint)read;
        (*env)->SetByteArrayRegion(env, dst, offset, java_read, buffer);
        if (!(*env)->ExceptionCheck(env))
            (*env)->SetIntArrayRegion(env, read_out, 0, 1, &java_read);
        if ((*env)->ExceptionCheck(env)) result = EXCEPTION_PENDING;
    }
    free(buffer);
    return result;
}

JNIEXPORT jint JNICALL Java_s3os_NativeStore_readerSeek(JNIEnv *env, jclass cls, jlong reader,
                                                        jlong offset, jobjectArray error_out) {
    (void)cls;
    return outcome(env, s3os_reader_seek((s3os_reader *)(intptr_t)reader, (uint64_t)offset),
                   error_out);
}

JNIEXPORT void JNICALL Java_s3os_NativeStore_readerFree(JNIEnv *env, jclass cls, jlong reader) {
    (void)env;
    (void)cls;
    s3os_reader_free((s3os_reader *)(intptr_t)reader);
}

/* ---- many objects per call and background transfers ---- */

static s3os_transfer *as_transfer(jlong handle) {
    return (s3os_transfer *)(intptr_t)handle;
}

/* NUL-terminated copies of the byte[] elements of `array` (count in *count_out), to release
 * with free_strings: NULL with an exception pending on failure. */
static char **c_strings(JNIEnv *env, jobjectArray array, jsize *count_out) {
    jsize count = (*env)->GetArrayLength(env, array);
    char **strings = calloc((size_t)count + 1, sizeof *strings);
    if (!strings) {
        jclass oom = (*env)->FindClass(env, "java/lang/OutOfMemoryError");
        if (oom) (*env)->ThrowNew(env, oom, "s3os: copying names for the C library");
        return NULL;
    }
    for (jsize i = 0; i < count; i++) {
        jbyteArray element = (*env)->GetObjectArrayElement(env, array, i);
        strings[i] = (*env)->ExceptionCheck(env) ? NULL : c_string(env, element);
        (*env)->DeleteLocalRef(env, element);
        if ((*env)->ExceptionCheck(env)) {
            for (jsize j = 0; j < i; j++) free(strings[j]);
            free(strings);
            return NULL;
        }
    }
    *count_out = count;
    return strings;
}

static void free_strings(char **strings, jsize count) {
    if (!strings) return;
    for (jsize i = 0; i < count; i++) free(strings[i]);
    free(strings);
}

/* Copies the C statuses into the Java int[]. */
static void set_statuses(JNIEnv *env, jintArray out, const s3os_status *statuses, jsize count) {
    if ((*env)->ExceptionCheck(env) || count == 0) return;
    jint *values = malloc((size_t)count * sizeof *values);
    if (!values) return;
    for (jsize i = 0; i < count; i++) values[i] = (jint)statuses[i];
    (*env)->SetIntArrayRegion(env, out, 0, count, values);
    free(values);
}

/* The shared body of uploadFiles and downloadFiles. */
static jint files(JNIEnv *env, jlong store, jobjectArray names, jobjectArray paths,
                  int download, jboolean overwrite, jintArray statuses_out, jobject listener,
                  jobjectArray error_out) {
    jsize count = 0, path_count = 0;
    char **c_names = c_strings(env, names, &count);
    char **c_paths = c_names ? c_strings(env, paths, &path_count) : NULL;
    jint result = EXCEPTION_PENDING;
    s3os_status *statuses = c_paths ? calloc((size_t)count + 1, sizeof *statuses) : NULL;
    if (statuses && path_count == count) {
        struct progress_target target = {env, listener};
        s3os_progress_fn report = listener ? report_progress : NULL;
        const char *const *n = (const char *const *)c_names;
        const char *const *p = (const char *const *)c_paths;
        s3os_status status =
            download ? s3os_download_files(as_store(store), n, p, (size_t)count,
                                           overwrite == JNI_TRUE, statuses, report, &target)
                     : s3os_upload_files(as_store(store), n, p, (size_t)count, statuses, report,
                                         &target);
        result = outcome(env, status, error_out);
        set_statuses(env, statuses_out, statuses, count);
    } else if (!(*env)->ExceptionCheck(env)) {
        jclass error = (*env)->FindClass(env, statuses ? "java/lang/IllegalArgumentException"
                                                       : "java/lang/OutOfMemoryError");
        if (error) (*env)->ThrowNew(env, error, "s3os: names and paths for the C library");
    }
    free(statuses);
    free_strings(c_names, count);
    free_strings(c_paths, path_count);
    return result;
}

JNIEXPORT jint JNICALL Java_s3os_NativeStore_uploadFiles(JNIEnv *env, jclass cls, jlong store,
                                                         jobjectArray names, jobjectArray paths,
                                                         jintArray statuses_out,
                                                         jobject listener,
                                                         jobjectArray error_out) {
    (void)cls;
    return files(env, store, names, paths, 0, JNI_FALSE, statuses_out, listener, error_out);
}

JNIEXPORT jint JNICALL Java_s3os_NativeStore_downloadFiles(
    JNIEnv *env, jclass cls, jlong store, jobjectArray names, jobjectArray paths,
    jboolean overwrite, jintArray statuses_out, jobject listener, jobjectArray error_out) {
    (void)cls;
    return files(env, store, names, paths, 1, overwrite, statuses_out, listener, error_out);
}

JNIEXPORT jint JNICALL Java_s3os_NativeStore_uploadDir(JNIEnv *env, jclass cls, jlong store,
                                                       jbyteArray dir, jbyteArray prefix,
                                                       jobject listener,
                                                       jobjectArray error_out) {
    (void)cls;
    char *c_dir = c_string(env, dir);
    char *c_prefix = (*env)->ExceptionCheck(env) ? NULL : c_string(env, prefix);
    jint result = EXCEPTION_PENDING;
    if (!(*env)->ExceptionCheck(env)) {
        struct progress_target target = {env, listener};
        s3os_status status = s3os_upload_dir(as_store(store), c_dir, c_prefix,
                                             listener ? report_progress : NULL, &target);
        result = outcome(env, status, error_out);
    }
    free(c_dir);
    free(c_prefix);
    return result;
}

JNIEXPORT jint JNICALL Java_s3os_NativeStore_downloadPrefix(JNIEnv *env, jclass cls,
                                                            jlong store, jbyteArray prefix,
                                                            jbyteArray dir, jboolean overwrite,
                                                            jobject listener,
                                                            jobjectArray error_out) {
    (void)cls;
    char *c_prefix = c_string(env, prefix);
    char *c_dir = (*env)->ExceptionCheck(env) ? NULL : c_string(env, dir);
    jint result = EXCEPTION_PENDING;
    if (!(*env)->ExceptionCheck(env)) {
        struct progress_target target = {env, listener};
        s3os_status status =
            s3os_download_prefix(as_store(store), c_prefix, c_dir, overwrite == JNI_TRUE,
                                 listener ? report_progress : NULL, &target);
        result = outcome(env, status, error_out);
    }
    free(c_prefix);
    free(c_dir);
    return result;
}

JNIEXPORT jint JNICALL Java_s3os_NativeStore_deleteObjects(JNIEnv *env, jclass cls, jlong store,
                                                           jobjectArray names,
                                                           jintArray statuses_out,
                                                           jobjectArray error_out) {
    (void)cls;
    jsize count = 0;
    char **c_names = c_strings(env, names, &count);
    if (!c_names) return EXCEPTION_PENDING;
    jint result = EXCEPTION_PENDING;
    s3os_status *statuses = calloc((size_t)count + 1, sizeof *statuses);
    if (statuses) {
        s3os_status status = s3os_delete_objects(
            as_store(store), (const char *const *)c_names, (size_t)count, statuses);
        result = outcome(env, status, error_out);
        set_statuses(env, statuses_out, statuses, count);
    } else {
        jclass oom = (*env)->FindClass(env, "java/lang/OutOfMemoryError");
        if (oom) (*env)->ThrowNew(env, oom, "s3os: statuses for the C library");
    }
    free(statuses);
    free_strings(c_names, count);
    return result;
}

JNIEXPORT jint JNICALL Java_s3os_NativeStore_deletePrefix(JNIEnv *env, jclass cls, jlong store,
                                                          jbyteArray prefix,
                                                          jlongArray deleted_out,
                                                          jobjectArray error_out) {
    (void)cls;
    char *c_prefix = c_string(env, prefix);
    if ((*env)->ExceptionCheck(env)) return EXCEPTION_PENDING;
    uint64_t deleted = 0;
    jint result = outcome(env, s3os_delete_prefix(as_store(store), c_prefix, &deleted), error_out);
    free(c_prefix);
    jlong java_deleted = (jlong)deleted;
    (*env)->SetLongArrayRegion(env, deleted_out, 0, 1, &java_deleted);
    return result;
}

/* Hands a started transfer's handle to Java. */
static jint started(JNIEnv *env, s3os_status status, s3os_transfer *transfer,
                    jlongArray transfer_out, jobjectArray error_out) {
    jint result = outcome(env, status, error_out);
    if (result == S3OS_OK) {
        jlong handle = (jlong)(intptr_t)transfer;
        (*env)->SetLongArrayRegion(env, transfer_out, 0, 1, &handle);
    }
    return result;
}

JNIEXPORT jint JNICALL Java_s3os_NativeStore_startUpload(JNIEnv *env, jclass cls, jlong store,
                                                         jbyteArray name, jbyteArray path,
                                                         jlongArray transfer_out,
                                                         jobjectArray error_out) {
    (void)cls;
    char *object_name = c_string(env, name);
    char *file = (*env)->ExceptionCheck(env) ? NULL : c_string(env, path);
    jint result = EXCEPTION_PENDING;
    if (!(*env)->ExceptionCheck(env)) {
        s3os_transfer *transfer = NULL;
        s3os_status status = s3os_upload_file_start(as_store(store), object_name, file, &transfer);
        result = started(env, status, transfer, transfer_out, error_out);
    }
    free(object_name);
    free(file);
    return result;
}

JNIEXPORT jint JNICALL Java_s3os_NativeStore_startDownload(JNIEnv *env, jclass cls, jlong store,
                                                           jbyteArray name, jbyteArray path,
                                                           jboolean overwrite,
                                                           jlongArray transfer_out,
                                                           jobjectArray error_out) {
    (void)cls;
    char *object_name = c_string(env, name);
    char *file = (*env)->ExceptionCheck(env) ? NULL : c_string(env, path);
    jint result = EXCEPTION_PENDING;
    if (!(*env)->ExceptionCheck(env)) {
        s3os_transfer *transfer = NULL;
        s3os_status status = s3os_download_file_start(as_store(store), object_name, file,
                                                      overwrite == JNI_TRUE, &transfer);
        result = started(env, status, transfer, transfer_out, error_out);
    }
    free(object_name);
    free(file);
    return result;
}

/* The buffer is lent to the transfer: the Java side keeps it reachable until the transfer is
 * closed (see Transfer), so its memory outlives every use the library makes of it. */
JNIEXPORT jint JNICALL Java_s3os_NativeStore_startUploadDirect(JNIEnv *env, jclass cls,
                                                               jlong store, jbyteArray name,
                                                               jobject buffer, jlong position,
                                                               jlong length,
                                                               jlongArray transfer_out,
                                                               jobjectArray error_out) {
    (void)cls;
    char *address = direct_address(env, buffer);
    if (!address) return EXCEPTION_PENDING;
    char *object_name = c_string(env, name);
    if ((*env)->ExceptionCheck(env)) return EXCEPTION_PENDING;
    s3os_transfer *transfer = NULL;
    s3os_status status = s3os_upload_buffer_start(as_store(store), object_name, address + position,
                                                  (size_t)length, &transfer);
    jint result = started(env, status, transfer, transfer_out, error_out);
    free(object_name);
    return result;
}

JNIEXPORT jint JNICALL Java_s3os_NativeStore_startDownloadDirect(JNIEnv *env, jclass cls,
                                                                 jlong store, jbyteArray name,
                                                                 jobject buffer, jlong position,
                                                                 jlong capacity,
                                                                 jlongArray transfer_out,
                                                                 jobjectArray error_out) {
    (void)cls;
    char *address = direct_address(env, buffer);
    if (!address) return EXCEPTION_PENDING;
    char *object_name = c_string(env, name);
    if ((*env)->ExceptionCheck(env)) return EXCEPTION_PENDING;
    s3os_transfer *transfer = NULL;
    s3os_status status = s3os_download_buffer_start(as_store(store), object_name,
                                                    address + position, (size_t)capacity,
                                                    &transfer);
    jint result = started(env, status, transfer, transfer_out, error_out);
    free(object_name);
    return result;
}

JNIEXPORT jint JNICALL Java_s3os_NativeStore_transferObjectSize(JNIEnv *env, jclass cls,
                                                                jlong transfer,
                                                                jlongArray size_out,
                                                                jobjectArray error_out) {
    (void)cls;
    uint64_t size = 0;
    jint result = outcome(env, s3os_transfer_object_size(as_transfer(transfer), &size), error_out);
    jlong java_size = (jlong)size;
    (*env)->SetLongArrayRegion(env, size_out, 0, 1, &java_size);
    return result;
}

JNIEXPORT jint JNICALL Java_s3os_NativeStore_transferProgress(JNIEnv *env, jclass cls,
                                                              jlong transfer,
                                                              jlongArray progress_out,
                                                              jobjectArray error_out) {
    (void)cls;
    uint64_t done = 0, total = 0;
    jint result = outcome(env, s3os_transfer_progress(as_transfer(transfer), &done, &total),
                          error_out);
    jlong values[2] = {(jlong)done, (jlong)total};
    (*env)->SetLongArrayRegion(env, progress_out, 0, 2, values);
    return result;
}

JNIEXPORT jint JNICALL Java_s3os_NativeStore_transferWait(JNIEnv *env, jclass cls,
                                                          jlong transfer, jlong timeout_millis,
                                                          jobjectArray error_out) {
    (void)cls;
    return outcome(env, s3os_transfer_wait(as_transfer(transfer), (int64_t)timeout_millis),
                   error_out);
}

JNIEXPORT jint JNICALL Java_s3os_NativeStore_transferCancel(JNIEnv *env, jclass cls,
                                                            jlong transfer,
                                                            jobjectArray error_out) {
    (void)cls;
    return outcome(env, s3os_transfer_cancel(as_transfer(transfer)), error_out);
}

JNIEXPORT void JNICALL Java_s3os_NativeStore_transferFree(JNIEnv *env, jclass cls,
                                                          jlong transfer) {
    (void)env;
    (void)cls;
    s3os_transfer_free(as_transfer(transfer));
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

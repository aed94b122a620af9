/**
 * s3os for the JVM: {@link s3os.S3ObjectStore} uploads, downloads, sizes, lists and deletes S3
 * objects through the native s3os library (JNI glue {@code libs3os_jni.so} beside
 * {@code libs3os.so}, found on {@code java.library.path} or named by the environment variable
 * {@code S3OS_JNI_LIBRARY}).
 */
package s3os;

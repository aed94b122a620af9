package s3os;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import java.util.zip.ZipOutputStream;

/**
 * Tests of the Java binding against a real S3 server (the project's local_s3_server).
 *
 * <pre>
 * java -Xcheck:jni -cp s3os.jar:test-classes s3os.S3ObjectStoreTest \
 *     SERVER_DATA_DIR SCRATCH_DIR key=value...
 * </pre>
 *
 * The key=value pairs configure every store (endpoint_url, credentials, region). The server's
 * data directory is read to check what the server holds: objects (under {@code test-bucket/})
 * and unfinished multipart uploads ({@code .upload*} entries). Exits with status 1 if any test
 * fails.
 */
public final class S3ObjectStoreTest {
    private static final int MIB = 1 << 20;
    private static final String BUCKET = "test-bucket";
    /** Objects from 5 MiB up move in 5 MiB parts, so a few MiB exercise multipart transfers. */
    private static final String[] SMALL_PARTS = {
        "multipart_threshold", "5MiB", "multipart_chunksize", "5MiB"
    };

    private final Path serverData;
    private final Path scratch;
    private final Map<String, String> settings;

    private S3ObjectStoreTest(Path serverData, Path scratch, Map<String, String> settings) {
        this.serverData = serverData;
        this.scratch = scratch;
        this.settings = settings;
    }

    @FunctionalInterface
    private interface Test {
        void run() throws Exception;
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: S3ObjectStoreTest SERVER_DATA_DIR SCRATCH_DIR key=value...");
            System.exit(2);
        }
        Map<String, String> settings = new HashMap<>();
        for (String arg : Arrays.asList(args).subList(2, args.length)) {
            int eq = arg.indexOf('=');
            settings.put(arg.substring(0, eq), arg.substring(eq + 1));
        }
        S3ObjectStoreTest t =
                new S3ObjectStoreTest(Paths.get(args[0]), Paths.get(args[1]), settings);
        Files.createDirectories(t.scratch);

        Map<String, Test> tests = new LinkedHashMap<>();
        tests.put("objects of 0 B to 13 MiB round-trip with cumulative progress", t::roundTrips);
        tests.put("getUri joins bucket, prefix and name", t::uris);
        tests.put("listObjects returns names relative to the prefix", t::listing);
        tests.put("listing 120 objects (local references released)", t::longListing);
        tests.put("removeObject deletes; a missing object is fine", t::removal);
        tests.put("names outside the BMP round-trip as UTF-8", t::nonBmpNames);
        tests.put("a missing object or bucket is NoSuchFileException", t::missingObject);
        tests.put("an existing target is FileAlreadyExistsException", t::existingTarget);
        tests.put("rejected credentials are AccessDeniedException", t::rejectedCredentials);
        tests.put("an unreachable server is TransientException", t::unreachableServer);
        tests.put("an unreadable file is S3osException with its status", t::unreadableFile);
        tests.put("statuses map to exceptions; unknown ones keep number, name", t::statusMapping);
        tests.put("bad arguments are IllegalArgumentException", t::badArguments);
        tests.put("a listener returning false cancels and leaves nothing", t::cancellation);
        tests.put("a listener's exception propagates and leaves nothing", t::throwingListener);
        tests.put("a listener may call into the same store", t::reentrantListener);
        tests.put("close() from a listener is refused", t::closeFromListener);
        tests.put("8 threads x 3 multipart round trips on one store", t::manyThreads);
        tests.put("close() waits for running calls, then refuses new ones", t::closeWhileRunning);
        tests.put("a closed store refuses every method; try-with-resources", t::closedStore);
        tests.put("version() is the library's", t::version);
        tests.put("bytes and buffers round-trip; a short buffer is refused", t::memory);
        tests.put("readRange reads what exists, names the size beyond", t::ranges);
        tests.put("output stream completes on close; abort leaves nothing", t::outputStream);
        tests.put("input stream reads, seeks, skips, marks; zip both ways", t::inputStream);
        tests.put("over HTTPS trusting a private CA (ca_bundle); refused without it", t::https);
        tests.put("log lines reach a listener on the log thread, none once unset", t::logListener);
        tests.put("javaUtilLogging() logs under the logger s3os", t::javaUtilLogging);

        int failed = 0;
        for (Map.Entry<String, Test> test : tests.entrySet()) {
            long start = System.nanoTime();
            try {
                test.getValue().run();
                System.out.printf("ok   %s (%d ms)%n", test.getKey(), millisSince(start));
            } catch (Throwable e) {
                failed++;
                System.out.printf("FAIL %s (%d ms)%n", test.getKey(), millisSince(start));
                e.printStackTrace(System.out);
            }
        }
        System.out.printf("%d tests, %d passed, %d failed%n",
                tests.size(), tests.size() - failed, failed);
        System.exit(failed == 0 ? 0 : 1);
    }

    private static long millisSince(long start) {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    }

    // ---- tests ----

    private void roundTrips() throws Exception {
        try (S3ObjectStore store = open("prefix", "roundtrip", SMALL_PARTS)) {
            for (int size : new int[] {0, 1000, 13 * MIB + 7}) {
                String name = "obj-" + size;
                Path source = writeFile("roundtrip/" + name, size, size);
                ProgressLog up = new ProgressLog();
                store.uploadObject(name, source, up);
                up.assertComplete(size);
                assertEquals((long) size, store.getObjectSize(name), "getObjectSize");
                assertEquals((long) size, Files.size(serverObject("roundtrip/" + name)),
                        "the server's copy");

                Path target = scratch.resolve("roundtrip/down/" + name);
                ProgressLog down = new ProgressLog();
                store.downloadObject(name, target, false, down);
                down.assertComplete(size);
                assertBytesEqual(source, target);
            }
            // Without listeners too.
            Path source = writeFile("roundtrip/plain", 4096, 4);
            store.uploadObject("plain", source, null);
            Path target = scratch.resolve("roundtrip/down/plain");
            store.downloadObject("plain", target, false, null);
            assertBytesEqual(source, target);
        }
    }

    private void uris() throws Exception {
        try (S3ObjectStore store = open("prefix", "/runs/exp1/")) {
            assertEquals("s3://test-bucket/runs/exp1/ckpt/a.pt", store.getUri("ckpt/a.pt"), "uri");
        }
        try (S3ObjectStore store = open()) {
            assertEquals("s3://test-bucket/a", store.getUri("a"), "uri without prefix");
        }
    }

    private void listing() throws Exception {
        Path file = writeFile("listing/small", 10, 1);
        try (S3ObjectStore store = open("prefix", "listing");
                S3ObjectStore neighbour = open("prefix", "listing-neighbour")) {
            for (String name : new String[] {"b/1", "a/2", "a/1"}) {
                store.uploadObject(name, file, null);
            }
            neighbour.uploadObject("a/3", file, null);
            assertEquals(Arrays.asList("a/1", "a/2", "b/1"), store.listObjects(null), "all");
            assertEquals(Arrays.asList("a/1", "a/2", "b/1"), store.listObjects(""), "empty prefix");
            assertEquals(Arrays.asList("a/1", "a/2"), store.listObjects("a/"), "a/");
            assertEquals(new ArrayList<String>(), store.listObjects("zzz"), "no match");
            assertEquals(Arrays.asList("a/3"), neighbour.listObjects(null), "the neighbour");
        }
        try (S3ObjectStore whole = open()) {
            assertEquals(Arrays.asList("listing/a/1", "listing/a/2", "listing/b/1"),
                    whole.listObjects("listing/"), "full keys from an unprefixed store");
        }
    }

    private void longListing() throws Exception {
        Path file = writeFile("long/small", 1, 1);
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < 120; i++) {
            expected.add(String.format("n%03d", i));
        }
        try (S3ObjectStore store = open("prefix", "long")) {
            parallel(4, expected.size(), i -> store.uploadObject(expected.get(i), file, null));
            assertEquals(expected, store.listObjects(null), "120 names in order");
        }
    }

    private void removal() throws Exception {
        try (S3ObjectStore store = open("prefix", "removal")) {
            store.uploadObject("gone", writeFile("removal/f", 100, 1), null);
            assertEquals(100L, store.getObjectSize("gone"), "size before");
            store.removeObject("gone");
            expect(NoSuchFileException.class, () -> store.getObjectSize("gone"));
            assertTrue(!Files.exists(serverObject("removal/gone")), "gone from the server");
            store.removeObject("never-existed");
        }
    }

    private void nonBmpNames() throws Exception {
        // U+1F600 and U+1D11E need surrogate pairs in Java and 4 bytes in UTF-8, where JNI's
        // modified UTF-8 would write 6; NUL-free but non-ASCII U+00FC checks 2-byte sequences.
        String name = "dir-\u00fc/\ud83d\ude00-\ud834\udd1e.bin";
        try (S3ObjectStore store = open("prefix", "unicode-\ud83d\ude80")) {
            Path source = writeFile("unicode/source", 3000, 9);
            store.uploadObject(name, source, null);
            assertEquals(Arrays.asList(name), store.listObjects(null), "listed name");
            assertEquals(Arrays.asList(name), store.listObjects("dir-\u00fc/\ud83d\ude00"),
                    "listed by a non-BMP prefix");
            assertEquals("s3://test-bucket/unicode-\ud83d\ude80/" + name, store.getUri(name),
                    "uri");
            assertEquals(3000L, store.getObjectSize(name), "size");
            Path server = serverObject("unicode-\ud83d\ude80/" + name);
            assertTrue(Files.isRegularFile(server), "the server stored the UTF-8 key: " + server);
            Path target = scratch.resolve("unicode/\ud83d\ude00 down.bin");
            store.downloadObject(name, target, false, null);
            assertBytesEqual(source, target);
        }
    }

    private void missingObject() throws Exception {
        try (S3ObjectStore store = open("prefix", "missing")) {
            NoSuchFileException e =
                    expect(NoSuchFileException.class, () -> store.getObjectSize("no-such-object"));
            assertEquals("no-such-object", e.getFile(), "getFile()");
            assertTrue(e.getReason().contains("s3://test-bucket/missing/no-such-object"),
                    "the library's message names the object: " + e.getReason());
            Path target = scratch.resolve("missing/out/file");
            e = expect(NoSuchFileException.class,
                    () -> store.downloadObject("no-such-object", target, false, null));
            assertTrue(e.getMessage().contains("no-such-object"), e.getMessage());
            assertTrue(!Files.exists(target), "no target file");
            assertEquals(new ArrayList<Path>(), temporaries(target.getParent()), "no temporaries");
        }
        try (S3ObjectStore elsewhere = new S3ObjectStore("no-such-bucket", settings)) {
            NoSuchFileException e =
                    expect(NoSuchFileException.class, () -> elsewhere.listObjects(null));
            assertEquals("no-such-bucket", e.getFile(), "getFile() of a missing bucket");
            assertTrue(e.getReason().contains("no-such-bucket"), e.getReason());
        }
    }

    private void existingTarget() throws Exception {
        try (S3ObjectStore store = open("prefix", "existing")) {
            Path source = writeFile("existing/source", 2000, 5);
            store.uploadObject("obj", source, null);
            Path target = writeFile("existing/target", 10, 6);
            byte[] before = Files.readAllBytes(target);
            FileAlreadyExistsException e = expect(FileAlreadyExistsException.class,
                    () -> store.downloadObject("obj", target, false, null));
            assertEquals(target.toString(), e.getFile(), "getFile()");
            assertTrue(e.getReason() != null && !e.getReason().isEmpty(), "library message");
            assertTrue(Arrays.equals(before, Files.readAllBytes(target)), "target untouched");
            store.downloadObject("obj", target, true, null);
            assertBytesEqual(source, target);
        }
    }

    private void rejectedCredentials() throws Exception {
        String secret = "wrong-secret-4242";
        try (S3ObjectStore store = open("prefix", "denied", "aws_secret_access_key", secret)) {
            AccessDeniedException e = expect(AccessDeniedException.class,
                    () -> store.uploadObject("obj", writeFile("denied/f", 10, 1), null));
            assertEquals("obj", e.getFile(), "getFile()");
            assertTrue(!e.getMessage().contains(secret), "no secret in " + e.getMessage());
            assertTrue(e.getReason().contains("s3://test-bucket/denied/obj"), e.getReason());
        }
    }

    private void unreachableServer() throws Exception {
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        try (S3ObjectStore store = open("endpoint_url", "http://127.0.0.1:" + port,
                "max_attempts", "1", "connect_timeout", "2")) {
            TransientException e =
                    expect(TransientException.class, () -> store.getObjectSize("obj"));
            assertEquals(S3osException.TRANSIENT, e.getStatus(), "status");
            assertEquals("S3OS_TRANSIENT", e.getStatusName(), "status name");
            assertTrue(e.getMessage().contains("s3://test-bucket/obj"), e.getMessage());
        }
    }

    private void unreadableFile() throws Exception {
        try (S3ObjectStore store = open("prefix", "unreadable")) {
            Path missing = scratch.resolve("unreadable/does-not-exist");
            S3osException e = expect(S3osException.class,
                    () -> store.uploadObject("obj", missing, null));
            assertEquals(S3osException.IO, e.getStatus(), "status of " + e);
            assertEquals("S3OS_IO", e.getStatusName(), "status name");
            assertEquals(S3osException.class, e.getClass(), "no more specific class");
            assertTrue(e.getMessage().contains("does-not-exist"), e.getMessage());
        }
    }

    private void statusMapping() throws Exception {
        Exception tls = NativeStore.exceptionFor(S3osException.TLS, "tls message", "o", "f");
        assertEquals(S3osException.class, tls.getClass(), "TLS");
        assertEquals(10, ((S3osException) tls).getStatus(), "TLS status");
        assertTrue(((S3osException) tls).getStatusName().startsWith("S3OS_"), "TLS name");
        assertEquals("tls message", tls.getMessage(), "message");

        S3osException unknown = (S3osException) NativeStore.exceptionFor(42, "m", "o", "f");
        assertEquals(S3osException.class, unknown.getClass(), "unknown");
        assertEquals(42, unknown.getStatus(), "unknown status");
        assertEquals("S3OS_UNKNOWN_STATUS", unknown.getStatusName(), "unknown name");

        S3osException integrity =
                (S3osException) NativeStore.exceptionFor(S3osException.INTEGRITY, "m", "o", "f");
        assertEquals("S3OS_INTEGRITY", integrity.getStatusName(), "integrity name");
        assertEquals("S3OS_INTERNAL",
                ((S3osException) NativeStore.exceptionFor(9, "m", "o", "f")).getStatusName(),
                "internal name");

        Object[][] expected = {
            {1, IllegalArgumentException.class},
            {2, NoSuchFileException.class},
            {3, FileAlreadyExistsException.class},
            {4, AccessDeniedException.class},
            {5, TransientException.class},
            {6, TransferCancelledException.class},
            {7, S3osException.class},
            {11, BufferTooSmallException.class},
        };
        for (Object[] row : expected) {
            Exception e = NativeStore.exceptionFor((Integer) row[0], "msg " + row[0], "o", "f");
            assertEquals(row[1], e.getClass(), "status " + row[0]);
            assertTrue(e.getMessage().contains("msg " + row[0]), e.getMessage());
        }
    }

    private void badArguments() throws Exception {
        IllegalArgumentException e;
        e = expect(IllegalArgumentException.class, () -> new S3ObjectStore(null, settings));
        assertTrue(e.getMessage().contains("bucket"), e.getMessage());
        expect(IllegalArgumentException.class, () -> new S3ObjectStore(BUCKET, null));
        e = expect(IllegalArgumentException.class,
                () -> new S3ObjectStore("bad bucket!", settings));
        assertTrue(e.getMessage().contains("bad bucket!"), "library message: " + e.getMessage());

        Map<String, String> nullKey = new HashMap<>(settings);
        nullKey.put(null, "x");
        expect(IllegalArgumentException.class, () -> new S3ObjectStore(BUCKET, nullKey));
        Map<String, String> nullValue = new HashMap<>(settings);
        nullValue.put("prefix", null);
        e = expect(IllegalArgumentException.class, () -> new S3ObjectStore(BUCKET, nullValue));
        assertTrue(e.getMessage().contains("prefix"), e.getMessage());
        e = expect(IllegalArgumentException.class, () -> open("no_such_key", "1"));
        assertTrue(e.getMessage().contains("no_such_key"), "library message: " + e.getMessage());
        e = expect(IllegalArgumentException.class, () -> open("max_concurrency", "many"));
        assertTrue(e.getMessage().contains("max_concurrency"), e.getMessage());
        e = expect(IllegalArgumentException.class, () -> open("prefix", "a\0b"));
        assertTrue(e.getMessage().contains("NUL"), e.getMessage());

        Path file = writeFile("bad/f", 10, 1);
        try (S3ObjectStore store = open("prefix", "bad");
                FileSystem zip = FileSystems.newFileSystem(
                        URI.create("jar:" + scratch.resolve("bad/archive.zip").toUri()),
                        singletonMap("create", "true"))) {
            String[] badNames = {null, "a\0b", "lone \ud800 surrogate", "x".repeat(2000)};
            for (String name : badNames) {
                String label = name == null ? "null" : name.substring(0, 3);
                expect(IllegalArgumentException.class, () -> store.uploadObject(name, file, null));
                expect(IllegalArgumentException.class,
                        () -> store.downloadObject(name, scratch.resolve("bad/out"), true, null));
                expect(IllegalArgumentException.class, () -> store.getObjectSize(name));
                expect(IllegalArgumentException.class, () -> store.removeObject(name));
                if (name == null || name.length() < 100) {
                    // getUri makes no request, so a long name is not checked by the server's rules.
                    expect(IllegalArgumentException.class, () -> store.getUri(name));
                }
                if (name != null && name.length() < 100) {
                    expect(IllegalArgumentException.class, () -> store.listObjects(name));
                }
                assertTrue(!Files.exists(scratch.resolve("bad/out")), "downloaded: " + label);
            }
            e = expect(IllegalArgumentException.class,
                    () -> store.getObjectSize("y".repeat(2000)));
            assertTrue(e.getMessage().contains("1024"), "the library's message: " + e.getMessage());
            expect(IllegalArgumentException.class, () -> store.uploadObject("n", null, null));
            expect(IllegalArgumentException.class,
                    () -> store.downloadObject("n", null, false, null));
            e = expect(IllegalArgumentException.class,
                    () -> store.uploadObject("n", zip.getPath("/inside"), null));
            assertTrue(e.getMessage().contains("default file system"), e.getMessage());
            assertEquals(new ArrayList<String>(), store.listObjects(null), "nothing uploaded");
        }
    }

    private void cancellation() throws Exception {
        try (S3ObjectStore store = open("prefix", "cancel", "max_concurrency", "2",
                "multipart_threshold", "5MiB", "multipart_chunksize", "5MiB")) {
            Path big = writeFile("cancel/big", 20 * MIB, 3);
            ProgressLog log = new ProgressLog();
            log.cancelAfter = 1;
            TransferCancelledException e = expect(TransferCancelledException.class,
                    () -> store.uploadObject("big", big, log));
            assertEquals(S3osException.CANCELLED, e.getStatus(), "status");
            assertEquals("S3OS_CANCELLED", e.getStatusName(), "status name");
            assertEquals(1, log.calls.size(), "no call after the cancelling one");
            assertLeftNothingOnTheServer(store, "cancel/big");

            store.uploadObject("present", big, null);
            Path target = scratch.resolve("cancel/down/big");
            ProgressLog downLog = new ProgressLog();
            downLog.cancelAfter = 1;
            expect(TransferCancelledException.class,
                    () -> store.downloadObject("present", target, false, downLog));
            assertTrue(!Files.exists(target), "no target file");
            assertEquals(new ArrayList<Path>(), temporaries(target.getParent()), "no temporaries");
        }
    }

    private void throwingListener() throws Exception {
        try (S3ObjectStore store = open("prefix", "throwing", "max_concurrency", "2",
                "multipart_threshold", "5MiB", "multipart_chunksize", "5MiB")) {
            Path big = writeFile("throwing/big", 20 * MIB, 7);
            RuntimeException thrown = new IllegalStateException("the listener gives up");
            int[] calls = {0};
            RuntimeException caught = expect(IllegalStateException.class,
                    () -> store.uploadObject("big", big, (done, total) -> {
                        if (++calls[0] == 2) {
                            throw thrown;
                        }
                        return true;
                    }));
            assertTrue(caught == thrown, "the listener's own exception propagates: " + caught);
            assertEquals(2, calls[0], "no call after the exception");
            assertLeftNothingOnTheServer(store, "throwing/big");

            store.uploadObject("present", big, null);
            Path target = scratch.resolve("throwing/down/big");
            UncheckedIOException downThrown =
                    new UncheckedIOException(new IOException("disk full, says the listener"));
            UncheckedIOException downCaught = expect(UncheckedIOException.class,
                    () -> store.downloadObject("present", target, false, (done, total) -> {
                        throw downThrown;
                    }));
            assertTrue(downCaught == downThrown, "the listener's own exception propagates");
            assertTrue(!Files.exists(target), "no target file");
            assertEquals(new ArrayList<Path>(), temporaries(target.getParent()), "no temporaries");

            // An Error propagates the same way, and the store keeps working afterwards.
            AssertionError error = new AssertionError("listener assertion");
            AssertionError caughtError = expect(AssertionError.class,
                    () -> store.downloadObject("present", target, false, (done, total) -> {
                        throw error;
                    }));
            assertTrue(caughtError == error, "an Error propagates");
            store.downloadObject("present", target, false, null);
            assertBytesEqual(big, target);
        }
    }

    private void reentrantListener() throws Exception {
        try (S3ObjectStore store = open("prefix", "reentrant", SMALL_PARTS)) {
            store.uploadObject("other", writeFile("reentrant/other", 1234, 1), null);
            Path big = writeFile("reentrant/big", 11 * MIB, 2);
            List<Long> sizes = new ArrayList<>();
            store.uploadObject("big", big, (done, total) -> {
                try {
                    sizes.add(store.getObjectSize("other"));
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                return store.getUri("other").endsWith("/reentrant/other");
            });
            assertTrue(!sizes.isEmpty(), "the listener ran");
            for (long size : sizes) {
                assertEquals(1234L, size, "size seen from the listener");
            }
            assertEquals((long) 11 * MIB, store.getObjectSize("big"), "uploaded");
        }
    }

    private void closeFromListener() throws Exception {
        S3ObjectStore store = open("prefix", "close-inside");
        Path file = writeFile("close-inside/f", 1000, 1);
        IllegalStateException e = expect(IllegalStateException.class,
                () -> store.uploadObject("obj", file, (done, total) -> {
                    store.close();
                    return true;
                }));
        assertTrue(e.getMessage().contains("within a call"), e.getMessage());
        assertEquals("s3://test-bucket/close-inside/x", store.getUri("x"), "still open");
        store.close();
        expect(IllegalStateException.class, () -> store.getUri("x"));
    }

    private void manyThreads() throws Exception {
        int threads = 8;
        int transfersEach = 3;
        try (S3ObjectStore store = open("prefix", "threads", SMALL_PARTS)) {
            parallel(threads, threads, thread -> {
                for (int j = 0; j < transfersEach; j++) {
                    int size = 7 * MIB + thread * 1000 + j;
                    String name = "t" + thread + "/" + j;
                    Path source = writeFile("threads/" + name, size, 100 + thread * 10 + j);
                    ProgressLog up = new ProgressLog();
                    store.uploadObject(name, source, up);
                    up.assertComplete(size);
                    assertEquals((long) size, store.getObjectSize(name), "size of " + name);
                    Path target = scratch.resolve("threads/down/" + name);
                    ProgressLog down = new ProgressLog();
                    store.downloadObject(name, target, false, down);
                    down.assertComplete(size);
                    assertBytesEqual(source, target);
                    Files.delete(source);
                    Files.delete(target);
                }
            });
            assertEquals(threads * transfersEach, store.listObjects(null).size(), "all listed");
        }
    }

    private void closeWhileRunning() throws Exception {
        int uploads = 4;
        S3ObjectStore store = open("prefix", "close-running", "max_concurrency", "2",
                "multipart_threshold", "5MiB", "multipart_chunksize", "5MiB");
        Path big = writeFile("close-running/big", 20 * MIB, 8);
        CountDownLatch started = new CountDownLatch(uploads);
        // When each upload reported its last byte: inside the call, before it lets go of the store.
        AtomicLongArray finishedAt = new AtomicLongArray(uploads);
        ExecutorService pool = Executors.newFixedThreadPool(uploads);
        List<Future<?>> results = new ArrayList<>();
        try {
            for (int i = 0; i < uploads; i++) {
                int index = i;
                results.add(pool.submit(() -> {
                    boolean[] first = {true};
                    store.uploadObject("obj" + index, big, (done, total) -> {
                        if (first[0]) {
                            first[0] = false;
                            started.countDown();
                        }
                        if (done == total) {
                            finishedAt.set(index, System.nanoTime());
                        }
                        return true;
                    });
                    return null;
                }));
            }
            assertTrue(started.await(60, TimeUnit.SECONDS), "uploads started");
            store.close();
            long closedAt = System.nanoTime();
            for (int i = 0; i < uploads; i++) {
                long finished = finishedAt.get(i);
                assertTrue(finished != 0 && finished - closedAt <= 0,
                        "close() returned before upload " + i + " finished");
                results.get(i).get();
            }
        } finally {
            pool.shutdownNow();
        }
        expect(IllegalStateException.class, () -> store.getObjectSize("obj0"));
        try (S3ObjectStore again = open("prefix", "close-running")) {
            for (int i = 0; i < uploads; i++) {
                assertEquals((long) 20 * MIB, again.getObjectSize("obj" + i), "uploaded obj" + i);
            }
        }
    }

    private void closedStore() throws Exception {
        Path file = writeFile("closed/f", 10, 1);
        S3ObjectStore outer;
        try (S3ObjectStore store = open("prefix", "closed")) {
            store.uploadObject("obj", file, null);
            outer = store;
        }
        S3ObjectStore store = outer;
        Path target = scratch.resolve("closed/out");
        List<Test> calls = Arrays.asList(
                () -> store.uploadObject("obj", file, null),
                () -> store.downloadObject("obj", target, true, null),
                () -> store.getObjectSize("obj"),
                () -> store.getUri("obj"),
                () -> store.listObjects(null),
                () -> store.removeObject("obj"));
        for (Test call : calls) {
            IllegalStateException e = expect(IllegalStateException.class, call);
            assertTrue(e.getMessage().contains("closed"), e.getMessage());
        }
        store.close();
        assertTrue(!Files.exists(target), "nothing downloaded");
        assertTrue(Files.exists(serverObject("closed/obj")), "nothing removed");
    }

    private void version() {
        String version = S3ObjectStore.version();
        assertTrue(version.matches("\\d+\\.\\d+\\.\\d+.*"), "version " + version);
    }

    private void memory() throws Exception {
        try (S3ObjectStore store = open("prefix", "memory", SMALL_PARTS)) {
            for (int size : new int[] {0, 1, 5 * MIB - 1, 13 * MIB + 7}) {
                byte[] data = Files.readAllBytes(writeFile("memory/" + size, size, size));
                ProgressLog up = new ProgressLog();
                store.uploadBytes("bytes-" + size, data, up);
                up.assertComplete(size);
                assertTrue(Arrays.equals(data, store.downloadBytes("bytes-" + size)),
                        "downloadBytes " + size);

                ByteBuffer direct = ByteBuffer.allocateDirect(size + 10);
                direct.position(3);
                direct.put(data);
                direct.position(3).limit(3 + size);
                store.uploadBuffer("direct-" + size, direct, null);
                assertEquals(3, direct.position(), "the position stays");
                ByteBuffer heap = ByteBuffer.wrap(data);
                store.uploadBuffer("heap-" + size, heap.asReadOnlyBuffer(), null);
                ByteBuffer target = ByteBuffer.allocateDirect(size + 1);
                assertEquals((long) size, store.downloadBuffer("direct-" + size, target, null),
                        "downloadBuffer size");
                assertEquals(size, target.position(), "the position moved past the bytes");
                byte[] back = new byte[size];
                target.flip();
                target.get(back);
                assertTrue(Arrays.equals(data, back), "downloadBuffer " + size);
                assertTrue(Arrays.equals(data, store.downloadBytes("heap-" + size)), "heap");
                if (size > 0) {
                    ByteBuffer small = ByteBuffer.allocateDirect(size - 1);
                    BufferTooSmallException e = expect(BufferTooSmallException.class,
                            () -> store.downloadBuffer("direct-" + size, small, null));
                    assertEquals((long) size, e.getRequiredSize(), "required size");
                    assertEquals(S3osException.BUFFER_TOO_SMALL, e.getStatus(), "status");
                    assertEquals(0, small.position(), "nothing written");
                }
            }
            expect(NoSuchFileException.class, () -> store.downloadBytes("missing"));
            expect(IllegalArgumentException.class, () -> store.uploadBytes("x", null));
            expect(IllegalArgumentException.class,
                    () -> store.downloadBuffer("x", ByteBuffer.allocate(10), null));
        }
    }

    private void ranges() throws Exception {
        try (S3ObjectStore store = open("prefix", "ranges", SMALL_PARTS)) {
            byte[] data = Files.readAllBytes(writeFile("ranges/obj", 12 * MIB + 3, 5));
            store.uploadBytes("obj", data);
            long size = data.length;
            long[][] cases = {{0, 0}, {0, 10}, {7, 6 * MIB}, {size - 2, 10}, {size, 4}, {0, size}};
            for (long[] c : cases) {
                int from = (int) c[0];
                int to = (int) Math.min(size, c[0] + c[1]);
                assertTrue(Arrays.equals(Arrays.copyOfRange(data, from, to),
                        store.readRange("obj", c[0], (int) c[1])), "range " + c[0] + "+" + c[1]);
            }
            IllegalArgumentException e = expect(IllegalArgumentException.class,
                    () -> store.readRange("obj", size + 1, 1));
            assertTrue(e.getMessage().contains(Long.toString(size)), e.getMessage());
            expect(IllegalArgumentException.class, () -> store.readRange("obj", -1, 1));
        }
    }

    private void outputStream() throws Exception {
        try (S3ObjectStore store = open("prefix", "ostream", SMALL_PARTS)) {
            byte[] data = Files.readAllBytes(writeFile("ostream/src", 11 * MIB + 1, 6));
            S3OutputStream out = store.openOutputStream("written");
            out.write(data, 0, 10);
            for (int i = 10; i < 1000; i++) {
                out.write(data[i]);
            }
            out.write(data, 1000, data.length - 1000);
            assertEquals((long) data.length, out.position(), "position");
            expect(NoSuchFileException.class, () -> store.getObjectSize("written"));
            out.close();
            out.close();
            expect(IOException.class, () -> out.write(1));
            assertTrue(Arrays.equals(data, store.downloadBytes("written")), "written");

            S3OutputStream aborted = store.openOutputStream("aborted");
            aborted.write(data);
            aborted.abort();
            aborted.abort();
            assertLeftNothingOnTheServer(store, "ostream/aborted");

            // Dropped without close or abort: aborted once the collector finds it.
            writeAndDrop(store, "dropped", data);
            for (int i = 0; i < 200 && !unfinishedUploads().isEmpty(); i++) {
                System.gc();
                Thread.sleep(50);
            }
            assertLeftNothingOnTheServer(store, "ostream/dropped");

            try (S3OutputStream small = store.openOutputStream("small")) {
                small.write("tiny".getBytes(StandardCharsets.UTF_8));
            }
            assertEquals("tiny", new String(store.downloadBytes("small"), StandardCharsets.UTF_8),
                    "small object");
        }
    }

    private void inputStream() throws Exception {
        try (S3ObjectStore store = open("prefix", "istream", SMALL_PARTS)) {
            byte[] data = Files.readAllBytes(writeFile("istream/src", 11 * MIB + 9, 7));
            store.uploadBytes("obj", data);
            try (S3InputStream in = store.openInputStream("obj")) {
                assertEquals((long) data.length, in.size(), "size");
                assertEquals(data[0] & 0xff, in.read(), "read()");
                byte[] chunk = new byte[3 * MIB];
                int n = in.read(chunk, 0, chunk.length);
                assertTrue(n == chunk.length && Arrays.equals(Arrays.copyOfRange(data, 1, 1 + n),
                        chunk), "read(byte[])");
                in.mark(0);
                assertEquals(100L, in.skip(100), "skip");
                in.seek(data.length - 4);
                byte[] tail = new byte[10];
                assertEquals(4, in.read(tail, 0, 10), "the last bytes");
                assertEquals(-1, in.read(), "end");
                in.reset();
                assertEquals(1L + chunk.length, in.position(), "reset to the mark");
                expect(IllegalArgumentException.class, () -> in.seek(data.length + 1));
            }
            expect(NoSuchFileException.class, () -> store.openInputStream("missing"));

            // A zip archive (what torch.save writes) through both streams.
            S3OutputStream out = store.openOutputStream("archive.zip");
            try (ZipOutputStream zip = new ZipOutputStream(out)) {
                for (int i = 0; i < 3; i++) {
                    // Stored, not deflated: under -Xcheck:jni the JDK's Deflater copies its
                    // arrays on every native call, which makes deflating megabytes slow.
                    ZipEntry entry = new ZipEntry("member-" + i);
                    CRC32 crc = new CRC32();
                    crc.update(data, i * MIB, 2 * MIB);
                    entry.setMethod(ZipEntry.STORED);
                    entry.setSize(2 * MIB);
                    entry.setCompressedSize(2 * MIB);
                    entry.setCrc(crc.getValue());
                    zip.putNextEntry(entry);
                    zip.write(data, i * MIB, 2 * MIB);
                    zip.closeEntry();
                }
            }
            try (ZipInputStream zip = new ZipInputStream(store.openInputStream("archive.zip"))) {
                for (int i = 0; i < 3; i++) {
                    ZipEntry entry = zip.getNextEntry();
                    assertEquals("member-" + i, entry.getName(), "entry");
                    java.io.ByteArrayOutputStream member = new java.io.ByteArrayOutputStream();
                    byte[] buffer = new byte[64 * 1024];
                    for (int r; (r = zip.read(buffer)) > 0; ) {
                        member.write(buffer, 0, r);
                    }
                    assertTrue(Arrays.equals(Arrays.copyOfRange(data, i * MIB, i * MIB + 2 * MIB),
                            member.toByteArray()), "member " + i);
                }
            }
        }
    }

    private void https() throws Exception {
        String endpoint = System.getProperty("s3os.test.httpsEndpoint");
        String bundle = System.getProperty("s3os.test.caBundle");
        assertTrue(endpoint != null && bundle != null,
                "-Ds3os.test.httpsEndpoint and -Ds3os.test.caBundle name the HTTPS front");
        Path source = writeFile("https/source", 11 * MIB + 3, 12);
        try (S3ObjectStore store = open("prefix", "https", SMALL_PARTS,
                "endpoint_url", endpoint, "ca_bundle", bundle)) {
            store.uploadObject("data.bin", source, null);
            Path target = scratch.resolve("https/back");
            store.downloadObject("data.bin", target, false, null);
            assertBytesEqual(source, target);
        }
        try (S3ObjectStore untrusting = open("endpoint_url", endpoint, "max_attempts", "3")) {
            S3osException refused = expect(S3osException.class,
                    () -> untrusting.getObjectSize("https/data.bin"));
            assertEquals(S3osException.TLS, refused.getStatus(), "status");
            assertTrue(refused.getMessage().contains("unknown issuer"), refused.getMessage());
        }
    }

    private void logListener() throws Exception {
        List<String> lines = java.util.Collections.synchronizedList(new ArrayList<>());
        List<String> threads = java.util.Collections.synchronizedList(new ArrayList<>());
        List<LogLevel> levels = java.util.Collections.synchronizedList(new ArrayList<>());
        S3osLog.setListener((level, message) -> {
            lines.add(message);
            levels.add(level);
            threads.add(Thread.currentThread().getName());
        }, LogLevel.DEBUG);
        Path source = writeFile("log/source", 6 * MIB, 2);
        try (S3ObjectStore store = open("prefix", "log", SMALL_PARTS)) {
            store.uploadObject("logged.bin", source, null);
            store.downloadObject("logged.bin", scratch.resolve("log/back"), true, null);
            S3osLog.setListener(null, null); // returns once every line has arrived
            int delivered = lines.size();
            assertTrue(lines.stream().anyMatch(l -> l.contains(" attempt 1: HTTP 200 in ")),
                    "request attempts: " + lines);
            assertTrue(lines.stream().anyMatch(l -> l.startsWith("upload to s3://")),
                    "the transfer with its timing: " + lines);
            assertTrue(!levels.contains(LogLevel.TRACE), "nothing below DEBUG");
            assertEquals(java.util.Collections.singleton("s3os-log"),
                    new java.util.HashSet<>(threads), "the threads lines came on");
            store.getObjectSize("logged.bin");
            assertEquals(delivered, lines.size(), "no line after the listener was unset");

            // A listener that throws loses its lines, and nothing else.
            S3osLog.setListener((level, message) -> {
                throw new IllegalStateException("a failing listener");
            }, LogLevel.TRACE);
            store.getObjectSize("logged.bin");
            // A listener may replace itself: the upload's INFO line makes it do so.
            List<String> second = java.util.Collections.synchronizedList(new ArrayList<>());
            CountDownLatch replaced = new CountDownLatch(1);
            S3osLog.setListener((level, message) -> {
                S3osLog.setListener((l, m) -> second.add(m), LogLevel.DEBUG);
                replaced.countDown();
            }, LogLevel.INFO);
            store.uploadObject("logged.bin", source, null);
            assertTrue(replaced.await(30, TimeUnit.SECONDS), "the listener replaced itself");
            store.getObjectSize("logged.bin");
            S3osLog.setListener(null, null);
            assertTrue(!second.isEmpty(), "the listener a listener installed got lines");
        } finally {
            S3osLog.setListener(null, null);
        }
        expect(IllegalArgumentException.class,
                () -> S3osLog.setListener((level, message) -> { }, null));
    }

    private void javaUtilLogging() throws Exception {
        java.util.logging.Logger logger = java.util.logging.Logger.getLogger("s3os");
        List<java.util.logging.LogRecord> records =
                java.util.Collections.synchronizedList(new ArrayList<>());
        java.util.logging.Handler handler = new java.util.logging.Handler() {
            @Override
            public void publish(java.util.logging.LogRecord record) {
                records.add(record);
            }

            @Override
            public void flush() {}

            @Override
            public void close() {}
        };
        handler.setLevel(java.util.logging.Level.ALL);
        logger.addHandler(handler);
        logger.setLevel(java.util.logging.Level.ALL);
        logger.setUseParentHandlers(false);
        try {
            S3osLog.setListener(S3osLog.javaUtilLogging(), LogLevel.DEBUG);
            try (S3ObjectStore store = open("prefix", "jul")) {
                store.uploadObject("f", writeFile("jul/f", 1000, 3), null);
            }
            S3osLog.setListener(null, null);
        } finally {
            logger.removeHandler(handler);
        }
        assertTrue(records.stream().anyMatch(r -> r.getLevel() == java.util.logging.Level.INFO
                && r.getMessage().startsWith("upload to s3://")), "an INFO record");
        assertTrue(records.stream().anyMatch(r -> r.getLevel() == java.util.logging.Level.FINE
                && r.getMessage().contains(" attempt 1: ")), "a FINE record");
        assertTrue(records.stream().allMatch(r -> "s3os".equals(r.getLoggerName())), "logger");
    }

    // ---- helpers ----

    /** A store with the server's settings plus {@code keysAndValues}. */
    private S3ObjectStore open(Object... keysAndValues) throws IOException {
        Map<String, String> config = new HashMap<>(settings);
        List<String> flat = new ArrayList<>();
        for (Object item : keysAndValues) {
            if (item instanceof String[]) {
                flat.addAll(Arrays.asList((String[]) item));
            } else {
                flat.add((String) item);
            }
        }
        for (int i = 0; i < flat.size(); i += 2) {
            config.put(flat.get(i), flat.get(i + 1));
        }
        return new S3ObjectStore(BUCKET, config);
    }

    private Path serverObject(String key) {
        return serverData.resolve(BUCKET).resolve(key);
    }

    private void assertLeftNothingOnTheServer(S3ObjectStore store, String key) throws IOException {
        String name = key.substring(key.indexOf('/') + 1);
        expect(NoSuchFileException.class, () -> store.getObjectSize(name));
        assertTrue(!Files.exists(serverObject(key)), "no object " + key);
        assertEquals(new ArrayList<String>(), unfinishedUploads(), "unfinished multipart uploads");
    }

    private List<String> unfinishedUploads() throws IOException {
        try (Stream<Path> entries = Files.list(serverData)) {
            return entries.map(p -> p.getFileName().toString())
                    .filter(n -> n.startsWith(".upload"))
                    .collect(Collectors.toList());
        }
    }

    /** Writes a multipart upload's worth into a stream and lets go of it, unclosed. */
    private static void writeAndDrop(S3ObjectStore store, String name, byte[] data)
            throws IOException {
        S3OutputStream dropped = store.openOutputStream(name);
        dropped.write(data);
    }

    private static List<Path> temporaries(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return new ArrayList<>();
        }
        try (Stream<Path> entries = Files.list(dir)) {
            return entries.filter(p -> p.getFileName().toString().endsWith(".tmp"))
                    .collect(Collectors.toList());
        }
    }

    /** Writes {@code size} deterministic, non-repeating bytes. */
    private Path writeFile(String relative, int size, long seed) throws IOException {
        byte[] bytes = new byte[size];
        long state = seed * 0x9E3779B97F4A7C15L | 1;
        for (int i = 0; i < size; i++) {
            state ^= state << 13;
            state ^= state >>> 7;
            state ^= state << 17;
            bytes[i] = (byte) (state >>> 24);
        }
        Path path = scratch.resolve(relative);
        Files.createDirectories(path.getParent());
        Files.write(path, bytes);
        return path;
    }

    private static void assertBytesEqual(Path expected, Path actual) throws IOException {
        assertTrue(Arrays.equals(Files.readAllBytes(expected), Files.readAllBytes(actual)),
                actual + " differs from " + expected);
    }

    /** Records progress calls; cancels at call {@code cancelAfter} if set. */
    private static final class ProgressLog implements ProgressListener {
        final List<long[]> calls = new ArrayList<>();
        int cancelAfter = -1;

        @Override
        public boolean onProgress(long bytesDone, long bytesTotal) {
            calls.add(new long[] {bytesDone, bytesTotal});
            return calls.size() != cancelAfter;
        }

        /** Cumulative, never decreasing, total constant, ending at done == total == size. */
        void assertComplete(long size) {
            assertTrue(!calls.isEmpty(), "no progress reported");
            long previous = 0;
            for (long[] call : calls) {
                assertEquals(size, call[1], "total");
                assertTrue(call[0] >= previous && call[0] <= size,
                        "done " + call[0] + " after " + previous);
                previous = call[0];
            }
            long[] last = calls.get(calls.size() - 1);
            assertEquals(size, last[0], "last done");
        }
    }

    @FunctionalInterface
    private interface IndexedTask {
        void run(int index) throws Exception;
    }

    /** Runs {@code task(0..count-1)} on {@code threads} threads; rethrows the first failure. */
    private static void parallel(int threads, int count, IndexedTask task) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> results = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                int index = i;
                results.add(pool.submit(() -> {
                    task.run(index);
                    return null;
                }));
            }
            for (Future<?> result : results) {
                try {
                    result.get();
                } catch (java.util.concurrent.ExecutionException e) {
                    if (e.getCause() instanceof Exception) {
                        throw (Exception) e.getCause();
                    }
                    throw new AssertionError(e.getCause());
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }

    private static Map<String, String> singletonMap(String key, String value) {
        Map<String, String> map = new HashMap<>();
        map.put(key, value);
        return map;
    }

    private static <T extends Throwable> T expect(Class<T> type, Test call) {
        try {
            call.run();
        } catch (Throwable e) {
            if (type.isInstance(e)) {
                return type.cast(e);
            }
            throw new AssertionError("expected " + type.getName() + ", got " + e, e);
        }
        throw new AssertionError("expected " + type.getName() + ", nothing was thrown");
    }

    private static void assertTrue(boolean condition, String what) {
        if (!condition) {
            throw new AssertionError(what);
        }
    }

    private static void assertEquals(Object expected, Object actual, String what) {
        if (expected == null ? actual != null : !expected.equals(actual)) {
            throw new AssertionError(what + ": expected " + expected + ", got " + actual);
        }
    }
}

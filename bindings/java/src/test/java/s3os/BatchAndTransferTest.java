package s3os;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.FileAlreadyExistsException;
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
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Many objects per call and background transfers through the Java binding, against the local
 * S3 server: {@code java s3os.BatchAndTransferTest SCRATCH_DIR bucket=NAME key=value...}. Prints one line
 * per test and "N tests, N passed, N failed"; exits nonzero if any failed.
 */
public final class BatchAndTransferTest {
    private static final int MIB = 1024 * 1024;

    @FunctionalInterface
    private interface Test {
        void run() throws Exception;
    }

    private final Path scratch;
    private final String bucket;
    private final Map<String, String> settings;

    private BatchAndTransferTest(Path scratch, Map<String, String> settings) {
        this.scratch = scratch;
        this.bucket = settings.remove("bucket");
        this.settings = settings;
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> settings = new HashMap<>();
        for (String arg : Arrays.asList(args).subList(1, args.length)) {
            int eq = arg.indexOf('=');
            settings.put(arg.substring(0, eq), arg.substring(eq + 1));
        }
        BatchAndTransferTest t = new BatchAndTransferTest(Paths.get(args[0]), settings);
        Files.createDirectories(t.scratch);
        Map<String, Test> tests = new LinkedHashMap<>();
        tests.put("uploadFiles and downloadFiles move every file", t::files);
        tests.put("a failed object is a BatchException with every status", t::failures);
        tests.put("uploadDir and downloadPrefix, removeObjects and removePrefix", t::folders);
        tests.put("a background upload is awaited, polled and closed", t::background);
        tests.put("a cancelled background transfer leaves nothing", t::cancelled);
        tests.put("a background download reports its failure from await", t::backgroundFailure);
        tests.put("closing the store cancels its transfers", t::storeClosed);
        tests.put("buffers go up and come down in the background", t::backgroundBuffers);
        int failed = 0;
        for (Map.Entry<String, Test> test : tests.entrySet()) {
            try {
                test.getValue().run();
                System.out.printf("ok   %s%n", test.getKey());
            } catch (Throwable e) {
                failed++;
                System.out.printf("FAIL %s%n", test.getKey());
                e.printStackTrace(System.out);
            }
        }
        System.out.printf("%d tests, %d passed, %d failed%n",
                tests.size(), tests.size() - failed, failed);
        System.exit(failed == 0 ? 0 : 1);
    }

    private S3ObjectStore open(String prefix, String... extra) throws IOException {
        Map<String, String> config = new HashMap<>(settings);
        config.put("prefix", prefix);
        for (int i = 0; i + 1 < extra.length; i += 2) {
            config.put(extra[i], extra[i + 1]);
        }
        return new S3ObjectStore(bucket, config);
    }

    private Path writeFile(String relative, int size, int seed) throws IOException {
        byte[] bytes = new byte[size];
        for (int i = 0; i < size; i++) {
            bytes[i] = (byte) (i * 31 + seed * 7 + i / 253);
        }
        Path path = scratch.resolve(relative);
        Files.createDirectories(path.getParent());
        Files.write(path, bytes);
        return path;
    }

    private void files() throws Exception {
        try (S3ObjectStore store = open("java-files")) {
            List<String> names = new ArrayList<>();
            List<Path> sources = new ArrayList<>();
            List<Path> targets = new ArrayList<>();
            long total = 0;
            for (int i = 0; i < 5; i++) {
                int size = i == 2 ? 9 * MIB : i * 1000;
                names.add("f/" + i);
                sources.add(writeFile("files/src/" + i, size, i));
                targets.add(scratch.resolve("files/out/" + i));
                total += size;
            }
            AtomicLong lastDone = new AtomicLong(-1);
            store.uploadFiles(names, sources, (done, all) -> {
                lastDone.set(done);
                return true;
            });
            check(lastDone.get() == total, "progress ends at the total");
            store.downloadFiles(names, targets, false, null);
            for (int i = 0; i < 5; i++) {
                check(Arrays.equals(Files.readAllBytes(sources.get(i)),
                        Files.readAllBytes(targets.get(i))), "file " + i);
            }
            BatchException existing = expect(BatchException.class,
                    () -> store.downloadFiles(names, targets, false, null));
            check(existing.getCause() instanceof FileAlreadyExistsException, "cause");
            expect(IllegalArgumentException.class,
                    () -> store.uploadFiles(names, sources.subList(0, 2), null));
            expect(IllegalArgumentException.class,
                    () -> store.uploadFiles(Arrays.asList("a", null), sources.subList(0, 2), null));
        }
    }

    private void failures() throws Exception {
        try (S3ObjectStore store = open("java-failures")) {
            Path one = writeFile("failures/one", 100, 1);
            store.uploadFiles(Arrays.asList("a", "c"), Arrays.asList(one, one), null);
            List<String> names = Arrays.asList("a", "b", "c");
            List<Path> targets = Arrays.asList(scratch.resolve("failures/a"),
                    scratch.resolve("failures/b"), scratch.resolve("failures/c"));
            BatchException e = expect(BatchException.class,
                    () -> store.downloadFiles(names, targets, false, null));
            check(e.getStatus() == S3osException.NOT_FOUND, "status " + e.getStatus());
            check(Arrays.equals(e.getItemStatuses(), new int[] {0, S3osException.NOT_FOUND, 0}),
                    Arrays.toString(e.getItemStatuses()));
            check(e.getFailedNames().equals(Arrays.asList("b")), "failed names");
            check(e.getCause() instanceof NoSuchFileException, "cause " + e.getCause());
            check(e.getMessage().contains("1 of 3"), e.getMessage());
            check(Files.exists(targets.get(0)) && !Files.exists(targets.get(1)), "the others");
        }
    }

    private void folders() throws Exception {
        try (S3ObjectStore store = open("java-folders")) {
            writeFile("folders/src/a/x.bin", 5000, 1);
            writeFile("folders/src/b/y.bin", 7000, 2);
            writeFile("folders/src/z.json", 10, 3);
            store.uploadDir(scratch.resolve("folders/src"), "ckpt", null);
            check(store.listObjects("ckpt/").size() == 3, "uploaded " + store.listObjects(""));
            store.downloadPrefix("ckpt", scratch.resolve("folders/out"), false, null);
            check(Arrays.equals(Files.readAllBytes(scratch.resolve("folders/src/b/y.bin")),
                    Files.readAllBytes(scratch.resolve("folders/out/b/y.bin"))), "restored");
            store.removeObjects(Arrays.asList("ckpt/z.json", "ckpt/never"));
            check(store.removePrefix("ckpt") == 2, "removePrefix count");
            check(store.listObjects("ckpt/").isEmpty(), "all gone");
            expect(IllegalArgumentException.class, () -> store.removePrefix(""));
        }
    }

    private void background() throws Exception {
        try (S3ObjectStore store = open("java-bg")) {
            Path big = writeFile("bg/big", 24 * MIB, 4);
            try (Transfer upload = store.startUploadObject("big", big)) {
                long seen = 0;
                while (!upload.await(5, TimeUnit.MILLISECONDS)) {
                    long done = upload.bytesDone();
                    check(done >= seen, "progress went back");
                    seen = done;
                }
                check(upload.bytesDone() == 24 * MIB && upload.bytesTotal() == 24 * MIB,
                        "progress at the end");
                check(upload.await(0, TimeUnit.MILLISECONDS), "stays finished");
            }
            check(store.getObjectSize("big") == 24 * MIB, "uploaded");
            Transfer closed = store.startDownloadObject("big", scratch.resolve("bg/down"), false);
            closed.await();
            closed.close();
            closed.close();
            expect(IllegalStateException.class, closed::await);
            check(Arrays.equals(Files.readAllBytes(big),
                    Files.readAllBytes(scratch.resolve("bg/down"))), "downloaded");
        }
    }

    private void cancelled() throws Exception {
        try (S3ObjectStore store = open("java-cancel", "max_concurrency", "1")) {
            Path big = writeFile("cancel/big", 64 * MIB, 5);
            Transfer upload = store.startUploadObject("cancelled", big);
            upload.cancel();
            try {
                upload.await();
                // Finished before the cancellation arrived: then it is complete.
                check(store.getObjectSize("cancelled") == 64 * MIB, "complete");
            } catch (TransferCancelledException expected) {
                expect(NoSuchFileException.class, () -> store.getObjectSize("cancelled"));
            } finally {
                upload.close();
            }
            Path target = scratch.resolve("cancel/never");
            Transfer dropped = store.startDownloadObject("missing", target, false);
            dropped.close();
            check(!Files.exists(target), "nothing written");
        }
    }

    private void backgroundFailure() throws Exception {
        try (S3ObjectStore store = open("java-bg-failure")) {
            try (Transfer missing =
                    store.startDownloadObject("missing", scratch.resolve("bgf/x"), false)) {
                expect(NoSuchFileException.class, missing::await);
            }
            Path existing = writeFile("bgf/existing", 3, 6);
            store.uploadObject("present", existing, null);
            try (Transfer refused = store.startDownloadObject("present", existing, false)) {
                expect(FileAlreadyExistsException.class, refused::await);
            }
            expect(IllegalArgumentException.class, () -> store.startUploadObject(null, existing));
        }
    }

    private void storeClosed() throws Exception {
        Path big = writeFile("closing/big", 64 * MIB, 7);
        S3ObjectStore store = open("java-closing", "max_concurrency", "1");
        Transfer upload = store.startUploadObject("closing", big);
        store.close();
        try {
            upload.await();
        } catch (TransferCancelledException expected) {
            // What a transfer still running when its store closed ends with.
        } finally {
            upload.close();
        }
    }

    private void backgroundBuffers() throws Exception {
        try (S3ObjectStore store = open("java-bg-memory")) {
            byte[] bytes = new byte[9 * MIB + 5];
            new java.util.Random(8).nextBytes(bytes);
            ByteBuffer direct = ByteBuffer.allocateDirect(bytes.length);
            direct.put(bytes).flip();
            try (Transfer upload = store.startUploadBuffer("direct", direct)) {
                upload.await();
                expect(IllegalStateException.class, upload::objectSize);
            }
            check(direct.position() == 0, "position unchanged");
            try (Transfer upload = store.startUploadBuffer("heap", ByteBuffer.wrap(bytes))) {
                upload.await();
            }
            ByteBuffer into = ByteBuffer.allocateDirect(bytes.length + 3);
            try (Transfer download = store.startDownloadBuffer("heap", into)) {
                download.await();
                check(download.objectSize() == bytes.length, "objectSize");
            }
            byte[] back = new byte[bytes.length];
            into.get(back);
            check(Arrays.equals(bytes, back), "the bytes came back");
            check(Arrays.equals(bytes, store.downloadBytes("direct")), "the direct upload");
            ByteBuffer small = ByteBuffer.allocateDirect(100);
            try (Transfer tooSmall = store.startDownloadBuffer("heap", small)) {
                BufferTooSmallException e = expect(BufferTooSmallException.class, tooSmall::await);
                check(e.getRequiredSize() == bytes.length, "BufferTooSmallException names the size");
            }
            check(small.get(0) == 0 && small.get(99) == 0, "nothing written into a small buffer");
            try (Transfer missing = store.startDownloadBuffer("none", into)) {
                expect(NoSuchFileException.class, missing::await);
                expect(IllegalStateException.class, missing::objectSize);
            }
            expect(IllegalArgumentException.class,
                    () -> store.startDownloadBuffer("heap", ByteBuffer.allocate(10)));
            expect(IllegalArgumentException.class, () -> store.startUploadBuffer("x", null));
        }
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

    private static void check(boolean condition, String what) {
        if (!condition) {
            throw new AssertionError(what);
        }
    }
}

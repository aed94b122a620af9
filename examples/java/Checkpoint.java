// Checkpoint: save a file to S3 through s3os, restore it, verify every byte.
//
//   java -cp target/java/s3os.jar -Djava.library.path=target/release \
//       examples/java/Checkpoint.java <bucket> <file> <object-name> [key=value ...]
//
// Each key=value is an s3os configuration key (endpoint_url=..., prefix=..., ...); anything not
// given comes from the environment and the standard AWS chain, as in boto3.

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.Map;

import s3os.ProgressListener;
import s3os.S3ObjectStore;

public class Checkpoint {
    public static void main(String[] args) throws IOException, NoSuchAlgorithmException {
        if (args.length < 3) {
            System.err.println("usage: Checkpoint <bucket> <file> <object-name> [key=value ...]");
            System.exit(2);
        }
        String bucket = args[0];
        Path checkpoint = Paths.get(args[1]);
        String objectName = args[2];
        Map<String, String> config = new HashMap<>();
        for (int i = 3; i < args.length; i++) {
            String[] keyValue = args[i].split("=", 2);
            if (keyValue.length != 2) {
                System.err.println("expected key=value, got " + args[i]);
                System.exit(2);
            }
            config.put(keyValue[0], keyValue[1]);
        }

        try (S3ObjectStore store = new S3ObjectStore(bucket, config)) {
            System.out.printf("s3os %s: %s -> %s%n",
                    S3ObjectStore.version(), checkpoint, store.getUri(objectName));

            store.uploadObject(objectName, checkpoint, progress("upload"));
            System.out.printf("stored %d bytes%n", store.getObjectSize(objectName));

            Path restored = Paths.get(checkpoint + ".restored");
            store.downloadObject(objectName, restored, true, progress("download"));

            String expected = sha256(checkpoint);
            String actual = sha256(restored);
            Files.delete(restored);
            if (!expected.equals(actual)) {
                System.err.println("MISMATCH: the restored file differs from " + checkpoint);
                System.exit(1);
            }
            System.out.printf("verified %d bytes, sha256 %s%n", Files.size(checkpoint), actual);

            // The same object as a stream, without a local file.
            MessageDigest streamed = MessageDigest.getInstance("SHA-256");
            try (InputStream in = store.openInputStream(objectName)) {
                byte[] buffer = new byte[1 << 20];
                for (int n; (n = in.read(buffer)) > 0; ) {
                    streamed.update(buffer, 0, n);
                }
            }
            if (!expected.equals(hex(streamed.digest()))) {
                System.err.println("MISMATCH: the streamed object differs from " + checkpoint);
                System.exit(1);
            }
            System.out.println("read back through openInputStream: identical");
        }
    }

    /** Prints a line at every quarter of the transfer; returning false would cancel it. */
    private static ProgressListener progress(String what) {
        int[] lastQuarter = {-1};
        return (done, total) -> {
            int quarter = total == 0 ? 4 : (int) (done * 4 / total);
            if (quarter != lastQuarter[0]) {
                lastQuarter[0] = quarter;
                System.out.printf("  %s %3d%% of %d bytes%n", what, quarter * 25, total);
            }
            return true;
        };
    }

    private static String sha256(Path file) throws IOException, NoSuchAlgorithmException {
        MessageDigest digest = MessageDigest.getInstance("SHA-256");
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buffer = new byte[1 << 16];
            for (int n; (n = in.read(buffer)) > 0; ) {
                digest.update(buffer, 0, n);
            }
        }
        return hex(digest.digest());
    }

    private static String hex(byte[] bytes) {
        StringBuilder hex = new StringBuilder();
        for (byte b : bytes) {
            hex.append(String.format("%02x", b));
        }
        return hex.toString();
    }
}

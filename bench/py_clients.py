"""Python S3 clients timed by bench/run.py: boto3, awscrt and s3torchconnectorclient.

Usage (the same arguments as bench/s3os_bench.c):
    python3 py_clients.py CLIENT upload        BUCKET OBJECT FILE
    python3 py_clients.py CLIENT download      BUCKET OBJECT FILE
    python3 py_clients.py CLIENT upload-many   BUCKET PREFIX DIR COUNT CONCURRENCY
    python3 py_clients.py CLIENT download-many BUCKET PREFIX DIR COUNT CONCURRENCY
    python3 py_clients.py s3torch upload-memory|download-memory|upload-writer|download-reader \
        BUCKET OBJECT FILE
    python3 py_clients.py CLIENT upload-batch  BUCKET PREFIX DIR COUNT CONCURRENCY
    python3 py_clients.py CLIENT download-batch BUCKET PREFIX DIR COUNT CONCURRENCY

CLIENT is boto3, awscrt or s3torch. The memory modes (s3torch only, as in bench/s3os_bench.c):
upload-memory puts FILE's bytes, read into memory first (not timed), through one write;
download-memory reads the object into a bytearray of its size (FILE written afterwards, not
timed); upload-writer writes FILE in 1 MiB pieces; download-reader reads 1 MiB pieces (out of
the stream's chunks, as s3torchconnector's reader hands them out) into FILE. The endpoint comes from BENCH_ENDPOINT, the credentials
and region from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION. Over https:// the CA
to trust comes from AWS_CA_BUNDLE (boto3 reads it itself) and BENCH_CA_BUNDLE (awscrt). In the -many modes
object i is DIR/obj-%05d <-> PREFIX/obj-%05d and CONCURRENCY requests are kept in flight:
threads sharing one client for boto3 and s3torch, concurrent requests on one client for awscrt.
The -batch modes (boto3, awscrt) move the objects as each library moves many at once: every
object submitted to one boto3 transfer manager (Composer's TransferConfig, 10 threads), or
every request started at once on one awscrt client (CONCURRENCY is ignored).

On success prints one JSON line: {"seconds", "cpu_user", "cpu_sys", "bytes", "objects", "info"},
where the times cover the transfers only (importing the library and creating the client are
not counted) and CPU is that of the whole process (all threads).
"""

import json
import os
import resource
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote, urlparse

ENDPOINT = os.environ.get("BENCH_ENDPOINT", "")
REGION = os.environ.get("AWS_REGION", "us-east-1")


def object_paths(prefix, directory, count):
    for i in range(count):
        yield f"{prefix}/obj-{i:05d}", os.path.join(directory, f"obj-{i:05d}")


def run_threads(one, bucket, prefix, directory, count, concurrency):
    """Runs one(bucket, key, path) for every object on `concurrency` threads."""
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        futures = [pool.submit(one, bucket, key, path) for key, path in object_paths(prefix, directory, count)]
        for f in futures:
            f.result()


class Boto3:
    """boto3 upload_file/download_file as Composer's S3ObjectStore uses them: adaptive retries,
    the default TransferConfig (multipart threshold and part 8 MiB, 10 threads per transfer)."""

    def __init__(self, concurrency):
        import boto3
        from boto3.s3.transfer import TransferConfig, create_transfer_manager
        from botocore.config import Config

        options = {"retries": {"mode": "adaptive"}, "s3": {"addressing_style": "path"}}
        if concurrency > 10:
            # The default pool (10 connections) would make 16 threads queue for a connection.
            options["max_pool_connections"] = concurrency
        self.client = boto3.session.Session().client(
            "s3", endpoint_url=ENDPOINT, region_name=REGION, config=Config(**options)
        )
        self.transfer = TransferConfig()
        manager = create_transfer_manager(self.client, self.transfer)
        self.info = {
            "boto3": boto3.__version__,
            "transfer_manager": f"{type(manager).__module__}.{type(manager).__name__}",
            "max_pool_connections": options.get("max_pool_connections", 10),
        }
        manager.shutdown()

    def upload(self, bucket, key, path):
        self.client.upload_file(path, bucket, key, Config=self.transfer)

    def download(self, bucket, key, path):
        self.client.download_file(bucket, key, path, Config=self.transfer)

    def upload_many(self, *args):
        run_threads(self.upload, *args)

    def download_many(self, *args):
        run_threads(self.download, *args)

    def _batch(self, upload, bucket, prefix, directory, count, concurrency):
        # Every object submitted to one transfer manager, which runs them with its own threads
        # (TransferConfig.max_concurrency, 10), as a program moving a folder with boto3 would.
        from boto3.s3.transfer import create_transfer_manager

        with create_transfer_manager(self.client, self.transfer) as manager:
            futures = [
                manager.upload(path, bucket, key) if upload else manager.download(bucket, key, path)
                for key, path in object_paths(prefix, directory, count)
            ]
            for future in futures:
                future.result()

    def upload_batch(self, *args):
        self._batch(True, *args)

    def download_batch(self, *args):
        self._batch(False, *args)


class AwsCrt:
    """awscrt.s3.S3Client (the AWS Common Runtime's S3 client) with its defaults; over HTTPS
    with the CA of BENCH_CA_BUNDLE as its trust store."""

    def __init__(self, concurrency):
        from awscrt.auth import AwsCredentialsProvider
        from awscrt.http import HttpHeaders, HttpRequest
        from awscrt.io import ClientBootstrap, ClientTlsContext, DefaultHostResolver, EventLoopGroup
        from awscrt.io import TlsContextOptions
        from awscrt.s3 import S3Client, S3RequestTlsMode, S3RequestType
        import importlib.metadata

        self.HttpHeaders, self.HttpRequest, self.S3RequestType = HttpHeaders, HttpRequest, S3RequestType
        loops = EventLoopGroup()
        bootstrap = ClientBootstrap(loops, DefaultHostResolver(loops))
        credentials = AwsCredentialsProvider.new_static(
            os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]
        )
        endpoint = urlparse(ENDPOINT)
        tls = {"tls_mode": S3RequestTlsMode.DISABLED}
        if endpoint.scheme == "https":
            options = TlsContextOptions()
            options.override_default_trust_store_from_path(None, os.environ["BENCH_CA_BUNDLE"])
            connection = ClientTlsContext(options).new_connection_options()
            connection.set_server_name(endpoint.hostname)
            tls = {"tls_mode": S3RequestTlsMode.ENABLED, "tls_connection_options": connection}
        self.client = S3Client(
            bootstrap=bootstrap,
            region=REGION,
            credential_provider=credentials,
            **tls,
        )
        self.host = endpoint.netloc
        self.info = {"awscrt": importlib.metadata.version("awscrt")}

    def _start(self, upload, bucket, key, path, on_done=None):
        headers = self.HttpHeaders([("Host", self.host)])
        if upload:
            headers.add("Content-Length", str(os.path.getsize(path)))
        request = self.HttpRequest("PUT" if upload else "GET", f"/{bucket}/{quote(key)}", headers)
        return self.client.make_request(
            type=self.S3RequestType.PUT_OBJECT if upload else self.S3RequestType.GET_OBJECT,
            request=request,
            send_filepath=path if upload else None,
            recv_filepath=None if upload else path,
            on_done=on_done,
        )

    def upload(self, bucket, key, path):
        self._start(True, bucket, key, path).finished_future.result()

    def download(self, bucket, key, path):
        self._start(False, bucket, key, path).finished_future.result()

    def _many(self, upload, bucket, prefix, directory, count, concurrency):
        in_flight = threading.Semaphore(concurrency)
        requests = []
        for key, path in object_paths(prefix, directory, count):
            in_flight.acquire()
            requests.append(self._start(upload, bucket, key, path, on_done=lambda **_: in_flight.release()))
        for r in requests:
            r.finished_future.result()

    def upload_many(self, *args):
        self._many(True, *args)

    def download_many(self, *args):
        self._many(False, *args)

    def upload_batch(self, bucket, prefix, directory, count, _concurrency):
        # All requests at once: the CRT schedules them itself.
        self._many(True, bucket, prefix, directory, count, count)

    def download_batch(self, bucket, prefix, directory, count, _concurrency):
        self._many(False, bucket, prefix, directory, count, count)


class S3Torch:
    """s3torchconnectorclient's MountpointS3Client (the client under s3torchconnector's S3Reader
    and S3Writer) with its defaults: put_object/get_object streams fed from/to local files."""

    def __init__(self, concurrency):
        from s3torchconnectorclient._mountpoint_s3_client import MountpointS3Client
        import importlib.metadata

        self.client = MountpointS3Client(region=REGION, endpoint=ENDPOINT, force_path_style=True)
        self.chunk = self.client.part_size
        self.info = {"s3torchconnectorclient": importlib.metadata.version("s3torchconnectorclient")}

    def upload(self, bucket, key, path):
        stream = self.client.put_object(bucket, key)
        with open(path, "rb") as f:
            while chunk := f.read(self.chunk):
                stream.write(chunk)
        stream.close()

    def download(self, bucket, key, path):
        with open(path, "wb") as f:
            for chunk in self.client.get_object(bucket, key):
                f.write(chunk)

    def upload_many(self, *args):
        run_threads(self.upload, *args)

    def download_many(self, *args):
        run_threads(self.download, *args)

    def upload_memory(self, bucket, key, data):
        stream = self.client.put_object(bucket, key)
        stream.write(data)
        stream.close()

    def download_memory(self, bucket, key):
        size = self.client.head_object(bucket, key).size
        data = bytearray(size)
        at = 0
        for chunk in self.client.get_object(bucket, key):
            data[at : at + len(chunk)] = chunk
            at += len(chunk)
        return memoryview(data)[:at]

    def upload_writer(self, bucket, key, path):
        stream = self.client.put_object(bucket, key)
        with open(path, "rb") as f:
            while piece := f.read(PIECE):
                stream.write(piece)
        stream.close()

    def download_reader(self, bucket, key, path):
        pending, held = bytearray(), 0
        with open(path, "wb") as f:
            for chunk in self.client.get_object(bucket, key):
                pending += chunk
                held = len(pending)
                while held >= PIECE:
                    f.write(pending[:PIECE])
                    del pending[:PIECE]
                    held -= PIECE
            if pending:
                f.write(pending)


#: Bytes per write or read in the writer and reader modes.
PIECE = 1024 * 1024

MEMORY_MODES = ("upload-memory", "download-memory", "upload-writer", "download-reader")

CLIENTS = {"boto3": Boto3, "awscrt": AwsCrt, "s3torch": S3Torch}


def main(argv):
    if len(argv) < 5 or argv[0] not in CLIENTS:
        print(__doc__, file=sys.stderr)
        return 2
    name, mode, bucket = argv[0], argv[1], argv[2]
    many = mode.endswith("-many") or mode.endswith("-batch")
    known = ("upload", "download", "upload-many", "download-many", "upload-batch", "download-batch",
             *MEMORY_MODES)
    if mode not in known or len(argv) != (7 if many else 5):
        print(__doc__, file=sys.stderr)
        return 2
    concurrency = int(argv[6]) if many else 1
    client = CLIENTS[name](concurrency)

    if mode in MEMORY_MODES:
        return run_memory_mode(client, mode, bucket, argv[3], argv[4])
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    if many:
        prefix, directory, count = argv[3], argv[4], int(argv[5])
        getattr(client, mode.replace("-", "_"))(bucket, prefix, directory, count, concurrency)
        paths = [p for _, p in object_paths(prefix, directory, count)]
    else:
        getattr(client, mode)(bucket, argv[3], argv[4])
        paths = [argv[4]]
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)

    result = {
        "seconds": seconds,
        "cpu_user": after.ru_utime - before.ru_utime,
        "cpu_sys": after.ru_stime - before.ru_stime,
        "bytes": sum(os.path.getsize(p) for p in paths),
        "objects": len(paths),
        "info": client.info,
    }
    print(json.dumps(result), flush=True)
    return 0


def run_memory_mode(client, mode, bucket, key, path):
    """One memory or stream mode; only the transfer is timed (see the module's docstring)."""
    if not hasattr(client, mode.replace("-", "_")):
        print(f"{mode} is not implemented for this client", file=sys.stderr)
        return 2
    data = None
    if mode == "upload-memory":
        with open(path, "rb") as f:
            data = f.read()
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    if mode == "upload-memory":
        client.upload_memory(bucket, key, data)
    elif mode == "download-memory":
        data = client.download_memory(bucket, key)
    else:
        getattr(client, mode.replace("-", "_"))(bucket, key, path)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    if mode == "download-memory":
        with open(path, "wb") as f:
            f.write(data)
    print(json.dumps({
        "seconds": seconds,
        "cpu_user": after.ru_utime - before.ru_utime,
        "cpu_sys": after.ru_stime - before.ru_stime,
        "bytes": os.path.getsize(path),
        "objects": 1,
        "info": client.info,
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

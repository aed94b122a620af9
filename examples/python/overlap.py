"""A training loop that computes while the previous step's checkpoint uploads in the background,
then prints how much of the upload time was hidden behind compute (the twin of
examples/c/overlap.c).

    S3_ENDPOINT_URL=http://127.0.0.1:9000 AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... \\
        python3 examples/python/overlap.py my-bucket

Each step writes a checkpoint file, starts its upload with ``upload_object_async`` (a
``concurrent.futures.Future``) and goes on computing. Before the next checkpoint is written the
upload must be done: time spent waiting for it there is upload time compute did not hide.
"""

import argparse
import os
import tempfile
import time

import s3os


def compute(milliseconds, upload, finished):
    """Stands in for a training step: arithmetic for a while, in slices; notes when the
    running upload is first seen done."""
    total = 0.0
    until = time.monotonic() + milliseconds / 1000
    while time.monotonic() < until:
        total += sum(1.0 / (i * i) for i in range(1, 20_000))
        if upload is not None and not finished and upload.done():
            finished.append(time.monotonic())
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bucket", nargs="?", default=os.environ.get("S3OS_BUCKET"))
    parser.add_argument("--prefix", default="runs/overlap-example")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--mib", type=int, default=64, help="checkpoint size")
    parser.add_argument("--compute-ms", type=int, default=400, help="compute per step")
    args = parser.parse_args()
    if not args.bucket:
        parser.error("give the bucket as an argument or in S3OS_BUCKET")

    upload_total = exposed_total = 0.0
    with tempfile.TemporaryDirectory() as scratch, s3os.S3ObjectStore(
        args.bucket, args.prefix
    ) as store:
        paths = [os.path.join(scratch, f"ckpt-{i}.bin") for i in range(2)]
        for step in range(args.steps + 1):
            upload, finished = None, []
            if step > 0:
                started = time.monotonic()
                upload = store.upload_object_async(
                    f"overlap/ckpt-{step - 1}.bin", paths[(step - 1) % 2]
                )
            compute_started = time.monotonic()
            if step < args.steps:
                compute(args.compute_ms, upload, finished)
            computed = time.monotonic() - compute_started
            if upload is not None:
                waiting = time.monotonic()
                upload.result()  # raises what the upload raised
                exposed = time.monotonic() - waiting
                took = (finished[0] if finished else time.monotonic()) - started
                upload_total += took
                exposed_total += exposed
                done, total = upload.progress()
                print(
                    f"step {step}: computed {computed * 1000:.0f} ms; checkpoint {step - 1} "
                    f"({total / 2**20:.0f} MiB) uploaded in {took * 1000:.0f} ms, "
                    f"waited {exposed * 1000:.0f} ms for it"
                )
            if step < args.steps:
                with open(paths[step % 2], "wb") as checkpoint:
                    checkpoint.write(os.urandom(args.mib << 20))

        for step in range(args.steps):
            size = store.get_object_size(f"overlap/ckpt-{step}.bin")
            assert size == args.mib << 20, f"checkpoint {step} has {size} bytes"
        deleted = store.delete_prefix("overlap")
    hidden = upload_total - exposed_total
    print(f"{args.steps} checkpoints verified and deleted ({deleted} objects)")
    print(
        f"upload time hidden behind compute: {hidden * 1000:.0f} of {upload_total * 1000:.0f} ms "
        f"({100 * hidden / upload_total if upload_total else 0:.0f}%)"
    )


if __name__ == "__main__":
    main()

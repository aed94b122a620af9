"""Save a training checkpoint to S3 and restore it, as Composer does with its S3ObjectStore.

    pip install ./bindings/python
    S3_ENDPOINT_URL=http://127.0.0.1:9000 AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... \\
        python3 examples/python/checkpoint.py my-bucket

Without S3_ENDPOINT_URL the store is AWS S3 itself; credentials come from the usual AWS
sources (environment, ~/.aws, instance metadata).
"""

import argparse
import os
import pickle
import random
import tempfile
import time

import s3os


def train_one_epoch(state):
    """Stands in for training: nudges every weight."""
    rng = random.Random(state["epoch"])
    state["weights"] = [w + rng.uniform(-0.01, 0.01) for w in state["weights"]]
    state["epoch"] += 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bucket", nargs="?", default=os.environ.get("S3OS_BUCKET"))
    parser.add_argument("--prefix", default="runs/checkpoint-example")
    args = parser.parse_args()
    if not args.bucket:
        parser.error("give the bucket as an argument or in S3OS_BUCKET")

    state = {"epoch": 0, "weights": [random.Random(7).gauss(0, 1) for _ in range(250_000)]}
    train_one_epoch(state)

    with tempfile.TemporaryDirectory() as scratch, s3os.S3ObjectStore(
        args.bucket, args.prefix
    ) as store:
        print(f"s3os {s3os.__version__}, store {store.get_uri('')}")

        local = os.path.join(scratch, "ep1.pt")
        with open(local, "wb") as file:
            pickle.dump(state, file)
        size = os.path.getsize(local)

        def report(done, total):
            if done == total:
                print(f"  {done} of {total} bytes")

        started = time.perf_counter()
        store.upload_object("ckpt/ep1.pt", local, callback=report)
        print(
            f"saved epoch {state['epoch']} ({size} bytes) to {store.get_uri('ckpt/ep1.pt')} "
            f"in {time.perf_counter() - started:.2f} s"
        )
        print(f"checkpoints in the store: {store.list_objects('ckpt/')}")

        restored_path = os.path.join(scratch, "restore", "ep1.pt")
        store.download_object("ckpt/ep1.pt", restored_path, callback=report)
        with open(restored_path, "rb") as file:
            restored = pickle.load(file)
        assert restored == state, "the restored checkpoint differs from the saved one"
        print(f"restored epoch {restored['epoch']}: {len(restored['weights'])} weights, identical")

        try:
            store.download_object("ckpt/ep1.pt", restored_path)
        except FileExistsError:
            print("a second download without overwrite=True leaves the local copy alone")

        # No local file at all: pickle straight into the store and back, as torch.save and
        # torch.load would with these streams.
        train_one_epoch(state)
        with store.open_writer("ckpt/ep2.pt") as writer:
            pickle.dump(state, writer)
        with store.open_reader("ckpt/ep2.pt") as reader:
            streamed = pickle.load(reader)
        assert streamed == state, "the streamed checkpoint differs from the saved one"
        print(f"streamed epoch {streamed['epoch']} through open_writer/open_reader, identical")
        store.remove_object("ckpt/ep2.pt")

        store.remove_object("ckpt/ep1.pt")
        try:
            store.get_object_size("ckpt/ep1.pt")
        except FileNotFoundError as error:
            print(f"removed; asking for it now raises FileNotFoundError ({error.status_name})")


if __name__ == "__main__":
    main()

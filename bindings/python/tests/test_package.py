"""The installed package: versions, the bundled library and its override, the example, the wheel."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import venv
from importlib import metadata
from pathlib import Path

import pytest

import s3os
from conftest import REPO, TARGET, Server, run_python

PACKAGE_DIR = Path(s3os.__file__).resolve().parent


def test_versions_agree():
    cargo = (REPO / "Cargo.toml").read_text()
    crate_version = re.search(r'^version = "([^"]+)"', cargo, re.MULTILINE).group(1)
    assert s3os.__version__ == s3os._library.version() == crate_version
    assert metadata.version("s3os") == s3os.__version__


def test_the_library_is_bundled_inside_the_installed_package():
    if os.environ.get("S3OS_LIBRARY"):
        pytest.skip("S3OS_LIBRARY is set for this run")
    loaded = Path(s3os.library_path)
    assert loaded.parent == PACKAGE_DIR
    assert loaded.name.startswith("libs3os") and loaded.suffix == ".so"
    assert (PACKAGE_DIR / "py.typed").is_file()


def test_s3os_library_overrides_the_bundled_library(tmp_path):
    built = TARGET / "release" / "libs3os.so"
    copy = tmp_path / "elsewhere" / "libs3os.so"
    copy.parent.mkdir()
    copy.write_bytes(built.read_bytes())
    result = run_python(
        "import s3os; print(s3os.library_path, s3os.__version__)", env={"S3OS_LIBRARY": str(copy)}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(copy), s3os.__version__]

    missing = run_python("import s3os", env={"S3OS_LIBRARY": str(tmp_path / "nowhere.so")})
    assert missing.returncode != 0
    assert "ImportError: s3os: cannot load S3OS_LIBRARY" in missing.stderr

    not_s3os = run_python("import s3os", env={"S3OS_LIBRARY": "libm.so.6"})
    assert "does not export s3os_config_new" in not_s3os.stderr


def test_the_checkpoint_example_saves_and_restores(server: Server, tmp_path):
    example = REPO / "examples" / "python" / "checkpoint.py"
    result = subprocess.run(
        [sys.executable, str(example), "--prefix", "example-run"],
        env={**os.environ, **server.env()},
        capture_output=True,
        text=True,
        timeout=300,
    )
    print(result.stdout)
    assert result.returncode == 0, result.stderr
    assert "saved epoch 1" in result.stdout
    assert "restored epoch 1: 250000 weights, identical" in result.stdout
    assert "streamed epoch 2 through open_writer/open_reader, identical" in result.stdout
    assert "FileNotFoundError (S3OS_NOT_FOUND)" in result.stdout
    assert not server.stored_file("example-run/ckpt/ep1.pt").exists()


def test_the_wheel_installs_into_a_fresh_venv_and_works(server: Server, tmp_path):
    wheel_dir = os.environ.get("S3OS_TEST_WHEEL_DIR")
    if not wheel_dir:
        pytest.skip("S3OS_TEST_WHEEL_DIR is not set (bindings/python/test.sh builds the wheel)")
    wheels = sorted(Path(wheel_dir).glob("s3os-*.whl"))
    assert len(wheels) == 1, wheels
    assert wheels[0].name.endswith("-cp38-abi3-linux_x86_64.whl"), wheels[0].name

    env_dir = tmp_path / "fresh-venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-index", "--quiet", str(wheels[0])],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr

    clean_env = {k: v for k, v in os.environ.items() if k not in ("S3OS_LIBRARY", "PYTHONPATH")}
    result = subprocess.run(
        [str(python), str(REPO / "examples" / "python" / "checkpoint.py"), "--prefix", "wheel-run"],
        env={**clean_env, **server.env()},
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "restored epoch 1: 250000 weights, identical" in result.stdout
    where = subprocess.run(
        [str(python), "-c", "import s3os; print(s3os.library_path)"],
        env=clean_env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert where.stdout.strip().startswith(str(env_dir)), where

"""With and without Composer: the base class and the transient error class s3os picks.

Composer pulls in PyTorch, so the "with" case uses a stand-in ``composer.utils`` package
that defines only Composer's two base classes, placed on ``sys.path`` of a fresh interpreter.
"""

from __future__ import annotations

import json
import textwrap

import pytest

import s3os
from conftest import Server, run_python

STAND_IN = """
import abc


class ObjectStoreTransientError(RuntimeError):
    pass


class ObjectStore(abc.ABC):
    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, traceback):
        self.close()
"""


def test_without_composer_s3os_defines_its_own_classes():
    if s3os.COMPOSER_AVAILABLE:
        pytest.skip("Composer is installed here")
    assert s3os.S3ObjectStore.__mro__[1:] == (object,)
    assert s3os.ObjectStoreTransientError.__module__ == "s3os._composer"
    assert issubclass(s3os.ObjectStoreTransientError, RuntimeError)
    assert issubclass(s3os.TransientError, s3os.ObjectStoreTransientError)


def test_with_composer_s3os_subclasses_its_object_store(server: Server, tmp_path):
    package = tmp_path / "site" / "composer"
    (package / "utils").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "utils" / "__init__.py").write_text(STAND_IN)
    dead_port = "http://127.0.0.1:1"
    code = textwrap.dedent(
        f"""
        import json, sys
        sys.path.insert(0, {str(tmp_path / "site")!r})
        import composer.utils
        import s3os

        store = s3os.S3ObjectStore(
            {server.bucket!r},
            endpoint_url={dead_port!r},
            aws_access_key_id={server.access_key!r},
            aws_secret_access_key={server.secret_key!r},
            client_config={{"retries": {{"max_attempts": 0}}}},
        )
        caught = None
        try:
            store.get_object_size("x")
        except composer.utils.ObjectStoreTransientError as error:
            caught = type(error).__name__
        store.close()
        print(json.dumps({{
            "available": s3os.COMPOSER_AVAILABLE,
            "subclass": issubclass(s3os.S3ObjectStore, composer.utils.ObjectStore),
            "instance": isinstance(store, composer.utils.ObjectStore),
            "same_error_class": (
                s3os.ObjectStoreTransientError is composer.utils.ObjectStoreTransientError
            ),
            "caught": caught,
        }}))
        """
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "available": True,
        "subclass": True,
        "instance": True,
        "same_error_class": True,
        "caught": "TransientError",
    }


def test_a_broken_composer_install_falls_back_to_the_stand_ins(tmp_path):
    package = tmp_path / "site" / "composer"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("raise ImportError('no torch here')\n")
    code = f"""
import sys
sys.path.insert(0, {str(tmp_path / "site")!r})
import s3os
print(s3os.COMPOSER_AVAILABLE, s3os.S3ObjectStore.__mro__[1].__name__)
"""
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "object"]

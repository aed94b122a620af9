"""Translation of Composer's constructor arguments into s3os configuration keys.

Only names and Python types are translated here; every value is checked (and normalised) by
the library's ``s3os_config_set``, so a bad value fails with the library's message.
"""

from __future__ import annotations

from typing import Any, List, Mapping, NamedTuple, Optional


class Setting(NamedTuple):
    """One ``s3os_config_set`` call, and where the user gave it (for messages)."""

    key: str
    value: str
    origin: str


def _require_str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be str, not {type(value).__name__}")
    return value


def _number(value: Any, what: str, *, fractions: bool) -> str:
    allowed = (int, float) if fractions else (int,)
    if isinstance(value, bool) or not isinstance(value, allowed):
        kind = "a number" if fractions else "an int"
        raise TypeError(f"{what} must be {kind}, not {type(value).__name__}")
    return repr(value)


def _size(value: Any, what: str) -> str:
    # boto3 takes byte counts; s3os also takes "8MiB"-style strings.
    if isinstance(value, str):
        return value
    return _number(value, what, fractions=False)


def _require_mapping(value: Any, what: str) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"{what} must be a dict, not {type(value).__name__}")
    for key in value:
        _require_str(key, f"a key of {what}")
    return value


def _unknown(what: str, key: str, known: List[str]) -> ValueError:
    return ValueError(f"{what}: s3os does not support {key!r} (supported: {', '.join(known)})")


_RETRY_KEYS = ["max_attempts", "total_max_attempts", "mode"]
_S3_KEYS = ["addressing_style"]
_CLIENT_KEYS = [
    "retries",
    "connect_timeout",
    "read_timeout",
    "s3",
    "request_checksum_calculation",
    "response_checksum_validation",
]
_TRANSFER_KEYS = ["multipart_threshold", "multipart_chunksize", "max_concurrency"]


def _retries(retries: Any) -> List[Setting]:
    what = "client_config['retries']"
    retries = _require_mapping(retries, what)
    for key in retries:
        if key not in _RETRY_KEYS:
            raise _unknown(what, key, _RETRY_KEYS)
    settings = []
    # botocore: max_attempts counts retries after the first request, total_max_attempts
    # counts every request (and wins when both are given); s3os counts every request.
    if "total_max_attempts" in retries:
        origin = f"{what}['total_max_attempts']"
        attempts = _number(retries["total_max_attempts"], origin, fractions=False)
        settings.append(Setting("max_attempts", attempts, origin))
    elif "max_attempts" in retries:
        origin = f"{what}['max_attempts']"
        retries_after_first = retries["max_attempts"]
        _number(retries_after_first, origin, fractions=False)
        settings.append(Setting("max_attempts", str(retries_after_first + 1), origin))
    if "mode" in retries:
        origin = f"{what}['mode']"
        settings.append(Setting("retry_mode", _require_str(retries["mode"], origin), origin))
    return settings


def client_settings(client_config: Optional[Mapping[str, Any]]) -> List[Setting]:
    """Settings for the botocore ``Config`` keywords Composer users pass as ``client_config``."""
    if client_config is None:
        return []
    client_config = _require_mapping(client_config, "client_config")
    settings: List[Setting] = []
    for key, value in client_config.items():
        origin = f"client_config[{key!r}]"
        if key == "retries":
            settings += _retries(value)
        elif key in ("connect_timeout", "read_timeout"):
            settings.append(Setting(key, _number(value, origin, fractions=True), origin))
        elif key == "s3":
            for s3_key, s3_value in _require_mapping(value, origin).items():
                if s3_key not in _S3_KEYS:
                    raise _unknown(origin, s3_key, _S3_KEYS)
                s3_origin = f"{origin}[{s3_key!r}]"
                settings.append(Setting(s3_key, _require_str(s3_value, s3_origin), s3_origin))
        elif key in ("request_checksum_calculation", "response_checksum_validation"):
            settings.append(Setting(key, _require_str(value, origin), origin))
        else:
            raise _unknown("client_config", key, _CLIENT_KEYS)
    return settings


def transfer_settings(transfer_config: Any) -> List[Setting]:
    """Settings for boto3 ``TransferConfig`` knobs: a dict, or an object with those attributes.

    From an object (such as a real ``TransferConfig``) the three knobs s3os has are read and
    its other attributes are ignored; in a dict every key must be one of the three.
    """
    if transfer_config is None:
        return []
    if isinstance(transfer_config, Mapping):
        values = _require_mapping(transfer_config, "transfer_config")
        for key in values:
            if key not in _TRANSFER_KEYS:
                raise _unknown("transfer_config", key, _TRANSFER_KEYS)
        origin = "transfer_config[{!r}]"
    else:
        values = {
            key: getattr(transfer_config, key)
            for key in _TRANSFER_KEYS
            if getattr(transfer_config, key, None) is not None
        }
        if not values:
            raise TypeError(
                "transfer_config must be a dict or an object with any of the attributes "
                f"{', '.join(_TRANSFER_KEYS)}, not {type(transfer_config).__name__}"
            )
        origin = "transfer_config.{}"
    settings = []
    for key, value in values.items():
        where = origin.format(key)
        if key == "max_concurrency":
            settings.append(Setting(key, _number(value, where, fractions=False), where))
        else:
            settings.append(Setting(key, _size(value, where), where))
    return settings


def extra_settings(s3os_config: Optional[Mapping[str, Any]]) -> List[Setting]:
    """The ``s3os_config`` keyword: library keys and values, passed on as given."""
    if s3os_config is None:
        return []
    s3os_config = _require_mapping(s3os_config, "s3os_config")
    settings = []
    for key, value in s3os_config.items():
        origin = f"s3os_config[{key!r}]"
        if not isinstance(value, str):
            value = _number(value, origin, fractions=True)
        settings.append(Setting(key, value, origin))
    return settings


def store_settings(
    prefix: str,
    region_name: Optional[str],
    endpoint_url: Optional[str],
    aws_access_key_id: Optional[str],
    aws_secret_access_key: Optional[str],
    aws_session_token: Optional[str],
    client_config: Optional[Mapping[str, Any]],
    transfer_config: Any,
    s3os_config: Optional[Mapping[str, Any]],
) -> List[Setting]:
    """Every setting of a store, in the order they are applied (later ones win)."""
    settings = [Setting("prefix", _require_str(prefix, "prefix"), "prefix")]
    for key, value in (
        ("region_name", region_name),
        ("endpoint_url", endpoint_url),
        ("aws_access_key_id", aws_access_key_id),
        ("aws_secret_access_key", aws_secret_access_key),
        ("aws_session_token", aws_session_token),
    ):
        # None leaves the library's default: the AWS chain, or S3_ENDPOINT_URL.
        if value is not None:
            settings.append(Setting(key, _require_str(value, key), key))
    settings += client_settings(client_config)
    settings += transfer_settings(transfer_config)
    settings += extra_settings(s3os_config)
    return settings

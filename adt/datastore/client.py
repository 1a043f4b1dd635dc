"""The one S3 client factory, for any S3-compatible endpoint.

boto3 is imported here, inside functions, never at module top: a wrapper call that the agent serves
must not pay for it. Clients are cached per endpoint and credentials; the agent creates them before it
forks, so each request starts with a warm client (and opens its own connections: a forked child never
shares a socket with its parent because the parent makes no requests).
"""

from __future__ import annotations

from typing import Dict, Tuple

from adt.datastore.endpoints import Endpoint
from adt.errors import AdtError

# Fail within 10 seconds when an endpoint is down or hangs: 2 attempts x (2 s connect or 3.5 s read),
# plus at most 1 s of backoff. Configuration objects are small; bulk transfers will need their own profile.
CONNECT_TIMEOUT = 2
READ_TIMEOUT = 3.5
MAX_ATTEMPTS = 2

_session = None
_clients: Dict[Tuple[str, str, str, str, str], object] = {}


def _get_session():
    global _session
    if _session is None:
        import boto3.session

        _session = boto3.session.Session()
    return _session


def s3_client(endpoint: Endpoint):
    key = (endpoint.url, endpoint.access_key, endpoint.secret_key, endpoint.region, endpoint.addressing)
    client = _clients.get(key)
    if client is None:
        from botocore.config import Config

        config = Config(
            s3={"addressing_style": endpoint.addressing},
            signature_version="s3v4",
            connect_timeout=CONNECT_TIMEOUT,
            read_timeout=READ_TIMEOUT,
            retries={"total_max_attempts": MAX_ATTEMPTS, "mode": "standard"},
        )
        client = _get_session().client(
            "s3",
            endpoint_url=endpoint.url,
            region_name=endpoint.region,
            aws_access_key_id=endpoint.access_key,
            aws_secret_access_key=endpoint.secret_key,
            config=config,
        )
        _clients[key] = client
    return client


def unwrap(exc: Exception) -> Exception:
    """The S3 error behind boto3's S3UploadFailedError (upload_file wraps the ClientError it met)."""
    from boto3.exceptions import S3UploadFailedError

    if isinstance(exc, S3UploadFailedError):
        inner = exc.__cause__ or exc.__context__
        if inner is not None:
            return inner
    return exc


def error_code(exc: Exception) -> str:
    response = getattr(unwrap(exc), "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


REFUSALS = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403", "AllAccessDisabled"}
MISSING_BUCKET = {"NoSuchBucket"}


def is_missing_bucket(exc: Exception) -> bool:
    return error_code(exc) in MISSING_BUCKET


def describe(exc: Exception, endpoint: Endpoint, bucket: str, action: str) -> AdtError:
    """Turn a botocore failure into one line naming the endpoint and bucket, never a credential."""
    from botocore.exceptions import BotoCoreError, ClientError

    exc = unwrap(exc)
    where = f"S3 endpoint {endpoint.url} (endpoint {endpoint.index}), bucket {bucket}"
    if isinstance(exc, ClientError):
        code = error_code(exc) or "error"
        if code in REFUSALS:
            return AdtError(f"{where} refused to {action}: {code}",
                            "check S3ACCESSKEY and S3SECRETKEY, and that this identity may write")
        message = exc.response.get("Error", {}).get("Message", "")
        return AdtError(f"{where} failed to {action}: {code} {message}".rstrip())
    if isinstance(exc, BotoCoreError):
        reason = str(exc).split(":", 1)[-1].strip() if "Could not connect" in str(exc) else str(exc)
        return AdtError(f"cannot reach {where} to {action}: {reason}",
                        "check S3HOSTBASE and that the S3 server is up")
    return AdtError(f"{where}: {action} failed: {exc}")


def s3_errors():
    """The exception types `describe` understands, for `except` clauses."""
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError, S3UploadFailedError)

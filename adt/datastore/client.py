"""The one S3 client factory, for any S3-compatible endpoint.

Two profiles: `config` for the small configuration objects (fail within seconds when an endpoint is down:
every wrapper call waits on it) and `bulk` for backups and restores (an archive's part or a server-side copy
may take a while to be answered; a dropped connection is retried more often before a backup fails).

boto3 is imported here, inside functions, never at module top: a wrapper call that the agent serves
must not pay for it. Clients are cached per endpoint, credentials and profile; the agent creates them
before it forks, so each request starts with a warm client (and opens its own connections: a forked child
never shares a socket with its parent because the parent makes no requests).

Dry run: every client carries a hook that, inside `adt.run.dry_running()`, prints each call that would
change a bucket (`would call: PutObject s3://bucket/key`) and answers it with an empty success instead of
sending it; reads still go out, so a plan can be based on what is there.
"""

from __future__ import annotations

from typing import Dict, List, Tuple

from adt import run
from adt.datastore.endpoints import Endpoint
from adt.errors import AdtError

# config: fail within 10 seconds when an endpoint is down or hangs: 2 attempts x (2 s connect or 3.5 s
# read), plus at most 1 s of backoff. bulk: 5 attempts (botocore's standard backoff: a fraction of a second
# after a dropped connection, seconds when throttled), reads of two minutes (a server answers a part, a
# multipart completion or an 8 MB part copy only once it has it all).
PROFILES: Dict[str, Dict[str, float]] = {
    "config": {"connect_timeout": 2, "read_timeout": 3.5, "max_attempts": 2},
    "bulk": {"connect_timeout": 10, "read_timeout": 120, "max_attempts": 5},
}
# operations that change a bucket: in a dry run they are printed, not sent (everything else is a read)
CHANGING = ("Put", "Delete", "Create", "Copy", "Upload", "Complete", "Abort", "Restore", "Write")
# what a dry-run call answers, where a caller reads a field of the answer
DRY_ANSWERS = {
    "CreateMultipartUpload": {"UploadId": "dry-run"},
    "UploadPart": {"ETag": '"dry-run"'},
    "UploadPartCopy": {"CopyPartResult": {"ETag": '"dry-run"'}},
    "CopyObject": {"CopyObjectResult": {"ETag": '"dry-run"'}},
    "CompleteMultipartUpload": {"ETag": '"dry-run"'},
    "PutObject": {"ETag": '"dry-run"'},
}

_session = None
_clients: Dict[Tuple[str, str, str, str, str, str], object] = {}


def _get_session():
    global _session
    if _session is None:
        import boto3.session

        _session = boto3.session.Session()
    return _session


def s3_client(endpoint: Endpoint, profile: str = "config"):
    """A client for `endpoint` (cached): `config` for configuration objects, `bulk` for archives."""
    limits = PROFILES[profile]
    key = (endpoint.url, endpoint.access_key, endpoint.secret_key, endpoint.region, endpoint.addressing, profile)
    client = _clients.get(key)
    if client is None:
        from botocore.config import Config

        config = Config(
            s3={"addressing_style": endpoint.addressing},
            signature_version="s3v4",
            connect_timeout=limits["connect_timeout"],
            read_timeout=limits["read_timeout"],
            retries={"total_max_attempts": limits["max_attempts"], "mode": "standard"},
        )
        client = _get_session().client(
            "s3",
            endpoint_url=endpoint.url,
            region_name=endpoint.region,
            aws_access_key_id=endpoint.access_key,
            aws_secret_access_key=endpoint.secret_key,
            config=config,
        )
        client.meta.events.register("before-parameter-build.s3", _note_target)
        client.meta.events.register("before-call.s3", _dry_call)
        _clients[key] = client
    return client


def changes(operation: str) -> bool:
    """Whether an S3 operation changes a bucket (PutObject, DeleteObjects, CompleteMultipartUpload...)."""
    return operation.startswith(CHANGING)


def targets(operation: str, params: dict) -> List[str]:
    """The objects an operation names, as `s3://bucket/key` (a bucket's own operations: `s3://bucket/`)."""
    bucket = params.get("Bucket", "")
    if operation == "DeleteObjects":
        keys = [item.get("Key", "") for item in (params.get("Delete") or {}).get("Objects", [])]
        return [f"s3://{bucket}/{key}" for key in keys] or [f"s3://{bucket}/"]
    return [f"s3://{bucket}/{params.get('Key', '')}"]


def _note_target(params, model, context, **_):
    """Keep the call's bucket and keys for `_dry_call`, which sees only the serialised request."""
    if changes(model.name):
        context["adt_targets"] = targets(model.name, params)


def _dry_call(model, context, **_):
    """In a dry run, print a changing call and answer it with an empty success instead of sending it."""
    if not run.dry_run() or not changes(model.name):
        return None
    from botocore.awsrequest import AWSResponse

    run.announce(f"{model.name} {' '.join(context.get('adt_targets', []))}", kind="call")
    return AWSResponse("", 200, {}, None), dict(DRY_ANSWERS.get(model.name, {}), ResponseMetadata={})


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
            return AdtError(
                f"{where} refused to {action}: {code}",
                "check S3ACCESSKEY and S3SECRETKEY, and that this identity may write",
            )
        message = exc.response.get("Error", {}).get("Message", "")
        return AdtError(f"{where} failed to {action}: {code} {message}".rstrip())
    if isinstance(exc, BotoCoreError):
        reason = str(exc).split(":", 1)[-1].strip() if "Could not connect" in str(exc) else str(exc)
        return AdtError(f"cannot reach {where} to {action}: {reason}", "check S3HOSTBASE and that the S3 server is up")
    return AdtError(f"{where}: {action} failed: {exc}")


def s3_errors():
    """The exception types `describe` understands, for `except` clauses."""
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError, S3UploadFailedError)

"""`adt config`: the configuration datastore, with the original wrappers' arguments and output.

Each command takes the original script's positional arguments (so the wrappers in
providerscripts/datastore/configwrapper/ are one `exec` line) and a readable option for each.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from adt.datastore import keys
from adt.errors import AdtError


def _store(ctx):
    from adt.datastore.config import ConfigDatastore

    return ConfigDatastore.from_settings(ctx.obj.settings)


@click.group()
def config():
    """The configuration datastore: the S3 bucket `<website-url-dashed>-config-<token>` where the
    machines of a fleet publish their addresses and flags.

    A key is an object whose name carries the value: `webserverips/10.0.0.7` is a zero-byte object.
    Keys are matched by prefix, as s3cmd does (`beenonline/10.0.0.1` also matches
    `beenonline/10.0.0.12`). Reads come from the first S3 endpoint, writes go to all of them.
    """


@config.command()
@click.argument("name")
@click.argument("place", required=False, default="")
@click.argument("delete_word", metavar="[yes]", required=False, default="")
@click.argument("ignored", metavar="", required=False, default="", expose_value=False)
@click.option("--delete-local", is_flag=True, help="Remove the local file after it is stored (as 'yes').")
@click.pass_context
def put(ctx, name, place, delete_word, delete_local):
    """Store NAME under PLACE (a 'directory' of keys; empty or `root` for the bucket root).

    NAME is a local file to upload, or, when no such file exists, the value itself: a zero-byte
    object named by NAME's basename is stored (`put 10.0.0.7 webserverips` makes
    `webserverips/10.0.0.7`). The third argument `yes` removes the local file once stored.
    """
    if delete_word not in ("", "yes", "no"):
        raise click.UsageError(f"third argument must be 'yes' or 'no', not {delete_word!r}")
    source = Path(name) if os.path.isfile(name) else None
    try:
        key = keys.put_key(name, place)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    _store(ctx).put(key, source)
    if source is not None and (delete_local or delete_word == "yes"):
        source.unlink()


@config.command()
@click.argument("key")
@click.argument("destination", required=False, default=".")
@click.pass_context
def get(ctx, key, destination):
    """Download KEY into DESTINATION (a directory, default `.`, or a file path ending with the
    key's basename). The local file is replaced atomically. Prints `Key doesn't exist` and exits 1
    when there is no such key."""
    target = Path(keys.get_target(key, destination, os.path.isdir))
    if not _store(ctx).get(key, target):
        click.echo("Key doesn't exist")
        ctx.exit(1)


@config.command("list")
@click.argument("key", required=False, default="")
@click.argument("modes", nargs=-1, metavar="[recursive] [fullpath]")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of {key, name, size, last_modified}.")
@click.option("--full-path", is_flag=True, help="Print s3cmd-style lines with the full s3:// URI (as 'fullpath').")
@click.pass_context
def list_(ctx, key, modes, as_json, full_path):
    """List the keys that start with KEY, cut at its first `*` (`webserverips/*` lists `webserverips/`,
    `backuplock.*.file` lists `backuplock.`), and print each one's base name, one a line. Listing is
    recursive. The words after KEY may be `recursive`, `fullpath` or empty (the 2025 form
    `list KEY '' fullpath`)."""
    for mode in modes:
        if mode not in ("", "recursive", "fullpath"):
            raise click.UsageError(f"unknown list mode {mode!r}: use 'recursive' or 'fullpath'")
    full_path = full_path or "fullpath" in modes
    store = _store(ctx)
    entries = [e for e in store.list(key, recursive=True) if not e.is_dir]
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "key": e.key,
                        "name": e.key.rsplit("/", 1)[-1],
                        "size": e.size,
                        "last_modified": e.modified.isoformat() if e.modified else None,
                    }
                    for e in entries
                ],
                indent=None,
            )
        )
    elif full_path:
        for e in entries:
            click.echo(keys.s3cmd_line(store.bucket, e.key, e.size, e.modified))
    else:
        for name in keys.basename_lines(e.key for e in entries):
            click.echo(name)


@config.command()
@click.argument("key")
@click.argument("words", nargs=-1, metavar="[[LOCAL] RECURSIVE]")
@click.option("--recursive", "-r", is_flag=True, help="Delete every key that starts with KEY (as 'yes').")
@click.option(
    "--all-keys",
    is_flag=True,
    help="Allow a delete that selects every key of the bucket ('' or '*' "
    "with yes) or of its root ('*'); refused without it.",
)
@click.pass_context
def delete(ctx, key, words, recursive, all_keys):
    """Delete KEY, printing `delete: 's3://<bucket>/<key>'` for each key as s3cmd does.

    \b
    delete KEY              one key; a KEY holding `*` deletes what it matches, as s3cmd's
                            wildcards do (`webserverips/*`, `backuplock.*.file`)
    delete KEY yes|no       yes: every key that starts with KEY (one trailing `*` ignored)
    delete KEY LOCAL yes|no the January 2026 form: the third word is the recursive one and
                            LOCAL (yes or no) is not used, as in the original
    """
    try:
        recursive = keys.delete_is_recursive(words) or recursive
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if key == "" and not recursive:
        raise click.UsageError("give the key to delete (or yes, to delete every key that starts with it)")
    if keys.deletes_every_key(key, recursive) and not all_keys:
        raise click.UsageError(
            f"refusing to delete every key {'of' if recursive else 'at the root of'} the "
            f"configuration datastore (key {key!r}{' with yes' if recursive else ''}); "
            "add --all-keys to do that"
        )
    store = _store(ctx)
    for deleted in store.delete(key, recursive=recursive):
        click.echo(keys.s3cmd_delete_line(store.bucket, deleted))


@config.command()
@click.argument("key", required=False, default="")
@click.pass_context
def check(ctx, key):
    """Print 1 if any key starts with KEY, else 0 (an empty KEY prints 0)."""
    click.echo("1" if key and _store(ctx).check(key) else "0")


@config.command()
@click.argument("words", nargs=-1, required=True, metavar="[KEY] WHICH")
@click.pass_context
def credential(ctx, words):
    """Print the application database's name, username or password.

    WHICH is `name`, `password`, `username` (or, as the original, 1, 2, 3). The machine settings file
    (DBNAME, DBPASSWORD, DBUSERNAME) is asked first; when it has no value, line 1, 2 or 3 of the
    datastore object KEY (default `credentials/shit`, the original's key) is printed.
    """
    if len(words) > 2:
        raise click.UsageError("give at most a key and which credential")
    key, which = (keys.DEFAULT_CREDENTIAL_KEY, words[0]) if len(words) == 1 else words
    try:
        field = keys.credential_field(which)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    value = ctx.obj.settings.value(field)
    if value:
        click.echo(keys.application_part(value))
        return
    import tempfile

    with tempfile.TemporaryDirectory(prefix="adt-credential-") as scratch:
        target = Path(scratch) / "credential"
        if not _store(ctx).get(key, target):
            raise AdtError(
                f"no {field} in {ctx.obj.settings.path} and no key {key} in the configuration datastore",
                f"add {field}:<value> to the settings file",
            )
        lines = target.read_text(encoding="utf-8", errors="replace").splitlines()
    line = keys.CREDENTIAL_LINES[field]
    if len(lines) < line or not lines[line - 1]:
        raise AdtError(f"datastore key {key} has no line {line} ({field})")
    click.echo(keys.application_part(lines[line - 1]))

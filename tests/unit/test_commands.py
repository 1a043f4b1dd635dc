"""Exact commands of the pure builders not covered beside their own package: the website archive's tar line
and the machine's crontab. Each test states the whole command, as Kamal's tests do."""

from pathlib import Path

import pytest

from adt.backup import website
from adt.machine import bootstrap

ROOT = Path(bootstrap.__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "installed, program",
    [({"igzip", "pigz"}, "igzip -1 -c"), ({"pigz"}, "pigz"), (set(), "gzip")],
)
def test_tar_line_of_a_website_backup(monkeypatch, installed, program):
    monkeypatch.setattr(website.shutil, "which", lambda name: f"/usr/bin/{name}" if name in installed else None)
    command = website.tar_command(Path("/var/www/html"), Path("/tmp/adt-marker-x"), ["./cache/", "/uploads", "logs"])
    assert command == [
        "tar", "--create", "--file", "-", "--use-compress-program", program,
        "--exclude=./cache", "--exclude=./uploads", "--exclude=./logs",
        "-C", "/var/www/html", ".", "-C", "/tmp/adt-marker-x", "./XXXXXX-DO_NOT_REMOVE",
    ]  # fmt: skip

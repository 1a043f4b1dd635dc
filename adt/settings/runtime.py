"""The build machine's runtime data: `${BUILD_HOME}/runtimedata/` as the original lays it out.

    runtimedata/ACTIVE_CLOUDHOST, ACTIVE_BUILD_IDENTIFIER, current_template_name
    runtimedata/<cloudhost>/<build_identifier>/build_environment    NAME=value lines (0600)
    runtimedata/<cloudhost>/<build_identifier>/{credentials,keys,ips,logs,ssl,cloud-init}/

The active files are only defaults: every command also takes the cloud host and build identifier.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from adt.errors import AdtError
from adt.settings.providers import CLOUDHOSTS
from adt.settings.template import write_atomically

SUBDIRECTORIES = ("credentials", "keys", "ips", "logs", "ssl", "cloud-init")


class RuntimeData:
    def __init__(self, build_home: Path):
        self.build_home = Path(build_home)
        self.root = self.build_home / "runtimedata"

    def _read(self, name: str) -> Optional[str]:
        try:
            return (self.root / name).read_text().strip() or None
        except FileNotFoundError:
            return None

    def active(self) -> Tuple[Optional[str], Optional[str]]:
        return self._read("ACTIVE_CLOUDHOST"), self._read("ACTIVE_BUILD_IDENTIFIER")

    def set_active(self, cloudhost: str, build_identifier: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        write_atomically(self.root / "ACTIVE_CLOUDHOST", cloudhost + "\n", 0o600)
        write_atomically(self.root / "ACTIVE_BUILD_IDENTIFIER", build_identifier + "\n", 0o600)

    def resolve(self, cloudhost: Optional[str] = None, build_identifier: Optional[str] = None) -> Tuple[str, str]:
        """The build to act on: the given one, else the active one."""
        active_cloudhost, active_identifier = self.active()
        cloudhost = cloudhost or active_cloudhost
        build_identifier = build_identifier or active_identifier
        if not cloudhost or not build_identifier:
            missing = "ACTIVE_CLOUDHOST" if not cloudhost else "ACTIVE_BUILD_IDENTIFIER"
            raise AdtError(
                f"no build given and {self.root / missing} is not set", "pass --cloudhost and --build-identifier"
            )
        if cloudhost not in CLOUDHOSTS:
            raise AdtError(f"unknown cloud host {cloudhost!r}", f"use one of: {', '.join(CLOUDHOSTS)}")
        return cloudhost, build_identifier

    def build_dir(self, cloudhost: str, build_identifier: str) -> Path:
        return self.root / cloudhost / build_identifier

    def ensure_build_dir(self, cloudhost: str, build_identifier: str) -> Path:
        """Create the per-build folder and its sub-folders, private to root."""
        base = self.build_dir(cloudhost, build_identifier)
        for directory in (self.root, self.root / cloudhost, base, *(base / s for s in SUBDIRECTORIES)):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        return base

    def environment_file(self, cloudhost: str, build_identifier: str) -> Path:
        return self.build_dir(cloudhost, build_identifier) / "build_environment"


class BuildEnvironment:
    """`build_environment`: `NAME=value` lines. The original's GetVariableValue prints the text after the
    first `=` of every line that begins `NAME=`, with every `"` removed; SetVariableValue replaces or
    appends. Writes here are atomic and the file is always 0600 (it holds the build's secrets)."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def _lines(self) -> List[str]:
        try:
            with open(self.path, encoding="utf-8", errors="surrogateescape", newline="") as handle:
                text = handle.read()
        except FileNotFoundError:
            return []
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        return lines

    def value(self, name: str, default: str = "") -> str:
        """The first value of NAME, or default."""
        return (self.get(name) or [default])[0]

    def values(self) -> Dict[str, str]:
        """Every NAME's first value (as `value` gives it), from one read of the file."""
        found: Dict[str, str] = {}
        for line in self._lines():
            name, sep, value = line.partition("=")
            if sep and name not in found:
                found[name] = value.replace('"', "")
        return found

    def get(self, name: str) -> List[str]:
        prefix = name + "="
        return [line[len(prefix) :].replace('"', "") for line in self._lines() if line.startswith(prefix)]

    def set(self, name: str, value: str) -> None:
        if "\n" in value:
            raise AdtError(f"the value for {name} holds a newline", "build_environment values are one line")
        prefix = name + "="
        lines, placed = [], False
        for line in self._lines():
            if line.startswith(prefix):
                if not placed:
                    lines.append(prefix + value)
                    placed = True
            else:
                lines.append(line)
        if not placed:
            lines.append(prefix + value)
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomically(self.path, "".join(line + "\n" for line in lines), 0o600)


def templates_dir(build_home: Optional[Path] = None) -> Path:
    """ADT_TEMPLATES_DIR, else `${BUILD_HOME}/templates` when it exists, else the templates adt ships."""
    explicit = os.environ.get("ADT_TEMPLATES_DIR")
    if explicit:
        return Path(explicit)
    if build_home and (Path(build_home) / "templates").is_dir():
        return Path(build_home) / "templates"
    return Path(__file__).resolve().parents[2] / "templates"

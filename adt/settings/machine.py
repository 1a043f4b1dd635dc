"""Machine settings files: `${HOME}/runtime/<role>_configuration_settings.dat`, one `KEY:value` a line.

Reading follows the original accessors (utilities/config/*.sh):
- value(KEY): the first line that begins `KEY:`, everything after the first colon (values may hold colons);
- values(KEY): every such line, its colon-separated fields after the key joined by single spaces;
- contains("KEY:VALUE"): the original's unanchored substring test (`ACTIVEFIREWALLS:1` also matches
  `ACTIVEFIREWALLS:12`), kept because callers rely on it.
Writing (store) anchors on the key, unlike the original: see docs/COMPATIBILITY.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Mapping, Optional

from adt.errors import AdtError
from adt.fs import write_atomically


def setting(values: Mapping[str, str], name: str) -> str:
    """A value by its build_environment name (DNS_SECURITY_KEY) or its machine settings name (DNSSECURITYKEY),
    whichever the mapping holds; '' when neither."""
    for key in (name, name.replace("_", "")):
        found = values.get(key)
        if found:
            return found
    return ""


def _read(path: Path) -> str:
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as handle:
        return handle.read()


def _lines(text: str) -> List[str]:
    """Lines as grep sees them: split on newline only."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


class MachineSettings:
    """The parsed `KEY:value` lines of one settings file."""

    def __init__(self, path: Path, lines: List[str]):
        self.path = Path(path)
        self.lines = lines

    @classmethod
    def load(cls, path: Path) -> "MachineSettings":
        path = Path(path)
        try:
            text = _read(path)
        except FileNotFoundError:
            raise AdtError(
                f"settings file {path} does not exist",
                "set --settings or ADT_SETTINGS_FILE, or check /home/homedir.dat",
            ) from None
        except OSError as exc:
            raise AdtError(
                f"cannot read settings file {path}: {exc.strerror}", "run as the user that owns it (normally root)"
            ) from None
        return cls(path, _lines(text))

    def value(self, key: str) -> Optional[str]:
        prefix = key + ":"
        for line in self.lines:
            if line.startswith(prefix):
                return line[len(prefix) :]
        return None

    def values(self, key: str) -> List[str]:
        prefix = key + ":"
        return [" ".join(line[len(prefix) :].split(":")) for line in self.lines if line.startswith(prefix)]

    def mapping(self) -> Dict[str, str]:
        """Every `KEY:value` line as a mapping, the first line of a key winning (as `value` reads it)."""
        found: Dict[str, str] = {}
        for line in self.lines:
            key, colon, value = line.partition(":")
            if colon:
                found.setdefault(key, value)
        return found

    def contains(self, pair: str) -> bool:
        return bool(pair) and any(pair in line for line in self.lines)

    def require(self, key: str) -> str:
        found = self.value(key)
        if found is None or found == "":
            raise AdtError(f"settings file {self.path} has no value for {key}", f"add a line '{key}:<value>' to it")
        return found


def store_value(path: Path, key: str, value: Optional[str] = None) -> None:
    """Replace every `KEY:` line (anchored) by `KEY:value`, or a bare `KEY` when value is None.

    The file is rewritten atomically (temporary file, then rename) and keeps its mode.
    """
    path = Path(path)
    try:
        lines = _lines(_read(path))
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        lines, mode = [], 0o600
    kept = [line for line in lines if ":" in line and not line.startswith(key + ":") and line != key]
    kept.append(key if value is None else f"{key}:{value}")
    write_atomically(path, "\n".join(kept) + "\n", mode)

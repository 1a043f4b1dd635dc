"""Where things are, discovered as the original does, every location overridable.

Order for each location: explicit option > ADT_* environment variable > the original's discovery file
(`/home/homedir.dat`) > the conventional environment variable (HOME). The build home differs: BUILD_HOME, set
by whoever runs a build-side script, wins over `/home/buildhome.dat`, and the adt checkout is the last resort.
The discovery files themselves can be moved with ADT_HOMEDIR_FILE and ADT_BUILDHOME_FILE, so tests run
entirely inside temporary directories.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Optional

from adt.errors import AdtError

ROLES = ("autoscaler", "database", "webserver")  # discovery order: an autoscaler also keeps a webserver copy
HOMEDIR_FILE = "/home/homedir.dat"
BUILDHOME_FILE = "/home/buildhome.dat"


def _read_pointer(path: str) -> Optional[str]:
    try:
        with open(path, encoding="utf-8") as handle:
            first = handle.readline().strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AdtError(f"cannot read {path}: {exc.strerror}", "run as root, as the original does") from None
    return first or None


def home_dir(env: Mapping[str, str] = os.environ, option: Optional[str] = None) -> Path:
    """The machine's home (`${HOME}` of the original scripts)."""
    found = option or env.get("ADT_HOME") or _read_pointer(env.get("ADT_HOMEDIR_FILE", HOMEDIR_FILE))
    found = found or env.get("HOME")
    if not found:
        raise AdtError(
            "cannot tell the machine's home directory", f"write it to {HOMEDIR_FILE}, or set ADT_HOME or --home"
        )
    return Path(found)


TOOLKIT = Path(__file__).resolve().parents[2]  # the adt checkout this code runs from, when it is one
ENTRY_POINT = "ExpeditedAgileDeploymentToolkit.sh"


def build_home(
    env: Mapping[str, str] = os.environ, option: Optional[str] = None, toolkit: Optional[Path] = None
) -> Path:
    """The build machine's toolkit root (`${BUILD_HOME}`), the one rule every build-side command uses:
    --build-home > ADT_BUILD_HOME > BUILD_HOME > /home/buildhome.dat (ADT_BUILDHOME_FILE) > the adt checkout
    this code runs from, when it is one (it holds ExpeditedAgileDeploymentToolkit.sh: the original's BUILD_HOME
    is the folder that script runs from). An installed adt with none of these is an error."""
    pointer = env.get("ADT_BUILDHOME_FILE", BUILDHOME_FILE)
    found = option or env.get("ADT_BUILD_HOME") or env.get("BUILD_HOME") or _read_pointer(pointer)
    if found:
        return Path(found)
    toolkit = toolkit or TOOLKIT
    if (toolkit / ENTRY_POINT).is_file():
        return toolkit
    raise AdtError(
        f"cannot tell the build home: no --build-home, BUILD_HOME or {pointer}, and adt does not run "
        f"from a toolkit checkout",
        "write the toolkit's path there, or set BUILD_HOME or ADT_BUILD_HOME",
    )


def settings_file(
    home: Path, env: Mapping[str, str] = os.environ, option: Optional[str] = None, role: Optional[str] = None
) -> Path:
    """The machine settings file: explicit path, else `<home>/runtime/<role>_configuration_settings.dat`."""
    explicit = option or env.get("ADT_SETTINGS_FILE")
    if explicit:
        return Path(explicit)
    role = role or env.get("ADT_ROLE")
    runtime = Path(home) / "runtime"
    if role:
        if role not in ROLES:
            raise AdtError(f"unknown machine role {role!r}", f"use one of: {', '.join(ROLES)}")
        return runtime / f"{role}_configuration_settings.dat"
    candidates = [runtime / f"{r}_configuration_settings.dat" for r in ROLES]
    for candidate in candidates:
        if candidate.exists():
            return candidate
    raise AdtError(
        f"no machine settings file in {runtime} (looked for {', '.join(c.name for c in candidates)})",
        "set --settings or ADT_SETTINGS_FILE, or --role, or check /home/homedir.dat",
    )

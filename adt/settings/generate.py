"""Writes the shipped templates from the schema (`adt template generate`), so they cannot drift apart.
A unit test checks that the files under templates/ are exactly what this produces."""

from __future__ import annotations

from pathlib import Path

from adt.settings import schema
from adt.settings.providers import CLOUDHOSTS

TITLES = {
    1: "Development mode: a virgin application (Joomla, WordPress, Drupal or Moodle)",
    2: "Development mode: an application deployed from its baseline repositories",
    3: "Production mode: an application restored from temporal backups, with autoscalers",
}
DESCRIPTIONS = {
    1: "One webserver and one database machine with a fresh install of the chosen CMS, to customise.",
    2: "One webserver and one database machine built from the <id>-webroot-sourcecode-baseline and\n"
    "<id>-db-baseline repositories that a baseline made.",
    3: "Autoscalers keep NO_WEBSERVERS webservers running from the newest backup of the chosen periodicity;\n"
    "the database comes from its backup too. Set GENERATE_SNAPSHOTS or AUTOSCALE_FROM_SNAPSHOTS for\n"
    "snapshot builds.",
}


def render_template(cloudhost: str, number: int) -> str:
    out = [
        "#" * 96,
        f"# adt template {cloudhost}{number}: {TITLES[number]}",
        "# Describe any variable with: adt template describe NAME      Check this file: adt template validate FILE",
        "# #MANDATORY: a build cannot succeed without a value.  #NOT REQUIRED: not used on this cloud host.",
        "#" * 96,
    ]
    group = None
    for var in schema.VARIABLES:
        if not var.in_template:
            continue
        if var.group != group:
            group = var.group
            out += ["", f"#####{group}#####"]
        mark = schema.requirement(var, cloudhost, number)
        line = f'export {var.name}="{schema.default(var, cloudhost, number)}"'
        out.append(f"{line}  #{mark}" if mark else line)
    return "\n".join(out) + "\n"


def render_description(cloudhost: str, number: int) -> str:
    title = TITLES[number]
    return (
        f"{title}\n{'-' * len(title)}\n{DESCRIPTIONS[number]}\n\n"
        f"Edit it with: helperscripts/EditTemplate.sh {cloudhost} {cloudhost}{number}.tmpl\n"
    )


def render_menu() -> str:
    return "".join(f"{n}. {TITLES[n]}\n" for n in sorted(TITLES))


def write_all(root: Path) -> list:
    written = []
    for cloudhost in CLOUDHOSTS:
        folder = Path(root) / cloudhost
        folder.mkdir(parents=True, exist_ok=True)
        files = {f"{cloudhost}{n}.tmpl": render_template(cloudhost, n) for n in TITLES}
        files.update({f"{cloudhost}{n}.description": render_description(cloudhost, n) for n in TITLES})
        files["templatemenu.md"] = render_menu()
        for name, text in files.items():
            (folder / name).write_text(text)
            written.append(folder / name)
    return written

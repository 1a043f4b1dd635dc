"""`adt template`: list, show, describe, get, set, validate, edit and override build templates."""

from __future__ import annotations

import html
import os
import shlex
from pathlib import Path
from typing import Optional

import click

from adt import run
from adt.errors import AdtError
from adt.settings import schema
from adt.settings import validate as checks
from adt.settings.providers import CLOUDHOSTS
from adt.settings.template import Template, write_atomically

MASK = "********"


def _build_home() -> Optional[Path]:
    from adt.settings.paths import build_home

    try:
        return build_home()
    except AdtError:
        return None


def _templates_dir() -> Path:
    from adt.settings.runtime import templates_dir

    return templates_dir(_build_home())


def _resolve(file: Optional[str], cloudhost: Optional[str], number: Optional[int]) -> Path:
    """A template named by path, or by cloud host and number."""
    if file:
        return Path(file)
    if cloudhost and number:
        return _templates_dir() / cloudhost / f"{cloudhost}{number}.tmpl"
    if not cloudhost and not number:
        home = _build_home()
        current = home / "runtimedata" / "current_template_name" if home else None
        if current and current.is_file() and current.read_text().strip():
            return Path(current.read_text().strip())
    raise click.UsageError("name a template: FILE, or --cloudhost and --template")


def _has_secret(template: Template) -> bool:
    return any(schema.BY_NAME.get(n) and schema.BY_NAME[n].secret and v for n, v in template.values().items())


def _problems(template: Template):
    return checks.validate_template(template)


def template_options(function):
    function = click.option(
        "--template", "-t", "number", type=click.IntRange(1, 3), help="Template number (with --cloudhost)."
    )(function)
    function = click.option("--cloudhost", "-c", type=click.Choice(CLOUDHOSTS), help="Cloud host of the template.")(
        function
    )
    return function


@click.group()
def template():
    """Build templates: `export VAR="value"` files, one per cloud host and kind of build.

    1: development from a virgin application; 2: development from a baseline; 3: production from
    temporal backups with autoscalers. Shipped under templates/<cloudhost>/<cloudhost><N>.tmpl.
    """


@template.command("list")
def list_():
    """List the templates of every cloud host with their titles."""
    root = _templates_dir()
    if not root.is_dir():
        raise AdtError(f"no templates folder at {root}", "set ADT_TEMPLATES_DIR or BUILD_HOME")
    for cloudhost in sorted(p.name for p in root.iterdir() if p.is_dir()):
        for path in sorted((root / cloudhost).glob("*.tmpl")):
            description = path.with_suffix(".description")
            title = description.read_text().splitlines()[0] if description.is_file() else ""
            click.echo(f"{path.relative_to(root)}  {title}".rstrip())


@template.command()
@click.argument("file", required=False)
@template_options
@click.option("--reveal", is_flag=True, help="Print secrets (tokens, keys, passwords) instead of masking them.")
def show(file, cloudhost, number, reveal):
    """Print a template's variables as NAME="value", secrets masked."""
    loaded = Template.load(_resolve(file, cloudhost, number))
    for name, value in loaded.values().items():
        var = schema.BY_NAME.get(name)
        shown = MASK if var and var.secret and value and not reveal else value
        click.echo(f'{name}="{shown}"')


@template.command()
@click.argument("name", required=False)
def describe(name):
    """Explain a variable (or list them all): group, allowed values, default, mandatory, secret."""
    if name is None:
        for var in schema.VARIABLES:
            click.echo(f"{var.name:45} {var.help}")
        return
    var = schema.BY_NAME.get(name)
    if var is None:
        hint = f"it was renamed to {schema.RENAMED[name]}" if name in schema.RENAMED else "see 'adt template describe'"
        raise AdtError(f"unknown variable {name}", hint)
    click.echo(f"{var.name}: {var.help}")
    click.echo(f"  group: {var.group}")
    if var.per_cloudhost:
        for cloudhost in CLOUDHOSTS:
            allowed = checks.short_list(schema.allowed(var, cloudhost), 40)
            click.echo(f"  allowed on {cloudhost}: {allowed or '(see help)'}")
    elif var.choices:
        click.echo(f"  allowed: {', '.join(var.choices)}{' (or empty)' if var.optional else ''}")
    elif var.kind == "int":
        click.echo(f"  allowed: {var.low}-{var.high}")
    defaults = {f"{c}{n}": schema.default(var, c, n) for c in CLOUDHOSTS for n in (1, 2, 3)}
    click.echo(f"  defaults: {', '.join(f'{k}={v!r}' for k, v in defaults.items())}")
    mandatory = [f"{c}{n}" for c in CLOUDHOSTS for n in (1, 2, 3) if schema.requirement(var, c, n) == "MANDATORY"]
    click.echo(f"  mandatory in: {', '.join(mandatory) or 'none'}")
    click.echo(f"  secret: {'yes' if var.secret else 'no'}")


@template.command()
@click.argument("name")
@click.argument("file", required=False)
@template_options
@click.option("--reveal", is_flag=True, help="Print the value even if it is a secret.")
def get(name, file, cloudhost, number, reveal):
    """Print one variable's value (nothing, exit 1, when the template does not define it)."""
    value = Template.load(_resolve(file, cloudhost, number)).get(name)
    if value is None:
        raise AdtError(f"the template does not define {name}")
    var = schema.BY_NAME.get(name)
    click.echo(MASK if var and var.secret and value and not reveal else value)


@template.command("set")
@click.argument("assignment", metavar="NAME=VALUE")
@click.argument("file", required=False)
@template_options
@click.option("--force", is_flag=True, help="Store a value the schema does not allow, or an unknown name.")
def set_(assignment, file, cloudhost, number, force):
    """Set one variable, keeping every other line, comment and the order; written atomically."""
    name, sep, value = assignment.partition("=")
    if not sep:
        raise click.UsageError(f"expected NAME=VALUE, got {assignment!r}")
    path = _resolve(file, cloudhost, number)
    loaded = Template.load(path)
    var = schema.BY_NAME.get(name)
    if not force:
        if var is None:
            raise AdtError(f"unknown variable {name}", "check the name with 'adt template describe', or use --force")
        reason = checks.check_value(var, value, checks.cloudhost_of(loaded.values(), str(path)))
        if reason:
            raise AdtError(f'{name}="{MASK if var.secret else value}": {reason}', "or use --force")
    updated = loaded.set(name, value)
    updated.save(secret=_has_secret(updated))


@template.command("validate")
@click.argument("file", required=False)
@template_options
@click.option("--quiet", "-q", is_flag=True, help="Print nothing; only the exit status tells.")
@click.pass_context
def validate_(ctx, file, cloudhost, number, quiet):
    """Check a template: every problem at once, each naming the variable, the value found and what is
    allowed. Exit 0 when valid, 1 when not. Without FILE: runtimedata/current_template_name."""
    path = _resolve(file, cloudhost, number)
    problems = _problems(Template.load(path))
    if not quiet:
        for problem in problems:
            click.echo(f"{path}: {problem.render()}")
        click.echo(f"{path}: {'valid' if not problems else f'{len(problems)} problem(s)'}", err=bool(problems))
    ctx.exit(1 if problems else 0)


@template.command()
@click.argument("cloudhost", required=False, type=click.Choice(CLOUDHOSTS))
@click.argument("file", required=False)
def edit(cloudhost, file):
    """Edit templates/<CLOUDHOST>/<FILE> in $VISUAL or $EDITOR (vi), then check it.

    The editor works on a copy: a result that does not parse is kept beside the template as
    <FILE>.rejected and the template is left as it was.
    """
    root = _templates_dir()
    cloudhost = cloudhost or click.prompt("Cloud host", type=click.Choice(CLOUDHOSTS))
    if not file:
        names = sorted(p.name for p in (root / cloudhost).glob("*.tmpl"))
        file = click.prompt("Template file", type=click.Choice(names))
    path = root / cloudhost / file
    original = Template.load(path)
    scratch = path.with_name(f".{path.name}.editing")
    write_atomically(scratch, original.render(), 0o600)
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    try:
        try:
            code = run.interactive(shlex.split(editor) + [str(scratch)], what=f"the editor {editor!r}")
        except AdtError as missing:
            raise AdtError(
                f"{missing.message}; {path} is unchanged", "set VISUAL or EDITOR to an editor that is installed"
            ) from None
        if code != 0:
            raise AdtError(f"the editor {editor!r} failed; {path} is unchanged")
        try:
            edited = Template.load(scratch)
        except AdtError as error:
            rejected = path.with_name(path.name + ".rejected")
            os.replace(scratch, rejected)
            raise AdtError(f"{error.message}; {path} is unchanged, your edit is in {rejected}") from None
        edited = Template(str(path), edited.lines)
        edited.save(secret=_has_secret(edited))
    finally:
        scratch.unlink(missing_ok=True)
    problems = _problems(edited)
    for problem in problems:
        click.echo(f"{path}: {problem.render()}", err=True)
    click.echo(f"{path}: saved, {'valid' if not problems else f'{len(problems)} problem(s)'}")


@template.command()
@click.argument("stack", required=False, type=click.Choice(["stack"]))
@template_options
@click.option("--set", "assignments", multiple=True, metavar="NAME=VALUE", help="A value to use (repeatable).")
@click.option("--all", "walk_all", is_flag=True, help="Also ask for the variables that are not MANDATORY.")
@click.option("--no-input", is_flag=True, help="Ask nothing: defaults plus --set values.")
@click.option(
    "--output-dir", type=click.Path(file_okay=False), help="Where to write (default: ${BUILD_HOME}/overridescripts)."
)
def override(stack, cloudhost, number, assignments, walk_all, no_input, output_dir):
    """Write an override template, overridescripts/<cloudhost><N>override.tmpl, from a shipped template:
    asks for each MANDATORY variable (with --all, every one) showing what it is; enter keeps the value,
    `reset` empties it. With `stack`, also writes the Linode StackScript UDF lines (.tmpl.stack).
    A previous override file is kept as <file>.<pid>. The result is validated."""
    if no_input and not (cloudhost and number):
        raise click.UsageError("--no-input needs --cloudhost and --template")
    cloudhost = cloudhost or click.prompt("Cloud host", type=click.Choice(CLOUDHOSTS))
    number = number or click.prompt("Template number", type=click.IntRange(1, 3))
    source = Template.load(_templates_dir() / cloudhost / f"{cloudhost}{number}.tmpl")
    given = {}
    for assignment in assignments:
        name, sep, value = assignment.partition("=")
        if not sep or name not in schema.BY_NAME:
            raise click.UsageError(f"--set expects NAME=VALUE with a known NAME, got {assignment!r}")
        given[name] = value
    result = source
    for line in source.assignments():
        value = given.get(line.name, line.value)
        var = schema.BY_NAME.get(line.name)
        ask = not no_input and line.name not in given and (walk_all or "MANDATORY" in line.tail)
        if ask:
            click.echo(f"\n{line.name}: {var.help if var else ''}")
            answer = click.prompt(
                f"{line.name}",
                default=value,
                show_default=not (var and var.secret),
                hide_input=bool(var and var.secret),
            )
            value = "" if answer == "reset" else answer
        result = result.set(line.name, value)
    directory = Path(output_dir) if output_dir else (_build_home() or Path.cwd()) / "overridescripts"
    target = directory / f"{cloudhost}{number}override.tmpl"
    if target.exists():
        os.replace(target, target.with_name(f"{target.name}.{os.getpid()}"))
    Template(str(target), result.lines).save(secret=True)
    if stack:
        udf = []
        for name, value in result.values().items():
            default = f' default="{html.escape(value)}"' if value else ""  # the UDF line is XML-like
            udf.append(f'# <UDF name="{name}" label="{name.replace("_", " ")}"{default} />\n')
        write_atomically(target.with_name(target.name + ".stack"), "".join(udf), 0o600)
    problems = _problems(Template(str(target), result.lines))
    for problem in problems:
        click.echo(f"{target}: {problem.render()}", err=True)
    click.echo(f"{target}: written, {'valid' if not problems else f'{len(problems)} problem(s)'}")


@template.command(hidden=True)
@click.option("--output", type=click.Path(file_okay=False), default=None, help="Folder (default: the shipped one).")
def generate(output):
    """Write the shipped templates from the schema (for adt's developers)."""
    from adt.settings.generate import write_all

    root = Path(output) if output else Path(__file__).resolve().parents[2] / "templates"
    click.echo(f"wrote {len(write_all(root))} files under {root}")

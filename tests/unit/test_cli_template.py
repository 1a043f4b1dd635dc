"""`adt template` and `adt variable` through Click, on temporary files."""

import os
import shutil
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from adt.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A build home with a copy of the shipped templates."""
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    monkeypatch.setenv("BUILD_HOME", str(tmp_path))
    monkeypatch.delenv("ADT_TEMPLATES_DIR", raising=False)
    return tmp_path


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_exit_codes_and_messages(home, capsys):
    code, out, err = run(capsys, "template", "validate", "-c", "local", "-t", "1")
    assert code == 0 and out.endswith("local1.tmpl: valid\n")
    code, out, err = run(capsys, "template", "validate", str(home / "templates/linode/linode1.tmpl"))
    assert code == 1
    assert 'CLOUDHOST_ACCOUNT_ID="": MANDATORY value missing' in out
    assert "11 problem(s)" in err
    code, out, err = run(capsys, "template", "validate", "-q", str(home / "templates/linode/linode1.tmpl"))
    assert (code, out, err) == (1, "", "")


def test_validate_without_file_uses_current_template_name(home, capsys):
    code, out, err = run(capsys, "template", "validate")
    assert code == 2 and "name a template" in err
    (home / "runtimedata").mkdir()
    (home / "runtimedata" / "current_template_name").write_text(str(home / "templates/local/local1.tmpl") + "\n")
    assert run(capsys, "template", "validate")[0] == 0


def test_validate_parse_error_is_one_line_with_file_and_line(home, capsys):
    broken = home / "broken.tmpl"
    broken.write_text('export A="1"\nexport B="2\n')
    code, out, err = run(capsys, "template", "validate", str(broken))
    assert code == 1 and f"{broken}:2: the value of B has no closing" in err and "Traceback" not in err


def test_get_show_and_set_mask_secrets(home, capsys):
    path = str(home / "templates/digitalocean/digitalocean1.tmpl")
    assert run(capsys, "template", "set", "TOKEN=dop_v1_secret", path)[0] == 0
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600  # it now holds a secret
    assert run(capsys, "template", "get", "TOKEN", path)[1] == "********\n"
    assert run(capsys, "template", "get", "TOKEN", path, "--reveal")[1] == "dop_v1_secret\n"
    code, out, _ = run(capsys, "template", "show", path)
    assert 'TOKEN="********"' in out and "dop_v1_secret" not in out and 'REGION="lon1"' in out
    assert "dop_v1_secret" in run(capsys, "template", "show", path, "--reveal")[1]


def test_set_writes_any_value_the_file_still_parses_and_get_gives_it_back(home, capsys):
    path = str(home / "templates/digitalocean/digitalocean1.tmpl")
    value = 'My "Shop" $5 `deals` \\o/ it\'s #1 é✓'
    assert run(capsys, "template", "set", f"WEBSITE_DISPLAY_NAME={value}", path)[0] == 0
    assert run(capsys, "template", "get", "WEBSITE_DISPLAY_NAME", path)[1] == value + "\n"
    code, out, err = run(capsys, "template", "show", path)  # the whole file still parses
    assert code == 0 and "WEBSITE_DISPLAY_NAME" in out, err
    code, _, err = run(capsys, "template", "set", "WEBSITE_DISPLAY_NAME=two\nlines", path)
    assert code == 1 and "holds a line break or a NUL byte" in err


def test_set_checks_the_value_and_keeps_the_rest(home, capsys):
    path = home / "templates/digitalocean/digitalocean1.tmpl"
    before = path.read_text()
    code, _, err = run(capsys, "template", "set", "REGION=lon9", str(path))
    assert code == 1 and 'REGION="lon9": not allowed on digitalocean' in err
    code, _, err = run(capsys, "template", "set", "REIGON=lon1", str(path))
    assert code == 1 and "unknown variable REIGON" in err
    assert path.read_text() == before
    assert run(capsys, "template", "set", "REGION=ams3", "-c", "digitalocean", "-t", "1")[0] == 0
    after = path.read_text()
    assert after == before.replace('export REGION="lon1"', 'export REGION="ams3"')
    assert run(capsys, "template", "set", "REGION=anything", str(path), "--force")[0] == 0


def test_describe(home, capsys):
    code, out, _ = run(capsys, "template", "describe", "REGION")
    assert code == 0 and "allowed on vultr: ams" in out
    code, _, err = run(capsys, "template", "describe", "BUILD_CHOICE")
    assert code == 1 and "renamed to BUILD_ARCHIVE_CHOICE" in err


def test_edit_saves_a_good_edit_and_rejects_a_broken_one(home, capsys, monkeypatch):
    path = home / "templates/local/local1.tmpl"
    editor = home / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/^export REGION=\"local\"/export REGION=\"elsewhere\"/' \"$1\"\n")
    editor.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(editor))
    code, out, err = run(capsys, "template", "edit", "local", "local1.tmpl")
    assert code == 0 and 'export REGION="elsewhere"' in path.read_text()
    assert 'REGION="elsewhere": not allowed on local' in err and "saved, 1 problem(s)" in out
    editor.write_text("#!/bin/sh\necho 'export BROKEN=\"' >> \"$1\"\n")
    before = path.read_text()
    code, _, err = run(capsys, "template", "edit", "local", "local1.tmpl")
    assert code == 1 and "unchanged" in err and path.read_text() == before
    assert (path.parent / "local1.tmpl.rejected").exists()
    assert not list(path.parent.glob(".local1.tmpl.editing*"))


def test_edit_with_a_missing_editor_is_one_clear_error(home, capsys, monkeypatch):
    path = home / "templates/local/local1.tmpl"
    before = path.read_text()
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", "no-such-editor --wait")
    code, out, err = run(capsys, "template", "edit", "local", "local1.tmpl")
    assert code == 1 and out == ""
    assert err == (f"adt: the editor 'no-such-editor --wait' needs no-such-editor, which is not installed; {path} "
                   "is unchanged\n  hint: set VISUAL or EDITOR to an editor that is installed\n")
    assert path.read_text() == before and not list(path.parent.glob(".local1.tmpl.editing*"))


def test_override_without_input(home, capsys):
    code, out, err = run(capsys, "template", "override", "stack", "-c", "vultr", "-t", "1", "--no-input",
                         "--set", "TOKEN=vultr-token", "--set", "REGION=ewr",
                         "--set", 'WEBSITE_DISPLAY_NAME=Nuts "&" <Bolts>')
    target = home / "overridescripts" / "vultr1override.tmpl"
    assert code == 0 and target.exists() and "written" in out
    text = target.read_text()
    assert 'export TOKEN="vultr-token"' in text and 'export REGION="ewr"' in text
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    stack = (home / "overridescripts" / "vultr1override.tmpl.stack").read_text()
    assert '# <UDF name="REGION" label="REGION" default="ewr" />' in stack
    assert 'default="Nuts &quot;&amp;&quot; &lt;Bolts&gt;" />' in stack  # a quote cannot end the attribute
    assert 'MANDATORY value missing' in err  # S3 keys etc. were not given
    run(capsys, "template", "override", "-c", "vultr", "-t", "1", "--no-input")
    assert len(list((home / "overridescripts").glob("vultr1override.tmpl.*"))) == 2  # .stack and the kept .<pid>


def test_override_asks_for_mandatory_values(home, tmp_path):
    answers = "\n".join(["", "AK", "SK", "tok", "ops@example.com", "dnskey", "Site", "example", "www.example.com",
                         "b1", "10.1.0.0/16"]) + "\n"
    result = CliRunner().invoke(__import__("adt.cli", fromlist=["cli"]).cli,
                                ["template", "override", "-c", "digitalocean", "-t", "1"], input=answers,
                                env={"BUILD_HOME": str(home)})
    assert result.exit_code == 0, result.output
    text = (home / "overridescripts" / "digitalocean1override.tmpl").read_text()
    assert 'export WEBSITE_URL="www.example.com"' in text and 'export S3_SECRET_KEY="SK"' in text
    assert "valid" in result.output


def test_variable_get_and_set(home, capsys):
    code, _, err = run(capsys, "variable", "get", "REGION")
    assert code == 1 and "ACTIVE_CLOUDHOST is not set" in err
    assert run(capsys, "variable", "set", "REGION=lon1", "-c", "digitalocean", "-b", "b1")[0] == 0
    assert run(capsys, "variable", "get", "REGION", "-c", "digitalocean", "-b", "b1")[1] == "lon1\n"
    env = home / "runtimedata" / "digitalocean" / "b1" / "build_environment"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    (home / "runtimedata" / "ACTIVE_CLOUDHOST").write_text("digitalocean\n")
    (home / "runtimedata" / "ACTIVE_BUILD_IDENTIFIER").write_text("b1\n")
    run(capsys, "variable", "set", "TOKEN=dop_secret")
    assert run(capsys, "variable", "get", "TOKEN")[1] == "********\n"
    assert run(capsys, "variable", "get", "TOKEN", "--reveal")[1] == "dop_secret\n"
    assert run(capsys, "variable", "get", "NOPE")[0] == 1
    assert run(capsys, "variable", "set", "novalue")[0] == 2

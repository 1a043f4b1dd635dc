"""Template files: parsing, round trips, the schema's shipped templates, and the broken-template corpus."""

import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from adt.errors import AdtError
from adt.settings import schema
from adt.settings.generate import render_description, render_menu, render_template
from adt.settings.providers import CLOUDHOSTS
from adt.settings.template import ParseError, Template
from adt.settings.validate import validate_template

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = sorted((ROOT / "tests" / "fixtures" / "templates").glob("*.tmpl"))


def test_parse_keeps_every_line_and_reads_values():
    text = '#####Head#####\nexport A="x y"  #MANDATORY\n\nexport B=plain\nexport C=\'$lit\'\nexport A="later"\n'
    template = Template.parse(text, "t")
    assert template.render() == text
    assert template.values() == {"A": "later", "B": "plain", "C": "$lit"}  # a later assignment wins, as in sh
    assert template.line_of("A") == 6
    assert template.assignments()[0].comment == "MANDATORY"


def test_set_changes_only_the_value_and_appends_new_names():
    text = '# top\nexport A="1"  #MANDATORY\nexport B=two\n'
    changed = Template.parse(text).set("B", "2 b").set("A", "9").set("NEW", "n")
    assert changed.render() == '# top\nexport A="9"  #MANDATORY\nexport B="2 b"\nexport NEW="n"\n'


@pytest.mark.parametrize("value", ["two\nlines", "carriage\rreturn", "nul\x00"])
def test_set_refuses_only_line_breaks_and_nul(value):
    with pytest.raises(AdtError, match="the value for A holds a line break or a NUL byte"):
        Template.parse('export A="1"\n').set("A", value)


any_line = st.text(alphabet=st.characters(blacklist_characters="\n\r\x00", blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=60, deadline=None)
@given(any_line)
def test_set_writes_any_value_that_parses_and_sources_back_exactly(value):
    import subprocess

    text = Template.parse('# t\nexport A="1"  #MANDATORY\nexport B="2"\n').set("A", value).render()
    assert Template.parse(text).get("A") == value
    sourced = subprocess.run(["sh", "-c", '. /dev/stdin; printf %s "$A"'], input=text.encode(), capture_output=True)
    assert sourced.stdout.decode() == value and sourced.returncode == 0
    assert text.split("\n")[2] == 'export B="2"'


@pytest.mark.parametrize("value", ['with "quote"', "$HOME", "`cmd`", "back\\slash", "ends\\", "# not a comment",
                                   "it's", '\\"', "$(id)", "  spaces  "])
def test_hard_values_round_trip(value):
    assert Template.parse(Template.parse('export A="1"\n').set("A", value).render()).get("A") == value


def test_an_unescaped_dollar_or_backquote_is_refused_with_its_line():
    for raw, sign in (('export A="$HOME"', "$"), ('export A="x`id`"', "`")):
        with pytest.raises(ParseError, match=f":2: the value of A holds an unescaped \\{sign}"):
            Template.parse("# t\n" + raw + "\n", "t.tmpl")
    assert Template.parse('export A="\\$HOME \\` \\\\ \\" \\x"\n').get("A") == '$HOME ` \\ " \\x'


def test_parse_error_names_file_and_line():
    with pytest.raises(ParseError) as error:
        Template.parse('# ok\nexport A="1"\nexport B="2\n', "/x/t.tmpl")
    assert error.value.message.startswith("/x/t.tmpl:3: ")
    assert error.value.line == 3


def test_load_rejects_binary_with_a_line(tmp_path):
    path = tmp_path / "t.tmpl"
    path.write_bytes(b'export A="1"\nexport B="\xff"\n')
    with pytest.raises(ParseError, match=r"t.tmpl:2: not UTF-8"):
        Template.load(path)
    path.write_bytes(b'export A="1"\n\x00\n')
    with pytest.raises(ParseError, match=r":2: a NUL byte"):
        Template.load(path)


def test_save_is_atomic_keeps_mode_and_protects_secrets(tmp_path):
    path = tmp_path / "t.tmpl"
    path.write_text('export TOKEN=""\n')
    os.chmod(path, 0o640)
    Template.load(path).set("APPLICATION", "joomla").save()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    Template.load(path).set("TOKEN", "dop_secret").save(secret=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.tmpl"]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_parses_or_fails_clearly(text):
    try:
        template = Template.parse(text, "fuzz.tmpl")
    except ParseError as error:
        assert error.message.startswith("fuzz.tmpl:")
        return
    assert Template.parse(template.render(), "again").values() == template.values()


names = st.from_regex(r"[A-Z][A-Z0-9_]{0,15}", fullmatch=True)
values = st.text(alphabet=st.characters(blacklist_characters='"\n\r\x00$`\\', blacklist_categories=("Cs",)), max_size=30)
comments = st.one_of(st.just(""), st.text(alphabet="ABC xyz#", max_size=12).map(lambda c: "  #" + c))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(names, values, comments), max_size=12), st.data())
def test_parse_write_parse_round_trips_and_set_touches_one_line(entries, data):
    text = "# generated\n" + "".join(f'export {n}="{v}"{c}\n' for n, v, c in entries)
    template = Template.parse(text)
    assert template.render() == text
    if entries:
        name = data.draw(st.sampled_from([n for n, _, _ in entries]))
        new = data.draw(values)
        changed = template.set(name, new)
        assert Template.parse(changed.render()).get(name) == new
        before = [l for l in template.lines if l.name != name]
        after = [l for l in changed.lines if l.name != name]
        assert [l.render() for l in before] == [l.render() for l in after]


@pytest.mark.parametrize("cloudhost", CLOUDHOSTS)
@pytest.mark.parametrize("number", [1, 2, 3])
def test_shipped_templates_are_the_schema_and_only_lack_placeholders(cloudhost, number):
    folder = ROOT / "templates" / cloudhost
    path = folder / f"{cloudhost}{number}.tmpl"
    assert path.read_text() == render_template(cloudhost, number), "run: adt template generate"
    assert (folder / f"{cloudhost}{number}.description").read_text() == render_description(cloudhost, number)
    assert (folder / "templatemenu.md").read_text() == render_menu()
    problems = validate_template(Template.load(path))
    mandatory = {v.name for v in schema.VARIABLES if schema.requirement(v, cloudhost, number) == "MANDATORY"
                 and not schema.default(v, cloudhost, number)}
    assert {p.variable for p in problems} == mandatory
    assert all(p.message == "MANDATORY value missing" for p in problems)


def test_local_development_template_is_valid_as_shipped():
    assert validate_template(Template.load(ROOT / "templates" / "local" / "local1.tmpl")) == []


def test_corpus_is_large_enough():
    assert len(FIXTURES) >= 31  # 30 broken and a good one


@pytest.mark.parametrize("path", FIXTURES, ids=[p.name.split(".")[0] for p in FIXTURES])
def test_corpus_template_gives_exactly_its_expected_messages(path):
    expected = [line[len("# expect: "):] for line in path.read_text().splitlines() if line.startswith("# expect: ")]
    try:
        found = [problem.render() for problem in validate_template(Template.load(path))]
    except ParseError as error:
        found = [error.message]
    if path.name.startswith("good."):
        assert found == []
        return
    assert expected, "a broken template must say what it expects"
    assert len(found) == len(expected), found
    for message in expected:
        assert any(message in line for line in found), (message, found)


def test_secrets_never_appear_in_problems():
    template = Template.parse('export DNS_CHOICE="cloudflare"\nexport DNS_SECURITY_KEY="topsecretkey"\n', "x.tmpl")
    rendered = " ".join(p.render() for p in validate_template(template))
    assert "topsecretkey" not in rendered and "<hidden>" in rendered

"""Template files: `export NAME="value"  #comment` lines, comments and blank lines.

The parser accepts exactly the shape the toolkit's templates have (they are also sourced by sh), and
keeps every line as it was, so a template can be changed one value at a time and written back with its
comments, order and spacing intact. Anything else is a ParseError naming the file and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Dict, List, Optional, Union

from adt.errors import AdtError
from adt.fs import write_atomically  # noqa: F401  (imported from here by runtime, build, firewall)

NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_EXPORT = re.compile(rf"^(?P<lead>\s*export\s+)(?P<name>{NAME})=(?P<rest>.*)$")
_TAIL = re.compile(r"^(?P<tail>\s*(#.*)?)$")
_UNQUOTED = re.compile(r"^[^\s\"'#$`\\;|&<>()]*")


class ParseError(AdtError):
    def __init__(self, path: str, line: int, message: str):
        super().__init__(
            f"{path}:{line}: {message}",
            'template lines are export NAME="value" (optionally with a #comment), comments or blank',
        )
        self.path, self.line = path, line


@dataclass(frozen=True)
class Line:
    raw: str
    name: Optional[str] = None
    value: Optional[str] = None
    lead: str = ""
    quote: str = ""
    tail: str = ""

    def render(self) -> str:
        """The line as read (comments, spacing and quoting kept), or as written by `set` (raw is then empty)."""
        if self.name is None or self.raw:
            return self.raw
        value = quote_value(self.value or "") if self.quote == '"' else self.value
        return f"{self.lead}{self.name}={self.quote}{value}{self.quote}{self.tail}"

    @property
    def comment(self) -> str:
        return self.tail.strip().lstrip("#").strip()


_ESCAPED = '$`"\\'  # what a backslash escapes inside double quotes, for sh


def quote_value(value: str) -> str:
    """`value` as the inside of a double-quoted sh word: `$`, backquote, `"` and backslash escaped, so the shell
    that sources the template and this parser both read `value` back exactly."""
    return "".join("\\" + c if c in _ESCAPED else c for c in value)


def _double_quoted(path: str, number: int, name: str, rest: str):
    """The value of a double-quoted word at the start of `rest` and where it ends, as sh reads it; an unescaped
    `$` or backquote is refused (the shell would expand it: a template holds plain values)."""
    value: List[str] = []
    i = 1
    while i < len(rest):
        c = rest[i]
        if c == '"':
            return "".join(value), i + 1
        if c == "\\" and i + 1 < len(rest) and rest[i + 1] in _ESCAPED:
            value.append(rest[i + 1])
            i += 2
            continue
        if c in "$`":
            raise ParseError(
                path, number, f"the value of {name} holds an unescaped {c}, which the shell would expand (write \\{c})"
            )
        value.append(c)
        i += 1
    raise ParseError(path, number, f'the value of {name} has no closing "')


def _parse_line(path: str, number: int, raw: str) -> Line:
    stripped = raw.strip()
    if not stripped or stripped.startswith("#"):
        return Line(raw)
    match = _EXPORT.match(raw)
    if not match:
        shown = stripped if len(stripped) <= 40 else stripped[:37] + "..."
        raise ParseError(path, number, f'expected export NAME="value", a comment or a blank line, found {shown!r}')
    name, rest = match["name"], match["rest"]
    if rest[:1] == '"':
        quote = '"'
        value, end = _double_quoted(path, number, name, rest)
        after = rest[end:]
    elif rest[:1] == "'":
        quote = "'"
        end = rest.find(quote, 1)
        if end < 0:
            raise ParseError(path, number, f"the value of {name} has no closing {quote}")
        value, after = rest[1:end], rest[end + 1 :]
    else:
        quote = ""
        unquoted = _UNQUOTED.match(rest)
        assert unquoted is not None  # the pattern matches the empty string too
        value = unquoted.group(0)
        after = rest[len(value) :]
    if not _TAIL.match(after):
        raise ParseError(path, number, f"unexpected text after the value of {name}: {after.strip()[:30]!r}")
    return Line(raw, name, value, match["lead"], quote, after)


@dataclass(frozen=True)
class Template:
    path: str
    lines: tuple

    @classmethod
    def parse(cls, text: str, path: str = "<template>") -> "Template":
        if "\x00" in text:
            line = text[: text.index("\x00")].count("\n") + 1
            raise ParseError(path, line, "a NUL byte: this is not a text file")
        parts = text.split("\n")
        if parts and parts[-1] == "":
            parts.pop()
        return cls(path, tuple(_parse_line(path, i, raw.rstrip("\r")) for i, raw in enumerate(parts, 1)))

    @classmethod
    def load(cls, path: Union[str, Path]) -> "Template":
        path = str(path)
        try:
            data = Path(path).read_bytes()
        except FileNotFoundError:
            raise AdtError(f"template {path} does not exist", "see 'adt template list'") from None
        except OSError as exc:
            raise AdtError(f"cannot read template {path}: {exc.strerror}") from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError(path, data[: exc.start].count(b"\n") + 1, "not UTF-8 text") from None
        return cls.parse(text, path)

    # -- reading ---------------------------------------------------------------------------------
    def assignments(self) -> List[Line]:
        return [line for line in self.lines if line.name is not None]

    def values(self) -> Dict[str, str]:
        """Every variable's value; a later assignment wins, as when the shell sources the file."""
        return {line.name: line.value or "" for line in self.assignments() if line.name is not None}

    def get(self, name: str) -> Optional[str]:
        return self.values().get(name)

    def line_of(self, name: str) -> Optional[int]:
        found = None
        for number, line in enumerate(self.lines, 1):
            if line.name == name:
                found = number
        return found

    def render(self) -> str:
        return "".join(line.render() + "\n" for line in self.lines)

    # -- changing --------------------------------------------------------------------------------
    def set(self, name: str, value: str) -> "Template":
        """The template with every assignment of `name` given `value` (appended when absent)."""
        if not re.fullmatch(NAME, name):
            raise AdtError(f"{name!r} is not a variable name", "use letters, digits and _, not starting with a digit")
        if re.search(r"[\n\r\x00]", value):
            raise AdtError(
                f"the value for {name} holds a line break or a NUL byte",
                "a template value is one line of text (any other character is kept as it is)",
            )
        lines = list(self.lines)
        changed = False
        for index, line in enumerate(lines):
            if line.name == name:
                lines[index] = replace(line, raw="", value=value, quote='"')
                changed = True
        if not changed:
            lines.append(Line("", name, value, "export ", '"', ""))
        return Template(self.path, tuple(lines))

    def save(self, path: Optional[Union[str, Path]] = None, secret: bool = False) -> None:
        """Write atomically (temporary file, rename), keeping the mode; 0600 when it holds a secret."""
        target = Path(path or self.path)
        try:
            mode = target.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o644
        if secret:
            mode = 0o600
        write_atomically(target, self.render(), mode)

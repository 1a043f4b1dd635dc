"""Findings, waivers and the gate's decision: what the scanners report, how an operator waives one, and
the report and manifest a publication leaves behind.

Findings never carry a secret: `excerpt` shows the context with each secret masked to its first characters
and "…" (`mask`), and `manifest` holds only ids, rules, places and excerpts.

A finding's id ("F-" + 10 hex) is a hash of its rule, its place without line numbers (file path, or
table.column and the row's primary key) and the sha256 of the secret: it survives re-runs and edits that
move lines, and changes when the secret changes (a waiver is for one value, not for a place).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Set, Union

SEVERITIES = ("high", "medium", "low")

# ---------------------------------------------------------------------------------------------- findings


@dataclass(frozen=True)
class Finding:
    id: str  # "F-" + 10 hex, stable (see the module docstring)
    rule: str  # e.g. "aws-access-key-id"
    where: str  # "path:line" (files) or "table.column row <pk>" (dumps)
    excerpt: str  # context with the secret masked; never the secret itself
    severity: str  # "high" | "medium" | "low"


def finding_id(rule: str, place: str, secret: str, occurrence: int = 0) -> str:
    """The stable id: rule, place without line numbers, the secret's hash and, from the second identical
    (rule, place, secret) on, its rank."""
    secret_hash = hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()
    key = f"{rule}\0{place}\0{secret_hash}" + (f"\0{occurrence}" if occurrence else "")
    return "F-" + hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:10]


def mask(secret: str) -> str:
    """The first few characters and "…": 4 of a long secret, fewer of a short one, none of a tiny one."""
    n = len(secret)
    keep = 4 if n >= 16 else 2 if n >= 8 else 1 if n >= 5 else 0
    return secret[:keep] + "…"


class Ids:
    """Hands out ids, counting identical (rule, place, secret) so repeats get distinct, stable ids."""

    def __init__(self) -> None:
        self.seen: Counter = Counter()

    def __call__(self, rule: str, place: str, secret: str) -> str:
        key = (rule, place, secret)
        n = self.seen[key]
        self.seen[key] += 1
        return finding_id(rule, place, secret, n)


# ---------------------------------------------------------------------------------------------- waivers and gate


WAIVER_ID_RE = re.compile(r"^F-[0-9a-f]{10}$")


class Waivers:
    """Waived finding ids, from a plain file: one `ID  # comment` per line; blank lines and lines starting
    with # are ignored."""

    def __init__(self, entries: Optional[Mapping[str, str]] = None):
        self.entries: Dict[str, str] = dict(entries or {})

    @classmethod
    def parse(cls, text: str) -> "Waivers":
        entries: Dict[str, str] = {}
        for number, line in enumerate(text.splitlines(), 1):
            body, _, comment = line.partition("#")
            body = body.strip()
            if not body:
                continue
            if not WAIVER_ID_RE.match(body):
                raise ValueError(f"waivers line {number}: {body!r} is not a finding id (F- and 10 hex digits)")
            entries[body] = comment.strip()
        return cls(entries)

    @classmethod
    def load(cls, path: Union[str, Path]) -> "Waivers":
        """The waivers in `path`; none if the file does not exist."""
        try:
            return cls.parse(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()

    def dumps(self) -> str:
        width = max((len(i) for i in self.entries), default=0)
        return "".join(f"{i.ljust(width)}  # {c}\n" if c else f"{i}\n" for i, c in sorted(self.entries.items()))

    def save(self, path: Union[str, Path]) -> None:
        Path(path).write_text(self.dumps(), encoding="utf-8")

    def add(self, finding_id: str, comment: str = "") -> None:
        if not WAIVER_ID_RE.match(finding_id):
            raise ValueError(f"{finding_id!r} is not a finding id")
        self.entries[finding_id] = comment

    def remove(self, finding_id: str) -> None:
        self.entries.pop(finding_id, None)

    @property
    def ids(self) -> frozenset:
        return frozenset(self.entries)

    def __contains__(self, finding_id) -> bool:
        return finding_id in self.entries

    def __iter__(self):
        return iter(sorted(self.entries))

    def __len__(self) -> int:
        return len(self.entries)


class GateResult(tuple):
    """(blocking, waived), plus `.stale`: waiver ids that match no finding (reported, harmless), and `.ok`."""

    stale: List[str]

    def __new__(cls, blocking: List[Finding], waived: List[Finding], stale: List[str]):
        self = super().__new__(cls, (blocking, waived))
        self.stale = stale
        return self

    @property
    def blocking(self) -> List[Finding]:
        return self[0]

    @property
    def waived(self) -> List[Finding]:
        return self[1]

    @property
    def ok(self) -> bool:
        return not self[0]


def _ids_of(waived) -> Set[str]:
    if isinstance(waived, Waivers):
        return set(waived.ids)
    return {w.id if isinstance(w, Finding) else str(w) for w in (waived or ())}


def gate(findings: Iterable[Finding], waived_ids) -> GateResult:
    """Split findings into (blocking, waived) by the waived ids (a Waivers or any iterable of ids).
    Publication may go ahead when `blocking` is empty. Waiver ids matching no finding are in `.stale`."""
    ids = _ids_of(waived_ids)
    blocking: List[Finding] = []
    waived: List[Finding] = []
    for finding in findings:
        (waived if finding.id in ids else blocking).append(finding)
    seen = {f.id for f in blocking + waived}
    return GateResult(blocking, waived, sorted(ids - seen))


def stale_waivers(findings: Iterable[Finding], waived_ids) -> List[str]:
    return gate(findings, waived_ids).stale


# ---------------------------------------------------------------------------------------------- reporting

_SEVERITY_ORDER = {s: i for i, s in enumerate(SEVERITIES)}


def _natural(text: str) -> list:
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", text)]


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def report_lines(findings: Iterable[Finding], where_width: int = 60, excerpt_width: int = 80) -> List[str]:
    """A plain-text table, most severe first: ID, SEVERITY, RULE, WHERE, EXCERPT."""
    rows = sorted(findings, key=lambda f: (_SEVERITY_ORDER.get(f.severity, 9), f.rule, _natural(f.where)))
    table = [("ID", "SEVERITY", "RULE", "WHERE", "EXCERPT")]
    table += [(f.id, f.severity, f.rule, _clip(f.where, where_width), _clip(f.excerpt, excerpt_width)) for f in rows]
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(widths[i]) if i < 4 else cell for i, cell in enumerate(row)).rstrip() for row in table
    ]
    lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * 7)
    return lines


def manifest(findings: Iterable[Finding], waived) -> dict:
    """A JSON-able record of the gate's decision: no secret values, only ids, rules, places, excerpts.
    `waived` is a Waivers (its comments are kept) or an iterable of ids."""
    findings = list(findings)
    result = gate(findings, waived)
    comments = waived.entries if isinstance(waived, Waivers) else {}
    waived_ids = {f.id for f in result.waived}
    return {
        "version": 1,
        "ok": result.ok,
        "counts": {"total": len(findings), "blocking": len(result.blocking), "waived": len(result.waived)},
        "by_rule": dict(sorted(Counter(f.rule for f in findings).items())),
        "findings": [
            dict(
                {
                    "id": f.id,
                    "rule": f.rule,
                    "severity": f.severity,
                    "where": f.where,
                    "excerpt": f.excerpt,
                    "waived": f.id in waived_ids,
                },
                **({"waiver": comments[f.id]} if f.id in waived_ids and comments.get(f.id) else {}),
            )
            for f in findings
        ],
        "stale_waivers": result.stale,
    }

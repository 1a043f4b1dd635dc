"""The scaling profile: how many webservers each autoscaler keeps, in both of the original's layouts.

A mixed fleet agrees only if both layouts are written, since each generation of autoscaler reads one:
* current (since 2026-02): bucket `<U>-scaling-<CLOUDHOST>-<REGION>`, a zero-byte object
  `autoscaler-<n>/STATIC_SCALE:<count>` per autoscaler. Old readers list `autoscaler-<n>/` and strip
  `STATIC_SCALE` and `:` from every name they find, so nothing else is ever stored under `autoscaler-<n>/`.
* older (2025-07 to 2026-01): one zero-byte object `STATIC_SCALE:<a1>:<a2>:…` at the root of the config
  bucket, field n for autoscaler n.
We read the current layout first and fall back to the older one; we write both.

Replacing a count puts the new object first and only then deletes the others, so a reader never finds no
count: mid-way it may find two (an old reader then skips one cycle, as it does on any odd value; ours takes
the newest), and a crash mid-way leaves two, which the next write tidies.

Schedules (adt's own, unknown to the original) are text objects `schedules/autoscaler-<n>` in the scaling
bucket, outside `autoscaler-<n>/`: one rule per line, `<days> <HH:MM>-<HH:MM> <count>`, times in UTC (the one
clock the build machine and every autoscaler agree on), e.g. `mon-fri 08:00-18:00 4`. The first rule that
matches the moment gives the count in force, else the profile's count does. A range whose end is before its
start runs over midnight and belongs to the day it starts on (`fri 22:00-02:00` is Friday night).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any, Dict, FrozenSet, List, Optional, Sequence, Set, Tuple

from adt.datastore.config import ConfigDatastore, Entry
from adt.datastore.endpoints import Endpoint, endpoints_from_settings
from adt.datastore.naming import check_bucket_name, config_bucket, scaling_bucket
from adt.errors import AdtError

HARD_LIMIT = 20  # the original's HARD_LIMIT_WEBSERVERS: no autoscaler keeps more, whatever MAXWEBSERVERS says
OLD_PREFIX = "STATIC_SCALE:"
_CURRENT_KEY = re.compile(r"^autoscaler-(\d+)/STATIC_SCALE:(\d+)$")
_OLDER_KEY = re.compile(r"^STATIC_SCALE((?::\d+)+)$")


# -- pure cores ---------------------------------------------------------------------------------------------
def split(total: int, autoscalers: int) -> List[int]:
    """`total` webservers over `autoscalers` autoscalers, as evenly as can be, the remainder one each to the
    first ones (the original's ScalingUpdateEvent.sh and AdjustScaling.sh): split(5, 2) == [3, 2]."""
    if not isinstance(total, int) or total < 0:
        raise AdtError(f"a webserver count must be a whole number >= 0, not {total!r}")
    if not isinstance(autoscalers, int) or autoscalers < 1:
        raise AdtError(
            f"the number of autoscalers must be a whole number >= 1, not {autoscalers!r}",
            "a production build has NO_AUTOSCALERS >= 1",
        )
    base, extra = divmod(total, autoscalers)
    return [base + 1 if i < extra else base for i in range(autoscalers)]


def limit(max_webservers: int) -> int:
    """The most webservers one autoscaler keeps: MAXWEBSERVERS, itself capped at HARD_LIMIT."""
    if max_webservers < 0:
        raise AdtError(f"MAXWEBSERVERS must be a whole number >= 0, not {max_webservers}")
    return min(max_webservers, HARD_LIMIT)


def desired(count: int, max_webservers: int) -> int:
    """The count one autoscaler acts on: the profile's (or the schedule's) count capped by MAXWEBSERVERS and
    by HARD_LIMIT (the original caps what it builds in one cycle by both; capping the target itself means a
    fleet never grows past the cap, one cycle or many)."""
    if count < 0:
        raise AdtError(f"a webserver count must be a whole number >= 0, not {count}")
    return min(count, limit(max_webservers))


DEFAULT_MAX_WEBSERVERS = 10  # the template's default MAX_WEBSERVERS, for a settings file without MAXWEBSERVERS


def max_webservers(settings) -> int:
    """MAXWEBSERVERS of a machine's settings (DEFAULT_MAX_WEBSERVERS when absent)."""
    raw = settings.value("MAXWEBSERVERS") or str(DEFAULT_MAX_WEBSERVERS)
    if not raw.isdigit():
        raise AdtError(f"MAXWEBSERVERS in {settings.path} is {raw!r}, not a whole number", "fix the settings file")
    return int(raw)


def cap_total(total: int, autoscalers: int, max_webservers: int) -> int:
    """A fleet-wide total capped so that no autoscaler's share (see `split`) passes `limit(max_webservers)`."""
    split(total, autoscalers)  # validates both
    return min(total, limit(max_webservers) * autoscalers)


def parse_count(text: str, what: str = "the webserver count") -> int:
    """A whole number >= 0 written in decimal digits (what a key name or an operator gives)."""
    value = str(text).strip()
    if not value.isdigit() or not value.isascii():
        raise AdtError(f"{what} must be a whole number >= 0, not {text!r}")
    return int(value)


def current_key(number: int, count: int) -> str:
    return f"autoscaler-{number}/STATIC_SCALE:{count}"


def older_key(counts: List[int]) -> str:
    return "STATIC_SCALE" + "".join(f":{count}" for count in counts)


def _newest(candidates: Sequence[Tuple[Optional[datetime], int, Any]]) -> Any:
    """The value of the most recently modified entry; on a tie the larger count (one cycle too many webservers
    beats one too few)."""
    floor = datetime.min.replace(tzinfo=timezone.utc)
    return max(candidates, key=lambda c: (c[0] or floor, c[1]))[2]


def current_counts(entries: List[Entry]) -> Dict[int, int]:
    """Counts by autoscaler from a listing of the scaling bucket (names that are not a count are skipped)."""
    found: Dict[int, List[Tuple[Optional[datetime], int, int]]] = {}
    for entry in entries:
        match = _CURRENT_KEY.match(entry.key)
        if match and not entry.is_dir:
            count = int(match.group(2))
            found.setdefault(int(match.group(1)), []).append((entry.modified, count, count))
    return {number: _newest(candidates) for number, candidates in sorted(found.items())}


def older_counts(entries: List[Entry]) -> Dict[int, int]:
    """Counts by autoscaler (field n for autoscaler n) from a listing of the config bucket's root."""
    candidates = []
    for entry in entries:
        match = _OLDER_KEY.match(entry.key)
        if match and not entry.is_dir:
            fields = [int(f) for f in match.group(1)[1:].split(":")]
            candidates.append((entry.modified, sum(fields), fields))
    if not candidates:
        return {}
    fields = _newest(candidates)
    return {number: count for number, count in enumerate(fields, start=1)}


# -- schedules (pure) ---------------------------------------------------------------------------------------
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RULE = re.compile(r"^(\S+)\s+(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})\s+(\S+)$")


@dataclass(frozen=True)
class Rule:
    days: FrozenSet[int]  # 0 = Monday, as datetime.weekday()
    start: int  # minutes after midnight, inclusive
    end: int  # minutes after midnight, exclusive; <= start runs over midnight
    count: int
    line: int = 0

    def matches(self, when: datetime) -> bool:
        minute = when.hour * 60 + when.minute
        day = when.weekday()
        if self.start < self.end:
            return day in self.days and self.start <= minute < self.end
        # over midnight: the evening of a listed day, or the early hours after one
        return (day in self.days and minute >= self.start) or ((day - 1) % 7 in self.days and minute < self.end)


def _days(text: str, where: str) -> FrozenSet[int]:
    if text in ("*", "daily"):
        return frozenset(range(7))
    chosen: Set[int] = set()
    for part in text.lower().split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise AdtError(
                f"{where}: {part!r} is not a day or a range of days",
                "days are mon, tue, wed, thu, fri, sat, sun, ranges (mon-fri, sat-sun, fri-mon), lists (mon,wed) or *",
            )
        a, b = DAYS.index(first), DAYS.index(last or first)
        chosen.update((a + i) % 7 for i in range((b - a) % 7 + 1))
    return frozenset(chosen)


def parse_schedule(text: str) -> List[Rule]:
    """Rules from a schedule's text: one `<days> <HH:MM>-<HH:MM> <count>` a line (UTC); blank lines and
    `#` comments are skipped. An AdtError names the first bad line."""
    rules = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        where = f"schedule line {number} ({raw.strip()!r})"
        match = _RULE.match(line)
        if not match:
            raise AdtError(
                f"{where} is not '<days> <HH:MM>-<HH:MM> <count>'", "for example: mon-fri 08:00-18:00 4 (UTC)"
            )
        days, h1, m1, h2, m2, count = match.groups()
        start, end = int(h1) * 60 + int(m1), int(h2) * 60 + int(m2)
        if int(h1) > 23 or int(m1) > 59 or int(m2) > 59 or end > 24 * 60:
            raise AdtError(f"{where}: times run from 00:00 to 24:00", "write hours 00-23 (24:00 only as an end)")
        end = end or 24 * 60  # an end of 00:00 is midnight, as 24:00 is
        if start == end:
            raise AdtError(f"{where}: the range starts where it ends", "for a whole day write 00:00-24:00")
        rules.append(Rule(_days(days, where), start, end, parse_count(count, where), number))
    return rules


def count_in_force(base: int, rules: List[Rule], now: datetime) -> int:
    """The count of the first rule that matches `now` (UTC; a naive datetime is taken as UTC), else `base`."""
    when = now.astimezone(timezone.utc) if now.tzinfo else now
    for rule in rules:
        if rule.matches(when):
            return rule.count
    return base


def schedule_key(number: int) -> str:
    return f"schedules/autoscaler-{number}"


# -- the datastore edge -------------------------------------------------------------------------------------
class Profile:
    """The scaling profile of one fleet (website, server user, cloud host, region) on its S3 endpoints."""

    def __init__(self, endpoints: List[Endpoint], website_url: str, server_user: str, cloudhost: str, region: str):
        if not region or not cloudhost:
            raise AdtError(
                "the scaling profile needs CLOUDHOST and REGION", "its bucket is <U>-scaling-<CLOUDHOST>-<REGION>"
            )
        self.scaling = ConfigDatastore(endpoints, scaling_bucket(website_url, cloudhost, region))
        self.config = ConfigDatastore(endpoints, config_bucket(website_url, server_user))
        check_bucket_name(self.scaling.bucket, "WEBSITEURL, CLOUDHOST and REGION")
        check_bucket_name(self.config.bucket, "WEBSITEURL and SERVERUSER")

    @classmethod
    def from_settings(cls, settings) -> "Profile":
        """A fleet machine's profile, from its settings file (WEBSITEURL, SERVERUSER, CLOUDHOST, REGION, S3*)."""
        url = settings.value("WEBSITEURLORIGINAL") or settings.require("WEBSITEURL")
        return cls(
            endpoints_from_settings(settings),
            url,
            settings.require("SERVERUSER"),
            settings.require("CLOUDHOST"),
            settings.require("REGION"),
        )

    @classmethod
    def for_build(cls, build) -> "Profile":
        """The build machine's profile of a build (an adt.build.config.BuildConfig: endpoint(), value(),
        cloudhost, region)."""
        build.require("WEBSITE_URL", "SERVER_USER")
        return cls(
            [build.endpoint()], build.value("WEBSITE_URL"), build.value("SERVER_USER"), build.cloudhost, build.region
        )

    # -- reads -------------------------------------------------------------------------------------------
    def current(self) -> Dict[int, int]:
        """Every autoscaler's count in the current layout."""
        return current_counts(self.scaling.list("autoscaler-"))

    def older(self) -> Dict[int, int]:
        """Every autoscaler's count in the older layout."""
        return older_counts(self.config.list(OLD_PREFIX, recursive=False))

    def read(self, number: int) -> Optional[int]:
        """Autoscaler `number`'s count: the current layout's, else field `number` of the older one, else None."""
        found = current_counts(self.scaling.list(f"autoscaler-{number}/")).get(number)
        return found if found is not None else self.older().get(number)

    def counts(self) -> Dict[int, int]:
        """Every autoscaler's count, the current layout's where it has one, by autoscaler number."""
        return dict(sorted({**self.older(), **self.current()}.items()))

    def report(self, no_autoscalers: int, max_webservers: int, now: Optional[datetime] = None) -> List[dict]:
        """Per autoscaler (1 to NO_AUTOSCALERS, and any other the profile names): its count in each layout, its
        schedule's rules, the count in force at `now`, the cap and what it acts on (`desired`)."""
        now = now or datetime.now(timezone.utc)
        current, older = self.current(), self.older()
        cap = limit(max_webservers)
        rows = []
        for number in sorted(set(range(1, no_autoscalers + 1)) | set(current) | set(older)):
            text = self.schedule_text(number)
            rules = parse_schedule(text) if text else []
            base = current.get(number, older.get(number))
            scheduled = count_in_force(-1, rules, now)
            in_force = scheduled if scheduled >= 0 else base
            rows.append(
                {
                    "autoscaler": number,
                    "current": current.get(number),
                    "older": older.get(number),
                    "schedule": [line.strip() for line in (text or "").splitlines() if line.strip()],
                    "scheduled": scheduled >= 0,
                    "in_force": in_force,
                    "cap": cap,
                    "desired": None if in_force is None else desired(in_force, max_webservers),
                }
            )
        return rows

    # -- writes ------------------------------------------------------------------------------------------
    def write(self, counts: Dict[int, int], whole: bool = False) -> None:
        """Store the given autoscalers' counts in both layouts. The older layout's single object holds every
        autoscaler from 1 up, so the others keep the count they have; an autoscaler below the highest given
        with no count anywhere is refused (write them all, e.g. with a split) before anything changes.
        With `whole`, `counts` is the whole profile: any other autoscaler's count is removed."""
        if not counts:
            raise AdtError("no autoscaler counts to write")
        for number, count in counts.items():
            if not isinstance(number, int) or number < 1:
                raise AdtError(f"autoscaler numbers start at 1, not {number!r}")
            if not isinstance(count, int) or count < 0:
                raise AdtError(f"autoscaler {number}'s count must be a whole number >= 0, not {count!r}")
        merged = dict(counts) if whole else {**self.counts(), **counts}
        highest = max(merged)
        gaps = [n for n in range(1, highest + 1) if n not in merged]
        if gaps:
            raise AdtError(
                f"autoscaler(s) {', '.join(map(str, gaps))} have no count, and the older layout needs one for "
                f"each autoscaler up to {highest}",
                "give every autoscaler a count (adt scale adjust --total N splits one across them)",
            )
        for number in sorted(counts):
            self._replace(self.scaling, f"autoscaler-{number}/", current_key(number, counts[number]))
        self._replace(self.config, OLD_PREFIX, older_key([merged[n] for n in range(1, highest + 1)]))
        if whole:
            for number in self.current():
                if number not in counts:
                    self.scaling.delete(f"autoscaler-{number}/", recursive=True)

    def initialise(self, no_webservers: int, no_autoscalers: int) -> Dict[int, int]:
        """What a production build does: NO_WEBSERVERS split over NO_AUTOSCALERS, written in both layouts
        (counts of autoscalers beyond NO_AUTOSCALERS, from an earlier build, are removed). Returns the split."""
        counts = dict(enumerate(split(no_webservers, no_autoscalers), start=1))
        self.write(counts, whole=True)
        return counts

    @staticmethod
    def _replace(store: ConfigDatastore, prefix: str, key: str) -> None:
        """Put `key`, then delete every other key that starts with `prefix` (at the bucket's root when the
        prefix has no `/`): a reader finds the old count, both, or the new one, never none."""
        store.put(key)
        recursive = "/" in prefix
        stale = [e.key for e in store.list(prefix, recursive=recursive) if not e.is_dir and e.key != key]
        for old in stale:
            store.delete(old)

    # -- schedules ---------------------------------------------------------------------------------------
    def schedule_text(self, number: int) -> Optional[str]:
        """Autoscaler `number`'s schedule as stored, or None."""
        with TemporaryDirectory() as scratch:
            target = Path(scratch) / "schedule"
            if not self.scaling.get(schedule_key(number), target):
                return None
            return target.read_text(encoding="utf-8")

    def schedule(self, number: int) -> List[Rule]:
        text = self.schedule_text(number)
        return parse_schedule(text) if text else []

    def set_schedule(self, number: int, text: str) -> List[Rule]:
        """Store autoscaler `number`'s schedule (checked first: a bad schedule changes nothing)."""
        rules = parse_schedule(text)
        if not rules:
            raise AdtError("the schedule has no rules", "to remove a schedule, clear it")
        with TemporaryDirectory() as scratch:
            source = Path(scratch) / "schedule"
            source.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
            self.scaling.put(schedule_key(number), source)
        return rules

    def clear_schedule(self, number: int) -> None:
        self.scaling.delete(schedule_key(number))

    def count_in_force(self, number: int, now: Optional[datetime] = None) -> Optional[int]:
        """Autoscaler `number`'s count at `now` (default: this moment): its schedule's, else its profile's;
        None when it has neither a count nor a matching rule. Not capped: see `desired`."""
        base = self.read(number)
        rules = self.schedule(number)
        chosen = count_in_force(-1, rules, now or datetime.now(timezone.utc))
        return chosen if chosen >= 0 else base

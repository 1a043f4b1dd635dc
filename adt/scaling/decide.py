"""The autoscaler's decisions: a pure state machine per webserver.

`decide` takes what the autoscaler remembers (`Memory`), what one cycle saw (`Seen`, per webserver the cloud lists
for this autoscaler), the count it must keep and the time, and returns the new memory, the actions to take and the
transitions it made. Nothing here touches a machine, the cloud or DNS: the cycle (adt/scaling/cycle.py) observes,
records the new memory in the datastore (so the intent to create is there before the cloud is asked), then acts.

A webserver goes provisioning → bootstrapping → grace → in service → (draining →) terminating. Besides:
- unready: alive, but its application fails (its database, most often): out of DNS, kept;
- suspect: a liveness probe failed (machine, SSH or web server): out of DNS at once, not yet judged;
- dead: liveness failures confirmed (or the cloud says it stopped): replaced, then ended.

The rules, each tested (tests/unit/test_scaling_decide.py):
- liveness is separate from readiness: a readiness failure only takes a webserver out of DNS; only confirmed
  liveness failures (or a readiness failure of one webserver alone for `unready_limit`) replace it;
- a breaker: when more than `breaker_share` of the webservers fail their liveness probes together (two at least),
  nothing is ended and nothing is replaced: the cause is shared (the autoscaler's own network, most likely), and an
  alarm is raised once. When they fail their readiness and no webserver serves the site (none of this autoscaler's,
  nor, as the cycle probes, another's: a database outage), they stay in DNS and none is replaced: taking them all
  out would only add a DNS outage to the database's;
- launch before terminate: a dead webserver is ended once the webservers in service are back to the count (or
  after `build_timeout`), and only after one DNS TTL out of DNS; scale-in drains (out of DNS, one TTL) first;
- the intent to create is in the memory before the `create` action, which the cycle records first: a create is
  never repeated; an entry the cloud never lists is given up after `create_timeout`; a machine the cloud lists
  for this autoscaler that no entry claims (and that is not one of the build's own `-init-` webservers) is an
  orphan and is ended;
- a build not booted after `build_timeout` (the original's 30 minutes) is ended; scale-out comes in batches that
  start at `first_batch` builds in flight and double each time a batch serves, back to one with a back-off after
  a failed create; scale-in takes unhealthy first, then the newest, never the last webserver in service;
- each autoscaler decides only for the webservers named for it (`ws-<REGION>-<BUILD>-<n>-…`): two autoscalers
  never count or build the same slot.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, Optional, Sequence

PROVISIONING = "provisioning"
BOOTSTRAPPING = "bootstrapping"
GRACE = "grace"
IN_SERVICE = "in-service"
UNREADY = "unready"
SUSPECT = "suspect"
DEAD = "dead"
DRAINING = "draining"
TERMINATING = "terminating"
STATES = (PROVISIONING, BOOTSTRAPPING, GRACE, IN_SERVICE, UNREADY, SUSPECT, DEAD, DRAINING, TERMINATING)
PROBED = (GRACE, IN_SERVICE, UNREADY, SUSPECT, DEAD)  # booted: their liveness and readiness are probed
# why a webserver is dead: its liveness failures were confirmed, the cloud lists it stopped, or it stayed unready
# while others served the site
LIVENESS, STOPPED, UNREADY_TOO_LONG = "liveness", "stopped", "unready"


@dataclass(frozen=True)
class Policy:
    confirm_failures: int = 2  # consecutive failed liveness probes ...
    confirm_seconds: float = 8.0  # ... spanning at least this long make a webserver dead
    grace: float = 120.0  # a booted webserver has this long to pass its first readiness probe
    unready_limit: float = 600.0  # unready this long while another webserver serves the site: replaced
    create_timeout: float = 120.0  # a create the cloud never lists is given up after this
    build_timeout: float = 1800.0  # a build not booted after this is ended (the original: 30 minutes)
    ttl: float = 60.0  # the DNS TTL: a webserver is out of DNS this long before it is ended
    breaker_share: float = 0.5  # more than this share failing together: nothing is ended
    first_batch: int = 3  # builds in flight at first; doubles when a batch serves, one after an error
    max_batch: int = 16
    backoff: float = 10.0  # after a failed create, no create for this long, doubling ...
    backoff_max: float = 300.0  # ... up to this
    destroy_retry: float = 60.0  # a destroy the cloud has not done after this is asked again


@dataclass(frozen=True)
class Webserver:
    """What the autoscaler remembers of one webserver (recorded in the datastore between cycles)."""

    name: str
    state: str
    since: float  # when it entered its state
    created: float  # when the intent to create it was recorded (or it was adopted)
    ip: str = ""
    failures: int = 0  # consecutive failed liveness probes
    failing_since: float = 0.0  # when the current run of failures (and its time out of DNS) began
    reason: str = ""  # why it is in its state
    cause: str = ""  # dead: LIVENESS, STOPPED or UNREADY_TOO_LONG

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping) -> "Webserver":
        known = {f.name for f in dataclasses.fields(cls)}
        record = cls(**{k: v for k, v in data.items() if k in known})
        if record.state not in STATES:
            raise ValueError(f"unknown state {record.state!r}")
        return record


@dataclass(frozen=True)
class Memory:
    webservers: Mapping[str, Webserver] = field(default_factory=dict)
    batch: int = 0  # builds allowed in flight (0: the policy's first batch)
    errors: int = 0  # consecutive failed creates
    retry_at: float = 0.0  # no create before this
    breaker: bool = False  # the breaker is open (the alarm was raised)


@dataclass(frozen=True)
class Seen:
    """One cycle's observation of one webserver the cloud lists."""

    name: str
    ip: str = ""
    running: bool = True  # False: the cloud lists it stopped
    booted: bool = False  # its first boot is done (runtime/WEBSERVER_READY)
    alive: Optional[bool] = None  # liveness: SSH and the web server answer (None: not probed)
    ready: Optional[bool] = None  # readiness: the site's page, with its database (None: not probed)
    in_dns: bool = False


@dataclass(frozen=True)
class Action:
    kind: str  # create | admit | dns-add | dns-remove | destroy | forget | alarm
    name: str = ""
    ip: str = ""
    reason: str = ""


@dataclass(frozen=True)
class Transition:
    name: str
    before: str  # "" for a webserver new to the memory
    after: str  # "" for one forgotten
    reason: str


@dataclass(frozen=True)
class Decision:
    memory: Memory
    actions: List[Action]
    transitions: List[Transition]


def is_init(name: str) -> bool:
    """One of the webservers the build made (`ws-…-init-<k>`): adopted, never an orphan."""
    return "-init-" in name


class _Run:
    """One call of decide: the memory being changed, and what it said."""

    def __init__(self, memory: Memory, now: float):
        self.webservers: Dict[str, Webserver] = dict(memory.webservers)
        self.actions: List[Action] = []
        self.transitions: List[Transition] = []
        self.now = now
        self.served = False  # a webserver of a batch came into service: the next batch may be larger

    def move(self, w: Webserver, state: str, reason: str, cause: str = "", **changes) -> Webserver:
        new = dataclasses.replace(w, state=state, since=self.now, reason=reason, cause=cause, **changes)
        self.webservers[w.name] = new
        self.transitions.append(Transition(w.name, w.state, state, reason))
        return new

    def act(self, kind: str, w: Optional[Webserver] = None, reason: str = "", ip: str = "") -> None:
        self.actions.append(Action(kind, w.name if w else "", ip or (w.ip if w else ""), reason))

    def terminate(self, w: Webserver, reason: str) -> None:
        self.move(w, TERMINATING, reason)
        self.act("destroy", w, reason)

    def forget(self, w: Webserver, reason: str) -> None:
        del self.webservers[w.name]
        self.transitions.append(Transition(w.name, w.state, "", reason))
        self.act("forget", w, reason)

    def count(self, *states: str) -> int:
        return sum(1 for w in self.webservers.values() if w.state in states)


def decide(
    memory: Memory,
    seen: Mapping[str, Seen],
    desired: int,
    now: float,
    policy: Policy = Policy(),
    fresh_name: Callable[[], str] = lambda: "",
    stray_dns: Sequence[str] = (),
    elsewhere: bool = False,
) -> Decision:
    """The next step. `seen` is every machine the cloud lists for this autoscaler (running or stopped), by name;
    `desired` the count in force (capped already: adt.scaling.profile.desired); `fresh_name` gives an unused
    webserver name;
    `stray_dns` the addresses in DNS that no webserver the cloud lists has (a destroyed machine's); `elsewhere`
    whether a webserver this autoscaler does not keep (another autoscaler's) serves the site."""
    r = _Run(memory, now)
    listed_ips = {s.ip for s in seen.values() if s.ip}

    # machines the memory does not know: the build's own are adopted, any other is an orphan
    for name in sorted(set(seen) - set(r.webservers)):
        s = seen[name]
        w = Webserver(name, "", now, now, s.ip)
        if is_init(name):
            r.move(w, GRACE if s.booted else BOOTSTRAPPING, "adopted: one of the build's webservers")
            if s.booted:
                r.act("admit", r.webservers[name], "adopted booted")
        else:
            r.webservers[name] = w
            r.terminate(w, "orphan: no record claims it")

    for name in sorted(r.webservers):
        _step(r, r.webservers[name], seen.get(name), policy)

    probed = [w for w in r.webservers.values() if w.state in PROBED]
    liveness_failing = [w for w in probed if w.state == SUSPECT or (w.state == DEAD and w.cause == LIVENESS)]
    tripped = len(liveness_failing) >= 2 and len(liveness_failing) > policy.breaker_share * len(probed)
    unready = [w for w in probed if w.state == UNREADY]
    # unready ones stay in DNS (and none is replaced for it) while no webserver serves the site: the cause is
    # shared (the database), and taking them all out would only add a DNS outage to the database's
    served = elsewhere or any(w.state == IN_SERVICE for w in probed)
    hold = bool(unready) and not served
    breaker = memory.breaker
    if tripped and not breaker:
        r.act(
            "alarm",
            reason=f"{len(liveness_failing)} of {len(probed)} webservers fail their liveness probes together: "
            "nothing is ended or replaced until they answer again",
        )
    breaker = tripped

    # unready for too long while the site is served elsewhere: replaced (never while none serves: a shared cause)
    if not hold:
        for w in unready:
            if now - w.since >= policy.unready_limit:
                held = w.name in seen and seen[w.name].in_dns  # held in DNS until now: its TTL starts now
                reason = f"unready for {now - w.since:.0f} s while others serve the site"
                r.move(w, DEAD, reason, UNREADY_TOO_LONG, failing_since=now if held else w.since)

    # dead: ended after a TTL out of DNS, once the webservers in service are back to the count (launch first)
    if not tripped:
        in_service = r.count(IN_SERVICE)
        for w in sorted((w for w in r.webservers.values() if w.state == DEAD), key=lambda w: w.name):
            out_of_dns = now - (w.failing_since or w.since)
            if out_of_dns >= policy.ttl and (in_service >= desired or now - w.since >= policy.build_timeout):
                r.terminate(w, f"replaced: {w.reason}")

    batch, errors, retry_at = memory.batch or policy.first_batch, memory.errors, memory.retry_at
    if r.served:
        batch = min(batch * 2, policy.max_batch)
    counted = (PROVISIONING, BOOTSTRAPPING, GRACE, IN_SERVICE, UNREADY, SUSPECT) + ((DEAD,) if tripped else ())
    capacity = r.count(*counted)
    if capacity < desired and now >= retry_at:  # scale out (replacements included), a batch at a time
        in_flight = r.count(PROVISIONING, BOOTSTRAPPING)
        for _ in range(min(desired - capacity, max(0, batch - in_flight))):
            name = fresh_name()
            if not name or name in r.webservers or name in seen:
                break
            w = Webserver(name, "", now, now)
            r.move(w, PROVISIONING, f"scale out: {capacity} of {desired}")
            r.act("create", r.webservers[name], f"{capacity} of {desired} counted")
            capacity += 1
    elif capacity > desired and not tripped:  # scale in: unhealthy first, then the newest, never the last serving
        order = {SUSPECT: 0, UNREADY: 0, BOOTSTRAPPING: 1, GRACE: 1, IN_SERVICE: 2}
        candidates = sorted(
            (w for w in r.webservers.values() if w.state in order), key=lambda w: (order[w.state], -w.created, w.name)
        )
        in_service = r.count(IN_SERVICE)
        for w in candidates[: capacity - desired]:
            if w.state == IN_SERVICE:
                if in_service <= 1:
                    break
                in_service -= 1
            r.move(w, DRAINING, f"scale in: {capacity} for {desired}")

    # DNS follows the states: in service (and unready ones while the many-unready hold lasts) in, the rest out
    for name, w in sorted(r.webservers.items()):
        observed = seen.get(name)
        if observed is None or not w.ip:
            continue
        # the hold keeps in DNS those there already: it never puts in one that does not serve
        wanted = w.state == IN_SERVICE or (w.state == UNREADY and hold and observed.in_dns)
        if wanted and not observed.in_dns:
            r.act("dns-add", w, w.reason)
        elif not wanted and observed.in_dns:
            r.act("dns-remove", w, w.reason or w.state)
    for ip in sorted(set(stray_dns) - listed_ips):
        r.act("dns-remove", None, "in DNS but no webserver has this address", ip=ip)

    new = Memory(r.webservers, batch, errors, retry_at, breaker)
    return Decision(new, r.actions, r.transitions)


def _step(r: _Run, w: Webserver, s: Optional[Seen], policy: Policy) -> None:
    """One webserver's transition, from what the cycle saw of it (None: the cloud does not list it)."""
    now = r.now
    if w.state == PROVISIONING:
        if s is not None:
            r.move(w, BOOTSTRAPPING, "listed by the cloud", ip=s.ip)
        elif now - w.since >= policy.create_timeout:
            r.terminate(w, f"not listed {policy.create_timeout:.0f} s after its create")
        return
    if w.state == TERMINATING:
        if s is None:
            r.forget(w, "destroyed")
        elif now - w.since >= policy.destroy_retry:
            r.terminate(w, f"still listed: destroy asked again ({w.reason})")
        return
    if s is None:
        r.forget(w, "no longer listed by the cloud")
        return
    if s.ip and s.ip != w.ip:
        w = dataclasses.replace(w, ip=s.ip)
        r.webservers[w.name] = w
    if not s.running:
        if w.state != DEAD or w.cause != STOPPED:  # the cloud's verdict is surer than any probe's
            r.move(w, DEAD, "the cloud lists it stopped", STOPPED, failing_since=w.failing_since or now)
        return
    if w.state == BOOTSTRAPPING:
        if s.booted:
            r.move(w, GRACE, "booted")
            r.act("admit", w, "booted: the database and the firewalls admit it")
        elif now - w.created >= policy.build_timeout:
            r.terminate(w, f"build stuck: not booted after {policy.build_timeout:.0f} s")
        return
    if w.state == DRAINING:
        if now - w.since >= policy.ttl:
            r.terminate(w, w.reason)
        return
    if w.state == GRACE:
        if s.ready and s.alive is not False:
            r.move(w, IN_SERVICE, "serves the site")
            r.served = True
        elif now - w.since >= policy.grace:
            r.move(w, UNREADY, f"no passing readiness probe in {policy.grace:.0f} s of grace")
        return
    # in service, unready, suspect, dead: the probes decide
    if s.alive is False:
        failing_since = w.failing_since or now
        failures = w.failures + 1
        confirmed = failures >= policy.confirm_failures and now - failing_since >= policy.confirm_seconds
        if w.state == DEAD:
            r.webservers[w.name] = dataclasses.replace(w, failures=failures)
        elif confirmed:
            reason = f"liveness failed {failures} times in {now - failing_since:.0f} s"
            r.move(w, DEAD, reason, LIVENESS, failures=failures, failing_since=failing_since)
        elif w.state != SUSPECT:
            r.move(w, SUSPECT, "a liveness probe failed", failures=failures, failing_since=failing_since)
        else:
            r.webservers[w.name] = dataclasses.replace(w, failures=failures, failing_since=failing_since)
        return
    if s.alive is True and w.state == DEAD and w.cause == UNREADY_TOO_LONG:
        if s.ready:  # replaced for its readiness: only serving the site brings it back
            r.move(w, IN_SERVICE, "serves the site again")
        return
    if s.alive is True and (w.failures or w.failing_since):
        w = dataclasses.replace(w, failures=0, failing_since=0.0)
        r.webservers[w.name] = w
    if s.alive is True and w.state in (SUSPECT, DEAD):
        if s.ready:
            r.move(w, IN_SERVICE, "answers again")
        else:
            r.move(w, UNREADY, "alive again, the site not yet")
        return
    if s.ready is True and w.state == UNREADY:
        r.move(w, IN_SERVICE, "serves the site again")
    elif s.ready is False and w.state == IN_SERVICE:
        r.move(w, UNREADY, "the readiness probe failed (the site, with its database)")


def after_create(memory: Memory, name: str, ok: bool, now: float, policy: Policy = Policy()) -> Memory:
    """What the memory learns from a create's result: a failure ends the entry (the machine may exist all the
    same: the cycle asks the cloud to destroy it at once, and it is forgotten once the cloud no longer lists it),
    brings the batch back to one and backs off, doubling up to the limit."""
    if ok:
        return dataclasses.replace(memory, errors=0)
    webservers = dict(memory.webservers)
    if name in webservers:
        webservers[name] = dataclasses.replace(webservers[name], state=TERMINATING, since=now, reason="create failed")
    errors = memory.errors + 1
    wait = min(policy.backoff * 2 ** (errors - 1), policy.backoff_max)
    return dataclasses.replace(memory, webservers=webservers, errors=errors, retry_at=now + wait, batch=1)

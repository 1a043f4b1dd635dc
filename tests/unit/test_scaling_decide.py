"""The autoscaler's decisions (adt/scaling/decide.py), rule by rule, then on a simulated cloud.

The example tests are named after the rule or the transition they show and assert the exact actions. The fake
cloud below (machines that are listed, boot after a delay, answer or not; a DNS set; a database that can fail)
applies the actions the way the cycle does, so the longer stories and the hypothesis state machine run decide and
after_create exactly as the autoscaler will, on a fake clock, and check the rules after every cycle.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Set, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from adt.scaling.decide import (
    BOOTSTRAPPING,
    DEAD,
    DRAINING,
    GRACE,
    IN_SERVICE,
    PROVISIONING,
    SUSPECT,
    TERMINATING,
    UNREADY,
    Action,
    Decision,
    Memory,
    Policy,
    Seen,
    Webserver,
    after_create,
    decide,
    is_init,
)
from adt.scaling.profile import HARD_LIMIT

T0 = 1_000_000.0  # the fake clock's start (a real clock is never near 0)
POLICY = Policy()
PREFIX = "ws-r-b-1-"
COUNTED = (PROVISIONING, BOOTSTRAPPING, GRACE, IN_SERVICE, UNREADY, SUSPECT)


def n(short: str) -> str:
    return PREFIX + short


def ip_of(short: str) -> str:
    return "10.0.0." + str(sum(ord(c) for c in short) % 250 + 1)


def ws(short: str, state: str, since: float = T0, created: Optional[float] = None, **changes) -> Webserver:
    changes.setdefault("ip", ip_of(short))
    return Webserver(n(short), state, since, T0 - 1000 if created is None else created, **changes)


def memory(*webservers: Webserver, **changes) -> Memory:
    return Memory({w.name: w for w in webservers}, **changes)


def seen(short: str, *, running=True, booted=True, alive=True, ready=True, in_dns=False) -> Seen:
    return Seen(n(short), ip_of(short), running, booted, alive, ready, in_dns)


def listing(*observations: Seen) -> Dict[str, Seen]:
    return {s.name: s for s in observations}


def serving(*shorts: str) -> Dict[str, Seen]:
    return listing(*(seen(s, in_dns=True) for s in shorts))


def acts(d: Decision, *kinds: str) -> List[Tuple[str, str]]:
    return [(a.kind, a.name) for a in d.actions if not kinds or a.kind in kinds]


def moves(d: Decision) -> List[Tuple[str, str, str]]:
    return [(t.name, t.before, t.after) for t in d.transitions]


def names(*shorts: str) -> List[str]:
    return [n(s) for s in shorts]


# ---------------------------------------------------------------------------------------------------------------
# A fake cloud, a DNS set and a database, and an autoscaler that runs decide on them like the cycle does.


@dataclass
class Machine:
    name: str
    ip: str
    boot_at: float  # math.inf: its build is stuck
    running: bool = True
    crashed: bool = False  # the machine died: no SSH, nothing answers (for good)
    web_down: bool = False  # its web server stopped (it may start again)
    app_broken: bool = False  # its application fails alone


class Cloud:
    def __init__(self, now: float = T0):
        self.now = now
        self.machines: Dict[str, Machine] = {}  # listed
        self.appearing: Dict[str, Tuple[float, Machine]] = {}  # created, not yet listed (eventual consistency)
        self.leaving: Dict[str, float] = {}  # destroyed, still listed until then
        self.dns: Set[str] = set()
        self.ever_in_dns: Set[str] = set()
        self.left_dns: Dict[str, float] = {}  # ip -> when it left DNS
        self.db_down = False
        self.boot_delay = 40.0
        self.listing_delay = 0.0
        self.destroy_delay = 0.0
        self.fail_creates = False
        self.phantom = False  # a failed create makes the machine all the same (listed later)
        self.ips = 0

    def tick(self) -> None:
        for name, (at, machine) in list(self.appearing.items()):
            if at <= self.now:
                del self.appearing[name]
                self.machines[name] = machine
        for name, at in list(self.leaving.items()):
            if at <= self.now:
                del self.leaving[name]
                self.machines.pop(name, None)

    def new_ip(self) -> str:
        self.ips += 1
        return f"10.1.{self.ips // 250}.{self.ips % 250 + 1}"

    def add(self, name: str, booted: bool = True, in_dns: bool = False) -> Machine:
        machine = Machine(name, self.new_ip(), self.now - 1 if booted else self.now + self.boot_delay)
        self.machines[name] = machine
        if in_dns:
            self.dns_add(machine.ip)
        return machine

    def create(self, name: str) -> bool:
        machine = Machine(name, self.new_ip(), self.now + self.listing_delay + self.boot_delay)
        if self.fail_creates:
            if self.phantom:
                self.appearing[name] = (self.now + self.listing_delay + 30, machine)
            return False
        self.appearing[name] = (self.now + self.listing_delay, machine)
        return True

    def destroy(self, name: str) -> None:
        if name in self.machines:
            self.leaving.setdefault(name, self.now + self.destroy_delay)
        self.tick()

    def dns_add(self, ip: str) -> None:
        self.dns.add(ip)
        self.ever_in_dns.add(ip)
        self.left_dns.pop(ip, None)

    def dns_remove(self, ip: str) -> None:
        if ip in self.dns:
            self.dns.discard(ip)
            self.left_dns[ip] = self.now

    def observe(self, prefix: str) -> Dict[str, Seen]:
        out = {}
        for name, m in sorted(self.machines.items()):
            if not name.startswith(prefix):
                continue
            booted = m.running and self.now >= m.boot_at
            alive = (not m.crashed and not m.web_down) if booted else None
            ready = (not self.db_down and not m.app_broken) if alive else None
            out[name] = Seen(name, m.ip, m.running, booted, alive, ready, m.ip in self.dns)
        return out

    def listed_ips(self) -> Set[str]:
        return {m.ip for m in self.machines.values()}


@dataclass
class Cycle:
    before: Memory
    seen: Dict[str, Seen]
    desired: int
    now: float
    decision: Decision
    destroyed: List[Tuple[str, str]] = field(default_factory=list)  # (name, reason), create failures included


class Scaler:
    """One autoscaler: its memory, its name prefix, its count, and the cycle's order: decide, record, act."""

    def __init__(self, cloud: Cloud, desired: int = 0, prefix: str = PREFIX, policy: Policy = POLICY):
        self.cloud, self.desired, self.prefix, self.policy = cloud, desired, prefix, policy
        self.memory = Memory()
        self.serial = 0
        self.handed: Set[str] = set()
        self.created: List[str] = []
        self.served: Set[str] = set()  # the webservers that ever came into service
        self.cycles: List[Cycle] = []

    def fresh_name(self) -> str:
        """The lowest free slot, with a unique tail (as the real names have a random one)."""
        used = {name[len(self.prefix) :].split("-")[0] for name in [*self.memory.webservers, *self.handed]}
        slot = next(k for k in range(1, 1000) if str(k) not in used)
        self.serial += 1
        name = f"{self.prefix}{slot}-x{self.serial}"
        self.handed.add(name)
        return name

    def cycle(self) -> Cycle:
        cloud = self.cloud
        cloud.tick()
        total = len([x for x in [*cloud.machines, *cloud.appearing] if x.startswith(self.prefix)])
        observed = cloud.observe(self.prefix)
        stray = sorted(cloud.dns - cloud.listed_ips())
        self.handed = set()
        d = decide(self.memory, observed, self.desired, cloud.now, self.policy, self.fresh_name, stray)
        record = Cycle(self.memory, observed, self.desired, cloud.now, d)
        self.served |= {t.name for t in d.transitions if t.after == IN_SERVICE}
        for a in d.actions:
            assert a.kind != "dns-add" or a.name in self.served, f"{a.name} put in DNS, never having served"
        self.memory = d.memory
        for a in d.actions:
            if a.kind == "create":
                ok = cloud.create(a.name)
                self.created.append(a.name)
                self.memory = after_create(self.memory, a.name, ok, cloud.now, self.policy)
                if not ok:
                    record.destroyed.append((a.name, "create failed"))
                    check_destroy(cloud, a.name, self.policy)
                    cloud.destroy(a.name)
            elif a.kind == "destroy":
                record.destroyed.append((a.name, a.reason))
                check_destroy(cloud, a.name, self.policy)
                cloud.destroy(a.name)
            elif a.kind == "dns-add":
                cloud.dns_add(a.ip)
            elif a.kind == "dns-remove":
                cloud.dns_remove(a.ip)
        self.cycles.append(record)
        check_cycle(record, self.policy)
        now_total = len([x for x in [*cloud.machines, *cloud.appearing] if x.startswith(self.prefix)])
        assert now_total <= max(self.desired, total) + d.memory.batch, "more machines than the count and a batch"
        return record

    def run(self, cycles: int, step: float) -> List[Cycle]:
        out = []
        for _ in range(cycles):
            self.cloud.now += step
            out.append(self.cycle())
        return out

    def restart(self) -> None:
        """The autoscaler restarts: its memory comes back from the datastore (JSON)."""
        self.memory = roundtrip(self.memory)


def roundtrip(m: Memory) -> Memory:
    text = json.dumps(
        {
            "webservers": [w.to_json() for w in m.webservers.values()],
            **{f.name: getattr(m, f.name) for f in dataclasses.fields(m) if f.name != "webservers"},
        }
    )
    data = json.loads(text)
    webservers = [Webserver.from_json(w) for w in data.pop("webservers")]
    return Memory({w.name: w for w in webservers}, **data)


def check_destroy(cloud: Cloud, name: str, policy: Policy) -> None:
    """Launch before terminate's other half: what was in DNS left it a TTL before it is destroyed."""
    machine = cloud.machines.get(name)
    if machine is None or machine.ip not in cloud.ever_in_dns:
        return
    assert machine.ip not in cloud.dns, f"{name} destroyed while in DNS"
    out = cloud.now - cloud.left_dns[machine.ip]
    assert out >= policy.ttl, f"{name} destroyed {out:.0f} s after it left DNS (the TTL is {policy.ttl:.0f} s)"


def check_cycle(c: Cycle, policy: Policy) -> None:
    """The rules that hold for every decision, whatever happened before."""
    d, after = c.decision, c.decision.memory
    creates = [a.name for a in d.actions if a.kind == "create"]
    assert len(creates) == len(set(creates))
    for name in creates:
        assert name not in c.before.webservers and name not in c.seen, f"{name} built twice"
        assert after.webservers[name].state == PROVISIONING
    if creates:
        assert c.now >= c.before.retry_at, "a create during the back-off"
        assert len(creates) <= after.batch <= policy.max_batch
        counted = COUNTED + ((DEAD,) if after.breaker else ())
        assert sum(w.state in counted for w in after.webservers.values()) <= c.desired, "built beyond the count"
    in_flight = sum(w.state in (PROVISIONING, BOOTSTRAPPING) for w in after.webservers.values())
    assert len(after.webservers) <= max(HARD_LIMIT, c.desired) + in_flight + len(c.seen)
    alarms = [a for a in d.actions if a.kind == "alarm"]
    assert len(alarms) <= 1 and not (alarms and c.before.breaker), "the alarm is raised once"
    for t in d.transitions:
        if after.breaker and t.after == TERMINATING:
            assert t.before in ("", PROVISIONING, BOOTSTRAPPING, DRAINING, TERMINATING), (
                f"{t.name} ({t.before}) ended while the breaker is open: {t.reason}"
            )
        if t.before == IN_SERVICE and t.after == DRAINING:
            assert sum(w.state == IN_SERVICE for w in after.webservers.values()) >= 1, "the last one drained"
    for a in d.actions:
        if a.kind == "destroy":
            assert after.webservers[a.name].state == TERMINATING
            s = c.seen.get(a.name)
            retried = a.name in c.before.webservers and c.before.webservers[a.name].state == TERMINATING
            if "liveness" in a.reason and not retried:  # a retried destroy was decided before
                assert s is not None and s.alive is not True, f"{a.name} answers, ended for liveness: {a.reason}"


# ---------------------------------------------------------------------------------------------------------------
# Transitions, one by one


def test_provisioning_becomes_bootstrapping_when_the_cloud_lists_it():
    d = decide(memory(ws("1-a", PROVISIONING, ip="")), listing(seen("1-a", booted=False, alive=None)), 1, T0 + 5)
    assert moves(d) == [(n("1-a"), PROVISIONING, BOOTSTRAPPING)]
    assert d.memory.webservers[n("1-a")].ip == ip_of("1-a")
    assert d.actions == []


def test_provisioning_never_listed_is_given_up_after_create_timeout():
    m = memory(ws("1-a", PROVISIONING, ip=""))
    assert decide(m, {}, 1, T0 + POLICY.create_timeout - 1).actions == []
    d = decide(m, {}, 1, T0 + POLICY.create_timeout)
    assert d.actions == [Action("destroy", n("1-a"), "", "not listed 120 s after its create")]
    assert moves(d) == [(n("1-a"), PROVISIONING, TERMINATING)]


def test_bootstrapping_booted_goes_to_grace_and_is_admitted():
    d = decide(memory(ws("1-a", BOOTSTRAPPING)), listing(seen("1-a", alive=None, ready=None)), 1, T0 + 5)
    assert moves(d) == [(n("1-a"), BOOTSTRAPPING, GRACE)]
    assert d.actions == [Action("admit", n("1-a"), ip_of("1-a"), "booted: the database and the firewalls admit it")]


def test_stuck_build_is_ended_at_build_timeout():
    m = memory(ws("1-a", BOOTSTRAPPING, created=T0))
    unbooted = listing(seen("1-a", booted=False, alive=None, ready=None))
    assert decide(m, unbooted, 1, T0 + POLICY.build_timeout - 1).actions == []
    d = decide(m, unbooted, 1, T0 + POLICY.build_timeout)
    assert acts(d) == [("destroy", n("1-a"))]
    assert d.actions[0].reason == "build stuck: not booted after 1800 s"


def test_grace_ready_goes_in_service_and_into_dns():
    d = decide(memory(ws("1-a", GRACE)), listing(seen("1-a")), 1, T0 + 5)
    assert moves(d) == [(n("1-a"), GRACE, IN_SERVICE)]
    assert d.actions == [Action("dns-add", n("1-a"), ip_of("1-a"), "serves the site")]


def test_grace_without_a_passing_probe_becomes_unready_after_grace():
    m = memory(ws("1-a", GRACE), ws("1-b", IN_SERVICE), ws("1-c", IN_SERVICE))
    observed = {**serving("1-b", "1-c"), **listing(seen("1-a", ready=False))}
    assert decide(m, observed, 3, T0 + POLICY.grace - 1).transitions == []
    d = decide(m, observed, 3, T0 + POLICY.grace)
    assert moves(d) == [(n("1-a"), GRACE, UNREADY)]
    assert d.actions == []


def test_in_service_failing_readiness_becomes_unready_and_back():
    m = memory(ws("1-a", IN_SERVICE), ws("1-b", IN_SERVICE), ws("1-c", IN_SERVICE))
    d = decide(m, {**serving("1-b", "1-c"), **listing(seen("1-a", ready=False, in_dns=True))}, 3, T0 + 5)
    assert moves(d) == [(n("1-a"), IN_SERVICE, UNREADY)]
    assert acts(d) == [("dns-remove", n("1-a"))]
    d = decide(d.memory, {**serving("1-b", "1-c"), **listing(seen("1-a"))}, 3, T0 + 10)
    assert moves(d) == [(n("1-a"), UNREADY, IN_SERVICE)]
    assert acts(d) == [("dns-add", n("1-a"))]


def test_suspect_answering_again_goes_back_in_service():
    m = memory(ws("1-a", SUSPECT, failures=1, failing_since=T0), ws("1-b", IN_SERVICE), ws("1-c", IN_SERVICE))
    d = decide(m, {**serving("1-b", "1-c"), **listing(seen("1-a"))}, 3, T0 + 5)
    assert moves(d) == [(n("1-a"), SUSPECT, IN_SERVICE)]
    assert d.memory.webservers[n("1-a")].failures == 0
    assert acts(d) == [("dns-add", n("1-a"))]


def test_draining_waits_one_ttl_then_is_destroyed():
    m = memory(ws("1-a", DRAINING, reason="scale in: 2 for 1"), ws("1-b", IN_SERVICE))
    observed = {**serving("1-b"), **listing(seen("1-a"))}
    assert decide(m, observed, 1, T0 + POLICY.ttl - 1).actions == []
    d = decide(m, observed, 1, T0 + POLICY.ttl)
    assert d.actions == [Action("destroy", n("1-a"), ip_of("1-a"), "scale in: 2 for 1")]


def test_terminating_is_forgotten_once_gone_and_destroy_retried_after_destroy_retry():
    m = memory(ws("1-a", TERMINATING, reason="replaced"), ws("1-b", IN_SERVICE))
    observed = {**serving("1-b"), **listing(seen("1-a"))}
    assert decide(m, observed, 1, T0 + POLICY.destroy_retry - 1).actions == []
    d = decide(m, observed, 1, T0 + POLICY.destroy_retry)
    assert d.actions == [Action("destroy", n("1-a"), ip_of("1-a"), "still listed: destroy asked again (replaced)")]
    d = decide(d.memory, serving("1-b"), 1, T0 + POLICY.destroy_retry + 5)
    assert acts(d) == [("forget", n("1-a"))]
    assert n("1-a") not in d.memory.webservers


def test_a_webserver_the_cloud_stops_listing_is_forgotten():
    m = memory(ws("1-a", IN_SERVICE), ws("1-b", IN_SERVICE))
    d = decide(m, serving("1-b"), 1, T0 + 5, stray_dns=[ip_of("1-a")])
    assert moves(d) == [(n("1-a"), IN_SERVICE, "")]
    assert d.actions == [
        Action("forget", n("1-a"), ip_of("1-a"), "no longer listed by the cloud"),
        Action("dns-remove", "", ip_of("1-a"), "in DNS but no webserver has this address"),
    ]


# ---------------------------------------------------------------------------------------------------------------
# Liveness apart from readiness


def fleet(count: int, desired: Optional[int] = None, **cloud_changes) -> Tuple[Cloud, Scaler]:
    """A fleet of `count` webservers in service and in DNS, settled."""
    cloud = Cloud()
    for key, value in cloud_changes.items():
        setattr(cloud, key, value)
    scaler = Scaler(cloud, count if desired is None else desired)
    scaler.run(1, 0)
    cloud.boot_delay = 40
    scaler.run(40, 5)
    assert sorted(w.state for w in scaler.memory.webservers.values()) == [IN_SERVICE] * count
    return cloud, scaler


def test_a_killed_webserver_leaves_dns_at_once_is_dead_when_confirmed_and_is_replaced_before_its_end():
    cloud, scaler = fleet(2)
    victim = sorted(scaler.memory.webservers)[0]
    cloud.machines[victim].crashed = True
    first = scaler.run(1, 5)[0].decision
    assert moves(first) == [(victim, IN_SERVICE, SUSPECT)]
    assert acts(first) == [("dns-remove", victim)]
    assert cloud.machines[victim].ip not in cloud.dns
    second = scaler.run(1, 5)[0].decision  # two failures, but 5 s < confirm_seconds
    assert moves(second) == [] and second.actions == []
    third = scaler.run(1, 5)[0].decision  # three failures in 10 s
    assert moves(third)[0] == (victim, SUSPECT, DEAD)
    assert third.transitions[0].reason == "liveness failed 3 times in 10 s"
    assert [a.kind for a in third.actions] == ["create"]
    replacement = third.actions[0].name
    story = scaler.run(60, 5)
    served = next(k for k, c in enumerate(story) if (replacement, GRACE, IN_SERVICE) in moves(c.decision))
    ended = next(k for k, c in enumerate(story) if ("destroy", victim) in acts(c.decision))
    assert ended >= served
    assert story[ended].decision.actions[0].reason == "replaced: liveness failed 3 times in 10 s"
    assert sum(acts(c.decision).count(("destroy", victim)) for c in story) == 1
    assert {name: w.state for name, w in scaler.memory.webservers.items()} == {
        name: IN_SERVICE for name in cloud.machines
    }
    assert victim not in cloud.machines and len(cloud.machines) == 2


def test_a_killed_webserver_is_destroyed_only_after_the_replacement_serves_and_a_ttl_passed():
    cloud, scaler = fleet(3)
    victim = sorted(scaler.memory.webservers)[1]
    cloud.machines[victim].crashed = True
    cloud.boot_delay = 10  # the replacement serves before a TTL passed: the TTL still holds the end back
    story = scaler.run(40, 5)
    left = story[0].now
    replacement = next(a.name for c in story for a in c.decision.actions if a.kind == "create")
    served = next(c.now for c in story if (replacement, GRACE, IN_SERVICE) in moves(c.decision))
    ended = next(c.now for c in story if ("destroy", victim) in acts(c.decision))
    assert served < left + POLICY.ttl == ended


@given(
    count=st.integers(1, 6),
    cycles=st.integers(1, 60),
    step=st.sampled_from([1.0, 5.0, 30.0, 120.0, 700.0, 2000.0]),
)
@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
def test_a_database_outage_never_destroys_never_creates_and_keeps_dns(count, cycles, step):
    cloud, scaler = fleet(count)
    in_dns = set(cloud.dns)
    cloud.db_down = True
    story = scaler.run(cycles, step)
    kinds = {a.kind for c in story for a in c.decision.actions}
    assert kinds <= {"dns-add"}, kinds  # nothing created, destroyed or taken out of DNS
    assert cloud.dns == in_dns
    assert {w.state for w in scaler.memory.webservers.values()} == {UNREADY}
    cloud.db_down = False
    back = scaler.run(1, 5)[0].decision
    assert {t.after for t in back.transitions} == {IN_SERVICE} and back.actions == []


def test_a_database_outage_costs_no_webserver_even_when_another_dies_meanwhile():
    """The survivor of a crash during a database outage is as unready as all the others: held, never replaced."""
    cloud, scaler = fleet(2)
    cloud.db_down = True
    scaler.run(3, 5)
    survivor, victim = sorted(scaler.memory.webservers)
    cloud.machines[victim].crashed = True
    story = scaler.run(120, 30)  # an hour
    assert [t for c in story for t in c.decision.transitions if t.name == survivor] == []
    assert [a for c in story for a in c.decision.actions if a.name == survivor] == []
    assert cloud.machines[survivor].ip in cloud.dns
    assert scaler.memory.webservers[survivor].state == UNREADY


def test_unready_webservers_are_held_in_dns_only_while_none_serves_the_site():
    m = memory(*(ws(k, IN_SERVICE) for k in ("1-a", "2-b", "3-c", "4-d")))
    outage = listing(*(seen(k, ready=False, in_dns=True) for k in ("1-a", "2-b", "3-c", "4-d")))
    d = decide(m, outage, 4, T0 + 5)
    assert {t.after for t in d.transitions} == {UNREADY} and len(d.transitions) == 4
    assert d.actions == []  # all stay in DNS: none serves the site
    many = {**serving("1-a"), **listing(*(seen(k, ready=False, in_dns=True) for k in ("2-b", "3-c", "4-d")))}
    d = decide(m, many, 4, T0 + 5)
    assert acts(d) == [("dns-remove", x) for x in names("2-b", "3-c", "4-d")]  # one serves: they leave DNS
    d = decide(m, outage, 4, T0 + 5, elsewhere=True)  # another autoscaler's webservers serve it
    assert acts(d) == [("dns-remove", x) for x in names("1-a", "2-b", "3-c", "4-d")]
    one = {**serving("1-a", "2-b", "3-c"), **listing(seen("4-d", ready=False, in_dns=True))}
    d = decide(m, one, 4, T0 + 5)
    assert acts(d) == [("dns-remove", n("4-d"))]


def test_a_webserver_that_never_served_does_not_enter_dns_with_the_unready_hold():
    """The hold keeps webservers in DNS (a database outage): it never puts in one that never passed readiness."""
    m = memory(ws("1-a", UNREADY), ws("2-b", UNREADY), ws("3-c", GRACE))
    observed = listing(
        seen("1-a", ready=False, in_dns=True), seen("2-b", ready=False, in_dns=True), seen("3-c", ready=False)
    )
    d = decide(m, observed, 3, T0 + POLICY.grace)
    assert moves(d) == [(n("3-c"), GRACE, UNREADY)]
    assert d.actions == []


def test_one_webserver_unready_alone_beyond_unready_limit_is_replaced():
    cloud, scaler = fleet(4)
    victim = sorted(scaler.memory.webservers)[2]
    cloud.machines[victim].app_broken = True
    first = scaler.run(1, 5)[0].decision
    assert moves(first) == [(victim, IN_SERVICE, UNREADY)] and acts(first) == [("dns-remove", victim)]
    assert all(c.decision.actions == [] for c in scaler.run(int(POLICY.unready_limit // 30) - 1, 30))
    story = scaler.run(60, 10)
    limit = next(c.decision for c in story if c.decision.transitions)
    assert limit.transitions[0].reason == "unready for 600 s while others serve the site"
    assert moves(limit)[0] == (victim, UNREADY, DEAD)
    assert limit.transitions[0].reason.startswith("unready for ")
    assert acts(limit) == [("create", limit.actions[0].name)]
    later = [t for c in story for t in c.decision.transitions if t.name == victim][1:]
    assert [(t.before, t.after) for t in later] == [(DEAD, TERMINATING), (TERMINATING, "")]
    ended = next(c for c in story if ("destroy", victim) in acts(c.decision))
    assert sum(w.state == IN_SERVICE for w in ended.decision.memory.webservers.values()) == 4


def test_unready_replacement_waits_a_ttl_after_leaving_dns_even_when_held_in_dns_before():
    """Two webservers unready together are held in DNS; one serves again: the other, unready beyond the limit,
    leaves DNS now, and a TTL must pass from now, not from when it became unready."""
    cloud, scaler = fleet(2)
    held, other = sorted(scaler.memory.webservers)
    for name in (held, other):
        cloud.machines[name].app_broken = True
    scaler.run(int(POLICY.unready_limit // 30) + 1, 30)
    assert {cloud.machines[name].ip for name in (held, other)} <= cloud.dns
    cloud.machines[other].app_broken = False
    scaler.desired = 1
    cloud.now += 5
    d = decide(scaler.memory, cloud.observe(PREFIX), 1, cloud.now, stray_dns=[])
    assert (held, UNREADY, DEAD) in moves(d)
    assert acts(d, "destroy", "dns-remove") == [("dns-remove", held)]
    scaler.run(30, 5)  # check_destroy asserts the TTL
    assert held not in cloud.machines


# ---------------------------------------------------------------------------------------------------------------
# The breaker


def test_breaker_three_of_four_failing_liveness_ends_nothing_creates_nothing_raises_one_alarm():
    cloud, scaler = fleet(4)
    victims = sorted(scaler.memory.webservers)[1:]
    for v in victims:
        cloud.machines[v].crashed = True
    story = scaler.run(400, 5)  # well past confirm, ttl, build_timeout
    every = [a for c in story for a in c.decision.actions]
    assert [a.kind for a in every if a.kind not in ("dns-remove",)] == ["alarm"]
    assert next(a for a in every if a.kind == "alarm").reason == (
        "3 of 4 webservers fail their liveness probes together: nothing is ended or replaced until they answer again"
    )
    assert sorted(a.name for a in every if a.kind == "dns-remove") == victims
    assert scaler.memory.breaker
    assert {scaler.memory.webservers[v].state for v in victims} == {DEAD}
    for v in victims:
        cloud.machines[v].crashed = False
    back = scaler.run(1, 5)[0].decision
    assert sorted(acts(back)) == [("dns-add", v) for v in victims]
    assert not scaler.memory.breaker
    for v in victims:
        cloud.machines[v].web_down = True
    again = scaler.run(1, 5)[0].decision
    assert [a.kind for a in again.actions].count("alarm") == 1  # a new event, a new alarm


def test_breaker_does_not_trip_for_one_failing_in_two():
    m = memory(ws("1-a", IN_SERVICE), ws("2-b", IN_SERVICE))
    d = decide(m, {**serving("1-a"), **listing(seen("2-b", alive=False, ready=None, in_dns=True))}, 2, T0)
    assert not d.memory.breaker and acts(d) == [("dns-remove", n("2-b"))]


def test_the_cloud_listing_a_machine_stopped_makes_it_dead_and_replaced():
    cloud, scaler = fleet(2)
    victim = sorted(scaler.memory.webservers)[0]
    cloud.machines[victim].running = False
    first = scaler.run(1, 5)[0].decision
    assert moves(first)[0] == (victim, IN_SERVICE, DEAD) and len(first.transitions) == 2
    assert first.transitions[0].reason == "the cloud lists it stopped"
    assert [a.kind for a in first.actions] == ["create", "dns-remove"]
    story = scaler.run(40, 5)
    assert any(("destroy", victim) in acts(c.decision) for c in story)
    assert sorted(w.state for w in scaler.memory.webservers.values()) == [IN_SERVICE] * 2


def test_machines_the_cloud_lists_stopped_are_replaced_even_after_the_breaker_held_them():
    """Two webservers stop answering together: the breaker keeps them. Then the cloud lists them stopped: that
    is their own fault, no shared cause, and they are replaced."""
    cloud, scaler = fleet(2)
    for m in cloud.machines.values():
        m.crashed = True
    scaler.run(10, 5)
    assert scaler.memory.breaker and {w.state for w in scaler.memory.webservers.values()} == {DEAD}
    for m in cloud.machines.values():
        m.running = False
    story = scaler.run(1, 5)
    assert [a.kind for a in story[0].decision.actions] == ["create", "create"]


# ---------------------------------------------------------------------------------------------------------------
# Intent before the cloud call, orphans, restarts, several autoscalers


def test_create_is_recorded_in_memory_before_the_action():
    d = decide(Memory(), {}, 2, T0, fresh_name=iter(names("1-a", "2-b")).__next__)
    assert d.actions == [
        Action("create", n("1-a"), "", "0 of 2 counted"),
        Action("create", n("2-b"), "", "1 of 2 counted"),
    ]
    assert {name: w.state for name, w in d.memory.webservers.items()} == {
        n("1-a"): PROVISIONING,
        n("2-b"): PROVISIONING,
    }
    assert [t.reason for t in d.transitions] == ["scale out: 0 of 2", "scale out: 1 of 2"]


def test_fresh_name_already_used_stops_the_batch():
    m = memory(ws("1-a", IN_SERVICE))
    d = decide(m, serving("1-a"), 3, T0, fresh_name=lambda: n("1-a"))
    assert acts(d, "create") == []


def test_an_orphan_is_destroyed_an_init_webserver_is_adopted():
    observed = listing(
        seen("9-orphan"),
        Seen("ws-r-b-init-1", "10.2.0.1", booted=True, alive=True, ready=True),
        Seen("ws-r-b-init-2", "10.2.0.2", booted=False),
    )
    assert is_init("ws-r-b-init-1") and not is_init(n("9-orphan"))
    d = decide(Memory(), observed, 2, T0)
    assert moves(d) == [
        (n("9-orphan"), "", TERMINATING),
        ("ws-r-b-init-1", "", GRACE),
        ("ws-r-b-init-2", "", BOOTSTRAPPING),
        ("ws-r-b-init-1", GRACE, IN_SERVICE),  # booted and ready: it serves in the same cycle
    ]
    assert acts(d) == [("destroy", n("9-orphan")), ("admit", "ws-r-b-init-1"), ("dns-add", "ws-r-b-init-1")]
    assert [a.reason for a in d.actions if a.kind == "destroy"] == ["orphan: no record claims it"]


def test_a_restart_never_creates_twice():
    cloud = Cloud()
    cloud.listing_delay = 20  # the cloud lists a new machine late
    scaler = Scaler(cloud, 3)
    first = scaler.cycle().decision
    assert [a.kind for a in first.actions] == ["create"] * 3
    for _ in range(30):
        scaler.restart()
        cloud.now += 5
        scaler.cycle()
    assert len(scaler.created) == 3
    assert sorted(scaler.memory.webservers) == sorted(scaler.created)
    assert {w.state for w in scaler.memory.webservers.values()} == {IN_SERVICE}


def test_memory_roundtrip_through_json_is_exact():
    m = memory(
        ws("1-a", SUSPECT, failures=2, failing_since=T0 - 3, reason="x"),
        batch=6,
        errors=2,
        retry_at=T0 + 9,
        breaker=True,
    )
    assert roundtrip(m) == m
    with pytest.raises(ValueError, match="unknown state 'gone'"):
        Webserver.from_json({**ws("1-a", IN_SERVICE).to_json(), "state": "gone", "extra": 1})


def test_two_autoscalers_keep_their_own_counts():
    cloud = Cloud()
    one = Scaler(cloud, 2, prefix="ws-r-b-1-")
    two = Scaler(cloud, 3, prefix="ws-r-b-2-")
    for _ in range(30):
        one.cycle()
        two.cycle()
        cloud.now += 5
    mine = {s: sorted(w for w in s.memory.webservers) for s in (one, two)}
    assert len(mine[one]) == 2 and all(w.startswith("ws-r-b-1-") for w in mine[one])
    assert len(mine[two]) == 3 and all(w.startswith("ws-r-b-2-") for w in mine[two])
    assert sorted(cloud.machines) == sorted(mine[one] + mine[two])
    assert len(cloud.dns) == 5
    assert not any(
        a.kind in ("destroy", "dns-remove") for s in (one, two) for c in s.cycles for a in c.decision.actions
    )


# ---------------------------------------------------------------------------------------------------------------
# Scale out, back-off, scale in


def test_slow_start_first_batch_in_flight_then_doubles_when_one_serves_up_to_max_batch():
    policy = Policy(first_batch=3, max_batch=4)
    cloud = Cloud()
    cloud.boot_delay = 1000
    scaler = Scaler(cloud, 12, policy=policy)
    assert [a.kind for a in scaler.cycle().decision.actions] == ["create"] * 3
    assert all(c.decision.actions == [] or {a.kind for a in c.decision.actions} == {"admit"} for c in scaler.run(3, 5))
    cloud.now = T0 + 1000
    story = scaler.run(3, 1)  # all three boot, then serve: the batch doubles, capped at max_batch
    assert scaler.memory.batch == 4
    created = [a for c in story for a in c.decision.actions if a.kind == "create"]
    assert len(created) == 4


def test_after_create_failure_backs_off_doubling_up_to_backoff_max_and_batch_one():
    m = memory(ws("1-a", PROVISIONING, ip=""), batch=8)
    waits = []
    for k in range(8):
        m = dataclasses.replace(m, webservers={n("1-a"): ws("1-a", PROVISIONING, ip="")})
        m = after_create(m, n("1-a"), False, T0)
        waits.append(m.retry_at - T0)
        assert m.batch == 1 and m.errors == k + 1
        assert m.webservers[n("1-a")].state == TERMINATING and m.webservers[n("1-a")].reason == "create failed"
    assert waits == [10, 20, 40, 80, 160, 300, 300, 300]
    m = after_create(m, n("1-a"), True, T0)
    assert m.errors == 0 and m.batch == 1


def test_after_a_failed_create_the_entry_is_destroyed_then_forgotten_and_creates_wait_the_back_off():
    cloud = Cloud()
    cloud.fail_creates = True
    scaler = Scaler(cloud, 2)
    first = scaler.cycle()
    assert [a.kind for a in first.decision.actions] == ["create"] * 2
    assert [r for _, r in first.destroyed] == ["create failed"] * 2
    assert scaler.memory.batch == 1 and scaler.memory.retry_at == T0 + 20  # two failures: 10, then 20
    cloud.fail_creates = False
    cloud.now = T0 + 19
    early = scaler.cycle().decision
    assert acts(early, "create") == [] and sorted(acts(early)) == sorted(("forget", x) for x in scaler.created)
    cloud.now = T0 + 20
    assert [a.kind for a in scaler.cycle().decision.actions] == ["create"]  # one: the batch is back to one


def test_scale_in_takes_unhealthy_first_then_building_newest_then_in_service_newest_never_the_last():
    m = memory(
        ws("1-a", IN_SERVICE, created=T0 - 900),
        ws("2-b", IN_SERVICE, created=T0 - 800),
        ws("3-c", IN_SERVICE, created=T0 - 700),
        ws("4-d", SUSPECT, created=T0 - 600, failures=1, failing_since=T0 - 1),
        ws("5-e", UNREADY, created=T0 - 500),
        ws("6-f", BOOTSTRAPPING, created=T0 - 10),
        ws("7-g", GRACE, created=T0 - 20),
    )
    observed = {
        **serving("1-a", "2-b", "3-c"),
        **listing(
            seen("4-d", alive=False, ready=None),
            seen("5-e", ready=False),
            seen("6-f", booted=False, alive=None, ready=None),
            seen("7-g", ready=None),
        ),
    }
    order = []
    for desired in range(6, -1, -1):
        d = decide(m, observed, desired, T0)
        order.append([t.name for t in d.transitions if t.after == DRAINING])
    assert order == [
        names("5-e"),
        names("5-e", "4-d"),
        names("5-e", "4-d", "6-f"),
        names("5-e", "4-d", "6-f", "7-g"),
        names("5-e", "4-d", "6-f", "7-g", "3-c"),
        names("5-e", "4-d", "6-f", "7-g", "3-c", "2-b"),
        names("5-e", "4-d", "6-f", "7-g", "3-c", "2-b"),  # never the last in service
    ]
    d = decide(m, observed, 0, T0)
    assert acts(d, "dns-remove") == [("dns-remove", x) for x in names("2-b", "3-c")]


def test_scale_in_never_drains_the_last_in_service():
    d = decide(memory(ws("1-a", IN_SERVICE)), serving("1-a"), 0, T0)
    assert d.transitions == [] and d.actions == []


# ---------------------------------------------------------------------------------------------------------------
# The state machine on a simulated cloud


class Autoscaling(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.cloud = Cloud()
        self.scaler = Scaler(self.cloud)
        self.clean_outage = False  # the database failed over a settled fleet, and nothing else happened since

    @initialize(desired=st.integers(0, 6), init=st.integers(0, 2), settled=st.booleans())
    def start(self, desired, init, settled):
        self.scaler.desired = desired
        for k in range(init):
            self.cloud.add(f"{PREFIX}init-{k + 1}", booted=True)
        if settled:
            self.heal_and_converge(15)

    def pick(self, data, *, booted=True) -> List[Machine]:
        """Some of the machines (a fault often strikes several together)."""
        machines = [m for m in self.cloud.machines.values() if not booted or self.cloud.now >= m.boot_at]
        if not machines:
            return []
        return data.draw(st.lists(st.sampled_from(sorted(machines, key=lambda m: m.name)), min_size=1, max_size=3))

    def disturb(self) -> None:
        self.clean_outage = False

    @rule(steps=st.lists(st.sampled_from([0, 1, 3, 5, 10, 30, 60, 120, 300, 700, 1900]), min_size=1, max_size=5))
    def cycles(self, steps):
        """The clock advances by these steps, a cycle after each."""
        for seconds in steps:
            self.cloud.now += seconds
            c = self.scaler.cycle()
            if self.cloud.db_down:  # no webserver is condemned for its readiness while the database is down
                condemned = [t.name for t in c.decision.transitions if t.reason.startswith("unready for")]
                assert not condemned, f"a database outage cost {condemned}"
            if self.clean_outage:
                assert not c.destroyed and not any(a.kind == "create" for a in c.decision.actions), c.decision

    @rule(data=st.data())
    def kill_machines(self, data):
        for m in self.pick(data, booted=False):
            m.crashed = True
            self.disturb()

    @rule(data=st.data(), down=st.booleans())
    def web_servers(self, data, down):
        for m in self.pick(data):
            m.web_down = down
            self.disturb()

    @rule(data=st.data())
    def cloud_stops_machines(self, data):
        for m in self.pick(data, booted=False):
            m.running = False
            self.disturb()

    @rule(data=st.data(), broken=st.booleans())
    def application(self, data, broken):
        for m in self.pick(data):
            m.app_broken = broken
            self.disturb()

    @rule(down=st.booleans())
    def database(self, down):
        if down and not self.cloud.db_down:
            w = self.scaler.memory.webservers
            self.clean_outage = (
                len(w) == self.scaler.desired
                and all(x.state == IN_SERVICE for x in w.values())
                and sorted(w) == sorted(self.cloud.machines)
                and not self.cloud.appearing
                and not any(
                    m.crashed or m.web_down or m.app_broken or not m.running for m in self.cloud.machines.values()
                )
            )
        if not down:
            self.clean_outage = False
        self.cloud.db_down = down

    @rule()
    def restart(self):
        self.scaler.restart()

    @rule(fail=st.booleans(), phantom=st.booleans())
    def create_failures(self, fail, phantom):
        self.cloud.fail_creates, self.cloud.phantom = fail, phantom

    @rule(desired=st.integers(0, 6))
    def change_desired(self, desired):
        self.scaler.desired = desired
        self.disturb()

    @rule(listing=st.sampled_from([0, 0, 10, 60, 200]), boot=st.sampled_from([5, 40, 300, math.inf]))
    def cloud_delays(self, listing, boot):
        self.cloud.listing_delay, self.cloud.boot_delay = listing, boot
        self.cloud.destroy_delay = listing

    @rule()
    def orphan(self):
        self.cloud.add(f"{PREFIX}{90 + len(self.cloud.machines)}-stray", booted=True)
        self.disturb()

    @rule(step=st.sampled_from([5, 15, 30]))
    def heal_and_converge(self, step: float) -> None:
        """Everything healthy (crashed machines are listed stopped), the clock advancing: the fleet converges."""
        cloud = self.cloud
        cloud.db_down = cloud.fail_creates = False
        cloud.listing_delay = cloud.destroy_delay = 0
        cloud.boot_delay = 40
        for m in list(cloud.machines.values()) + [m for _, m in cloud.appearing.values()]:
            m.web_down = m.app_broken = False
            if m.crashed:
                m.running = False
            if m.boot_at == math.inf:
                m.boot_at = cloud.now + 40
        self.disturb()
        target = self.scaler.desired
        for _ in range(int(4000 // step)):
            cloud.now += step
            self.scaler.cycle()
            cloud.tick()
            w = self.scaler.memory.webservers
            states = [x.state for x in w.values()]
            in_service = states.count(IN_SERVICE)
            if (
                states == [IN_SERVICE] * len(states)
                and (in_service == target or (target == 0 and in_service <= 1))
                and sorted(w) == sorted(cloud.machines)
                and not cloud.appearing
            ):
                break
        w = self.scaler.memory.webservers
        assert {x.state for x in w.values()} <= {IN_SERVICE}, {k: x.state for k, x in w.items()}
        assert len(w) == target or (target == 0 and len(w) <= 1), (len(w), target)
        assert sorted(w) == sorted(cloud.machines) and not cloud.appearing
        assert cloud.dns == {x.ip for x in w.values()}
        assert not self.scaler.memory.breaker

    @invariant()
    def no_name_created_twice(self):
        assert len(self.scaler.created) == len(set(self.scaler.created))

    @invariant()
    def dns_holds_only_listed_servers(self):
        if not self.scaler.cycles or self.scaler.cycles[-1].now != self.cloud.now:
            return  # the clock moved on since: the cloud changed under a cycle not yet run
        self.cloud.tick()
        listed = self.cloud.listed_ips()
        assert self.cloud.dns <= listed, self.cloud.dns - listed
        wanted = {w.ip for w in self.scaler.memory.webservers.values() if w.state in (IN_SERVICE, UNREADY)}
        assert self.cloud.dns <= wanted

    @invariant()
    def machines_within_bounds(self):
        mine = [x for x in [*self.cloud.machines, *self.cloud.appearing] if not x.endswith("-stray")]
        assert len(mine) <= HARD_LIMIT + POLICY.max_batch


Autoscaling.TestCase.settings = settings(
    max_examples=250,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_autoscaling_state_machine = Autoscaling.TestCase

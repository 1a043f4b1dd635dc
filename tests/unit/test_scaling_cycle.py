"""The cycle's pure parts: the autoscaler's number, the names it gives, its policy from the settings, the plan's
lines and the event log's reading (the cycle itself runs on a real fleet: tests/integration/test_autoscaler.py)."""

import json
import re

import pytest

from adt.errors import AdtError
from adt.scaling import decide as d
from adt.scaling.cycle import describe, fresh_name, number_from_hostname, policy_from, read_events, webserver_prefix
from adt.settings.machine import MachineSettings


@pytest.mark.parametrize("hostname, number", [("NO-1-as-lon1-prod-Xabc", 1), ("NO-12-as-local-b-XYZ1", 12)])
def test_the_autoscalers_number_is_the_second_field_of_its_name(hostname, number):
    assert number_from_hostname(hostname) == number


@pytest.mark.parametrize("hostname", ["ws-lon1-prod-1-Xabc-init-1", "NO-x-as-lon1", "NO-1-rp-lon1-prod", "builder"])
def test_a_machine_not_named_as_an_autoscaler_is_refused(hostname):
    with pytest.raises(AdtError, match=rf"this machine's name '{hostname}' is not an autoscaler's \(NO-<n>-as-...\)"):
        number_from_hostname(hostname)


def test_webservers_are_named_as_the_original_names_an_autoscalers():
    prefix = webserver_prefix("lon1", "prod", 2)
    assert prefix == "ws-lon1-prod-2-" and webserver_prefix("lon1", "prod") == "ws-lon1-prod-"
    names = {fresh_name(prefix, "XabcDEF") for _ in range(200)}
    assert all(re.fullmatch(r"ws-lon1-prod-2-xabc-[a-z0-9]{4}", name) for name in names)
    assert len(names) > 190  # random enough that two in a row never meet


def settings(tmp_path, **values):
    path = tmp_path / "autoscaler_configuration_settings.dat"
    path.write_text("".join(f"{k}:{v}\n" for k, v in values.items()))
    return MachineSettings.load(path)


def test_the_policy_takes_the_settings_given_and_the_defaults_otherwise(tmp_path):
    policy = policy_from(settings(tmp_path, SCALINGCONFIRMSECONDS="4", DNSTTL="5", SCALINGGRACE="30"))
    assert (policy.confirm_seconds, policy.ttl, policy.grace) == (4.0, 5.0, 30.0)
    assert policy.confirm_failures == d.Policy().confirm_failures and policy.build_timeout == 1800
    assert policy_from(settings(tmp_path)) == d.Policy()


def test_a_policy_setting_that_is_not_a_number_is_named(tmp_path):
    with pytest.raises(AdtError, match="DNSTTL:soon in the settings is not a number"):
        policy_from(settings(tmp_path, DNSTTL="soon"))


def test_a_plan_says_each_transition_and_action():
    decision = d.Decision(d.Memory(), [d.Action("create", "ws-a", "", "1 of 2 counted"),
                                       d.Action("dns-remove", "", "10.0.0.9", "in DNS but no webserver")],
                          [d.Transition("ws-b", "in-service", "suspect", "a liveness probe failed")])
    assert describe(decision) == ["ws-b: in-service -> suspect (a liveness probe failed)",
                                  "create ws-a: 1 of 2 counted", "dns-remove 10.0.0.9: in DNS but no webserver"]
    assert describe(d.Decision(d.Memory(), [], [])) == ["nothing to do"]


def test_the_event_log_is_read_oldest_first_skipping_what_is_not_json(tmp_path):
    log = tmp_path / "events.jsonl"
    assert read_events(log) == []
    entries = [{"time": n, "action": "create"} for n in range(5)]
    log.write_text("\n".join([json.dumps(entries[0]), "{broken", *map(json.dumps, entries[1:])]) + "\n")
    assert read_events(log) == entries
    assert read_events(log, last=2) == entries[-2:]


def test_the_event_log_is_rotated_when_large(tmp_path, monkeypatch):
    from adt.scaling import cycle

    monkeypatch.setattr(cycle, "EVENTS_KEPT", 200)
    recorder = object.__new__(cycle.Cycle)  # only its event log: no settings, no edges
    recorder.events, recorder.number, recorder.clock = tmp_path / "events.jsonl", 1, lambda: 1.0
    for n in range(6):
        recorder.event(f"ws-{n}", "create", "why", "done")
    kept, older = read_events(recorder.events), read_events(tmp_path / "events.jsonl.1")
    names = [e["webserver"] for e in older + kept]  # the latest ones, in order, in at most two files
    assert kept and older and names == [f"ws-{n}" for n in range(6 - len(names), 6)]
    assert recorder.events.stat().st_size <= 200 + 200


def test_the_count_in_force_is_capped_and_without_a_profile_is_the_builds_split(tmp_path):
    from adt.scaling.cycle import Cycle

    base = dict(WEBSITEURL="www.example.com", BUILDIDENTIFIER="b1", SERVERUSER="Xabc", NOWEBSERVERS="5",
                NOAUTOSCALERS="2")
    assert Cycle(settings(tmp_path, **base), tmp_path, number=1, desired=lambda: 30).desired() == 10  # the default cap
    assert Cycle(settings(tmp_path, **base, MAXWEBSERVERS="3"), tmp_path, number=1, desired=lambda: 7).desired() == 3
    assert Cycle(settings(tmp_path, **base, MAXWEBSERVERS="40"), tmp_path, number=1, desired=lambda: 30).desired() == 20
    no_profile = [Cycle(settings(tmp_path, **base), tmp_path, number=n, desired=lambda: None).desired() for n in (1, 2, 3)]
    assert no_profile == [3, 2, 0]
    with pytest.raises(AdtError, match="MAXWEBSERVERS in .* is 'many', not a whole number"):
        Cycle(settings(tmp_path, **base, MAXWEBSERVERS="many"), tmp_path, number=1, desired=lambda: 1).desired()


def test_a_settings_mapping_takes_each_keys_first_line(tmp_path):
    path = tmp_path / "s.dat"
    path.write_text("DNSCHOICE:powerdns\nDNSAPIURL:http://10.0.0.1:8081\nDNSCHOICE:cloudflare\nnot a setting\nKEY:a:b\n")
    assert MachineSettings.load(path).mapping() == {"DNSCHOICE": "powerdns", "DNSAPIURL": "http://10.0.0.1:8081",
                                                    "KEY": "a:b"}

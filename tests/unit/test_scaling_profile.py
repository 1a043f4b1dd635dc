"""The scaling profile's pure cores: the split, the cap, both layouts' key names, schedules."""

import re
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adt.datastore.config import Entry
from adt.errors import AdtError
from adt.scaling import profile
from adt.scaling.profile import (
    HARD_LIMIT,
    cap_total,
    count_in_force,
    current_counts,
    desired,
    older_counts,
    parse_schedule,
    split,
)


# -- split -------------------------------------------------------------------------------------------------
@given(st.integers(0, 10_000), st.integers(1, 50))
def test_split_sums_to_the_total_evenly_with_the_first_ones_larger(total, autoscalers):
    shares = split(total, autoscalers)
    assert len(shares) == autoscalers
    assert sum(shares) == total
    assert max(shares) - min(shares) <= 1
    assert shares == sorted(shares, reverse=True)  # the remainder goes to the first ones


@pytest.mark.parametrize(("total", "autoscalers", "shares"), [(5, 2, [3, 2]), (7, 3, [3, 2, 2]), (0, 2, [0, 0]),
                                                             (1, 3, [1, 0, 0]), (4, 1, [4])])
def test_split_examples(total, autoscalers, shares):
    assert split(total, autoscalers) == shares


@pytest.mark.parametrize(("total", "autoscalers", "error"), [
    (-1, 2, "a webserver count must be a whole number >= 0, not -1"),
    (3, 0, "the number of autoscalers must be a whole number >= 1, not 0"),
    ("3", 1, "a webserver count must be a whole number >= 0, not '3'"),
])
def test_split_refuses_bad_input(total, autoscalers, error):
    with pytest.raises(AdtError, match=error):
        split(total, autoscalers)


# -- caps --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("count", "max_webservers", "kept"), [
    (3, 10, 3), (12, 10, 10), (25, 100, HARD_LIMIT), (20, 20, 20), (21, 30, 20), (5, 0, 0), (0, 10, 0)])
def test_desired_is_capped_by_maxwebservers_and_the_hard_limit(count, max_webservers, kept):
    assert desired(count, max_webservers) == kept


@given(st.integers(0, 1000), st.integers(0, 1000))
def test_desired_never_passes_either_cap(count, max_webservers):
    kept = desired(count, max_webservers)
    assert kept <= min(count, max_webservers, HARD_LIMIT) and kept == min(count, max_webservers, 20)


def test_desired_refuses_negatives():
    with pytest.raises(AdtError, match="a webserver count must be a whole number >= 0, not -2"):
        desired(-2, 10)
    with pytest.raises(AdtError, match="MAXWEBSERVERS must be a whole number >= 0, not -1"):
        desired(2, -1)


@given(st.integers(0, 500), st.integers(1, 8), st.integers(0, 50))
def test_a_capped_total_splits_into_shares_within_the_cap(total, autoscalers, max_webservers):
    kept = cap_total(total, autoscalers, max_webservers)
    assert kept <= total
    assert all(share <= min(max_webservers, HARD_LIMIT) for share in split(kept, autoscalers))
    if total <= min(max_webservers, HARD_LIMIT) * autoscalers:
        assert kept == total


@pytest.mark.parametrize("text", ["-1", "1.5", "", " ", "x", "٣", "+2"])
def test_parse_count_refuses_what_is_not_a_whole_number(text):
    with pytest.raises(AdtError, match=re.escape(f"the webserver count must be a whole number >= 0, not {text!r}")):
        profile.parse_count(text)


# -- layouts -----------------------------------------------------------------------------------------------
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)


def entry(key, seconds=0):
    return Entry(key, 0, T0 + timedelta(seconds=seconds))


def test_key_names_are_the_originals():
    assert profile.current_key(2, 4) == "autoscaler-2/STATIC_SCALE:4"
    assert profile.older_key([3, 2, 0]) == "STATIC_SCALE:3:2:0"
    assert profile.schedule_key(1) == "schedules/autoscaler-1"
    assert not profile.schedule_key(1).startswith("autoscaler-1/")  # old readers list autoscaler-<n>/


def test_current_counts_read_each_autoscaler_and_skip_what_is_not_a_count():
    entries = [entry("autoscaler-1/STATIC_SCALE:3"), entry("autoscaler-2/STATIC_SCALE:0"),
               entry("autoscaler-10/STATIC_SCALE:7"), entry("autoscaler-3/STATIC_SCALE:x"),
               entry("autoscaler-4/other"), Entry("autoscaler-5/", 0, None, True)]
    assert current_counts(entries) == {1: 3, 2: 0, 10: 7}


def test_two_counts_of_one_autoscaler_the_newest_wins_and_a_tie_the_larger():
    assert current_counts([entry("autoscaler-1/STATIC_SCALE:5", 0), entry("autoscaler-1/STATIC_SCALE:2", 1)]) == {1: 2}
    assert current_counts([entry("autoscaler-1/STATIC_SCALE:2", 0), entry("autoscaler-1/STATIC_SCALE:5", 0)]) == {1: 5}


def test_older_counts_field_n_for_autoscaler_n():
    assert older_counts([entry("STATIC_SCALE:3:2")]) == {1: 3, 2: 2}
    assert older_counts([entry("STATIC_SCALE:4")]) == {1: 4}  # what the 2025 build wrote
    assert older_counts([entry("STATIC_SCALE:"), entry("STATIC_SCALE:a:1"), entry("OTHER")]) == {}
    assert older_counts([entry("STATIC_SCALE:1:1", 5), entry("STATIC_SCALE:9:9", 1)]) == {1: 1, 2: 1}


# -- schedules ---------------------------------------------------------------------------------------------
MON = datetime(2026, 3, 2, tzinfo=timezone.utc)  # a Monday


def at(day, hh, mm=0):
    return MON + timedelta(days=day, hours=hh, minutes=mm)


def test_parse_schedule_reads_rules_comments_and_days():
    rules = parse_schedule("# office hours\nmon-fri 08:00-18:00 4\n\nsat,sun 10:00-16:00 2  # weekend\n"
                           "fri-mon 22:00-02:00 3\n* 00:00-24:00 1\ndaily 1:05-2:00 0\n")
    assert [(sorted(r.days), r.start, r.end, r.count, r.line) for r in rules] == [
        ([0, 1, 2, 3, 4], 480, 1080, 4, 2),
        ([5, 6], 600, 960, 2, 4),
        ([0, 4, 5, 6], 1320, 120, 3, 5),
        (list(range(7)), 0, 1440, 1, 6),
        (list(range(7)), 65, 120, 0, 7),
    ]


@pytest.mark.parametrize(("text", "error"), [
    ("mon-fri 08:00 4", r"schedule line 1 \('mon-fri 08:00 4'\) is not '<days> <HH:MM>-<HH:MM> <count>'"),
    ("ok 08:00-09:00 4", r"schedule line 1 \('ok 08:00-09:00 4'\): 'ok' is not a day or a range of days"),
    ("mon 08:00-09:00 1\nmon-xyz 08:00-09:00 4", r"schedule line 2 \('mon-xyz 08:00-09:00 4'\): 'mon-xyz' is not a day"),
    ("mon 25:00-26:00 4", r"schedule line 1 .*: times run from 00:00 to 24:00"),
    ("mon 08:60-09:00 4", r"schedule line 1 .*: times run from 00:00 to 24:00"),
    ("mon 08:00-24:01 4", r"schedule line 1 .*: times run from 00:00 to 24:00"),
    ("mon 08:00-08:00 4", r"schedule line 1 .*: the range starts where it ends"),
    ("\n\nmon 08:00-09:00 -4", r"schedule line 3 \('mon 08:00-09:00 -4'\) must be a whole number >= 0, not '-4'"),
    ("mon 08:00-09:00 four", r"schedule line 1 \('mon 08:00-09:00 four'\) must be a whole number >= 0, not 'four'"),
])
def test_parse_schedule_names_the_bad_line(text, error):
    with pytest.raises(AdtError, match=error):
        parse_schedule(text)


def test_count_in_force_first_matching_rule_else_the_base():
    rules = parse_schedule("mon-fri 08:00-18:00 4\nmon 00:00-24:00 9\nsat 10:00-16:00 2")
    assert count_in_force(1, rules, at(0, 8)) == 4  # the first rule wins over the second
    assert count_in_force(1, rules, at(0, 7, 59)) == 9
    assert count_in_force(1, rules, at(1, 18)) == 1  # the end is exclusive
    assert count_in_force(1, rules, at(1, 17, 59)) == 4
    assert count_in_force(1, rules, at(5, 12)) == 2
    assert count_in_force(1, rules, at(6, 12)) == 1
    assert count_in_force(3, [], at(0, 12)) == 3


def test_a_range_over_midnight_belongs_to_the_day_it_starts():
    rules = parse_schedule("fri 22:00-02:00 3")
    assert count_in_force(1, rules, at(4, 22)) == 3  # Friday night
    assert count_in_force(1, rules, at(5, 1, 59)) == 3  # Saturday's early hours
    assert count_in_force(1, rules, at(5, 2)) == 1
    assert count_in_force(1, rules, at(4, 1)) == 1  # Friday's early hours belong to Thursday
    assert count_in_force(1, rules, at(5, 22)) == 1
    sunday = parse_schedule("sun 23:00-01:00 5")
    assert count_in_force(0, sunday, at(7, 0, 30)) == 5  # into Monday: the week wraps too


def test_an_end_of_midnight_is_the_end_of_the_day():
    rules = parse_schedule("tue 20:00-00:00 6")
    assert count_in_force(1, rules, at(1, 23, 59)) == 6
    assert count_in_force(1, rules, at(2, 0, 0)) == 1


def test_count_in_force_is_in_utc():
    rules = parse_schedule("mon 08:00-09:00 4")
    plus_two = timezone(timedelta(hours=2))
    assert count_in_force(1, rules, datetime(2026, 3, 2, 10, 30, tzinfo=plus_two)) == 4  # 08:30 UTC
    assert count_in_force(1, rules, datetime(2026, 3, 2, 8, 30, tzinfo=plus_two)) == 1
    assert count_in_force(1, rules, datetime(2026, 3, 2, 8, 30)) == 4  # naive: UTC


@given(st.integers(0, 6), st.integers(0, 23), st.integers(0, 23), st.integers(0, 7 * 24 * 60 - 1))
def test_a_rule_covers_exactly_its_minutes_of_the_week(day, start, end, minute):
    if start == end:
        return
    rules = parse_schedule(f"{profile.DAYS[day]} {start:02d}:00-{end:02d}:00 7")
    length = ((end - start) % 24) * 60
    begins = day * 24 * 60 + start * 60
    inside = (minute - begins) % (7 * 24 * 60) < length
    assert (count_in_force(0, rules, MON + timedelta(minutes=minute)) == 7) == inside


def test_profile_needs_cloudhost_and_region():
    with pytest.raises(AdtError, match="the scaling profile needs CLOUDHOST and REGION"):
        profile.Profile([], "www.example.com", "user", "local", "")


def test_the_autoscaler_gets_the_scaling_entry_points():
    from adt.machine.scripts import scripts_of

    scripts = {"utilities/processing/ScalingUpdateEvent.sh", "utilities/processing/ManuallyScale.sh"}
    assert scripts <= set(scripts_of("autoscaler"))
    assert not scripts & set(scripts_of("webserver")) and not scripts & set(scripts_of("database"))

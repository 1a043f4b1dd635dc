"""Choosing one machine of a role (adt.build.fleet.choose): by number, address, public address or name, the only
one, or nobody yet; and every wrong choice named with the list of what there is."""

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adt.build.fleet import Machine, choose, listing
from adt.errors import AdtError

AS1 = Machine("NO-1-as-lon1-b1-Xab", "10.0.0.11", "203.0.113.11")
AS2 = Machine("NO-2-as-lon1-b1-Xab", "10.0.0.12", "203.0.113.12")
AS3 = Machine("NO-3-as-lon1-b1-Xab", "10.0.0.13")
THREE = [AS1, AS2, AS3]
LISTED = "1: 10.0.0.11 (NO-1-as-lon1-b1-Xab), 2: 10.0.0.12 (NO-2-as-lon1-b1-Xab), 3: 10.0.0.13 (NO-3-as-lon1-b1-Xab)"


def test_the_listing_numbers_machines_from_one():
    assert listing(THREE) == LISTED
    assert listing([]) == ""


@pytest.mark.parametrize("choice", [None, "", "  "])
def test_no_choice_takes_the_only_machine_and_leaves_several_to_someone(choice):
    assert choose([AS2], choice, "autoscaler", "lon1/b1") == AS2
    assert choose(THREE, choice, "autoscaler", "lon1/b1") is None


@pytest.mark.parametrize(
    "choice, chosen",
    [("1", AS1), ("2", AS2), ("3", AS3), (" 3 ", AS3), ("03", AS3),  # numbers, as the list shows them
     ("10.0.0.12", AS2), ("203.0.113.11", AS1), ("NO-3-as-lon1-b1-Xab", AS3), (" 10.0.0.13", AS3)])
def test_a_choice_by_number_address_public_address_or_name(choice, chosen):
    assert choose(THREE, choice, "autoscaler", "lon1/b1") == chosen


def test_a_choice_among_one_must_still_be_that_one():
    assert choose([AS1], "1", "autoscaler", "lon1/b1") == AS1
    with pytest.raises(AdtError, match=r"^build lon1/b1 has no autoscaler number 2 \(it has 1\) \(its autoscalers: 1: 10.0.0.11 "):
        choose([AS1], "2", "autoscaler", "lon1/b1")
    with pytest.raises(AdtError, match="^10.0.0.12 is not an autoscaler of lon1/b1 \\(its autoscalers: 1: "):
        choose([AS1], "10.0.0.12", "autoscaler", "lon1/b1")


@pytest.mark.parametrize("number", ["0", "4", "99"])
def test_a_number_out_of_the_list(number):
    with pytest.raises(AdtError) as error:
        choose(THREE, number, "autoscaler", "lon1/b1")
    assert error.value.message == f"build lon1/b1 has no autoscaler number {int(number)} (it has 3)"
    assert error.value.hint == f"its autoscalers: {LISTED}"


@pytest.mark.parametrize("choice", ["10.0.0.1", "NO-1-as-lon1-b1", "as", "-1", "1.5", "10.0.0.11 10.0.0.12", "\u00b2", "\u0663"])
def test_an_address_or_name_not_in_the_role(choice):
    with pytest.raises(AdtError, match="is not an autoscaler of lon1/b1") as error:
        choose(THREE, choice, "autoscaler", "lon1/b1")
    assert error.value.message == f"{choice.strip()} is not an autoscaler of lon1/b1"
    assert error.value.hint == f"its autoscalers: {LISTED}"


def test_the_article_follows_the_role():
    with pytest.raises(AdtError, match="^x is not a webserver of lon1/b1 "):
        choose([Machine("ws-lon1-b1-0-X-init-1", "10.0.0.2")], "x", "webserver", "lon1/b1")


@pytest.mark.parametrize("choice", [None, "1", "10.0.0.11", "anything"])
def test_no_machine_at_all_is_said_first(choice):
    with pytest.raises(AdtError, match="^no running database in build lon1/b1$"):
        choose([], choice, "database", "lon1/b1")


names = st.text(string.ascii_letters + string.digits + "-", min_size=1, max_size=30).filter(lambda n: not n.isdigit())
addresses = st.ip_addresses(v=4).map(str)
fleets = st.lists(st.builds(Machine, names, addresses, st.one_of(st.just(""), addresses)), min_size=1, max_size=8,
                  unique_by=(lambda m: m.name, lambda m: m.address))


@given(fleets, st.data())
def test_any_listed_number_address_or_name_chooses_a_machine_that_answers_to_it(machines, data):
    index = data.draw(st.integers(0, len(machines) - 1))
    assert choose(machines, str(index + 1), "autoscaler", "b") == machines[index]
    for choice in (machines[index].name, machines[index].address):
        assert choice in (choose(machines, choice, "autoscaler", "b").name,
                          choose(machines, choice, "autoscaler", "b").address,
                          choose(machines, choice, "autoscaler", "b").public_address)


@given(fleets, st.text(max_size=20))
def test_any_choice_gives_a_listed_machine_or_an_error_listing_them(machines, choice):
    try:
        chosen = choose(machines, choice, "autoscaler", "b")
    except AdtError as error:
        assert error.hint == f"its autoscalers: {listing(machines)}"
        return
    assert chosen is None and len(machines) > 1 and not choice.strip() or chosen in machines

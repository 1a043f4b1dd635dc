"""The agent's request encoding: what a client sends is what the agent runs, byte for byte, and anything else is
refused."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adt.agent import decode_request, encode_request

NO_NUL = st.text(st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)))
NAME = st.text(st.characters(blacklist_characters="\0=", blacklist_categories=("Cs",)), min_size=1)


@given(st.lists(NO_NUL), NO_NUL, st.dictionaries(NAME, NO_NUL))
def test_a_request_travels_exactly(argv, cwd, env):
    assert decode_request(encode_request(argv, cwd, env)) == {"argv": argv, "cwd": cwd, "env": env}


def test_bytes_that_are_not_utf8_travel_as_they_came():
    weird = b"caf\xe9".decode("utf-8", "surrogateescape")  # a Latin-1 file name, as os.environ holds it
    assert decode_request(encode_request([weird], "/", {"F": weird}))["env"]["F"] == weird


@pytest.mark.parametrize("body", [b"", b"x\0/\0", b"2\0only-one\0", b"0\0/\0NOEQUALS\0", b"0\0/\0=v\0",
                                  b"0\0/", b'{"argv": []}'])
def test_anything_else_is_refused(body):
    with pytest.raises(ValueError, match="not a request"):
        decode_request(body)

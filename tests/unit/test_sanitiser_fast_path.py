"""The sanitiser's fast paths give the bytes its previous implementation gave, on varied dumps cut into varied
blocks: that implementation (every block with something in it went line by line, `in` tests for the needles)
is kept here as the oracle. Also `Needles.find` against `bytes.find`, its byte giving way included."""

from hypothesis import example, given, settings
from hypothesis import strategies as st

from adt.database.connection import ENGINES
from adt.database.dump import Needles, Sanitiser
from adt.text.branding import SqlLineReplacer


class OracleSanitiser:
    """adt.database.dump.Sanitiser and mariadb.DumpLines.quiet as they were before the fast paths."""

    def __init__(self, dialect, pairs, loading=False):
        self.dialect, self.loading = dialect, loading
        self.replace = SqlLineReplacer(pairs, dialect)
        self.lines = ENGINES[dialect].DumpLines(loading)

    def quiet(self, data):
        if self.dialect != "mysql":
            return True
        return (not self.lines.skipping and b"SET " not in data and b"CHARSET=" not in data
                and not (self.loading and b"utf8mb4_0900_ai_ci" in data))

    def block(self, data):
        rewrite, replace = self.lines, self.replace
        if any(needle in data for needle in replace.needles) or not self.quiet(data):
            return b"".join(replace(kept) if (kept := rewrite(line)) else kept
                            for line in data.splitlines(keepends=True))
        rewrite.passed(data, replace)
        return data


PAIRS = [("http://", "https://"), ("appuser", "XXXXXXXXXX"), ("10.0.%.%", "YYYYYYYYYY"), ("it's", "it_s"),
         ("a\\b", "c")]
PIECES = [
    b"http://", b"appuser", b"10.0.%.%", b"it's", b"it\\'s", b"it''s", b"a\\b", b"a\\\\b", b"SET ", b"CHARSET=latin1",
    b"COLLATE=latin1_swedish_ci", b"utf8mb4_0900_ai_ci", b"s:7:\\\"appuser\\\";", b"s:7:\"appuser\";", b"'", b"\\",
    b"(", b")", b",", b";", b"\r", b"\r\n", b"\t", b" ", b"0", b"A", b"p", b"e", b"%", b"/", b"h", b"\\.",
]
LINE_HEADS = [b"", b"INSERT INTO `t` VALUES (", b"(", b"SET @@GLOBAL.GTID_PURGED='", b"SET @@SESSION.SQL_LOG_BIN= 0",
              b"SET GLOBAL INNODB_STATS_AUTO_RECALC=1", b"SET SESSION sql_require_primary_key = 0",
              b") ENGINE=InnoDB DEFAULT ", b"COPY public.t (a, b) FROM stdin;", b"\\.", b"-- ", b"1\t"]
line = st.builds(lambda head, body, tail: head + b"".join(body) + tail, st.sampled_from(LINE_HEADS),
                 st.lists(st.sampled_from(PIECES), max_size=12), st.sampled_from([b"\n", b"');\n", b"),\n", b";\n"]))


@st.composite
def dumps(draw):
    lines = draw(st.lists(line, max_size=40))
    cuts = sorted(draw(st.sets(st.integers(0, len(lines)), max_size=6)))
    blocks, start = [], 0
    for cut in [*cuts, len(lines)]:
        blocks.append(b"".join(lines[start:cut]))
        start = cut
    if draw(st.booleans()):  # the stream's last bytes need not end a line
        blocks.append(draw(st.sampled_from(PIECES)) + b"zzzz")
    return [block for block in blocks if block]


@settings(max_examples=300, deadline=None)
@given(dumps(), st.sampled_from(["mysql", "postgres"]), st.booleans(), st.integers(1, 40))
@example([b"-- http://\n) ENGINE=InnoDB COLLATE=latin1_bin;\n"], "mysql", False, 32)  # a line with COLLATE= only
@example([b"SET @@GLOBAL.GTID_PURGED='a1:1-5,\n", b"b2:1-3';\n(1,'x');\n"], "mysql", False, 32)  # over blocks
def test_the_fast_paths_give_the_bytes_the_previous_sanitiser_gave(blocks, dialect, loading, misses):
    new, old = Sanitiser(dialect, PAIRS, loading), OracleSanitiser(dialect, PAIRS, loading)
    for needles in (new.wanted, new.visit):
        if needles is not None:
            needles.MISSES = misses  # a byte giving way within a block, too
    assert [new.block(block) for block in blocks] == [old.block(block) for block in blocks]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=4).map(lambda b: bytes(x % 4 + 48 for x in b)), min_size=1, max_size=4),
       st.binary(max_size=200).map(lambda b: bytes(x % 4 + 48 for x in b)), st.integers(0, 210), st.integers(1, 5))
def test_needles_find_what_bytes_find_finds(needles, data, start, misses):
    """Over four bytes, so each needle's byte is met often and gives way."""
    found = Needles(needles)
    found.MISSES = misses
    for _ in range(3):  # the bytes chosen change as they give way; the answer does not
        for index, needle in enumerate(found.needles):
            assert found.find(data, index, start) == data.find(needle, start)
        assert found.any(data) == any(needle in data for needle in needles)


def test_a_block_with_a_needle_visits_only_its_lines():
    """A mysql block with one line to change: the lines around it come back as the same bytes, the line changed."""
    quiet = b"(1,'" + b"The quick brown fox " * 50 + b"'),\n"
    data = quiet * 200 + b"(2,'http://www.example.com'),\n" + quiet * 200
    assert Sanitiser("mysql", PAIRS).block(data) == data.replace(b"http://", b"https://")

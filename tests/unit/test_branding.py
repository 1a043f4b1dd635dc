"""adt.text.serialized (PHP-serialization-aware replace, the serialized-value parser) and adt.text.branding
(placeholder sets)."""

import json
import subprocess

from hypothesis import given, settings, strategies as st

import adt.text
from adt.text import branding, serialized, sqldump

URL, NAME, DBUSER, MASK = "www.example.com", "Example_Site", "dbuser1", "10.173.%.%"


# ---------------------------------------------------------------- a test-only PHP (un)serializer
class Nested:
    """A string whose content is itself serialized data (WordPress serializes inside serialized)."""

    def __init__(self, value):
        self.value = value

    def __eq__(self, other):
        return isinstance(other, Nested) and other.value == self.value

    def __repr__(self):
        return f"Nested({self.value!r})"


def php_serialize(v) -> str:
    if v is None:
        return "N;"
    if isinstance(v, bool):
        return f"b:{int(v)};"
    if isinstance(v, int):
        return f"i:{v};"
    if isinstance(v, Nested):
        v = php_serialize(v.value)
    if isinstance(v, str):
        return f's:{len(v.encode())}:"{v}";'
    return f"a:{len(v)}:{{" + "".join(php_serialize(k) + php_serialize(x) for k, x in v) + "}"


def php_unserialize(text: str):
    """Parse PHP serialize() output exactly (byte lengths); arrays as lists of (key, value) pairs."""
    data = text.encode()

    def parse(i):
        t = data[i:i + 1]
        if data[i:i + 2] == b"N;":
            return None, i + 2
        if t in (b"b", b"i"):
            end = data.index(b";", i)
            n = int(data[i + 2:end])
            return (bool(n) if t == b"b" else n), end + 1
        if t == b"s":
            colon = data.index(b":", i + 2)
            n = int(data[i + 2:colon])
            assert data[colon + 1:colon + 2] == b'"' and data[colon + 2 + n:colon + 4 + n] == b'";', (i, data[i:i + 40])
            return data[colon + 2:colon + 2 + n].decode(), colon + 4 + n
        if t == b"a":
            colon = data.index(b":", i + 2)
            n = int(data[i + 2:colon])
            assert data[colon + 1:colon + 2] == b"{"
            i, items = colon + 2, []
            for _ in range(n):
                k, i = parse(i)
                v, i = parse(i)
                items.append((k, v))
            assert data[i:i + 1] == b"}"
            return items, i + 1
        raise AssertionError(f"bad token at {i}: {data[i:i + 20]!r}")

    value, end = parse(0)
    assert end == len(data)
    return value


def replace_tree(v, pairs):
    """What a replacement should do to the decoded data: every string replaced, nesting kept."""
    if isinstance(v, str):
        for old, new in pairs:
            v = v.replace(old, new)
        return v
    if isinstance(v, Nested):
        return Nested(replace_tree(v.value, pairs))
    if isinstance(v, list):
        return [(replace_tree(k, pairs), replace_tree(x, pairs)) for k, x in v]
    return v


# leaves never contain ':' (so never look like a token); patterns avoid every character of the syntax
leaf = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters=":"), max_size=12)
pattern = st.text(alphabet="xyzé€😀/ ", min_size=1, max_size=3)
replacement = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)
pairs_st = st.lists(st.tuples(pattern, replacement), min_size=1, max_size=3)


def arrays(children, keys):
    return st.lists(st.tuples(keys, children), max_size=4)


php_value = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | leaf,
    lambda children: arrays(children, st.integers(0, 99) | leaf) | arrays(children, st.integers(0, 9)).map(Nested),
    max_leaves=12)


@given(php_value, pairs_st)
def test_replace_keeps_php_serialization_valid(value, pairs):
    text = php_serialize(value)
    out = serialized.replace(text, pairs)
    expected = replace_tree(value, pairs)
    assert out == php_serialize(expected)
    parsed = php_unserialize(out)
    assert serialized.check(out) == []
    if isinstance(expected, Nested):
        assert php_unserialize(parsed) == php_unserialize(php_serialize(expected.value))


@given(php_value, pairs_st)
def test_text_without_patterns_is_returned_as_is(value, pairs):
    text = php_serialize(value)
    if not any(old in text for old, _ in pairs):
        assert serialized.replace(text, pairs) is text


def test_replace_examples():
    ok = php_serialize([("home", "http://www.example.com"), ("inner", Nested([(0, "https://www.example.com/ü")]))])
    out = serialized.replace(ok, [("www.example.com", "www.applicationdomain.tld")])
    assert out == ('a:2:{s:4:"home";s:32:"http://www.applicationdomain.tld";s:5:"inner";s:54:"a:1:{i:0;'
                   's:36:"https://www.applicationdomain.tld/ü";}";}')
    broken = 's:99:"www.example.com";'                              # not a valid token: plain replacement
    assert serialized.replace(broken, [("example", "ex")]) == 's:99:"www.ex.com";'
    assert serialized.check(broken) and "s:99" in serialized.check(broken)[0]
    assert serialized.replace("abc", [("", "x"), ("b", "b")]) == "abc"          # empty / no-op pairs ignored
    assert serialized.check('x s:4:"a";b"; s:2:"ab";') == []                    # tokens found by length


@settings(max_examples=25, deadline=None)
@given(st.recursive(leaf, lambda c: st.lists(c, max_size=4) | st.lists(c, max_size=3).map(Nested), max_leaves=10),
       pairs_st)
def test_php_unserialize_agrees(value, pairs):
    def as_php(v):            # lists become PHP lists (0..n-1 keys: no key collisions after replacing)
        if isinstance(v, Nested):
            return Nested(as_php(v.value))
        return [(i, as_php(x)) for i, x in enumerate(v)] if isinstance(v, list) else v

    def shape(v):             # what the PHP script prints for a value
        if isinstance(v, Nested):
            return {"n": shape(v.value)}
        return [shape(x) for _, x in v] if isinstance(v, list) else v

    out = serialized.replace(php_serialize(as_php(value)), pairs)
    script = r'''function deep($v) {
        if (is_array($v)) { return array_map('deep', array_values($v)); }
        if (is_string($v) && substr($v, 0, 2) === 'a:') {
            $u = unserialize($v); if ($u === false) { exit(3); } return ['n' => deep($u)]; }
        return $v; }
    $u = unserialize(stream_get_contents(STDIN)); if ($u === false) { exit(2); }
    echo json_encode(deep($u));'''
    res = subprocess.run(["php", "-r", script], input=out.encode(), capture_output=True)
    assert res.returncode == 0, (out, res.stdout, res.stderr)
    assert json.loads(res.stdout) == shape(replace_tree(as_php(value), pairs))


def tree_strings(v, key=None):
    """(key, payload) of every string value in a decoded tree, as serialized.strings reports them: the key
    when it is a string (None for integer keys and for a top-level string); array keys are not values."""
    if isinstance(v, (str, Nested)):
        return [(key if isinstance(key, str) else None, php_serialize(v)[php_serialize(v).index('"') + 1:-2])]
    if isinstance(v, list):
        return [s for k, x in v for s in tree_strings(x, k)]
    return []


@settings(max_examples=50)
@given(php_value)
def test_strings_of_a_serialized_value(value):
    text = php_serialize(value)
    data = text.encode()
    spans = serialized.strings(text)
    if not isinstance(value, (str, Nested, list)):
        assert spans is None                  # a lone scalar holds no string (and no setting)
        return
    assert [(key, data[start:end].decode()) for key, _, start, end in spans] == tree_strings(value)
    assert all(data[header:start].startswith(b"s:") for _, header, start, _ in spans)


def test_strings_examples():
    value = 'a:2:{s:4:"smtp";a:1:{s:4:"pass";s:3:"abc";}i:0;s:5:"x\xe9yz";}'
    assert [s[0] for s in serialized.strings(value)] == ["pass", None]
    assert serialized.strings('O:8:"stdClass":1:{s:4:"pass";s:3:"abc";}') == [("pass", 29, 34, 37)]
    assert serialized.strings('a:1:{s:4:"pass";s:9:"abc";}') is None         # wrong length: not serialized
    assert serialized.strings('a:1:{s:4:"pass";s:3:"abc";} and more') is None  # not exactly serialized
    assert serialized.strings("not serialized") is None
    assert serialized.strings("a:0:{}") == []


def grow(key, text):
    return text if text.startswith("a:") else text + "€"


def grow_tree(v):
    if isinstance(v, str):
        return v + "€"
    if isinstance(v, Nested):
        return v                              # its payload is one string: rewrite_strings does not go inside
    if isinstance(v, list):
        return [(k, grow_tree(x)) for k, x in v]
    return v


@settings(max_examples=50)
@given(php_value)
def test_rewrite_strings_fixes_every_length(value):
    text = php_serialize(value)
    out = serialized.rewrite_strings(text, grow)
    assert out == php_serialize(grow_tree(value))
    assert serialized.check(out) == []
    assert serialized.rewrite_strings(text, lambda key, t: t) is text


def test_rewrite_strings_by_key():
    value = 'a:2:{s:4:"pass";s:7:"s\xe9cret";s:4:"user";s:3:"bob";}'
    out = serialized.rewrite_strings(value, lambda key, t: "" if key == "pass" else t)
    assert out == 'a:2:{s:4:"pass";s:0:"";s:4:"user";s:3:"bob";}'
    assert serialized.rewrite_strings("no data", lambda key, t: "x") == "no data"


# ---------------------------------------------------------------- placeholder sets
def test_derived_values():
    assert branding.root_domain("www.example.co.uk") == "example.co.uk"
    assert branding.domain_specifier("www.example.com") == "wwwexacom"
    assert branding.domain_specifier("www.example.co.uk") == "wwwexacouk"
    assert branding.root_domain("localhost") == ""


def test_pair_sets_in_original_order():
    assert branding.file_pairs(URL, NAME) == [
        ("wwwexacom", "ApplicationDomainSpec"), ("www.example.com", "applicationdomainwww.tld"),
        ("example.com", "applicationrootdomain.tld"), ("Example Site", "The GreatApplication"),
        ("EXAMPLE SITE", "THE GREATAPPLICATION"), ("example site", "greatapplication")]
    assert branding.sql_pairs(URL, NAME, DBUSER, MASK) == [
        ("wwwexacom", "ApplicationDomainSpec"), ("www.example.com", "www.applicationdomain.tld"),
        ("@example.com", "@applicationdomain.tld"), ("example.com", "applicationdomain.tld"),
        ("Example Site", "GreatApplication"), ("EXAMPLE SITE", "GREATAPPLICATION"),
        ("example site-online", "application-online"), ("dbuser1", "XXXXXXXXXX"), ("@@mail", "@mail"),
        ("10.173.%.%", "YYYYYYYYYY")]
    assert branding.apply_sql_pairs(URL, NAME, DBUSER, MASK) == [
        ("applicationdomain.tld", "example.com"), ("The GreatApplication", "Example Site"),
        ("GreatApplication", "Example Site"), ("THE GREATAPPLICATION", "EXAMPLE SITE"),
        ("GREATAPPLICATION", "EXAMPLE SITE"), ("XXXXXXXXXX", "dbuser1"), ("YYYYYYYYYY", "10.173.%.%"),
        ("ApplicationDomainSpec", "wwwexacom"), ("application-online", "example site-online")]
    assert branding.apply_file_pairs(URL, NAME) == [(n, o) for o, n in branding.file_pairs(URL, NAME)]


def test_empty_settings_are_skipped():
    assert branding.sql_pairs(URL) == [
        ("wwwexacom", "ApplicationDomainSpec"), ("www.example.com", "www.applicationdomain.tld"),
        ("@example.com", "@applicationdomain.tld"), ("example.com", "applicationdomain.tld"), ("@@mail", "@mail")]
    assert [o for o, _ in branding.apply_sql_pairs(URL)] == ["applicationdomain.tld", "ApplicationDomainSpec"]
    assert all(o and n for o, n in branding.file_pairs("localhost") + branding.apply_file_pairs("localhost"))


# ---------------------------------------------------------------- files
def test_brand_file_bytes():
    php = ("<?php $opts = '" + php_serialize([("url", "https://www.example.com/x")]) + "'; // Example Site\n").encode()
    out = branding.brand_file_bytes(php, branding.file_pairs(URL, NAME))
    assert out == (b"<?php $opts = 'a:1:{s:3:\"url\";s:34:\"https://applicationdomainwww.tld/x\";}';"
                   b" // The GreatApplication\n")
    binary = b"\x89PNG\0www.example.com"
    assert branding.brand_file_bytes(binary, branding.file_pairs(URL, NAME)) is binary
    plain = b"nothing to see \xff\xfe"
    assert branding.brand_file_bytes(plain, branding.file_pairs(URL, NAME)) is plain
    latin1 = b"caf\xe9 www.example.com"                              # not UTF-8: bytes survive
    assert branding.brand_file_bytes(latin1, branding.file_pairs(URL)) == b"caf\xe9 applicationdomainwww.tld"
    late_nul = b"www.example.com " + b"x" * adt.text.BINARY_SNIFF + b"\0"   # a NUL after the first 8 KB: text
    assert branding.brand_file_bytes(late_nul, branding.file_pairs(URL)).startswith(b"applicationdomainwww.tld ")


def test_binary_is_a_nul_in_the_first_8_kb():
    assert adt.text.binary(b"x" * 8191 + b"\0") and adt.text.binary(b"\0")
    assert not adt.text.binary(b"x" * 8192 + b"\0") and not adt.text.binary(b"")


# ---------------------------------------------------------------- dumps
WP_VALUE = php_serialize([("home", "http://www.example.com"), ("blogname", "Example Site's \"blog\""),
                          ("widgets", Nested([(0, "https://www.example.com/wp-content/ü.png"),
                                              (1, "admin@example.com")]))])


def my_insert(*values) -> bytes:
    return b"INSERT INTO `wp_options` VALUES (" + b",".join(
        b"NULL" if v is None else v.encode() if isinstance(v, int) is False and v.isdigit() else
        b"'" + sqldump.escape(v, "mysql") + b"'" for v in values) + b");\n"


def test_wordpress_options_insert_keeps_serialized_lengths():
    line = my_insert("1", "wp_user_roles", WP_VALUE, "yes", None)
    assert b'\\"' in line                                            # quotes are escaped inside the literal
    replace = branding.SqlLineReplacer(branding.sql_pairs(URL, NAME, DBUSER, MASK), "mysql")
    out = replace(line)
    [row] = sqldump.iter_rows([out], "mysql")
    value = row.values[2]
    assert serialized.check(value) == [] and branding.check_dump([out], "mysql") == []
    assert branding.remaining(out, URL) == 0
    assert php_unserialize(value) == [
        ("home", "http://www.applicationdomain.tld"), ("blogname", "GreatApplication's \"blog\""),
        ("widgets", php_serialize([(0, "https://www.applicationdomain.tld/wp-content/ü.png"),
                                   (1, "admin@applicationdomain.tld")]))]
    assert row.values[:2] == ["1", "wp_user_roles"] and row.values[3:] == ["yes", None]
    # a plain, serialization-unaware replacement would have broken it
    naive = line.replace(b"www.example.com", b"www.applicationdomain.tld")
    assert serialized.check(sqldump.unescape(naive.split(b"'")[3], "mysql"))
    assert [p.split(":")[0] for p in branding.check_dump([naive], "mysql")] == ["wp_options line 1"] * 3


def test_sql_replacer_lines():
    replace = branding.SqlLineReplacer(branding.sql_pairs(URL, "Bob's_Shop", DBUSER, MASK), "mysql")
    untouched = b"INSERT INTO `t` VALUES (1,'nothing here');\n"
    assert replace(untouched) is untouched
    # the multi-line INSERT of mariadb-dump 10.11: every row on its own line
    assert replace(b"(2,'Bob\\'s Shop at www.example.com'),\n") == \
        b"(2,'GreatApplication at www.applicationdomain.tld'),\n"
    assert replace(b"-- site www.example.com\n") == b"-- site www.applicationdomain.tld\n"
    assert replace(b"GRANT ALL ON db.* TO 'dbuser1'@'10.173.%.%';\n") == \
        b"GRANT ALL ON db.* TO 'XXXXXXXXXX'@'YYYYYYYYYY';\n"


def test_postgres_copy_rows():
    replace = branding.SqlLineReplacer(branding.sql_pairs(URL, NAME), "postgres")
    wp = sqldump.escape(WP_VALUE, "postgres")
    dump = [b"COPY public.wp_options (option_id, option_value) FROM stdin;\n", b"1\t" + wp + b"\n",
            b"2\ta\\tb www.example.com\n", b"\\.\n", b"SELECT 'www.example.com';\n"]
    out = [replace(line) for line in dump]
    rows = list(sqldump.iter_rows(out, "postgres"))
    assert serialized.check(rows[0].values[1]) == [] and "www.applicationdomain.tld" in rows[0].values[1]
    assert rows[1].values[1] == "a\tb www.applicationdomain.tld"
    assert out[4] == b"SELECT 'www.applicationdomain.tld';\n" and not replace.in_copy


def test_remaining():
    assert branding.remaining("http://www.example.com and mail@example.com", URL) == 2
    assert branding.remaining(b"www.applicationdomain.tld", URL) == 0


# text made of the site's own names and filler that cannot form new matches (no letters, digits, '.', '@')
fragments = st.sampled_from([URL, "example.com", "@example.com", "Example Site", "EXAMPLE SITE", "example site",
                             "example site-online", DBUSER, MASK, "wwwexacom", "'", '"', "\\", "\n"])
filler = st.text(alphabet=" ,;/-_#éü😀\t", max_size=3)
branded_text = st.lists(st.tuples(fragments, filler), max_size=8).map(lambda xs: "".join(a + b for a, b in xs))


@given(branded_text)
def test_remove_then_apply_gives_the_original_back(text):
    remove = branding.sql_pairs(URL, NAME, DBUSER, MASK)
    apply = branding.apply_sql_pairs(URL, NAME, DBUSER, MASK)
    data = text.encode()
    # webroot files
    files = branding.brand_file_bytes(data, branding.file_pairs(URL, NAME))
    assert branding.remaining(files, URL) == 0
    assert branding.brand_file_bytes(files, branding.apply_file_pairs(URL, NAME)) == data
    # a dump: the text as a plain line, inside a serialized value of an INSERT, and as a COPY field
    for dialect in sqldump.DIALECTS:
        if dialect == "mysql":
            dump = [my_insert("1", php_serialize([(0, text)]), text)]
        else:
            dump = [b"COPY public.t (a, b) FROM stdin;\n",
                    sqldump.escape(php_serialize([(0, text)]), dialect) + b"\t" + sqldump.escape(text, dialect) + b"\n",
                    b"\\.\n"]
        r, a = branding.SqlLineReplacer(remove, dialect), branding.SqlLineReplacer(apply, dialect)
        branded = [r(line) for line in dump]
        assert branding.remaining(b"".join(branded), URL) == 0
        for row in sqldump.iter_rows(branded, dialect):
            assert serialized.check(row.values[-2]) == []
        assert [a(line) for line in branded] == dump

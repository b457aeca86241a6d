from hypothesis import given
from hypothesis import strategies as st
from smsgate.text import attachment_url, is_gsm7, segment, smart_encode, split_bytes, with_attachments


def test_gsm7_detection():
    assert is_gsm7("Hello @ £ € {}")
    assert not is_gsm7("Привет")
    assert not is_gsm7("emoji 👋")


def test_smart_encode_replaces_typography_only_when_it_helps():
    assert smart_encode("Fancy “Smart” Quotes – and…") == 'Fancy "Smart" Quotes - and...'
    assert smart_encode("non\u00a0breaking") == "non breaking"
    # still not GSM-7 after substitution: the original is kept (it will go as UCS-2)
    assert smart_encode("“quotes” Привет") == "“quotes” Привет"


def test_segment_limits():
    assert segment("a" * 160).count == 1
    assert segment("a" * 161).count == 2
    assert [len(p) for p in segment("a" * 306).parts] == [153, 153]
    assert segment("€" * 80).count == 1  # 160 septets: each € is escape + char
    assert segment("€" * 81).count == 2
    assert segment("я" * 70).encoding == "ucs2" and segment("я" * 70).count == 1
    assert [len(p) for p in segment("я" * 71).parts] == [67, 4]


def test_segment_never_breaks_an_escape_pair():
    text = "a" * 152 + "€" + "b" * 10  # € would straddle the 153-septet boundary
    parts = segment(text).parts
    assert parts[0] == "a" * 152 and parts[1].startswith("€")


def test_segment_never_breaks_a_surrogate_pair():
    text = "я" * 66 + "👋" + "я" * 10  # 👋 takes two UTF-16 units; only one is left in segment 1
    parts = segment(text).parts
    assert parts[0] == "я" * 66 and parts[1].startswith("👋")


@given(st.text(max_size=600))
def test_segments_rejoin_to_the_text_and_respect_limits(text):
    result = segment(text)
    assert "".join(result.parts) == text
    if result.count > 1:
        gsm = result.encoding == "gsm7"
        for part in result.parts:
            units = sum((2 if c in "^{}\\[~]|€\f" else 1) if gsm else (2 if ord(c) > 0xFFFF else 1) for c in part)
            assert units <= (153 if gsm else 67)


def test_split_bytes_matches_courier():
    text = "This is a long message that will be longer than 30....... characters"
    assert split_bytes(text, 30) == ["This is a long message that", "will be longer than 30.......", "characters"]
    assert split_bytes("short", 160) == ["short"]


@given(st.text(min_size=1, max_size=400), st.integers(min_value=8, max_value=200))
def test_split_bytes_parts_fit(text, limit):
    for part in split_bytes(text, limit):
        assert len(part.encode()) <= limit


def test_attachments_are_appended_as_urls():
    assert with_attachments("My pic!", ["image/jpeg:https://foo.bar/image.jpg"]) == "My pic!\nhttps://foo.bar/image.jpg"
    assert with_attachments("", ["https://foo.bar/a.png"]) == "https://foo.bar/a.png"


def test_attachment_url_drops_only_a_mime_prefix():
    assert attachment_url("image/jpeg:https://foo.bar/image.jpg") == "https://foo.bar/image.jpg"
    assert attachment_url("https://foo.bar/a.png") == "https://foo.bar/a.png"  # a scheme is not a MIME type
    assert attachment_url("geo:-1.9,30.06") == "geo:-1.9,30.06"  # no slash before the colon: kept whole
    assert attachment_url("a/b://host/x") == "a/b://host/x"  # what follows would lose its scheme: kept whole


def test_new_ids_are_unique_version_4_uuids_and_differ_after_fork():
    import os
    import uuid

    from smsgate.host import new_id

    ids = {new_id() for _ in range(20000)}
    assert len(ids) == 20000
    sample = uuid.UUID(next(iter(ids)))
    assert sample.version == 4 and sample.variant == uuid.RFC_4122
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child reports its next id; it must not repeat the parent's
        os.write(write, new_id().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 64).decode() != new_id()

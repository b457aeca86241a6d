import pytest
from smsgate.phones import InvalidNumber, national_number, normalize_number


@pytest.mark.parametrize(("raw", "country", "short", "sender", "expected"), [
    ("+2349067554729", "US", True, False, "+2349067554729"),
    ("2349067554729", "US", True, False, "+2349067554729"),
    ("2207222333", "GM", True, False, "+2207222333"),
    ("0788383383", "RW", True, False, "+250788383383"),
    ("+250 788 383 383", None, True, False, "+250788383383"),
    ("2020", "RW", True, False, "2020"),
    ("MTN", "RW", True, True, "mtn"),
    ("(555) 123-4567", "US", True, False, "+15551234567"),
])
def test_normalize(raw, country, short, sender, expected):
    assert normalize_number(raw, country, allow_short=short, allow_sender_id=sender) == expected


@pytest.mark.parametrize(("raw", "country", "short", "sender"), [
    ("MTN", "RW", True, False),
    ("2020", "RW", False, False),
    ("", "RW", True, True),
    ("+", None, True, True),
    ("12", "US", True, False),
])
def test_rejects(raw, country, short, sender):
    with pytest.raises(InvalidNumber, match="not a possible number"):
        normalize_number(raw, country, allow_short=short, allow_sender_id=sender)


def test_national_number():
    assert national_number("+250788383383") == "788383383"
    assert national_number("+5582999489287") == "82999489287"

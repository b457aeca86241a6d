"""Form bodies holding raw bytes: the strict UTF-8 default, and the route that reads the bytes itself.

Jasmin (and Kannel's POST get-url) percent-encode an MO's raw `short_message` bytes: UTF-16BE for UCS-2, GSM
septets, binary. Every route keeps refusing a form that is not UTF-8 with a 400; a route declared with
`raw_form=True` gets it and reads `InboundRequest.raw_fields()`, the exact bytes of every parameter.
"""

from __future__ import annotations

import urllib.parse

import httpx
import pytest
from smsgate import Event, InboundRequest, IncomingMessage, route

from tests.support.toy_adapter import Toy

FORM = {"content-type": "application/x-www-form-urlencoded"}
PRIVET = "Привет 👋".encode("utf-16-be")  # 0x04 0x1F ... 0xD8 0x3D 0xDC 0x4B: never valid UTF-8
UCS2_BODY = "from=250788383383&id=mo-1&content=" + urllib.parse.quote_from_bytes(PRIVET) + "&coding=%08"


class RawToy(Toy):
    """The toy adapter plus a route that reads the form's bytes, as the jasmin and kannel adapters do."""

    name = "rawtoy"

    @route("raw", "POST", raw_form=True)
    async def raw(self, req: InboundRequest) -> list[Event]:
        """The MO's text from the raw UTF-16BE bytes of `content`; the decoded view is kept for the test."""
        raw = req.raw_fields()
        text = raw.get("content", b"").decode("utf-16-be")
        return [IncomingMessage(self.channel.name, self.parse_number(raw["from"].decode()), text,
                                external_id=raw["id"].decode(), raw={"form_view": req.params.get("content", ""),
                                                                     "coding": raw["coding"].hex()})]


@pytest.fixture
def raw_toy(smsgate_harness):
    return smsgate_harness({"t": {"adapter": "rawtoy", "country": "RW"}}, adapters=[RawToy],
                           respond=lambda r: httpx.Response(200, text="ext-1"))


def test_a_raw_form_route_gets_the_exact_bytes(raw_toy):
    answer = raw_toy.request("POST", "/c/t/raw", content=UCS2_BODY, headers=FORM)
    assert answer.status_code == 200, answer.text
    [message] = raw_toy.messages(direction="in")
    assert (message.from_, message.text, message.external_ids) == ("+250788383383", "Привет 👋", ["mo-1"])
    # `form` (and so params/fields) stays a readable view, with U+FFFD where the bytes are not UTF-8
    assert "\ufffd" in message.metadata["raw"]["form_view"] and message.metadata["raw"]["coding"] == "08"


def test_every_other_route_still_refuses_a_form_that_is_not_utf8(raw_toy):
    answer = raw_toy.request("POST", "/c/t/receive", content=UCS2_BODY, headers=FORM)
    assert answer.status_code == 400 and "form body is not valid UTF-8" in answer.text
    assert raw_toy.request("POST", "/c/t/nope", content=UCS2_BODY, headers=FORM).status_code == 400
    assert raw_toy.messages(direction="in") == []


def test_a_utf8_form_reads_the_same_both_ways(raw_toy):
    body = "from=250788383383&id=mo-2&content=" + urllib.parse.quote("hé".encode("utf-16-be")) + "&coding=%08"
    assert raw_toy.request("POST", "/c/t/raw", content=body, headers=FORM).status_code == 200
    assert [m.text for m in raw_toy.messages(direction="in")] == ["hé"]


def request(body: bytes, url: str = "https://gw.example/c/t/raw", ctype: str = FORM["content-type"],
            form: list[tuple[str, str]] | None = None) -> InboundRequest:
    return InboundRequest(method="POST", url=url, headers={"content-type": ctype}, query=[], body=body,
                          form=form or [])


@pytest.mark.parametrize(("req", "expected"), [
    (request(b"a=%FF%00&b=x+y&a=second"), {"a": b"\xff\x00", "b": b"x y"}),
    (request(b"a=body", url="https://gw.example/c/t/raw?a=query&q=%D8%3D"), {"a": b"body", "q": b"\xd8="}),
    (request(b"", url="https://gw.example/c/t/raw?only=%E9"), {"only": b"\xe9"}),
    (request(b"caf\xe9=raw\xff"), {"caf\xe9": b"raw\xff"}),  # bytes sent unencoded survive too
    (request(b"--b\r\n...", ctype="multipart/form-data", form=[("text", "Привет")]), {"text": PRIVET.decode(
        "utf-16-be")[:6].encode("utf-8")}),
    (request(b'{"a": "x"}', ctype="application/json"), {}),
])
def test_raw_fields(req: InboundRequest, expected: dict[str, bytes]) -> None:
    assert req.raw_fields() == expected


def test_the_route_mark_carries_the_flag():
    assert RawToy.routes["raw"].raw_form is True
    assert RawToy.routes["receive"].raw_form is False

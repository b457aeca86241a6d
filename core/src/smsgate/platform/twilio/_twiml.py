"""TwiML replies: the `<Message>` elements an application answers an incoming-message webhook with.

Each `<Message>` is one reply, in document order: its text (or its `<Body>`), its `<Media>` URLs, and the
attributes `to` (default: who wrote in), `from`, `action` (that reply's status callback; `statusCallback` is the
older name) and `method`. Twilio sends at most ten replies to one message. The document is parsed with expat,
refusing any DOCTYPE or entity declaration, so no entity expansion or external fetch can happen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.parsers import expat

__all__ = ["MAX_REPLIES", "TwimlRejected", "TwimlReply", "replies"]

MAX_REPLIES = 10
MAX_TWIML_BYTES = 64 * 1024


class TwimlRejected(ValueError):
    """The answer is not a TwiML document smsgate can act on (malformed, unsafe, or not `<Response>`)."""


@dataclass(slots=True)
class TwimlReply:
    """One `<Message>`: what to send, to whom, and where its status callbacks go."""

    text: str
    media: list[str] = field(default_factory=list)
    to: str | None = None
    from_: str | None = None
    action: str | None = None
    method: str = "POST"


@dataclass(slots=True)
class _Open:
    name: str
    attrs: dict[str, str]
    text: list[str] = field(default_factory=list)
    children: list[tuple[str, str]] = field(default_factory=list)  # a <Message>'s <Body> and <Media> texts


def replies(document: bytes) -> list[TwimlReply]:
    """The replies a TwiML document asks for (at most `MAX_REPLIES`); [] for an empty answer or `<Response/>`.

    Verbs other than `<Message>` (a `<Redirect>`) are not acted on. TwimlRejected for anything else."""
    if not document.strip():
        return []
    if len(document) > MAX_TWIML_BYTES:
        raise TwimlRejected(f"TwiML answer larger than {MAX_TWIML_BYTES} bytes")
    found: list[TwimlReply] = []
    stack: list[_Open] = []
    roots: list[str] = []

    def refuse(*_: object) -> None:
        raise TwimlRejected("DOCTYPE and entity declarations are not allowed in TwiML")

    def start(name: str, attrs: dict[str, str]) -> None:
        if not stack:
            roots.append(name)
        stack.append(_Open(name, attrs))

    def end(name: str) -> None:
        done = stack.pop()
        parent = stack[-1] if stack else None
        text = "".join(done.text)
        if done.name == "Message" and parent is not None and parent.name == "Response":
            bodies = [t for kind, t in done.children if kind == "Body"]
            media = [t.strip() for kind, t in done.children if kind == "Media" and t.strip()]
            body = "".join(bodies) if bodies else text
            attrs = done.attrs
            found.append(TwimlReply(body.strip(), media[:MAX_REPLIES], attrs.get("to") or None,
                                    attrs.get("from") or None, attrs.get("action") or attrs.get("statusCallback")
                                    or None, (attrs.get("method") or "POST").upper()))
        elif parent is not None and parent.name == "Message" and done.name in ("Body", "Media"):
            parent.children.append((done.name, text))

    def data(text: str) -> None:
        if stack:
            stack[-1].text.append(text)

    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse  # type: ignore[assignment]
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = data
    try:
        parser.Parse(document, True)
    except expat.ExpatError as exc:
        raise TwimlRejected(f"TwiML is not well-formed XML: {exc}") from None
    except TwimlRejected:
        raise
    except (UnicodeError, LookupError, ValueError) as exc:  # an encoding expat cannot read
        raise TwimlRejected(f"TwiML cannot be read: {exc}") from None
    if roots[:1] != ["Response"]:
        raise TwimlRejected(f"TwiML's root element must be <Response>, not <{roots[0] if roots else ''}>")
    return found[:MAX_REPLIES]

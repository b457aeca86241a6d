"""Safe XML for SOAP-style callbacks: expat with DOCTYPEs refused, and ElementTree's XPath subset on local names."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from xml.parsers import expat

__all__ = ["MAX_XML_BYTES", "UnsafeXML", "compile_xpath", "find_text", "parse_xml"]

#: Courier reads at most this many bytes of an XML callback.
MAX_XML_BYTES = 100_000

_ROOT = "__document__"
# a `prefix:` before a name in a location step; namespaces are dropped from the tree, so from the path too
_PREFIX = re.compile(r"(^|[/\[(@,\s])[A-Za-z_][\w.\-]*:(?=[A-Za-z_*])")


class UnsafeXML(ValueError):
    """The document declares a DOCTYPE or entities: refused, as defusedxml does, to rule out entity bombs."""


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1]


def parse_xml(body: bytes) -> ET.Element:
    """Parse `body` into a tree whose tags and attribute names have no namespace, under a synthetic root.

    Raises `UnsafeXML` for a DOCTYPE or an entity declaration and `ValueError` for anything malformed.
    """
    builder = ET.TreeBuilder()
    builder.start(_ROOT, {})
    parser = expat.ParserCreate(namespace_separator="}")
    parser.buffer_text = True

    def refuse(*_: object) -> None:
        raise UnsafeXML("DOCTYPE and entity declarations are not allowed")

    def start(name: str, attrs: dict[str, str]) -> None:
        builder.start(_local(name), {_local(k): v for k, v in attrs.items()})

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse  # type: ignore[assignment]
    parser.StartElementHandler = start
    parser.EndElementHandler = lambda name: builder.end(_local(name))
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(body, True)
    except expat.ExpatError as exc:
        raise ValueError(str(exc)) from None
    except LookupError as exc:  # the XML declaration names an encoding Python does not know
        raise ValueError(f"unsupported encoding: {exc}") from None
    builder.end(_ROOT)
    return builder.close()


def compile_xpath(xpath: str) -> str:
    """The ElementTree path, relative to `parse_xml`'s synthetic root, for an XPath such as `//mo/from`.

    Namespace prefixes and a final `/text()` are dropped (matching is by local name, as courier's xmlquery
    does for unprefixed steps). Raises `ValueError` when ElementTree cannot evaluate the expression.
    """
    path = xpath.strip()
    if not path:
        raise ValueError("empty XPath")
    if path.endswith("/text()"):
        path = path[: -len("/text()")]
    path = _PREFIX.sub(r"\1", path)
    # XPath starts from the document node, which `parse_xml` makes an element: `/a` and `//a` become `./a`, `.//a`
    path = "." + path if path.startswith("/") else "./" + path
    try:
        ET.Element(_ROOT).find(path)
    except (SyntaxError, KeyError, TypeError) as exc:
        raise ValueError(f"unsupported XPath {xpath!r}: {exc or type(exc).__name__}") from None
    return path


def find_text(root: ET.Element, path: str) -> str | None:
    """The inner text (all descendant text, in document order) of the first element at `path`, or None."""
    node = root.find(path)
    if node is None:
        return None
    return "".join(node.itertext())

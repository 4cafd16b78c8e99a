"""The CAP 1.2 schema of the tests (tests/schemas/cap-v1.2.xsd, transcribed from the OASIS
standard's element list) and the checks XML Schema cannot express."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

XSD = Path(__file__).resolve().parents[1] / "schemas" / "cap-v1.2.xsd"
NS = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
_SCHEMA = etree.XMLSchema(etree.parse(str(XSD)))


def valid_cap(text: str) -> etree._Element:
    """Parse ``text`` and check it against the schema; the root element."""
    root = etree.fromstring(text.encode())
    if not _SCHEMA.validate(root):
        raise AssertionError(f"not valid CAP 1.2: {_SCHEMA.error_log}")
    # CAP 1.2 §3.2.1: a Restricted alert says to whom in <restriction>.
    scope = root.findtext("cap:scope", namespaces=NS)
    if scope == "Restricted":
        assert root.findtext("cap:restriction", namespaces=NS), "Restricted without restriction"
    return root


def texts(root: etree._Element, path: str) -> list[str]:
    return [e.text or "" for e in root.findall(path, namespaces=NS)]

"""Open311 GeoReport v2 answers as JSON or XML (the format is the path's extension), and its
error shape: a list of ``{code, description}`` (XML ``<errors><error>``)."""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree as ET

from starlette.responses import Response

#: The element of each item of a list, by the list's name (the spec's XML examples).
ITEM_NAMES = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "errors": "error",
    "duplicate_candidates": "candidate",
}
MEDIA = {"json": "application/json", "xml": "text/xml"}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _element(name: str, value: Any) -> ET.Element:
    node = ET.Element(name)
    if isinstance(value, dict):
        for key, item in value.items():
            node.append(_element(key, item))
    elif isinstance(value, list):
        child = ITEM_NAMES.get(name, "item")
        for item in value:
            node.append(_element(child, item))
    else:
        node.text = _text(value)
    return node


def to_xml(root: str, value: Any) -> bytes:
    """``value`` (a dict or a list) under ``<root>``, UTF-8 with its declaration."""
    body: bytes = ET.tostring(_element(root, value), encoding="utf-8", xml_declaration=True)
    return body


def render(fmt: str, root: str, value: Any, status_code: int = 200) -> Response:
    """JSON (the value as is) or XML (under ``root``)."""
    if fmt == "xml":
        return Response(to_xml(root, value), status_code, media_type=MEDIA["xml"])
    body = json.dumps(value, ensure_ascii=False)
    return Response(body, status_code, media_type=MEDIA["json"])


def format_of(path: str) -> str:
    """The format a path asks for (``.xml``; JSON otherwise)."""
    return "xml" if path.endswith(".xml") else "json"


def errors(
    path: str, status: int, items: list[dict[str, Any]], headers: dict[str, str] | None
) -> Response:
    """The spec's error answer for the items of the service's one error shape: each item's
    message, with the field it names, as a ``description``."""
    listed = [
        {
            "code": status,
            "description": _describe(item),
        }
        for item in items
    ] or [{"code": status, "description": "error"}]
    response = render(format_of(path), "errors", listed, status)
    response.headers.update(headers or {})
    return response


def _describe(item: dict[str, Any]) -> str:
    loc = [str(p) for p in item.get("loc", []) if p not in ("body", "query", "path")]
    msg = str(item.get("msg", ""))
    return f"{'.'.join(loc)}: {msg}" if loc and not msg.startswith(loc[-1]) else msg

"""How configuration attributes read on the pages."""

import re

from django import template
from django.urls import reverse

register = template.Library()


@register.filter
def readable(value) -> str:
    """An attribute value as a person reads it: ``x -101.84, y -399.04`` for a position,
    ``yes``/``no``, ``—`` for none, lists joined by commas."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{k} {readable(v)}" for k, v in value.items()) or "—"
    if isinstance(value, (list, tuple)):
        return ", ".join(readable(v) for v in value) or "—"
    return str(value)


LONG = 120  # characters: a longer text, or one of more lines, is shown folded
PREVIEW_LINES = 8
SHA256 = re.compile(r"[0-9a-f]{64}")


@register.inclusion_tag("configs/_attribute.html")
def attribute(key: str, value, download_url: str = "", changed=()) -> dict:
    """One attribute as ``key=value``, marked when ``key`` is one of ``changed``. A long
    text (an archived .xcfg file) folds to its first lines, its size and a link to the
    whole file; a SHA-256 shows its first twelve digits (all of them on hover)."""
    shown = {"key": key, "changed": key in changed}
    if isinstance(value, str) and SHA256.fullmatch(value):
        return {**shown, "value": value[:12] + "…", "title": value}
    if not isinstance(value, str) or (len(value) <= LONG and "\n" not in value):
        return {**shown, "value": readable(value)}
    lines = value.splitlines()
    return {
        **shown,
        "long": True,
        "first": lines[0].strip()[:60] if lines else "",
        "preview": "\n".join(lines[:PREVIEW_LINES]),
        "lines": len(lines),
        "more": max(0, len(lines) - PREVIEW_LINES),
        "size": len(value.encode()),
        "download_url": download_url,
    }


@register.simple_tag
def attribute_url(instrument, entry, key: str) -> str:
    """Where the whole of ``entry``'s attribute ``key`` is downloaded (long texts)."""
    if entry is None:
        return ""
    return reverse("configs:attribute", args=[instrument.name, entry.pk, key])

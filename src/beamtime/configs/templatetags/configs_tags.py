"""How configuration attributes read on the pages."""

from django import template

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

"""The documented 1×1-string shim for reductus 1.0.1, imported for its effect (reductus'
environment only): NICE wrote some string fields as 1×1 arrays; reductus' ``str_data`` then
returns a one-element list and fails on ``.lower()`` (e.g. counter/countAgainst of mli0170).
Unwrap it, in this process only."""

from reductus.reflred import nexusref

_str_data = nexusref.str_data


def _str_data_unwrapped(group, field, default=""):
    value = _str_data(group, field, default)
    return value[0] if isinstance(value, list) and len(value) == 1 else value


nexusref.str_data = _str_data_unwrapped

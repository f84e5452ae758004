"""Module documentation as HTML for the browser, rendered from the docstrings with docutils.

Math (``:math:`…``` and ``.. math::``) is left as ``\\(…\\)`` and ``\\[…\\]`` for KaTeX, which
the reduction page serves itself and runs over the rendered text.
"""

from docutils.core import publish_parts

from beamtime.reduction.dataflow.interface import ModuleDef, Terminal

SETTINGS = {
    "math_output": "MathJax",  # leaves the TeX in place for KaTeX's auto-render
    "raw_enabled": False,
    "file_insertion_enabled": False,
    "report_level": 5,  # problems go into the rendered text, not to stderr
    "halt_level": 5,
    "initial_header_level": 4,
}


def _terminal_rst(terminal: Terminal) -> str:
    kind = terminal.datatype + ("[]" if terminal.multiple else "")
    if terminal.datatype == "opt":
        kind = "one of " + ", ".join(f"*{c}*" for c in terminal.units.split("|"))
    elif terminal.units:
        kind += f", {terminal.units}"
    extra = "" if terminal.required else " (optional)"
    if terminal.default not in (None, "", [], ()):
        extra += f" — default ``{terminal.default!r}``"
    return f"``{terminal.name}`` ({kind}){extra}\n    {terminal.description or '—'}\n"


def module_rst(module: ModuleDef) -> str:
    parts = [module.description, ""]
    for title, terminals in (
        ("Inputs", module.inputs),
        ("Parameters", module.controls),
        ("Outputs", module.outputs),
    ):
        if terminals:
            parts += [f"**{title}**", "", *(_terminal_rst(t) for t in terminals), ""]
    parts.append(f"*{module.author}, version {module.version}*")
    return "\n".join(parts)


def module_html(module: ModuleDef) -> str:
    return publish_parts(module_rst(module), writer="html5", settings_overrides=SETTINGS)["body"]

"""What the fit pages and the API draw: the data a data set gives the refl1d adapter, and the
plot of one evaluation (data, model curves, SLD profiles and, polarized, the spin asymmetry).
Shapes, as the pages' plots.js reads them:

- unpolarized: ``{"data": {q, r, dr}, "curve": {q, r, chisq, profile_z, profile_sld}}``;
- polarized: ``{"data": {"cross_sections": {"++": {q, r, dr}, …}}, "curve": {cross_sections:
  {"++": {q, r}, …}, chisq, profile_z, profile_sld, profile_rhoM, profile_thetaM},
  "asymmetry": {q, sa, dsa, model, undefined} or None}`` (None without both ++ and --).
"""

from collections.abc import Mapping

from beamtime.fitting import refl1d_adapter
from beamtime.fitting.data import ReflData


def data_of(dataset) -> refl1d_adapter.Data:
    """A data set's data as the adapter reads them: its cross-sections when polarized."""
    return dataset.cross_sections() if dataset.is_polarized else dataset.data()


def columns(data: ReflData) -> dict:
    return {"q": data.q.tolist(), "r": data.r.tolist(), "dr": data.dr.tolist()}


def plot_data(data: refl1d_adapter.Data) -> dict:
    if isinstance(data, Mapping):
        return {"cross_sections": {name: columns(xs) for name, xs in data.items()}}
    return columns(data)


def plot(data: refl1d_adapter.Data, curve=None) -> dict:
    """The plot of ``data`` and the model's ``curve`` (None when it cannot be drawn)."""
    drawn = {"data": plot_data(data), "curve": curve.__dict__ if curve else None}
    if isinstance(data, Mapping):
        drawn["asymmetry"] = asymmetry(drawn["data"]["cross_sections"], drawn["curve"])
    return drawn


def asymmetry(sections: dict, curve: dict | None) -> dict | None:
    """The data's spin asymmetry with its errors and the model's at the same Q; None without
    both ++ and --."""
    if "++" not in sections or "--" not in sections:
        return None
    found = refl1d_adapter.spin_asymmetry(sections["++"], sections["--"])
    found["model"] = None
    if curve is not None:
        up = {"q": sections["++"]["q"], "r": curve["cross_sections"]["++"]["r"]}
        found["model"] = refl1d_adapter.spin_asymmetry(up, curve["cross_sections"]["--"])["sa"]
    return found


def undefined_note(drawn: dict) -> str:
    """The message for Q points where the spin asymmetry is undefined (R⁺⁺ + R⁻⁻ = 0)."""
    found = (drawn.get("asymmetry") or {}).get("undefined") or []
    if not found:
        return ""
    listed = ", ".join(f"{q:.4g}" for q in found[:5]) + (" …" if len(found) > 5 else "")
    return (
        f"Spin asymmetry: undefined at Q = {listed} 1/Å, where R++ + R-- = 0 "
        f"({len(found)} point{'s' if len(found) > 1 else ''} left out of its plot)."
    )

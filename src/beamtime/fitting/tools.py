"""Planning calculators: neutron scattering length density of a material and the theoretical
capacity of an electrode, as in the web reflectivity "tools" page. Pure Python (no Django);
chemistry comes from ``periodictable``, whose formula parser reads text without evaluating it.

Formulas use periodictable's syntax: ``"Si"``, ``"SiO2"``, ``"D2O"`` (or ``"H[2]2O"``) for
isotopes, ``"(C8H8)10"`` for groups, ``"Si@2.33"`` for a density written into the formula.
"""

import math
from dataclasses import dataclass

import periodictable
from periodictable.core import Element
from periodictable.formulas import Formula
from periodictable.nsf import neutron_sld
from pyparsing import ParseBaseException

# Faraday constant, C/mol: exact since the 2019 SI (N_A * e).
FARADAY = 6.02214076e23 * 1.602176634e-19
# Coulombs in one mAh.
COULOMB_PER_MAH = 3.6

# periodictable's parser reports bad text with several exception types: pyparsing errors for
# syntax, ValueError for unknown elements, KeyError for unknown isotopes, TypeError for
# isotopes of isotopes ("D[1]"), ZeroDivisionError for a natural density of nothing ("C0@n")
# and RecursionError for groups nested too deep.
_PARSE_ERRORS = (
    ParseBaseException,
    ValueError,
    LookupError,
    TypeError,
    ArithmeticError,
    RecursionError,
)
MAX_FORMULA = 200  # characters: a formula longer is refused before it is parsed
# The largest numbers the calculators take, so that every result is a finite number.
MAX_DENSITY = 100.0  # g/cm³ (osmium, the densest element, is 22.6)
MAX_PER_FORMULA = 1000.0  # carrier ions per host formula unit
MAX_RADIUS = 100.0  # cm of an electrode disc
MAX_THICKNESS = 1e7  # nm (1 cm) of an electrode film


class ToolError(ValueError):
    """Invalid calculator input; ``field`` names the input at fault, e.g. ``density``."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class SldResult:
    """Neutron scattering length densities, all in 10⁻⁶ Å⁻²."""

    sld: float  # real part
    isld: float  # absorption: minus the imaginary part, positive for absorbing materials
    incoherent: float
    density: float  # g/cm³ used for the calculation
    wavelength: float  # Å


@dataclass(frozen=True)
class CapacityResult:
    """Theoretical specific capacity of an electrode material."""

    specific_capacity: float  # mAh per gram of host
    host: str  # formula of the host the capacity is counted against
    host_mass: float  # g/mol of that host formula unit
    ions_per_formula: float  # carrier ions stored per host formula unit
    valence_change: float  # charge each carrier ion moves, in elementary charges
    host_density: float | None  # g/cm³ periodictable knows for the host, if any


@dataclass(frozen=True)
class ElectrodeResult:
    """Charge stored in a disc-shaped thin-film electrode."""

    capacity: CapacityResult
    density: float  # g/cm³ of the host film
    volume: float  # cm³
    mass: float  # g of host
    charge: float  # µAh


def sld(formula: str, density: float | None = None, wavelength: float = 1.8) -> SldResult:
    """Return the neutron SLD of ``formula`` at ``density`` g/cm³ for ``wavelength`` Å neutrons.

    Without ``density`` the density written in the formula (``"Si@2.33"``) or periodictable's
    natural density of the element (``"Si"``, ``"Ni"``) is used; compounds such as ``"SiO2"``
    have none, and a ToolError asks for one. Wavelength matters only for the absorption of
    the few resonant rare earths (Gd, Sm, ...): for 1/v absorbers such as B the absorption
    cross section grows with wavelength while the imaginary SLD stays the same.
    Raise ToolError naming the field for unreadable formulas and non-positive numbers.
    """
    wavelength = _positive("wavelength", wavelength)
    compound = _parse(formula)
    density = _density(compound, density)
    try:
        values = neutron_sld(compound, density=density, wavelength=wavelength)
    except _PARSE_ERRORS as exc:
        raise ToolError("formula", f"cannot compute the SLD of {formula!r} ({exc})") from exc
    if values is None or any(v is None for v in values):
        raise ToolError("formula", f"no neutron scattering data for an element of {formula!r}")
    real, absorption, incoherent = (float(v) for v in values)
    if not all(math.isfinite(v) for v in (real, absorption, incoherent)):
        raise ToolError("formula", f"no finite SLD for {formula!r}")
    return SldResult(real, absorption, incoherent, density, wavelength)


def capacity(
    formula: str,
    ions: str = "Li",
    per_formula: float | None = None,
    valence_change: float = 1,
) -> CapacityResult:
    """Return the theoretical specific capacity in mAh/g of an electrode material.

    capacity = n · z · F / (3.6 · M_host): n carrier ions (``ions``) per host formula unit, each
    moving ``valence_change`` = z elementary charges, F the Faraday constant in C/mol, 3.6 C per
    mAh and M_host the host's molar mass in g/mol. As in the web reflectivity calculator, the
    capacity is per gram of host, without the carrier's own mass.

    - Without ``per_formula`` the formula is the fully charged material and n is read from it:
      the host is the formula without the carrier, so ``"Li15Si4"`` is n = 15 on host Si4
      (3579 mAh/g) and ``"LiC6"`` is n = 1 on C6 (372 mAh/g).
    - With ``per_formula`` the whole formula is the host and n = ``per_formula``: ``"Si"`` with
      3.75 is again 3579 mAh/g. Cathode capacities are usually quoted per gram of the lithiated
      material, e.g. ``capacity("LiCoO2", per_formula=1)`` for 274 mAh/g.
    """
    carrier = _carrier(ions)
    valence_change = _positive("valence_change", valence_change)
    compound = _parse(formula)
    if per_formula is None:
        n = sum(count for atom, count in compound.atoms.items() if _element(atom) is carrier)
        if not n:
            raise ToolError(
                "per_formula",
                f"{formula!r} contains no {carrier.symbol}; give the {carrier.symbol} count per "
                "formula unit",
            )
        host_atoms = {a: c for a, c in compound.atoms.items() if _element(a) is not carrier}
        if not host_atoms:
            raise ToolError("formula", f"{formula!r} has no host besides {carrier.symbol}")
        host = periodictable.formula(host_atoms)
    else:
        n = _positive("per_formula", per_formula, MAX_PER_FORMULA)
        host = compound
    specific = n * valence_change * FARADAY / (COULOMB_PER_MAH * host.mass)
    return CapacityResult(
        specific_capacity=specific,
        host=str(host),
        host_mass=host.mass,
        ions_per_formula=float(n),
        valence_change=valence_change,
        host_density=host.density or None,
    )


def electrode(
    material: CapacityResult, radius: float, thickness: float, density: float | None = None
) -> ElectrodeResult:
    """Return the charge in µAh a disc-shaped film of the host can store when fully charged.

    ``radius`` is in cm, ``thickness`` in nm and ``density`` in g/cm³ of the host film as
    deposited (default: the host's natural density, e.g. 2.33 for Si). Charge = π r² t · ρ ·
    specific capacity.
    """
    radius = _positive("radius", radius, MAX_RADIUS)
    thickness = _positive("thickness", thickness, MAX_THICKNESS)
    if density is None:
        if material.host_density is None:
            raise ToolError("density", f"give the density of {material.host} in g/cm³")
        density = material.host_density
    density = _positive("density", density, MAX_DENSITY)
    volume = math.pi * radius**2 * thickness * 1e-7
    mass = volume * density
    return ElectrodeResult(material, density, volume, mass, mass * material.specific_capacity * 1e3)


def c_rate_current(charge: float, c_rate: float) -> float:
    """Return the current in µA that charges ``charge`` µAh at ``c_rate`` (1/3 for C/3)."""
    return _positive("charge", charge) * _positive("c_rate", c_rate)


def _parse(text: str) -> Formula:
    if not isinstance(text, str) or not text.strip():
        raise ToolError("formula", "empty; give a chemical formula such as 'SiO2'")
    if len(text) > MAX_FORMULA:
        raise ToolError("formula", f"longer than {MAX_FORMULA} characters")
    try:
        compound = periodictable.formula(text.strip())
    except _PARSE_ERRORS as exc:
        reason = " ".join(str(exc).split())
        raise ToolError("formula", f"cannot read {text!r} ({reason})") from exc
    if not compound.atoms or not compound.mass > 0:
        raise ToolError("formula", f"{text!r} contains no atoms")
    return compound


def _density(compound: Formula, density: float | None) -> float:
    if density is None:
        if compound.density is None:
            raise ToolError("density", f"give the density of {compound} in g/cm³")
        density = compound.density
    return _positive("density", density, MAX_DENSITY)


def _positive(field: str, value: float, most: float = math.inf) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ToolError(field, f"expected a number, got {value!r}") from None
    if not (math.isfinite(number) and number > 0):
        raise ToolError(field, f"must be a positive number, got {value!r}")
    if number > most:
        raise ToolError(field, f"must be at most {most:g}, got {value!r}")
    return number


def _carrier(symbol: str) -> Element:
    try:
        element = periodictable.elements.symbol(str(symbol).strip())
    except ValueError:
        raise ToolError("ions", f"unknown element {symbol!r}") from None
    if not isinstance(element, Element) or element.number < 1:
        raise ToolError("ions", f"{symbol!r} is not a chemical element")
    return element


def _element(atom) -> Element:
    """Return the element of an atom, isotope or ion in a parsed formula."""
    while not isinstance(atom, Element):
        atom = atom.element
    return atom

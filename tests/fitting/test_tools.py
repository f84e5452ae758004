import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beamtime.fitting.tools import ToolError, c_rate_current, capacity, electrode, sld

# Reference SLDs in 10⁻⁶ Å⁻²: Si 2.07 is the substrate value throughout the web reflectivity
# manual; the others are the NIST neutron activation/SLD calculator's values.


def test_it_computes_silicon_sld():
    assert sld("Si", 2.33).sld == pytest.approx(2.07, abs=0.01)


def test_it_uses_the_natural_density_of_an_element():
    result = sld("Ni")
    assert result.density == pytest.approx(8.9, abs=0.01)
    assert result.sld == pytest.approx(9.41, abs=0.01)


def test_it_uses_a_density_written_in_the_formula():
    assert sld("Si@2.33").sld == pytest.approx(sld("Si", 2.33).sld)


def test_it_computes_heavy_water_sld():
    assert sld("D2O", 1.107).sld == pytest.approx(6.36, abs=0.03)
    assert sld("H[2]2O", 1.107).sld == pytest.approx(sld("D2O", 1.107).sld)


def test_it_computes_light_water_sld():
    water = sld("H2O", 1.0)
    assert water.sld == pytest.approx(-0.56, abs=0.01)
    # Hydrogen's spin incoherence dwarfs its coherent scattering.
    assert water.incoherent > 10


def test_it_computes_polystyrene_sld():
    assert sld("C8H8", 1.05).sld == pytest.approx(1.41, abs=0.02)


def test_it_reports_more_absorption_for_boron_and_gadolinium_than_silicon():
    silicon = sld("Si", 2.33).isld
    assert silicon >= 0
    assert sld("B", 2.34).isld > 1000 * silicon
    assert sld("Gd", 7.9).isld > 1000 * silicon


def test_it_keeps_the_imaginary_sld_of_a_1_over_v_absorber_at_any_wavelength():
    # σa grows as λ but Im(b) = σa / 2λ does not; only resonant rare earths change.
    assert sld("B", 2.34, wavelength=6.0).isld == pytest.approx(sld("B", 2.34).isld)
    assert sld("Gd", 7.9, wavelength=6.0).isld != pytest.approx(sld("Gd", 7.9).isld, rel=0.01)


def test_it_computes_lithiated_silicon_capacity():
    result = capacity("Li15Si4")
    assert result.specific_capacity == pytest.approx(3579, abs=1)
    assert result.host == "Si4"
    assert result.ions_per_formula == 15


def test_it_computes_graphite_capacity_against_the_carbon_host():
    # 1 Li per C6: 96485 C/mol / 3.6 C/mAh / 72.066 g/mol = 371.9 mAh/g.
    assert capacity("LiC6").specific_capacity == pytest.approx(372, abs=0.5)


def test_it_takes_ions_per_formula_unit_of_a_given_host():
    assert capacity("Si", per_formula=3.75).specific_capacity == pytest.approx(3579, abs=1)
    # Cathodes are quoted per gram of the lithiated material: LiCoO2 274 mAh/g.
    assert capacity("LiCoO2", per_formula=1).specific_capacity == pytest.approx(274, abs=0.5)


def test_it_multiplies_capacity_by_the_valence_change():
    # Mg2Si: 2 Mg per Si host, each moving 2 charges, so 4 F per 28.085 g of Si.
    expected = 4 * 96485.33 / 3.6 / 28.085
    assert capacity("Mg2Si", ions="Mg", valence_change=2).specific_capacity == pytest.approx(
        expected, rel=1e-5
    )


def test_it_counts_carrier_isotopes_and_ions():
    assert capacity("Li[6]{+}15Si4").specific_capacity == pytest.approx(
        capacity("Li15Si4").specific_capacity
    )


def test_it_computes_the_charge_of_a_thin_film_electrode():
    # The calculator's defaults: Si disc, 2 cm radius, 75 nm, 2.33 g/cm³, Li3.75Si.
    film = electrode(capacity("Si", per_formula=3.75), radius=2, thickness=75)
    mass = math.pi * 2**2 * 75e-7 * 2.33
    assert film.mass == pytest.approx(mass)
    assert film.charge == pytest.approx(mass * 3578.6 * 1000, rel=1e-4)
    assert film.charge == pytest.approx(786, abs=1)
    assert c_rate_current(film.charge, 1 / 3) == pytest.approx(262, abs=1)


@pytest.mark.parametrize(
    "call, field, message",
    [
        (lambda: sld("Xy2", 1.0), "formula", "formula: cannot read 'Xy2' (unknown element Xy)"),
        (lambda: sld("Si((", 1.0), "formula", "formula: cannot read 'Si(('"),
        (lambda: sld("H[99]", 1.0), "formula", "formula: cannot read 'H[99]'"),
        (lambda: sld("", 1.0), "formula", "formula: empty"),
        (lambda: sld("   ", 1.0), "formula", "formula: empty"),
        (lambda: sld("H0", 1.0), "formula", "formula: 'H0' contains no atoms"),
        (lambda: sld("Fm", 9.7), "formula", "formula: no neutron scattering data"),
        (lambda: sld("SiO2"), "density", "density: give the density of SiO2"),
        (lambda: sld("Si", 0), "density", "density: must be a positive number"),
        (lambda: sld("Si", -2.33), "density", "density: must be a positive number"),
        (lambda: sld("Si", math.nan), "density", "density: must be a positive number"),
        (lambda: sld("Si@0"), "density", "density: must be a positive number"),
        (lambda: sld("Si", "dense"), "density", "density: expected a number"),
        (lambda: sld("Si", 2.33, 0), "wavelength", "wavelength: must be a positive number"),
        (lambda: sld("Si", 2.33, -1), "wavelength", "wavelength: must be a positive number"),
        (lambda: capacity("Xy2"), "formula", "formula: cannot read 'Xy2'"),
        (lambda: capacity(""), "formula", "formula: empty"),
        (lambda: capacity("Si"), "per_formula", "per_formula: 'Si' contains no Li"),
        (lambda: capacity("Li"), "formula", "formula: 'Li' has no host besides Li"),
        (lambda: capacity("Si", per_formula=0), "per_formula", "per_formula: must be a positive"),
        (lambda: capacity("Si", ions="Xx"), "ions", "ions: unknown element 'Xx'"),
        (lambda: capacity("Si", ions="D"), "ions", "ions: 'D' is not a chemical element"),
        (lambda: capacity("LiC6", valence_change=0), "valence_change", "valence_change: must"),
        (lambda: electrode(capacity("LiCoO2", per_formula=1), 1, 75), "density", "density: give"),
        (lambda: electrode(capacity("LiC6"), 0, 75), "radius", "radius: must be a positive"),
        (lambda: electrode(capacity("LiC6"), 1, -5), "thickness", "thickness: must be a positive"),
        (lambda: c_rate_current(100, 0), "c_rate", "c_rate: must be a positive"),
        (lambda: sld("H" * 201, 1.0), "formula", "formula: longer than 200 characters"),
        (lambda: sld("(" * 200 + "H" + ")" * 200), "formula", "formula: longer than 200"),
        (lambda: sld("Si", 1e308), "density", "density: must be at most 100"),
        (lambda: capacity("Si", per_formula=1e308), "per_formula", "per_formula: must be at most"),
        (lambda: electrode(capacity("LiC6"), 1e308, 75), "radius", "radius: must be at most 100"),
        (lambda: electrode(capacity("LiC6"), 1, 1e308), "thickness", "thickness: must be at most"),
        (lambda: electrode(capacity("LiC6"), 1, 75, 1e308), "density", "density: must be at most"),
    ],
)
def test_it_rejects_bad_input_naming_the_field(call, field, message):
    with pytest.raises(ToolError) as info:
        call()
    assert info.value.field == field
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


formula_text = st.one_of(
    st.text(max_size=20),
    st.text(alphabet="HDOSiCLiBGdNa()[]{}0123456789.+-@%/ ein", max_size=20),
)


@settings(max_examples=500, deadline=None)
@given(formula_text)
def test_it_returns_finite_numbers_or_a_tool_error_for_any_text(text):
    try:
        result = sld(text, 1.0)
    except ToolError as exc:
        assert exc.field == "formula"
        assert "\n" not in str(exc)
    else:
        assert all(math.isfinite(v) for v in (result.sld, result.isld, result.incoherent))

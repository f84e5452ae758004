"""The refl steps' shared arithmetic (instruments/refl/numerics): first-order propagation of
independent uncertainties, against derivatives worked out by hand."""

import numpy as np

from beamtime.reduction.instruments.refl.numerics import propagate
from beamtime.reduction.resolution import FWHM_TO_SIGMA


def test_propagation_follows_the_analytic_derivatives():
    """f(a, b) = a·sin(b)/(a + b²): ∂f/∂a = sin(b)·b²/(a + b²)²,
    ∂f/∂b = a·(cos(b)·(a + b²) − 2b·sin(b))/(a + b²)²."""
    a = np.array([0.5, 2.0, 1e-8, 3e4])
    b = np.array([0.3, -1.2, 2.0, 7.0])
    da, db = np.array([0.1, 0.2, 1e-9, 50.0]), np.array([0.01, 0.3, 0.1, 0.5])
    value, error = propagate(lambda x: x[0] * np.sin(x[1]) / (x[0] + x[1] ** 2), [a, b], [da, db])
    d_a = np.sin(b) * b**2 / (a + b**2) ** 2
    d_b = a * (np.cos(b) * (a + b**2) - 2 * b * np.sin(b)) / (a + b**2) ** 2
    np.testing.assert_allclose(value, a * np.sin(b) / (a + b**2), rtol=1e-15)
    np.testing.assert_allclose(error, np.sqrt((d_a * da) ** 2 + (d_b * db) ** 2), rtol=1e-12)


def test_a_linear_function_adds_the_variances_it_scales():
    x = np.array([[1.0, 5.0], [2.0, -3.0], [0.0, 4.0]])
    dx = np.array([[0.1, 0.5], [0.2, 0.3], [1.0, 0.0]])
    value, error = propagate(lambda x: 3 * x[0] - 2 * x[1] + 0.5 * x[2], x, dx)
    np.testing.assert_allclose(value, [-1.0, 23.0], rtol=1e-15)
    np.testing.assert_allclose(error, np.sqrt(9 * dx[0] ** 2 + 4 * dx[1] ** 2 + dx[2] ** 2 / 4))


def test_several_results_of_one_function_each_get_their_uncertainty():
    """A dict of results: the sum and the product of two values, σ² = σa² + σb² and
    (b·σa)² + (a·σb)²."""
    a, b, da, db = np.array([2.0]), np.array([3.0]), np.array([0.4]), np.array([0.1])
    out = propagate(lambda x: {"sum": x[0] + x[1], "product": x[0] * x[1]}, [a, b], [da, db])
    assert list(out) == ["sum", "product"]
    np.testing.assert_allclose(out["sum"], ([5.0], [np.hypot(0.4, 0.1)]))
    np.testing.assert_allclose(out["product"], ([6.0], [np.hypot(3 * 0.4, 2 * 0.1)]))


def test_a_value_that_is_not_finite_has_no_finite_uncertainty():
    """(a − b)/(a + b) at a = b = 0 is 0/0 and at a = −b ≠ 0 is infinite: so are the
    derivatives 2b/(a + b)² and −2a/(a + b)², where the complex step alone would see a
    finite quotient of the two small imaginary parts."""
    a, b = np.array([0.0, 1.0, 1.0]), np.array([0.0, -1.0, 1.0])
    with np.errstate(all="ignore"):
        value, error = propagate(lambda x: (x[0] - x[1]) / (x[0] + x[1]), [a, b], [[0.1] * 3] * 2)
    assert np.isnan(value[0]) and np.isnan(error[0])
    assert np.isinf(value[1]) and np.isinf(error[1]) and error[1] > 0
    np.testing.assert_allclose(error[2], np.hypot(2 * 1 * 0.1, 2 * 1 * 0.1) / 4)


def test_fwhm_and_sigma_of_a_gaussian():
    """Half the maximum of exp(−x²/2σ²) is at x = σ·√(2 ln 2)."""
    half_width = 0.5 / FWHM_TO_SIGMA
    assert abs(np.exp(-(half_width**2) / 2) - 0.5) < 1e-15

"""A Gaussian's width two ways: its full width at half maximum is 2√(2 ln 2) times its standard
deviation σ. Kept here, outside any instrument, because the exports (which web workers load
without any instrument's steps) write dQ either way, as the refl steps compute with it."""

import math

FWHM_TO_SIGMA = 1 / (2 * math.sqrt(2 * math.log(2)))

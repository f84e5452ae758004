"""Steps that sort data sets: by intent, by cross-section, by any of their facts."""

import operator
from dataclasses import replace

from beamtime.reduction.dataflow.interface import ParameterError
from beamtime.reduction.instruments.refl.registry import module


@module(light=True)
def mark_intent(data, intent="auto"):
    """
    Say what a scan measures, or let its angles say. With :math:`\\theta_i = T_i`,
    :math:`\\theta_f = T_d/2` and a tolerance :math:`\\delta = 0.1\\,\\Delta\\theta` (the 1-σ
    angular resolution of each point), *infer* (as reductus does) gives: *intensity* (a
    direct-beam slit scan) when :math:`|\\theta_i| < \\delta` and :math:`|\\theta_f| < \\delta`
    at every point; when both angles move (range above :math:`\\delta`) or neither does,
    *specular* when :math:`|\\theta_f - \\theta_i| < \\delta` at every point, *rock qx* when
    :math:`Q_z` stays within the largest :math:`\\Delta Q` while :math:`Q_x` moves further,
    *background+* when :math:`\\theta_f - \\theta_i > \\delta` at over 90 % of the points
    (sample angle below the specular condition), *background−* when
    :math:`\\theta_i - \\theta_f > \\delta` at over 90 %, else *unknown*; *rock sample* when
    only :math:`\\theta_i` moves, *rock detector* when only :math:`\\theta_f` moves.

    **Inputs**

    data (refldata) : a data set

    intent (opt:auto|infer|specular|background+|background-|intensity|rock sample|rock detector|rock qx):
        *auto* keeps the intent the file gave and infers a missing one, *infer* always
        infers it, anything else sets it [auto]

    **Returns**

    output (refldata) : the data set with its intent

    Author: Beamtime team
    Version: 2026-12-07
    """  # noqa: E501  (an option list is one line)
    return data.with_intent(intent)


# The cross-sections mix_cross_sections copies each one to: spin-flip, non-spin-flip.
MIXED = ({"+-": "-+", "-+": "+-"}, {"++": "--", "--": "++", "+": "-", "-": "+"})


@module(light=True)
def mix_cross_sections(data, mix_sf=False, mix_nsf=False):
    """
    Count two cross-sections as one, where the model cannot tell them apart (the spin-flip
    ones of a sample without chirality, say): every data set passes, and each chosen one
    is passed again as its partner — with *mix sf* each :math:`+-` as :math:`-+` and each
    :math:`-+` as :math:`+-`; with *mix nsf* :math:`++` as :math:`--` and :math:`--` as
    :math:`++` (:math:`+` and :math:`-` alike). A later *join* then Poisson-averages
    partners' points at the same Q (see *join*).

    **Inputs**

    data (refldata[]) : data sets

    mix_sf (bool) : pass +− and −+ on as each other too [False]

    mix_nsf (bool) : pass ++ and −− on as each other too [False]

    **Returns**

    output (refldata[]) : the data sets, then the spin-flip copies, then the non-spin-flip

    Author: Beamtime team
    Version: 2026-12-07
    """
    output = list(data)
    for wanted, mapping in zip((mix_sf, mix_nsf), MIXED, strict=True):
        if wanted:
            output += [
                replace(d, polarization=mapping[d.polarization])
                for d in data
                if d.polarization in mapping
            ]
    return output


# group_by_intent's outputs and the intents each takes; the rest go to "other".
GROUPS = {
    "specular": ("specular",),
    "backp": ("background+",),
    "backm": ("background-",),
    "intensity": ("intensity",),
    "rock": ("rock sample", "rock detector", "rock qx"),
}


@module
def group_by_intent(data):
    """
    Split data sets by what they measure, keeping their order.

    **Inputs**

    data (refldata[]) : data sets with their intent

    **Returns**

    specular (refldata[]) : specular scans

    backp (refldata[]) : background+ scans

    backm (refldata[]) : background− scans

    intensity (refldata[]) : direct beam (slit) scans

    rock (refldata[]) : rocking curves (sample, detector or Qx)

    other (refldata[]) : everything else

    Author: Beamtime team
    Version: 2026-12-07
    """
    groups = [[d for d in data if d.intent in intents] for intents in GROUPS.values()]
    known = {i for intents in GROUPS.values() for i in intents}
    return (*groups, [d for d in data if d.intent not in known])


@module(light=True)
def extract_xs(data, xs="++"):
    """
    Keep one polarization cross-section: front and back spin, ``-`` down, ``+`` up; one sign
    for half-polarized data (one flipper out of the beam), *unpolarized* for none.

    **Inputs**

    data (refldata[]) : data sets of any cross-sections

    xs (opt:++|--|+-|-+|+|-|unpolarized) : the cross-section to keep [++]

    **Returns**

    output (refldata[]) : the data sets of that cross-section

    Author: Beamtime team
    Version: 2026-12-07.2
    """
    wanted = "" if xs == "unpolarized" else xs
    return [d for d in data if d.polarization == wanted]


# What filter may compare: the facts of a data set, never an arbitrary attribute.
FACTS = {
    "name": str,
    "polarization": str,
    "intent": str,
    "sample_name": str,
    "description": str,
    "start": str,
    "normbase": str,
    "wavelength": float,
}
COMPARATORS = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}


@module(light=True)
def filter(data, key="intent", comparator="eq", value=""):
    """
    Keep the data sets whose fact ``key`` compares with ``value`` as asked (text compares as
    text, the wavelength as a number), e.g. *intent* *eq* *specular*; an empty *polarization*
    is unpolarized data. reductus' filter takes the name of any attribute; here it is one of
    the facts listed, so that no text in a template reaches into a data set's internals.

    **Inputs**

    data (refldata[]) : data sets

    key (opt:intent|polarization|name|sample_name|description|start|normbase|wavelength) :
        the fact to compare [intent]

    comparator (opt:eq|ne|lt|le|gt|ge) : =, ≠, <, ≤, >, ≥ [eq]

    value (str) : what to compare it with []

    **Returns**

    output (refldata[]) : the data sets that pass

    Author: Beamtime team
    Version: 2026-12-07.2
    """
    kind, compare = FACTS[key], COMPARATORS[comparator]
    try:
        wanted = kind(value)
    except ValueError:
        raise ParameterError("value", f"{value!r} is not a number, as {key} is") from None
    return [d for d in data if compare(getattr(d, key), wanted)]

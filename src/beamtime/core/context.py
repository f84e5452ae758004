import beamtime

# The four systems, in the order of an experiment: take data, know the set-up, reduce, fit.
SYSTEMS = [
    {
        "slug": "daq",
        "title": "Run control",
        "summary": "Drive the ECC servers through their states, start and stop numbered runs, "
        "keep the electronic run log, watch the data routers.",
    },
    {
        "slug": "configs",
        "title": "Configurations",
        "summary": "What the instrument's configuration was at any instant: the focal plane "
        "and every archived configuration set, with its history.",
    },
    {
        "slug": "reduction",
        "title": "Reduction",
        "summary": "Reduce raw data with dataflow templates; every export carries its provenance.",
    },
    {
        "slug": "fitting",
        "title": "Fitting",
        "summary": "Build reflectivity layer models, evaluate them instantly, fit with refl1d.",
    },
]


def site(request):
    """Navigation and version for every page."""
    path = request.path
    nav = [
        {**s, "url": f"/{s['slug']}/", "active": path.startswith(f"/{s['slug']}/")} for s in SYSTEMS
    ]
    return {"nav": nav, "version": beamtime.__version__}

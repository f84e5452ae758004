"""Beamtime's settings with one more URL, /bare/<date>: a bare Django view answering the
bytes of one fplane file, the anchor bench/fplane.py measures GET /fplane/<date> against in
the same server (gunicorn, workers, middleware)."""

from beamtime.settings import *  # noqa: F403

ROOT_URLCONF = "bare_urls"

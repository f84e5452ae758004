"""Long texts in the configuration history — the .xcfg files archived with each run of an
experiment's ECC servers — fold on the pages to their first lines and their size, download
whole, and show their differing lines on the compare page; all under the experiment's
permissions, as its archive is."""

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from beamtime.configs import store
from beamtime.daq.runs import ecc_instrument
from tests.factory import make_experiment, make_user

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 12, 1, 20, tzinfo=UTC)


def xcfg(gain: str, lines: int = 40) -> str:
    """A configure-*.xcfg file of ``lines`` lines."""
    body = [f'  <Channel id="{i}"><Gain>{gain}</Gain></Channel>' for i in range(lines - 2)]
    return "\n".join(["<Setup>", *body, "</Setup>"]) + "\n"


def archived(text: str) -> dict:
    """What daq.runs.archive_configs records for one ECC server."""
    return {
        "host": "127.0.0.1:8083",
        "describe": "cobo",
        "prepare": "standard",
        "configure": "beam",
        "configure_xcfg": text,
        "configure_sha256": hashlib.sha256(text.encode()).hexdigest(),
    }


@pytest.fixture
def archive(alice):
    """An experiment of alice's whose first run archived gain 120fC, its second 240fC."""
    experiment = make_experiment(members=[alice])
    instrument = ecc_instrument(experiment)
    for when, gain in [(T0, "120fC"), (T0 + timedelta(hours=1), "240fC")]:
        store.apply_change(
            instrument, {"ecc0": archived(xcfg(gain))}, valid_from=when, source="daq"
        )
    return instrument


def test_the_history_page_folds_a_long_text_to_its_first_lines(archive, client, alice):
    client.force_login(alice)
    page = client.get(f"/configs/{archive.name}/").content.decode()
    text = xcfg("240fC")
    assert '<details class="attr-text">' in page
    size = f"{len(text.encode()) / 1024:.1f}\xa0KB"
    assert "configure_xcfg" in page and f"40 lines, {size}" in page
    assert "&lt;Channel id=&quot;6&quot;&gt;" in page  # the 8th line is shown
    assert "&lt;Channel id=&quot;7&quot;&gt;" not in page  # the 9th is not
    assert "… 32 more lines." in page
    digest = hashlib.sha256(text.encode()).hexdigest()
    assert f'title="{digest}">{digest[:12]}…</b>' in page
    assert page.count(digest) == 1  # in the title only


def test_the_whole_text_downloads_as_the_file_it_was(archive, client, alice):
    client.force_login(alice)
    entry = store.configuration_at(archive, T0 + timedelta(hours=2))["ecc0"]
    url = f"/configs/{archive.name}/entries/{entry.pk}/configure_xcfg"
    assert url in client.get(f"/configs/{archive.name}/").content.decode()
    response = client.get(url)
    assert response.status_code == 200
    assert response.content.decode() == xcfg("240fC")
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="ecc0-configure-beam.xcfg"'


def test_the_slot_history_folds_every_run_too(archive, client, alice):
    client.force_login(alice)
    page = client.get(f"/configs/{archive.name}/slots/ecc0/").content.decode()
    assert page.count('<details class="attr-text">') == 2
    assert "120fC" in page and "240fC" in page


def test_the_compare_page_shows_the_lines_that_differ(archive, client, alice):
    client.force_login(alice)
    page = client.get(f"/configs/{archive.name}/").content.decode()
    link = "?from=20261201T20:59:59.999999&to=20261201T21:00:00.000000"
    assert f'{link}">what changed</a>' in page  # the second run's change
    response = client.get(f"/configs/{archive.name}/diff/", {"from": "20261201T20:30:00"})
    (row,) = response.context["rows"]
    assert sorted(row["fields"]) == ["configure_sha256", "configure_xcfg"]
    diff = response.context["rows"][0]["texts"][0]["diff"].splitlines()
    assert diff[:2] == ["--- before/configure_xcfg", "+++ after/configure_xcfg"]
    assert sum(line.startswith("-  <Channel") for line in diff) == 38
    assert '+  <Channel id="0"><Gain>240fC</Gain></Channel>' in diff
    page = response.content.decode()
    assert '<details class="attr-text changed">' in page
    assert "+  &lt;Channel id=&quot;0&quot;&gt;&lt;Gain&gt;240fC" in page


def test_short_values_stay_as_they_were(archive, client, alice):
    client.force_login(alice)
    page = client.get(f"/configs/{archive.name}/").content.decode()
    assert "host=<b>127.0.0.1:8083</b>" in page and "configure=<b>beam</b>" in page


def test_others_see_neither_the_page_nor_the_files(archive, client, alice, charlie):
    entry = store.configuration_at(archive, T0 + timedelta(hours=2))["ecc0"]
    client.force_login(charlie)
    assert client.get(f"/configs/{archive.name}/").status_code == 404
    url = f"/configs/{archive.name}/entries/{entry.pk}/configure_xcfg"
    assert client.get(url).status_code == 404
    client.logout()
    assert client.get(url).status_code == 302  # to log in


def test_only_texts_of_this_instrument_download(archive, client, alice):
    other = ecc_instrument(make_experiment(name="e21000", active=False, members=[alice]))
    store.apply_change(other, {"ecc9": archived(xcfg("60fC"))}, valid_from=T0, source="daq")
    entry = store.configuration_at(other, T0)["ecc9"]
    client.force_login(alice)
    assert client.get(f"/configs/{other.name}/entries/{entry.pk}/configure_xcfg").status_code == 200
    # the entry exists, but not in this instrument
    assert (
        client.get(f"/configs/{archive.name}/entries/{entry.pk}/configure_xcfg").status_code == 404
    )
    mine = store.configuration_at(archive, T0)["ecc0"]
    base = f"/configs/{archive.name}/entries/{mine.pk}"
    assert client.get(f"{base}/nothing").status_code == 404
    assert client.get(f"{base}/host").status_code == 200  # a short text downloads too


def test_the_date_box_speaks_of_fits_only_on_the_focal_plane(archive, client, alice):
    from tests.factory import hetdex

    hetdex()
    client.force_login(alice)
    assert "FITS" not in client.get(f"/configs/{archive.name}/").content.decode()
    assert "(a FITS\n  DATE-OBS)" in client.get("/configs/hetdex/").content.decode()


def test_once_its_experiment_is_deleted_the_archive_is_for_staff_only(archive, client, alice):
    """Its rows stay (nothing lost) but it is no facility instrument every user may read."""
    archive.daq_experiment.delete()
    archive.refresh_from_db()
    staff = make_user("staff", is_staff=True)
    for user, status in [(alice, 404), (make_user("dora"), 404), (staff, 200)]:
        client.force_login(user)
        assert client.get(f"/configs/{archive.name}/").status_code == status
        assert client.get(f"/api/configs/{archive.name}/at").status_code == status
        names = [i["name"] for i in client.get("/api/configs/").json()]
        assert (archive.name in names) == (status == 200)
    assert store.configuration_at(archive, T0 + timedelta(hours=2))["ecc0"]

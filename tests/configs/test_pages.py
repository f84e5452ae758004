from datetime import UTC, datetime, timedelta

import pytest

from tests.factory import make_history, make_unit

T0 = datetime(2017, 1, 10, 18, tzinfo=UTC)
T1 = datetime(2018, 3, 2, 20, tzinfo=UTC)


@pytest.fixture
def signed_in(client, alice):
    make_history(
        (T0, {"013": make_unit("024"), "014": make_unit("025", specslot="043")}),
        (T1, {"013": make_unit("031"), "014": make_unit("025", specslot="043", active=False)}),
    )
    client.force_login(alice)
    return client


@pytest.mark.django_db
class TestPages:
    def test_the_index_lists_instruments(self, signed_in):
        assert "HETDEX focal plane" in signed_in.get("/configs/").content.decode()

    def test_the_focal_plane_is_drawn_with_each_slot_coloured_by_state(self, signed_in):
        response = signed_in.get("/configs/hetdex/?at=20170601")
        points = {p["slot"]: p for p in response.context["plot"]}
        assert len(points) == 84
        assert (points["013"]["state"], points["013"]["text"]) == ("VIRUS", "024")
        assert (points["013"]["x"], points["013"]["y"]) == (-450.0, 150.0)  # column 1, row 3
        assert (points["103"]["x"], points["103"]["y"]) == (450.0, 150.0)  # column 10, row 3
        assert points["103"]["state"] == "empty"
        assert points["056"]["hover"].startswith("IFUSLOT 056: column 5, row 6 (LRS2-B)")
        later = {p["slot"]: p for p in signed_in.get("/configs/hetdex/").context["plot"]}
        assert later["014"]["state"] == "inactive" and later["013"]["text"] == "031"

    def test_a_bad_date_shows_a_message_and_the_current_state(self, signed_in):
        response = signed_in.get("/configs/hetdex/?at=yesterday-ish")
        assert "at: cannot read the date" in response.content.decode()
        assert response.status_code == 200

    def test_the_slot_history_lists_every_interval(self, signed_in):
        page = signed_in.get("/configs/hetdex/slots/013/").content.decode()
        assert page.index("2017-01-10 18:00") < page.index("2018-03-02 20:00")
        assert "ifuid=<b>024</b>" in page and "ifuid=<b>031</b>" in page

    def test_the_diff_marks_what_changed(self, signed_in):
        response = signed_in.get("/configs/hetdex/diff/?from=20170601&to=latest")
        assert [(r["slot"], r["fields"]) for r in response.context["rows"]] == [
            ("013", ["ifuid"]),
            ("014", ["active"]),
        ]
        assert 'class="attr changed">ifuid=' in response.content.decode()

    def test_unknown_instruments_and_slots_are_404(self, signed_in):
        assert signed_in.get("/configs/nope/").status_code == 404
        assert signed_in.get("/configs/hetdex/slots/010/").status_code == 404

    def test_anonymous_users_are_sent_to_log_in(self, client):
        assert client.get("/configs/hetdex/").status_code == 302


@pytest.mark.django_db
def test_a_change_link_shows_that_change_even_within_a_second(client, alice):
    from datetime import timedelta

    start = T1 + timedelta(microseconds=250_000)
    make_history((T0, {"013": make_unit("024")}), (start, {"013": make_unit("031")}))
    client.force_login(alice)
    page = client.get("/configs/hetdex/?at=20170601").content.decode()
    link = f"?at={start:%Y%m%dT%H:%M:%S.%f}"
    assert link in page
    shown = client.get("/configs/hetdex/" + link).context["entries"]
    assert [e.attributes["ifuid"] for e in shown] == ["031"]


@pytest.mark.django_db
def test_the_diff_shows_values_as_a_person_reads_them(client, alice):
    make_history(
        (T0, {"013": make_unit("024")}),
        (T1, {"013": make_unit("024", measured={"x": -451.84, "y": 149.04})}),
    )
    client.force_login(alice)
    page = client.get("/configs/hetdex/diff/?from=20170601&to=latest").content.decode()
    assert "measured=<b>x -451.84, y 149.04</b>" in page
    assert "measured=<b>—</b>" in page and "active=<b>yes</b>" in page
    assert "{&#x27;x&#x27;" not in page and "{'x'" not in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("20180715", "2018-07-16 05:00:00 UTC"),
        ("2018-07-15", "2018-07-16 05:00:00 UTC"),
        ("20180715T03:04:05", "2018-07-15 03:04:05 UTC"),
        ("2018-07-15T03:04:05Z", "2018-07-15 03:04:05 UTC"),
    ],
)
def test_the_date_box_takes_every_form_and_keeps_what_was_typed(signed_in, typed, shown):
    page = signed_in.get("/configs/hetdex/", {"at": typed}).content.decode()
    assert shown in page
    assert f'name="at" value="{typed}"' in page


@pytest.mark.django_db
def test_a_correction_and_a_tag_show_on_the_instrument_page_and_in_the_slot_history(
    signed_in, alice
):
    from beamtime.configs import store
    from tests.factory import hetdex

    store.tag(hetdex(), "HDR3", publish=True)
    store.correct(
        hetdex(),
        {"013": make_unit("026")},
        valid_from=T0 + timedelta(days=1),
        valid_until=T0 + timedelta(days=30),
        user=alice,
        reason="logbook says 026",
    )
    page = signed_in.get("/configs/hetdex/?at=20170115").content.decode()
    assert "Revision <strong>3</strong>" in page and "the latest revision" in page
    assert "tag HDR3</a>" in page
    assert "correction of 2017-01-11 18:00 – 2017-02-09 18:00" in page
    tagged = signed_in.get("/configs/hetdex/?at=20170115&tag=HDR3")
    text = tagged.content.decode()
    assert "Revision <strong>2</strong>" in text and "tag <strong>HDR3</strong>" in text
    assert [e.attributes["ifuid"] for e in tagged.context["entries"]][0] == "024"
    assert "&tag=HDR3" in text  # downloads and links keep the view
    history = signed_in.get("/configs/hetdex/slots/013/").content.decode()
    assert "superseded" in history and "by revision 3: logbook says 026" in history
    assert "(correction, revision 3)" in history
    old = signed_in.get("/configs/hetdex/slots/013/?tag=HDR3").content.decode()
    assert "by revision 3" not in old and "As known in tag <strong>HDR3</strong>" in old


@pytest.mark.django_db
def test_the_diff_compares_as_known_in_a_tag(signed_in):
    from beamtime.configs import store
    from tests.factory import hetdex

    store.tag(hetdex(), "HDR3", publish=True)
    store.correct(hetdex(), {"013": make_unit("026")}, valid_from=T1, reason="logbook")
    latest = signed_in.get("/configs/hetdex/diff/?from=20170601&to=latest")
    assert latest.context["rows"][0]["after"]["ifuid"] == "026"
    tagged = signed_in.get("/configs/hetdex/diff/?from=20170601&to=latest&tag=HDR3")
    assert tagged.context["rows"][0]["after"]["ifuid"] == "031"
    assert "As known in tag <strong>HDR3</strong> (revision 2)" in tagged.content.decode()

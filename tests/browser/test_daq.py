"""A night shift at the browser: take the electronics from Idle to Running and back with the
big buttons, watching the page update by itself."""

import pytest

from tests.browser.test_smoke import log_in, shoot
from tests.factory import make_ecc_server, make_experiment, make_user


@pytest.mark.django_db(transaction=True)
def test_a_whole_run_from_the_status_page(live_server, page, ecc_sim, celery_worker, tmp_path):
    ada = make_user("ada")
    experiment = make_experiment(members=[ada])
    (tmp_path / "staging").mkdir()
    for i in range(3):
        make_ecc_server(
            experiment, ecc_sim(delay=0.3)[1], name=f"ecc{i}", staging=str(tmp_path / "staging")
        )

    log_in(page, live_server, "/daq/")
    shoot(page, "daq-status-idle")

    overall = page.locator("#overall-state")
    for button, state in [
        ("Describe all", "Described"),
        ("Prepare all", "Prepared"),
        ("Configure all", "Ready"),
        ("Start all", "Running"),
    ]:
        page.click(f"button:text('{button}')")
        if button == "Describe all":  # the answer to the click: the others wait for it
            # (it is rendered as the transition is claimed; the servers take 0.3 s each)
            page.locator("#transition").wait_for()
            prepare = page.locator("button:text('Prepare all')")
            assert prepare.is_disabled()
            assert prepare.get_attribute("title") == "describe is in progress"
            shoot(page, "daq-status-describing")
        overall.filter(has_text=state).wait_for(timeout=30_000)
    assert page.inner_text("#run-number").startswith("0")
    shoot(page, "daq-status-running")
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    page.click("button:text('Stop all')")
    overall.filter(has_text="Ready").wait_for(timeout=30_000)
    assert asked == ["End run 0 and stop every ECC server?"]

    # A refused action explains itself.
    page.click("button:text('Describe all')")
    page.locator("[role=alert]").wait_for()
    assert "no single transition from READY to DESCRIBED" in page.inner_text("[role=alert]")
    shoot(page, "daq-status-refused")


@pytest.mark.django_db(transaction=True)
def test_a_failed_start_shows_an_aborted_run(live_server, page, ecc_sim, celery_worker, tmp_path):
    from beamtime.daq.ecc.client import EccClient
    from beamtime.daq.ecc.protocol import State
    from beamtime.daq.models import ECCServer

    ada = make_user("ada")
    experiment = make_experiment(members=[ada])
    for i in range(3):
        simulator, url = ecc_sim(delay=0.1)
        simulator.state = State.READY
        simulator.staging = tmp_path / "staging"
        simulator.staging.mkdir(exist_ok=True)
        make_ecc_server(experiment, url, name=f"ecc{i}", staging=str(simulator.staging))
    ECCServer.objects.update(state=State.READY, target_state=State.READY)
    EccClient(url).special("fail-next")

    log_in(page, live_server, "/daq/")
    page.click("button:text('Start all')")
    page.locator("#run-number .badge", has_text="aborted").wait_for(timeout=30_000)
    page.locator("#overall-state", has_text="Ready").wait_for(timeout=30_000)
    assert "ecc2: Start failed" in page.inner_text("main")
    shoot(page, "daq-status-aborted")


@pytest.mark.django_db(transaction=True)
def test_easy_setup_shows_what_is_wrong(live_server, page, settings):
    settings.DAQ_HOSTS = ["127.0.0.0/8", "192.168.0.0/16"]
    ada = make_user("ada")
    make_experiment(members=[ada], coordinators=[ada])
    log_in(page, live_server, "/daq/setup/easy")
    page.fill("input[name=num_cobos]", "10")
    page.fill("input[name=first_cobo_ecc_ip]", "192.168.1.250")
    page.fill("input[name=first_cobo_data_router_ip]", "192.168.2.60")
    page.fill("input[name=staging_directory]", "/data/staging")
    page.click("button:text('Replace the set-up')")
    page.locator("small.error").first.wait_for()
    assert "run past the end of its subnet" in page.inner_text("main form")
    shoot(page, "daq-easy-setup-error")
    page.fill("input[name=first_cobo_ecc_ip]", "192.168.1.10")
    page.click("button:text('Replace the set-up')")
    page.wait_for_url(live_server.url + "/daq/")
    assert page.locator("text=ECC9").count() == 1
    page.goto(live_server.url + "/daq/setup/sources/")
    assert page.locator("main tbody tr").count() == 10
    shoot(page, "daq-setup-sources")


@pytest.mark.django_db(transaction=True)
def test_observables_run_sheet_and_chart(live_server, page):
    from beamtime.daq.models import Measurement, Observable, RunMetadata

    ada = make_user("ada")
    experiment = make_experiment(members=[ada])
    names = ["Beam current", "Gas pressure", "Mesh voltage"]
    for order, name in enumerate(names):
        Observable.objects.create(
            experiment=experiment, name=name, units="pA" if order == 0 else "", order=order
        )
    for n, value in enumerate([12.5, 11.0, 13.2]):
        run = RunMetadata.objects.create(experiment=experiment, run_number=n)
        Measurement.objects.create(
            observable=experiment.observables.get(name="Beam current"),
            run=run,
            serialized_value=str(value),
        )

    log_in(page, live_server, "/daq/observables/")
    # Drag "Mesh voltage" above "Beam current": the order is saved without a reload.
    with page.expect_response("**/daq/observables/order") as saved:
        page.locator("tr[data-pk]", has_text="Mesh voltage").drag_to(
            page.locator("tr[data-pk]", has_text="Beam current")
        )
    assert saved.value.status == 204
    assert list(experiment.observables.values_list("name", flat=True))[0] == "Mesh voltage"
    shoot(page, "daq-observables")

    page.goto(live_server.url + "/daq/runs/latest?same_as_previous=1")
    shoot(page, "daq-run-sheet")
    page.goto(
        live_server.url
        + f"/daq/observables/{experiment.observables.get(name='Beam current').pk}/chart"
    )
    page.wait_for_selector("#chart .main-svg")
    assert page.locator("#chart .scatterlayer .point").count() == 3
    shoot(page, "daq-observable-chart")


@pytest.mark.django_db(transaction=True)
def test_a_router_waiting_to_file_and_a_refused_log(live_server, page):
    from datetime import timedelta

    from django.utils import timezone

    from beamtime.daq.models import DataRouter, ECCServer

    ada = make_user("ada")
    experiment = make_experiment(members=[ada])
    make_ecc_server(experiment, "http://127.0.0.1:9/", staging="/data/staging")
    DataRouter.objects.update(
        staging_directory_is_clean=False,
        filing_run=7,
        filing_attempts=2,
        filing_error="cannot reach 10.0.0.5:22: Connection refused",
        filing_next_try=timezone.now() + timedelta(seconds=40),
    )
    ECCServer.objects.update(log_path="/etc/passwd")  # saved before the log folders existed
    from beamtime.daq.models import Alarm

    Alarm.objects.create(
        experiment=experiment, key="filing:ecc0-router0", message="run 7 could not be filed"
    )
    log_in(page, live_server, "/daq/")
    assert "run 7: retry 3 in" in page.inner_text("main")
    assert "run 7 could not be filed" in page.inner_text("[role=alert].alarm")
    assert page.locator("button:text('Retry now')").count() == 1
    shoot(page, "daq-status-filing-retry")
    page.goto(live_server.url + f"/daq/servers/{ECCServer.objects.get().pk}/log")
    assert "root:" not in page.inner_text("main")
    assert "BEAMTIME_DAQ_LOG_ROOTS" in page.inner_text("p[role=alert]")
    shoot(page, "daq-log-refused")


@pytest.mark.django_db(transaction=True)
def test_a_coordinator_sets_the_run_limit_on_its_page(live_server, page):
    ada = make_user("ada")
    make_experiment(members=[ada], coordinators=[ada])
    page.set_default_timeout(90_000)  # a shared machine: the first page load may be slow
    log_in(page, live_server, "/daq/")
    page.click("a:text('Run limit')")
    page.fill("input[name=minutes]", "60")
    page.check("input[name=stop_at_limit]")
    shoot(page, "daq-run-limit")
    page.click("button:text('Save the run limit')")
    page.wait_for_url(live_server.url + "/daq/")
    assert "(runs stop after 3600 s)" in page.inner_text("main")


@pytest.mark.django_db(transaction=True)
def test_a_click_shows_the_busy_spinner_before_the_answer(live_server, page):
    """Measured in the page: the clicked button shows its spinner (Pico's aria-busy, drawn in
    ::before) as the click is handled, before any answer from the server. (How soon is the
    browser's business: a loaded machine stalls the page itself; this checks the order.)"""
    ada = make_user("ada")
    make_experiment(members=[ada])
    page.set_default_timeout(90_000)  # a shared machine: the first page load may be slow
    log_in(page, live_server, "/daq/")
    page.evaluate(
        """() => {
        window.busy = window.answered = null;
        document.addEventListener('htmx:afterRequest', () => {
            window.answered = window.answered ?? performance.now();
        });
        document.addEventListener('click', (event) => {
            const button = event.target.closest('button');
            new MutationObserver((_, observer) => {
                if (button.getAttribute('aria-busy') !== 'true') return;
                const spinner = getComputedStyle(button, '::before');
                window.busy = {at: performance.now(),
                               drawn: spinner.content !== 'none' && spinner.backgroundImage};
                observer.disconnect();
            }).observe(button, {attributes: true, attributeFilter: ['aria-busy']});
        }, {capture: true});
    }"""
    )
    page.click("button:text('Describe all')")
    page.wait_for_function("() => window.busy !== null && window.answered !== null")
    busy, answered = page.evaluate("() => [window.busy, window.answered]")
    assert busy["drawn"] not in (None, "", "none")
    assert busy["at"] < answered, (busy, answered)

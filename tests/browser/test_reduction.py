"""A night-shift reduction in Chromium: build load → normalize → mask points in the dataflow
editor (wiring, a loop refused, deleting), pick a PBR file, plot, change a parameter with and
without auto-accept, meet an error on its node, mask a point on the plot, download the
template and the exports, reload the text export, stash and compare."""

import io
import json
import re
import zipfile

import pytest
from playwright.sync_api import expect

from beamtime.reduction import service
from tests.browser.test_smoke import log_in, shoot
from tests.factory import make_user
from tests.reduction.conftest import fresh_cache, pbr_source  # noqa: F401  (fixtures)

LEGEND = "#plot .legend .traces"
LEGEND_TEXT = "#plot .legend .legendtext"


def node(page, index):
    return page.locator(f"#diagram [data-node='{index}']")


def port_selector(index, kind, terminal):
    return f"#diagram [data-node='{index}'] [data-kind={kind}][data-terminal={terminal}] .port"


def port(page, index, kind, terminal):
    return page.locator(port_selector(index, kind, terminal))


def centre(page, selector):
    """Where an element is on the page, found and measured in one step: the diagram is drawn
    anew whenever an answer comes in, so a handle to an element may go stale."""
    return page.evaluate(
        """selector => {
            const r = document.querySelector(selector).getBoundingClientRect();
            return [r.x + r.width / 2, r.y + r.height / 2];
        }""",
        selector,
    )


def add_step(page, module):
    count = page.locator("#diagram [data-node]").count()
    page.select_option("#add-module", module)
    expect(page.locator("#diagram [data-node]")).to_have_count(count + 1)


def wire(page, source, target):
    """Drag from output ``source`` (node, terminal) to input ``target`` (node, terminal)."""
    page.mouse.move(*centre(page, port_selector(source[0], "output", source[1])))
    page.mouse.down()
    page.mouse.move(*centre(page, port_selector(target[0], "input", target[1])), steps=8)
    page.mouse.up()


def plot_terminal(page, index, kind, terminal):
    with page.expect_response("**/api/reduction/calculate"):
        port(page, index, kind, terminal).click()


def points(page, trace=0):
    """The markers drawn for a trace of the plot."""
    return page.locator("#plot .scatterlayer .trace").nth(trace).locator(".points path")


def menu(page, name, action):
    page.click(f"#reduction summary:text-is('{name}')")
    page.click(f"#reduction a[data-action={action}]")


def screenshot(page, name):
    page.evaluate("window.scrollTo(0, 0)")  # the side columns stick to a scrolled window
    shoot(page, name)


def first_line_of_export(path) -> str:
    data = path.read_bytes()
    if data.startswith(b"PK"):
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            data = z.read(z.namelist()[0])
    return data.decode().split("\n", 1)[0]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("pbr_source", "fresh_cache")
def test_a_reduction_from_raw_file_to_stashed_comparison(live_server, page, tmp_path):
    make_user("ada")
    script_errors = []
    page.on("pageerror", lambda error: script_errors.append(error))
    log_in(page, live_server, "/reduction/")
    expect(page.locator("#add-module option[value='refl.normalize']")).to_be_attached()
    expect(page.locator("#files li.file", has_text="mli0115.nxs.pbr")).to_be_visible()

    # The predefined templates come from the server.
    predefined = service.instrument_definitions()[0]["templates"]
    for template in predefined:
        page.click("#reduction summary:text-is('Template')")
        page.click(f"#predefined a:text-is('{template['name']}')")
        expect(page.locator("#diagram [data-node]")).to_have_count(len(template["nodes"]))
        screenshot(page, "reduction-predefined")

    # Build load → normalize → mask points by hand.
    menu(page, "Template", "new-template")
    expect(page.locator("#diagram [data-node]")).to_have_count(0)
    add_step(page, "refl.load")
    add_step(page, "refl.normalize")  # placed right of the selected load
    wire(page, (0, "output"), (1, "data"))
    expect(page.locator("#diagram .wire")).to_have_count(1)
    add_step(page, "refl.mask_points")
    wire(page, (1, "output"), (2, "data"))
    expect(page.locator("#diagram .wire")).to_have_count(2)
    # A wire that would close a loop is refused in the browser.
    wire(page, (2, "output"), (1, "data"))
    expect(page.locator("#message")).to_contain_text("loop")
    expect(page.locator("#diagram .wire")).to_have_count(2)
    # A step added by mistake: its wire goes with the Delete key, the step with the button.
    add_step(page, "refl.rescale")
    wire(page, (2, "output"), (3, "data"))
    expect(page.locator("#diagram .wire")).to_have_count(3)
    page.mouse.click(*centre(page, "#diagram [data-wire='2'] .hit"))
    expect(page.locator("#diagram .wire.selected")).to_have_count(1)
    page.keyboard.press("Delete")
    expect(page.locator("#diagram .wire")).to_have_count(2)
    node(page, 3).locator(".title").click()
    page.click("#delete")
    expect(page.locator("#diagram [data-node]")).to_have_count(3)

    # Pick the file into the load step.
    node(page, 0).locator(".title").click()
    expect(page.locator("#panel .module-id")).to_have_text("refl.load")
    page.locator("#files li.file", has_text="mli0115.nxs.pbr").click()
    expect(page.locator("#panel .chosen-files li")).to_have_text(["mli0115.nxs.pbr×"])

    # Plot the normalized counts: two cross-sections, log y.
    plot_terminal(page, 1, "output", "output")
    expect(page.locator(LEGEND)).to_have_count(2)
    expect(page.locator("#plot .ytitle")).to_have_text("counts per monitor count")
    assert page.evaluate("document.getElementById('plot').layout.yaxis.type") == "log"
    expect(page.locator("#log-y")).to_be_checked()
    expect(node(page, 1).locator(".cached")).to_be_visible()
    screenshot(page, "reduction-plot")

    # Per second instead of per monitor count.
    node(page, 1).locator(".title").click()
    with page.expect_response("**/api/reduction/calculate"):
        page.select_option("#panel select", "time")
    expect(page.locator("#plot .ytitle")).to_have_text("counts per second")

    # Mask a point on the plot of the mask step's input.
    plot_terminal(page, 2, "input", "data")
    expect(page.locator("#panel .module-id")).to_have_text("refl.mask_points")
    expect(page.locator("#mask-hint")).to_be_visible()
    before = points(page).count()
    page.mouse.click(
        *centre(page, "#plot .scatterlayer .trace:first-child .points path:nth-child(4)")
    )
    expect(page.locator("#panel textarea")).to_have_value("3")
    expect(points(page)).to_have_count(before - 1)  # the masked point is drawn apart
    screenshot(page, "reduction-mask")
    plot_terminal(page, 2, "output", "output")
    expect(page.locator(LEGEND)).to_have_count(2)
    expect(points(page)).to_have_count(before - 1)

    # A point that is not there: the error shows on the node and beside the field.
    with page.expect_response("**/api/reduction/calculate"):
        page.fill("#panel textarea", "99")
        page.locator("#panel textarea").blur()
    expect(node(page, 2)).to_have_class("node selected error")
    expect(page.locator("#diagram .error-label")).to_contain_text("no point 99")
    expect(page.locator("#panel [data-control=mask_indices] .field-error")).to_contain_text(
        "no point 99"
    )
    expect(node(page, 0)).not_to_have_class("error")
    screenshot(page, "reduction-error")
    with page.expect_response("**/api/reduction/calculate"):
        page.fill("#panel textarea", "3")
        page.locator("#panel textarea").blur()
    expect(page.locator("#diagram .node.error")).to_have_count(0)
    expect(points(page)).to_have_count(before - 1)

    # Download the template and the text export.
    with page.expect_download() as download:
        menu(page, "Template", "download-template")
    template = json.loads(download.value.path().read_text())
    assert [n["module"] for n in template["nodes"]] == [
        "refl.load",
        "refl.normalize",
        "refl.mask_points",
    ]
    assert template["nodes"][2]["config"] == {"mask_indices": [[3]]}
    with page.expect_download() as download:
        menu(page, "Data", "export-text")
    exported = tmp_path / download.value.suggested_filename
    download.value.save_as(exported)
    header = json.loads(first_line_of_export(exported).removeprefix("# "))
    assert header["template"] == template and (header["node"], header["terminal"]) == (2, "output")
    with page.expect_download() as hdf5:
        menu(page, "Data", "export-hdf5")
    assert hdf5.value.path().read_bytes().startswith(b"\x89HDF")

    # Reload the export into an empty editor: the same diagram, and its plot.
    menu(page, "Template", "new-template")
    expect(page.locator("#diagram [data-node]")).to_have_count(0)
    with page.expect_file_chooser() as chooser:
        menu(page, "Data", "reload-exported")
    with page.expect_response("**/api/reduction/calculate"):
        chooser.value.set_files(exported)
    expect(page.locator("#diagram [data-node]")).to_have_count(3)
    expect(page.locator("#diagram .wire")).to_have_count(2)
    expect(page.locator("#diagram .terminal.plotted")).to_have_count(1)
    expect(page.locator(LEGEND)).to_have_count(2)
    expect(points(page)).to_have_count(before - 1)

    # Stash per second and per monitor count, then compare them.
    page.fill("input[name=stash-name]", "per second")
    page.click("button:text('stash the plot')")
    # Without auto-accept a change waits for "accept", and is dropped on leaving the node.
    node(page, 1).locator(".title").click()
    page.uncheck("#panel input[name=auto-accept]")
    page.select_option("#panel select", "monitor")
    expect(page.locator("#panel .dirty")).to_be_visible()
    node(page, 0).locator(".title").click()
    node(page, 1).locator(".title").click()
    expect(page.locator("#panel select")).to_have_value("time")
    expect(page.locator("#plot .ytitle")).to_have_text("counts per second")
    page.select_option("#panel select", "monitor")
    with page.expect_response("**/api/reduction/calculate"):
        page.click("#panel button:text('accept')")
    expect(page.locator("#plot .ytitle")).to_have_text("counts per monitor count")
    page.check("#panel input[name=auto-accept]")
    page.fill("input[name=stash-name]", "per monitor")
    menu(page, "Data", "stash")
    for name in ("per second", "per monitor"):
        page.locator(f"ul.stashed li[data-stash='{name}'] input[type=checkbox]").check()
    page.click("button:text('compare ticked')")
    expect(page.locator(LEGEND)).to_have_count(4)
    expect(page.locator("#plot .ytitle")).to_have_text(
        "counts per second / counts per monitor count"
    )
    screenshot(page, "reduction-compare")

    # A file that is not JSON is refused with a message; the page keeps the template.
    bad = tmp_path / "notes.json"
    bad.write_text("{ not json")
    with page.expect_file_chooser() as chooser:
        menu(page, "Template", "upload-template")
    chooser.value.set_files(bad)
    expect(page.locator("#message")).to_contain_text(
        "notes.json is not a template: it is not valid JSON"
    )
    expect(page.locator("#diagram [data-node]")).to_have_count(3)

    # The browser keeps the working template over a reload of the page.
    page.reload()
    expect(page.locator("#diagram [data-node]")).to_have_count(3)
    expect(page.locator("ul.stashed li[data-stash]")).to_have_count(2)
    assert script_errors == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("pbr_source", "fresh_cache")
def test_reduced_data_go_to_fitting_and_the_fit_leads_back(live_server, page):
    make_user("ada")
    log_in(page, live_server, "/reduction/")
    # The file browser says what each file holds: under its sample and intent.
    summary = page.locator("#files li.file", has_text="mli0115.nxs.pbr").locator(".summary")
    expect(summary).to_have_text("-- 15, ++ 14 points")
    expect(
        page.locator("#files li.group.intent", has_text="background-").locator(".name")
    ).to_contain_text(["mli01120.nxs.pbr"])
    page.click("#reduction summary:text-is('Template')")
    page.click("#predefined a:text-is('Specular and direct beam')")
    for index, file in ((0, "mli0115.nxs.pbr"), (3, "mli0159.nxs.pbr")):
        node(page, index).locator(".title").click()
        page.locator("#files li.file", has_text=file).click()
        expect(page.locator("#panel .chosen-files li")).to_have_text([f"{file}×"])
    plot_terminal(page, 7, "output", "output")
    expect(page.locator(LEGEND)).to_have_count(2)
    expect(page.locator("#plot .ytitle")).to_have_text("reflectivity")

    menu(page, "Data", "fit-this")
    with page.expect_navigation():
        page.click("#fit-choice button:text-is('mli0115.nxs.pbr:UP_UP ++')")
    expect(page).to_have_url(re.compile(r"/fit/refl/\d+$"))
    expect(page.locator("h1")).to_have_text("mli0115.nxs.pbr:UP_UP")
    expect(page.locator("#provenance")).to_contain_text("local:mli0115.nxs.pbr")
    expect(page.locator("#provenance")).to_contain_text("local:mli0159.nxs.pbr")
    shoot(page, "fit-from-reduction")

    page.click("#provenance a:text-is('open the reduction')")
    expect(page.locator("#diagram [data-node]")).to_have_count(8)
    expect(page.locator("#message")).to_contain_text("Reloaded the reduction of data set")
    expect(page.locator(LEGEND)).to_have_count(2)
    expect(page.locator("#plot .ytitle")).to_have_text("reflectivity")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("pbr_source", "fresh_cache")
def test_a_files_cross_sections_are_chosen_in_the_browser(live_server, page):
    make_user("ada")
    log_in(page, live_server, "/reduction/")
    menu(page, "Template", "new-template")
    add_step(page, "refl.load")
    node(page, 0).locator(".title").click()
    slit = page.locator("#files li.file", has_text="mli0159.nxs.pbr")
    expect(slit.locator(".summary")).to_contain_text("-- 1, -+ 1, +- 1, ++ 1 points")
    slit.locator("label").first.click()
    boxes = slit.locator("fieldset.cross-sections input")
    expect(boxes).to_have_count(4)
    boxes.nth(1).uncheck()  # -+
    page.locator("#files li.file", has_text="mli0159.nxs.pbr").locator(
        "fieldset.cross-sections input"
    ).nth(2).uncheck()  # +-
    expect(page.locator("#panel .chosen-files li")).to_have_text(
        ["mli0159.nxs.pbr · DOWN_DOWN, UP_UP×"]
    )
    screenshot(page, "reduction-cross-sections")
    plot_terminal(page, 0, "output", "output")
    expect(page.locator(LEGEND)).to_have_count(2)


@pytest.fixture
def both_folders():
    """Both folders of PBR files as the local source."""
    from beamtime.reduction import sources
    from tests.reduction.conftest import PBR, data_sources

    with data_sources(sources.LocalSource("local", PBR.parent)):
        yield


def open_template(page, live_server, name="Polarized (reductus)"):
    """Log in and open a predefined template (the stock polarized one); its nodes' titles."""
    log_in(page, live_server, "/reduction/")
    page.click("#reduction summary:text-is('Template')")
    page.click(f"#predefined a:text-is('{name}')")
    template = next(
        t for t in service.instrument_definitions()[0]["templates"] if t["name"] == name
    )
    return [n["title"] for n in template["nodes"]]


def pick_files(page, titles, files):
    """For each (loader title, folder, file): select the loader, open the folder, tick the
    file, and go back to the source's top."""
    for title, folder, file in files:
        node(page, titles.index(title)).locator(".title").click()
        page.locator("#files li.folder a", has_text=folder).click()
        page.locator("#files li.file", has_text=file).locator("label").first.click()
        expect(page.locator("#panel .chosen-files li")).to_have_count(1)
        page.locator("#files nav a", has_text="local").click()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("both_folders", "fresh_cache")
def test_the_stock_polarized_template_runs_in_the_editor(live_server, page):
    make_user("ada")
    titles = open_template(page, live_server)
    for title, folder, file in (
        ("specular", "reductus-pbr", "mli0170.nxs.pbr"),
        ("direct beam", "ncnr-pbr", "mli0159.nxs.pbr"),
    ):
        node(page, titles.index(title)).locator(".title").click()
        page.locator("#files li.folder a", has_text=folder).click()
        expect(page.locator("#files nav li")).to_have_count(2)
        # the crumbs on one line, the separator between them (not over the second)
        first, second = page.locator("#files nav li a").evaluate_all(
            "links => links.map(a => a.getBoundingClientRect().toJSON())"
        )
        assert second["top"] == first["top"] and second["left"] > first["right"] + 8
        screenshot(page, f"reduction-files-{folder}")
        page.locator("#files li.file", has_text=file).locator("label").first.click()
        expect(page.locator("#panel .chosen-files li")).to_have_count(1)
        page.locator("#files nav a", has_text="local").click()
    estimate = titles.index("estimate polarization")
    plot_terminal(page, estimate, "output", "polarization")
    # named for the direct beam's file: all four of its cross-sections go into each one
    expect(page.locator(LEGEND_TEXT)).to_have_text([f"mli0159.nxs.pbr {e}" for e in EFFICIENCIES])
    expect(page.locator("#plot .ytitle")).to_have_text("efficiency (%)")
    # ORSO holds reflectivity: the export is refused under the menu, the node stays well
    with page.expect_response("**/api/reduction/calculate"):
        menu(page, "Data", "export-orso")
    message = page.locator("#message")
    expect(message).to_have_text(
        "Polarization efficiencies are not a reflectivity: export them as text or HDF5."
    )
    expect(message).to_have_class("notice warning")
    expect(node(page, estimate)).not_to_have_class(re.compile(r"\berror\b"))
    expect(page.locator("#diagram .error-label")).to_have_count(0)
    expect(page.locator("#panel .notice.error")).to_be_hidden()
    screenshot(page, "reduction-polarization-efficiency")
    plot_terminal(page, titles.index("correct polarization"), "output", "output")
    expect(page.locator(LEGEND)).to_have_count(4)
    expect(page.locator("#plot .ytitle")).to_have_text("reflectivity")
    screenshot(page, "reduction-polarized")


EFFICIENCIES = ("front polarizer", "rear polarizer", "front flipper", "rear flipper")
CROSS_SECTIONS = [("UP_UP", "++"), ("UP_DOWN", "+-"), ("DOWN_UP", "-+"), ("DOWN_DOWN", "--")]
SPIN_FLIP_AND_BEAM = [
    ("specular", "reductus-pbr", "mli0170.nxs.pbr"),
    ("direct beam", "ncnr-pbr", "mli0159.nxs.pbr"),
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("both_folders", "fresh_cache")
def test_a_plot_asked_for_while_another_is_calculated_ends_the_waiting(live_server, page):
    """The whole polarized reduction asked for, then at once the loader's raw counts: the
    loader's answer comes first and is shown; the older answer, arriving later, changes
    nothing — and the page no longer says it is calculating."""
    make_user("ada")
    titles = open_template(page, live_server)
    pick_files(page, titles, SPIN_FLIP_AND_BEAM)
    specular = titles.index("specular")
    with page.expect_response("**/api/reduction/calculate") as first:
        port(page, titles.index("correct polarization"), "output", "output").click()
        plot_terminal(page, specular, "output", "output")
    first.value.finished()  # the older calculation's answer too
    page.wait_for_load_state("networkidle")
    expect(page.locator("#busy")).to_be_hidden(timeout=5_000)
    # the loader's four cross-sections, in the file's order
    expect(page.locator(LEGEND_TEXT)).to_have_text(
        [f"mli0170.nxs.pbr:{e} {xs}" for e, xs in reversed(CROSS_SECTIONS)]
    )
    expect(page.locator("#plot .ytitle")).to_have_text("counts")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("both_folders", "fresh_cache")
@pytest.mark.parametrize(
    ("name", "files", "legend", "ylabel"),
    [
        (
            "Unpolarized (reductus)",
            [("specular", "ncnr-pbr", "mli0115.nxs.pbr"), SPIN_FLIP_AND_BEAM[1]],
            ["mli0115.nxs.pbr:UP_UP ++", "mli0115.nxs.pbr:DOWN_DOWN --"],
            "reflectivity",
        ),
        (
            "Polarized with footprint (reductus)",
            SPIN_FLIP_AND_BEAM,
            [f"mli0170.nxs.pbr:{e} {xs}" for e, xs in CROSS_SECTIONS],
            "reflectivity",
        ),
        # the spin asymmetry of the file's ++ and −−, not its −− entry
        (
            "Spin asymmetry (reductus)",
            SPIN_FLIP_AND_BEAM,
            ["mli0170.nxs.pbr spin asymmetry"],
            "spin asymmetry",
        ),
    ],
)
def test_the_other_stock_templates_run_in_the_editor(
    live_server, page, name, files, legend, ylabel
):
    """With the polarized one above, reductus' four stock templates: files picked in the
    browser, the last node plotted (the background loaders left empty pass nothing on), each
    curve named in the legend."""
    make_user("ada")
    titles = open_template(page, live_server, name)
    pick_files(page, titles, files)
    last = len(titles) - 1
    plot_terminal(page, last, "output", "output")
    expect(page.locator("#busy")).to_be_hidden(timeout=30_000)
    expect(page.locator(LEGEND_TEXT)).to_have_text(legend)
    expect(page.locator("#plot .ytitle")).to_contain_text(ylabel)
    expect(node(page, last)).not_to_have_class(re.compile(r"\berror\b"))
    expect(page.locator("#plot .scatterlayer .trace .points path").first).to_be_attached()
    # a node's "cached" dot stands clear of its title (the dots come once the page has asked
    # which nodes are cached, after the plot)
    expect(page.locator("#diagram [data-node] .cached").first).to_be_attached()
    dots = page.evaluate(DOT_ROOM)
    assert dots and min(gap for _, gap in dots) >= 5, dots
    screenshot(page, "reduction-stock-" + name.split(" (")[0].lower().replace(" ", "-"))


# Each cached node's title and the room between its title's first line and its dot (px).
DOT_ROOM = """() => [...document.querySelectorAll('#diagram [data-node]')].flatMap(g => {
    const dot = g.querySelector('.cached');
    if (!dot) return [];
    const line = g.querySelector('.title tspan').getBoundingClientRect();
    return [[g.querySelector('.title').textContent,
             dot.getBoundingClientRect().left - line.right]];
})"""


DRAWN_NODES = """() => [...document.querySelectorAll('#diagram [data-node]')].map(g => {
    const title = g.querySelector('.title');
    const scale = document.getElementById('diagram').getScreenCTM().a;
    return {
        title: [...title.querySelectorAll('tspan')].map(t => t.textContent).join(' '),
        px: parseFloat(getComputedStyle(title).fontSize) * scale,
        box: g.querySelector('.box').getBoundingClientRect().toJSON(),
        texts: [...g.querySelectorAll('.title tspan, .label')].map(
            e => e.getBoundingClientRect().toJSON()),
    };
})"""


# What of the diagram shows without scrolling: its box's inner left and right edges, and
# the lower of its inner bottom edge and the window's.
SEEN = """() => {
    const box = document.querySelector('.diagram-box');
    const r = box.getBoundingClientRect();
    return [r.left + box.clientLeft, r.left + box.clientLeft + box.clientWidth,
            Math.min(r.top + box.clientTop + box.clientHeight, window.innerHeight)];
}"""


def overlap(a, b) -> bool:
    return (
        a["left"] < b["right"]
        and b["left"] < a["right"]
        and a["top"] < b["bottom"]
        and b["top"] < a["bottom"]
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("pbr_source", "fresh_cache")
def test_the_diagram_is_readable_whole_and_reached_by_keyboard(live_server, page):
    make_user("ada")
    console_errors = []
    page.on("console", lambda m: m.type == "error" and console_errors.append(m.text))
    page.on("pageerror", lambda error: console_errors.append(str(error)))
    log_in(page, live_server, "/reduction/")
    # Every predefined template: every title whole (none cut with "…"), at 12 px or more on
    # screen, no node over another, no text over another nor out of its node, and every
    # node on screen as the template opens (inside the diagram's box, above the window's
    # bottom edge: nothing to scroll to).
    for template in service.instrument_definitions()[0]["templates"]:
        titles = [n["title"] for n in template["nodes"]]
        page.click("#reduction summary:text-is('Template')")
        # every name whole in the menu
        assert page.locator("#predefined a").evaluate_all(
            "links => links.every(a => a.scrollWidth <= a.clientWidth)"
        )
        page.click(f"#predefined a:text-is('{template['name']}')")
        expect(page.locator("#diagram [data-node]")).to_have_count(len(titles))
        drawn = page.evaluate(DRAWN_NODES)
        assert [d["title"] for d in drawn] == titles
        # its name shown whole in the toolbar
        name = page.locator("#template-name")
        expect(name).to_have_value(template["name"])
        assert name.evaluate("f => f.scrollWidth <= f.clientWidth"), template["name"]
        assert min(d["px"] for d in drawn) >= 12
        left, right, bottom = page.evaluate(SEEN)
        for d in drawn:
            box = d["box"]
            assert left <= box["left"] and box["right"] <= right, (template["name"], d["title"])
            assert box["bottom"] <= bottom, (template["name"], d["title"])
        for i, a in enumerate(drawn):
            assert not any(overlap(a["box"], b["box"]) for b in drawn[i + 1 :]), titles[i]
            for j, text in enumerate(a["texts"]):
                assert a["box"]["left"] <= text["left"] and text["right"] <= a["box"]["right"]
                assert not any(overlap(text, other) for other in a["texts"][j + 1 :]), titles[i]
    name = "Polarized with footprint (reductus)"  # the largest stock template, the last node
    template = next(
        t for t in service.instrument_definitions()[0]["templates"] if t["name"] == name
    )
    titles = [n["title"] for n in template["nodes"]]
    page.click("#reduction summary:text-is('Template')")
    page.click(f"#predefined a:text-is('{name}')")
    expect(page.locator("#diagram [data-node]")).to_have_count(len(titles))
    screenshot(page, "reduction-diagram-whole")

    # Tab goes from node to node (through each one's terminals): the last one comes into
    # view, focus shown, Enter selects it.
    node(page, 0).focus()
    last = node(page, len(titles) - 1)
    terminals = page.locator("#diagram [data-terminal]").count()
    for _ in range(len(titles) - 1 + terminals - last.locator("[data-terminal]").count()):
        page.keyboard.press("Tab")
    expect(last).to_be_focused()
    expect(last).to_be_in_viewport()
    assert last.locator(".box").evaluate("b => getComputedStyle(b).strokeDasharray") != "none"
    page.keyboard.press("Enter")
    expect(last).to_have_class(re.compile(r"\bselected\b"))
    expect(last).to_be_focused()  # drawn anew, the focus stays
    expect(page.locator("#panel .module-id")).to_have_text("refl.correct_footprint")
    screenshot(page, "reduction-diagram-keyboard")

    # A designed refusal (422) shows in the page, not as an error in the console.
    node(page, 0).focus()
    page.keyboard.press("Enter")
    page.locator("#files li.file", has_text="mli0115.nxs.pbr").click()
    expect(page.locator("#panel .chosen-files li")).to_have_text(["mli0115.nxs.pbr×"])
    mask = titles.index("mask points")
    plot_terminal(page, mask, "output", "output")
    expect(page.locator(LEGEND)).to_have_count(2)
    node(page, mask).focus()
    page.keyboard.press("Enter")
    with page.expect_response("**/api/reduction/calculate"):
        page.fill("#panel textarea", "99")
        page.locator("#panel textarea").blur()
    expect(node(page, mask)).to_have_class("node selected error")
    expect(page.locator("#message")).to_contain_text("no point 99")
    assert console_errors == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("pbr_source", "fresh_cache")
def test_terminals_wired_and_plotted_by_keyboard(live_server, page):
    make_user("ada")
    log_in(page, live_server, "/reduction/")
    menu(page, "Template", "new-template")
    add_step(page, "refl.load")
    add_step(page, "refl.normalize")
    node(page, 0).locator(".title").click()
    page.locator("#files li.file", has_text="mli0115.nxs.pbr").click()
    output = "#diagram [data-node='0'] [data-kind=output][data-terminal=output]"
    page.focus(output)
    page.keyboard.press("w")  # a wire starts at load's output…
    expect(page.locator(output)).to_have_class(re.compile(r"\bwiring\b"))
    expect(page.locator(output)).to_be_focused()  # drawn anew, the focus stays
    page.keyboard.press("Tab")  # …to normalize (load has no inputs)…
    expect(node(page, 1)).to_be_focused()
    page.keyboard.press("Tab")
    data = node(page, 1).locator("[data-kind=input][data-terminal=data]")
    expect(data).to_be_focused()
    page.keyboard.press("Enter")  # …and ends on its data input
    expect(page.locator("#diagram .wire")).to_have_count(1)
    expect(page.locator("#diagram .terminal.wiring")).to_have_count(0)
    # Enter on an output plots it.
    page.focus("#diagram [data-node='1'] [data-kind=output][data-terminal=output]")
    with page.expect_response("**/api/reduction/calculate"):
        page.keyboard.press("Enter")
    expect(page.locator(LEGEND)).to_have_count(2)  # the file's two cross-sections
    screenshot(page, "reduction-keyboard-wire")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("pbr_source", "fresh_cache")
def test_files_grouped_with_their_q_ranges_and_picked_several_at_once(live_server, page):
    make_user("ada")
    log_in(page, live_server, "/reduction/")
    menu(page, "Template", "new-template")
    add_step(page, "refl.load")
    node(page, 0).locator(".title").click()
    # sample → intent → file → cross-section, as the files say (the names say nothing of it)
    sample = page.locator("#files li.group.sample", has_text="mli01")
    expect(sample.locator("> strong")).to_have_text("mli01")
    specular = sample.locator("li.group.intent", has_text="specular")
    expect(specular.locator("li.file .name")).to_have_text(
        ["mli0111.nxs.pbr", "mli0115.nxs.pbr", "mli0164.nxs.pbr"]
    )
    expect(sample.locator("li.group.intent", has_text="background-").locator(".name")).to_have_text(
        ["mli01120.nxs.pbr", "mli01121.nxs.pbr"]
    )
    # a file no reader understands stays outside the groups
    expect(page.locator("#files ul.entries > li.file .name")).to_have_text(["README.md"])
    screenshot(page, "reduction-files-grouped")

    # Each file's Q range as a bar against the folder's: from what the server read.
    summaries = service.file_summaries(
        None, "refl", [{"source": "local", "path": f, "mtime": 0} for f in ("mli0111.nxs.pbr",)]
    )
    low = min(e["qmin"] for e in summaries[0]["entries"])
    bar = specular.locator("li.file", has_text="mli0111.nxs.pbr").locator(".qbar")
    expect(bar).to_have_attribute("title", re.compile(rf"^Qz {low:.4f} – "))
    inner, outer = bar.locator("span").bounding_box(), bar.bounding_box()
    assert 0 < inner["width"] <= outer["width"]

    # Several at once: the intent's box picks all its files, a shift-click a run of them.
    specular.locator("> label input").check()
    expect(page.locator("#panel .chosen-files li")).to_have_count(3)
    specular.locator("> label input").uncheck()
    expect(page.locator("#panel .chosen-files li")).to_have_count(0)
    page.locator("#files li.file", has_text="mli0111.nxs.pbr").locator("input").click()
    page.locator("#files li.file", has_text="mli0164.nxs.pbr").locator("input").click(
        modifiers=["Shift"]
    )
    expect(page.locator("#panel .chosen-files li")).to_have_count(3)
    expect(specular.locator("> label input")).to_be_checked()
    # a run goes across groups, in the order shown: specular, intensity, rock sample, …
    page.locator("#files li.file", has_text="mli0181.nxs.pbr").locator("input").click(
        modifiers=["Shift"]
    )
    expect(page.locator("#panel .chosen-files li")).to_have_count(5)
    screenshot(page, "reduction-files-picked")
    page.locator("#files li.file", has_text="mli0159.nxs.pbr").locator("input").first.click()
    page.locator("#files li.file", has_text="mli0181.nxs.pbr").locator("input").first.click()
    expect(page.locator("#panel .chosen-files li")).to_have_count(3)
    plot_terminal(page, 0, "output", "output")
    expect(page.locator(LEGEND)).to_have_count(4)  # the cross-sections: 1 + 2 + 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("pbr_source", "fresh_cache")
def test_rescale_takes_one_factor_per_data_set_as_a_list(live_server, page):
    make_user("ada")
    log_in(page, live_server, "/reduction/")
    expect(page.locator("#add-module option[value='refl.rescale']")).to_be_attached()
    menu(page, "Template", "new-template")
    add_step(page, "refl.load")
    add_step(page, "refl.rescale")
    node(page, 1).locator(".title").click()
    scale = page.locator("#panel [data-control=scale] input")
    expect(scale).to_have_value("1")  # the default, [1.0]
    scale.fill("0.5 2,3")
    scale.press("Tab")
    expect(page.locator("#panel [data-control=scale] .field-error")).to_have_text("")
    node(page, 0).locator(".title").click()
    node(page, 1).locator(".title").click()  # shown again from the node's config
    expect(scale).to_have_value("0.5, 2, 3")
    screenshot(page, "reduction-rescale-list")
    scale.fill("0.5, x")
    scale.press("Tab")
    expect(page.locator("#panel [data-control=scale] .field-error")).to_have_text(
        '"x" is not a number'
    )

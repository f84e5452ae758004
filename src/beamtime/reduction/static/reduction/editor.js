// The data-reduction page: a dataflow editor for the stateless reduction RPC.
//
// The browser holds the working template (saved in localStorage, one per instrument) and
// sends it whole with every request; the server computes and caches, but keeps no template.
// This module owns the state and ties the parts together: the diagram, the parameter panel,
// the data-source browser, the plot and the stash.

import * as api from "reduction/api.js";
import { Diagram } from "reduction/diagram.js";
import { download, h } from "reduction/dom.js";
import { readProvenance } from "reduction/exported.js";
import { FileBrowser } from "reduction/files.js";
import { Panel } from "reduction/panel.js";
import { Plot } from "reduction/plot.js";
import { Stash } from "reduction/stash.js";
import * as store from "reduction/store.js";

const page = document.getElementById("reduction");
const $ = (selector) => page.querySelector(selector);

const state = {
  instruments: [],
  instrument: null, // the chosen instrument's definition
  modules: new Map(), // its modules by id
  template: null, // the working template
  selected: null, // the selected node's index
  selectedWire: null,
  cached: new Set(), // nodes the server has cached
  error: null, // the server's complaint: {node, field, message}
  plotted: null, // {kind: "input" | "output", node, terminal}, or {compare: [names]}
  datasets: null, // what the plot shows
};
// Answers to anything but the latest request of each kind are dropped.
const latest = { calculation: 0, cacheCheck: 0 };
const busy = new Set(); // what the page is waiting for: "calculation", "export", "fit"

const diagram = new Diagram($("#diagram"), {
  select,
  selectWire,
  move: moveNode,
  connect,
  plot: (kind, node, terminal) => {
    select(node);
    plotTerminal(kind, node, terminal);
  },
});
const panel = new Panel($("#panel"), {
  commit: (config) => {
    state.template.nodes[state.selected].config = config;
    changed();
  },
  retitle: (title) => {
    state.template.nodes[state.selected].title = title; // titles are not part of any result
    save();
    drawDiagram();
  },
  draftChanged: () => {
    files.refresh();
    if (state.datasets && maskingPlot()) showPlot(); // the masks as drafted
  },
});
const files = new FileBrowser($("#files"), {
  target: () => panel.fileTarget(),
  toggle: (info) => panel.toggleFile(info),
  pick: (infos, on) => panel.pickFiles(infos, on),
  entries: (info, entries) => panel.setEntries(info, entries),
  instrument: () => state.instrument.id,
});
const plot = new Plot($("#plot"), $("#log-y"), {
  pointClick: (dataset, index) => panel.toggleIndex(dataset, index),
});
const stash = new Stash($("#stash"), { current: currentResult, reload: reloadStash, compare, problem: say });

// Messages --------------------------------------------------------------------------------

function say(text, kind = "error") {
  const message = $("#message");
  message.textContent = text;
  message.className = text ? `notice ${kind}` : "";
}

/** Show ``problem`` where it belongs: on its node (diagram and panel) when the server named
 *  one, and in the message line. Returns the message said. */
function showProblem(problem) {
  if (!(problem instanceof api.ApiError && problem.node !== null && state.template.nodes[problem.node])) {
    say(problem.message);
    return problem.message;
  }
  // The server says "node 2 (base): …"; on the node itself the place goes without saying.
  const message = problem.message.replace(/^node \d+( \([^)]*\))?: /, "");
  state.error = { node: problem.node, field: problem.field, message };
  if (state.selected === problem.node) panel.showError(state.error);
  drawDiagram();
  const said = `${state.template.nodes[problem.node].title}: ${message}`;
  say(said);
  return said;
}

/** Say "calculating…" while the page waits for ``what``. One calculation is waited for at a
 *  time, the latest: one that a newer replaced ends without a word. */
function setBusy(what, on) {
  if (on) busy.add(what);
  else busy.delete(what);
  $("#busy").hidden = busy.size === 0;
  if (!busy.size) $("#busy").textContent = "calculating…";
}

/** How a calculation on the server's reduction pool goes (a job: see api.js). */
function showProgress(job) {
  const elapsed = `${Math.max(0, Math.round(job.now - job.queued_at))} s`;
  let text = `calculating… ${elapsed}`;
  if (job.state === "queued") text = `waiting for a reduction worker… ${elapsed}`;
  else if (job.steps) {
    const module = job.module ? ` (${job.module.replace(/^\w+\./, "")})` : "";
    text = `calculating step ${job.step} of ${job.steps}${module}… ${elapsed}`;
  }
  $("#busy").textContent = text;
}

// The template -----------------------------------------------------------------------------

function emptyTemplate() {
  return {
    name: "untitled",
    description: "",
    instrument: state.instrument.id,
    version: "1",
    nodes: [],
    wires: [],
  };
}

/** A clean copy of ``template`` for its instrument; an Error names what is wrong. */
function checkTemplate(template) {
  if (!template || !Array.isArray(template.nodes) || !Array.isArray(template.wires)) {
    throw new Error("a template is {name, nodes: [...], wires: [...]}");
  }
  const instrument = state.instruments.find((i) => i.id === (template.instrument || state.instrument.id));
  if (!instrument) throw new Error(`this server has no instrument ${template.instrument}`);
  const modules = new Map(instrument.modules.map((m) => [m.id, m]));
  const nodes = template.nodes.map((node, index) => {
    const module = modules.get(node?.module);
    if (!module) throw new Error(`node ${index}: ${instrument.id} has no module ${node?.module}`);
    return {
      module: module.id,
      title: String(node.title || module.name),
      x: Number(node.x) || 0,
      y: Number(node.y) || 0,
      config: node.config && typeof node.config === "object" ? structuredClone(node.config) : {},
    };
  });
  const valid = (end) =>
    Array.isArray(end) && Number.isInteger(end[0]) && nodes[end[0]] && typeof end[1] === "string";
  const wires = template.wires.map((wire, index) => {
    if (!valid(wire?.source) || !valid(wire?.target))
      throw new Error(`wire ${index} does not join two nodes`);
    return { source: [...wire.source], target: [...wire.target] };
  });
  return {
    name: String(template.name || "untitled"),
    description: String(template.description || ""),
    instrument: instrument.id,
    version: String(template.version || "1"),
    nodes,
    wires,
  };
}

/** Make ``template`` the working template (throws before changing anything if it is bad). */
function loadTemplate(template) {
  const checked = checkTemplate(template);
  if (checked.instrument !== state.instrument.id) chooseInstrument(checked.instrument);
  Object.assign(state, {
    template: checked,
    selected: null,
    selectedWire: null,
    plotted: null,
    datasets: null,
  });
  panel.show(null);
  if ($("#made-from").open) showMadeFrom();
  plot.message("Click a terminal in the diagram to plot its data.");
  $("#plot-title").textContent = "";
  $("#template-name").value = checked.name;
  changed({ replot: false });
}

function save() {
  store.save(`template.${state.instrument.id}`, state.template);
}

/** After any change of the template's content: keep it, redraw, re-plot, ask what is cached. */
function changed({ replot = true } = {}) {
  state.error = null;
  panel.showError(null);
  say("");
  save();
  drawDiagram();
  files.refresh();
  if (replot && state.plotted && !state.plotted.compare) calculatePlotted();
  else checkCache();
}

function drawDiagram() {
  diagram.render({
    template: state.template,
    modules: state.modules,
    datatypes: state.instrument.datatypes,
    selected: state.selected,
    selectedWire: state.selectedWire,
    cached: state.cached,
    error: state.error,
    plotted: state.plotted?.compare ? null : state.plotted,
  });
  $("#delete").disabled = state.selected === null && state.selectedWire === null;
}

// Diagram gestures ---------------------------------------------------------------------------

function select(node) {
  state.selectedWire = null;
  if (node !== state.selected) {
    // Showing another node drops the panel's unaccepted values.
    state.selected = node;
    const selected = node === null ? null : state.template.nodes[node];
    panel.show(selected, selected && state.modules.get(selected.module));
    if (state.error && state.error.node === node) panel.showError(state.error);
    files.refresh();
    if (state.datasets && !state.plotted?.compare) showPlot(); // masking follows the selection
  }
  drawDiagram();
}

function selectWire(wire) {
  state.selectedWire = wire;
  drawDiagram();
}

function moveNode(index, x, y, done) {
  Object.assign(state.template.nodes[index], { x, y });
  drawDiagram();
  if (done) save(); // positions are not part of any result: nothing to recalculate
}

function addNode(moduleId) {
  const module = state.modules.get(moduleId);
  const { x, y } = freeSpot();
  state.template.nodes.push({ module: module.id, title: module.name, x, y, config: {} });
  select(state.template.nodes.length - 1);
  changed({ replot: false });
}

/** Right of the selected node (where the next step of a chain goes), clear of other nodes. */
function freeSpot() {
  const nodes = state.template.nodes;
  const from = state.selected === null ? null : nodes[state.selected];
  const spot = from ? { x: from.x + 180, y: from.y } : { x: 20, y: 20 };
  while (nodes.some((n) => Math.abs(n.x - spot.x) < 160 && Math.abs(n.y - spot.y) < 90)) spot.y += 100;
  return spot;
}

function connect([sourceNode, output], [targetNode, input]) {
  const { wires, nodes } = state.template;
  const from = state.modules.get(nodes[sourceNode].module).outputs.find((t) => t.id === output);
  const to = state.modules.get(nodes[targetNode].module).inputs.find((t) => t.id === input);
  if (sourceNode === targetNode || reaches(targetNode, sourceNode)) {
    return say("That wire would make a loop: a step cannot feed itself.");
  }
  if (from.datatype !== to.datatype) {
    return say(`A ${from.datatype} output cannot feed a ${to.datatype} input.`);
  }
  const into = (w) => w.target[0] === targetNode && w.target[1] === input;
  // A single input takes one wire: a new one replaces the old.
  const kept = wires.filter(
    (w) => !into(w) || (to.multiple && !(w.source[0] === sourceNode && w.source[1] === output)),
  );
  state.template.wires = [...kept, { source: [sourceNode, output], target: [targetNode, input] }];
  state.selectedWire = null;
  changed();
}

/** Whether data flow from node ``from`` down to node ``to``. */
function reaches(from, to) {
  const next = state.template.wires.filter((w) => w.source[0] === from).map((w) => w.target[0]);
  return next.includes(to) || next.some((n) => reaches(n, to));
}

function deleteSelected() {
  if (state.selectedWire !== null) {
    state.template.wires.splice(state.selectedWire, 1);
    state.selectedWire = null;
    changed();
  } else if (state.selected !== null) {
    removeNode(state.selected);
  }
}

function removeNode(index) {
  const shift = (n) => (n > index ? n - 1 : n);
  const template = state.template;
  template.nodes.splice(index, 1);
  template.wires = template.wires
    .filter((w) => w.source[0] !== index && w.target[0] !== index)
    .map((w) => ({ source: [shift(w.source[0]), w.source[1]], target: [shift(w.target[0]), w.target[1]] }));
  if (state.plotted && !state.plotted.compare) {
    if (state.plotted.node === index) {
      state.plotted = null;
      state.datasets = null;
      plot.message("Click a terminal in the diagram to plot its data.");
      $("#plot-title").textContent = "";
    } else {
      state.plotted.node = shift(state.plotted.node);
    }
  }
  state.selected = null;
  panel.show(null);
  changed();
}

// Plotting -------------------------------------------------------------------------------------

function plotTerminal(kind, node, terminal) {
  state.plotted = { kind, node, terminal };
  calculatePlotted();
}

async function calculatePlotted() {
  const { kind, node, terminal } = state.plotted;
  const number = ++latest.calculation;
  const template = structuredClone(state.template); // as it was asked for
  $("#plot-title").textContent = plotLabel(state.plotted);
  drawDiagram();
  setBusy("calculation", true);
  try {
    const datasets = await terminalData(template, kind, node, terminal);
    if (number !== latest.calculation) return;
    state.datasets = datasets;
    state.datasetsOf = state.plotted; // what Fit this data and the exports act on
    state.error = null;
    panel.showError(null);
    showPlot();
  } catch (problem) {
    if (number !== latest.calculation) return;
    state.datasets = null;
    plot.message(`Nothing to plot: ${showProblem(problem)}`);
  } finally {
    if (number === latest.calculation) {
      setBusy("calculation", false); // not when an older one ends while a newer one runs
      checkCache();
    }
  }
}

/** An output's data sets, or an input's: those of every output wired into it, in wire order
 *  (the order the step receives them in). */
async function terminalData(template, kind, node, terminal) {
  if (kind === "output") return api.calculate(template, node, terminal, showProgress);
  const feeds = template.wires.filter((w) => w.target[0] === node && w.target[1] === terminal);
  if (!feeds.length) throw new Error(`nothing is wired into ${terminal}`);
  const parts = await Promise.all(
    feeds.map((w) => api.calculate(template, w.source[0], w.source[1], showProgress)),
  );
  return parts.flat();
}

/** Whether the plot shows the input of the selected node and that node masks points. */
function maskingPlot() {
  const plotted = state.plotted;
  return Boolean(
    plotted && plotted.kind === "input" && plotted.node === state.selected && panel.indexControl(),
  );
}

function showPlot() {
  const masking = maskingPlot();
  plot.show(state.datasets, {
    subject: JSON.stringify(state.plotted),
    masks: masking ? panel.masks() : null,
  });
  $("#mask-hint").hidden = !masking;
}

function plotLabel({ kind, node, terminal }) {
  const title = state.template.nodes[node].title;
  return kind === "input" ? `${terminal} → ${title}` : `${title} → ${terminal}`;
}

async function checkCache() {
  const number = ++latest.cacheCheck;
  let cached = [];
  try {
    cached = await api.cached(state.template);
  } catch (problem) {
    // A template that cannot run (a step not wired yet, say): show where, unless a
    // calculation already said something.
    if (number === latest.cacheCheck && !state.error && problem.node !== null) showProblem(problem);
  }
  if (number !== latest.cacheCheck) return;
  state.cached = new Set(cached);
  drawDiagram();
}

// Stash ------------------------------------------------------------------------------------------

function currentResult() {
  const plotted = state.plotted;
  if (!plotted || plotted.compare || !state.datasets) return null;
  return {
    datasets: state.datasets,
    template: structuredClone(state.template),
    kind: plotted.kind,
    node: plotted.node,
    terminal: plotted.terminal,
    label: `${state.template.name}: ${plotLabel(plotted)}`,
  };
}

function reloadStash(entry) {
  try {
    loadTemplate(entry.template);
  } catch (problem) {
    return say(`${entry.name}: ${problem.message}`);
  }
  select(entry.node);
  plotTerminal(entry.kind, entry.node, entry.terminal);
}

function compare(entries) {
  latest.calculation += 1; // a calculation still running must not replace the comparison
  setBusy("calculation", false); // nor keep saying it is calculating
  state.plotted = { compare: entries.map((e) => e.name) };
  state.datasets = entries.flatMap((entry) =>
    entry.datasets.map((d) => ({ ...d, name: `${entry.name}: ${d.name}` })),
  );
  plot.show(state.datasets, { subject: JSON.stringify(state.plotted), masks: null });
  $("#plot-title").textContent = `Comparing ${entries.map((e) => e.name).join(", ")}`;
  $("#mask-hint").hidden = true;
  drawDiagram();
}

// Menus -------------------------------------------------------------------------------------------

/** The output behind the plot: the plotted output, or the one output feeding a plotted input. */
function plottedOutput() {
  const plotted = state.plotted;
  if (!plotted || plotted.compare) throw new Error("Plot a terminal first: this acts on the plotted data.");
  if (plotted.kind === "output") return plotted;
  const feeds = state.template.wires.filter(
    (w) => w.target[0] === plotted.node && w.target[1] === plotted.terminal,
  );
  if (feeds.length !== 1) throw new Error("Several outputs feed this input: plot one of them.");
  return { node: feeds[0].source[0], terminal: feeds[0].source[1] };
}

/** The data behind the plot as a file. */
async function exportPlotted(form, resolution = "FWHM") {
  let target;
  try {
    target = plottedOutput();
  } catch (problem) {
    return say(problem.message);
  }
  setBusy("export", true);
  try {
    const { name, blob } = await api.exportFile(
      state.template,
      target.node,
      target.terminal,
      form,
      resolution,
      showProgress,
    );
    download(name, blob);
  } catch (problem) {
    // The export refused (ORSO of data that are no reflectivity): said under the menu, not
    // on the node, whose calculation went well.
    if (problem instanceof api.ApiError && problem.field === "export") {
      say(`${problem.message[0].toUpperCase()}${problem.message.slice(1)}.`, "warning");
    } else {
      showProblem(problem);
    }
  } finally {
    setBusy("export", false);
  }
}

/** Fit the plotted data set (chosen from the plot's, if several) in the fitting app, which
 *  keeps this reduction as its provenance. */
async function fitThis() {
  let target;
  try {
    target = plottedOutput();
  } catch (problem) {
    return say(problem.message);
  }
  if (state.datasetsOf !== state.plotted) {
    return say("The plot is still being calculated: fit its data once they are shown.");
  }
  const names = (state.datasets || []).map((d) => d.name);
  const choice = names.length > 1 ? await chooseDataset(names, crossSections(names)) : 0;
  if (choice === null) return;
  setBusy("fit", true);
  try {
    const together = choice === "together";
    const index = together ? 0 : choice;
    const { url } = await api.fit(state.template, target.node, target.terminal, index, showProgress, together);
    window.location.assign(url);
  } catch (problem) {
    showProblem(problem);
    setBusy("fit", false);
  }
}

/** The cross-sections the plotted data sets are (their names end in ++, +-, -+ or --), in
 *  that order, when each is a different one; else null. */
function crossSections(names) {
  const order = ["++", "+-", "-+", "--"];
  const found = names.map((name) => name.split(" ").pop());
  const known = found.every((xs) => order.includes(xs));
  return known && new Set(found).size === found.length ? order.filter((xs) => found.includes(xs)) : null;
}

/** Ask which of the plotted data sets to fit ("together": all the cross-sections as one
 *  polarized data set); null if the user closes the question. */
function chooseDataset(names, crossSections) {
  return new Promise((resolve) => {
    const together = crossSections
      ? [
          h(
            "p",
            {},
            h(
              "button",
              { type: "button", id: "fit-together", onclick: () => finish("together") },
              `All ${crossSections.length} cross-sections together (${crossSections.join(" ")}): one polarized data set`,
            ),
          ),
          h("p", {}, "or one of them alone:"),
        ]
      : [];
    const dialog = h(
      "dialog",
      { id: "fit-choice" },
      h(
        "article",
        {},
        h("h3", {}, "Fit which data set?"),
        ...together,
        ...names.map((name, index) =>
          h("p", {}, h("button", { type: "button", ...(crossSections ? { class: "secondary" } : {}), onclick: () => finish(index) }, name)),
        ),
        h("footer", {}, h("button", { type: "button", class: "secondary", onclick: () => finish(null) }, "Cancel")),
      ),
    );
    const finish = (choice) => {
      dialog.close();
      dialog.remove();
      resolve(choice);
    };
    dialog.addEventListener("cancel", () => finish(null));
    document.body.append(dialog);
    dialog.showModal();
  });
}

function downloadTemplate() {
  const name = (state.template.name || "template").replace(/[^\w.-]+/g, "_");
  download(`${name}.json`, new Blob([JSON.stringify(state.template, null, 1)], { type: "application/json" }));
}

async function uploadTemplate(file) {
  let template;
  try {
    template = JSON.parse(await file.text());
  } catch (problem) {
    return say(`${file.name} is not a template: it is not valid JSON (${problem.message}).`);
  }
  try {
    loadTemplate(template);
  } catch (problem) {
    return say(`${file.name} is not a usable template: ${problem.message}.`);
  }
  say(`Loaded the template ${file.name}.`, "success");
}

/** Rebuild the reduction an exported file came from and plot what was exported. */
async function reloadExported(file) {
  let header;
  try {
    header = await readProvenance(file);
  } catch (problem) {
    return say(problem.message);
  }
  loadProvenance(header, file.name);
}

/** Rebuild a reduction from its provenance (an export's header) and plot what it gave. */
function loadProvenance(header, label) {
  try {
    const template = structuredClone(header.template);
    // The export's config overrides went into its numbers: fold them into the nodes.
    for (const [index, values] of Object.entries(header.config || {})) {
      const node = template.nodes?.[Number(index)];
      if (node) node.config = { ...node.config, ...values };
    }
    if (!template.nodes?.[header.node]) throw new Error(`${label}: its template has no node ${header.node}`);
    loadTemplate(template);
    $("#made-from").open = true; // what else was made of it
  } catch (problem) {
    return say(problem.message);
  }
  say(`Reloaded the reduction of ${label}.`, "success");
  select(header.node);
  plotTerminal("output", header.node, header.terminal);
}

const ACTIONS = {
  "new-template": () => loadTemplate(emptyTemplate()),
  "download-template": downloadTemplate,
  "upload-template": () => $("#upload-template").click(),
  "export-text": () => exportPlotted("text"),
  "export-text-sigma": () => exportPlotted("text", "sigma"),
  "export-hdf5": () => exportPlotted("hdf5"),
  "export-orso": () => exportPlotted("orso"),
  "reload-exported": () => $("#reload-exported").click(),
  "fit-this": fitThis,
  stash: () => stash.stashCurrent(),
};

function buildMenus() {
  const predefined = state.instrument.templates.map((template) =>
    h(
      "li",
      {},
      h("a", { href: "#", "data-predefined": template.name, title: template.description }, template.name),
    ),
  );
  $("#predefined").replaceChildren(
    ...(predefined.length ? predefined : [h("li", {}, h("small", {}, "none for this instrument"))]),
  );
  const add = $("#add-module");
  add.replaceChildren(
    h("option", { value: "" }, "add a step…"),
    ...state.instrument.modules.map((m) =>
      h("option", { value: m.id, title: m.description }, `${m.name} (${m.id})`),
    ),
  );
}

function onMenuClick(event) {
  const item = event.target.closest("a[data-action], a[data-predefined]");
  if (!item) return;
  event.preventDefault();
  item.closest("details").open = false;
  if (item.dataset.action) return ACTIONS[item.dataset.action]();
  const template = state.instrument.templates.find((t) => t.name === item.dataset.predefined);
  loadTemplate(template);
  say(`Loaded the template “${template.name}”: pick files into its load steps.`, "success");
}

function chooseInstrument(id) {
  state.instrument = state.instruments.find((i) => i.id === id);
  state.modules = new Map(state.instrument.modules.map((m) => [m.id, m]));
  $("#instrument").value = id;
  store.save("instrument", id);
  buildMenus();
}

/** The instrument's working template from the browser's storage, or a new one. */
function restoreWorkingTemplate() {
  const saved = store.load(`template.${state.instrument.id}`, null);
  try {
    loadTemplate(saved || emptyTemplate());
  } catch (problem) {
    loadTemplate(emptyTemplate());
    say(`The template kept in this browser could not be used (${problem.message}); starting anew.`);
  }
}

function onKey(event) {
  if (event.target.closest("input, textarea, select, [contenteditable]")) return;
  if (event.key === "Delete" || event.key === "Backspace") {
    event.preventDefault();
    deleteSelected();
  } else if (event.key === "Escape") {
    select(null);
  }
}

function bindControls() {
  $("#made-from").addEventListener("toggle", (e) => e.target.open && showMadeFrom());
  page.querySelectorAll("details.dropdown").forEach((menu) => menu.addEventListener("click", onMenuClick));
  $("#add-module").addEventListener("change", (e) => {
    if (e.target.value) addNode(e.target.value);
    e.target.value = "";
  });
  $("#delete").addEventListener("click", deleteSelected);
  $("#template-name").addEventListener("change", (e) => {
    state.template.name = e.target.value.trim() || "untitled";
    save();
  });
  $("#instrument").addEventListener("change", (e) => {
    chooseInstrument(e.target.value);
    restoreWorkingTemplate();
  });
  const onFile = (input, action) =>
    input.addEventListener("change", () => {
      if (input.files[0]) action(input.files[0]);
      input.value = ""; // the same file may be chosen again
    });
  onFile($("#upload-template"), uploadTemplate);
  onFile($("#reload-exported"), reloadExported);
  document.addEventListener("keydown", onKey);
}

async function start() {
  api.configure(page.dataset.api, $("[name=csrfmiddlewaretoken]").value);
  bindControls();
  try {
    state.instruments = await api.instruments();
  } catch (problem) {
    return say(`The reduction service did not answer: ${problem.message}`);
  }
  $("#instrument").replaceChildren(...state.instruments.map((i) => h("option", { value: i.id }, i.id)));
  const saved = store.load("instrument", null);
  chooseInstrument(state.instruments.some((i) => i.id === saved) ? saved : state.instruments[0].id);
  restoreWorkingTemplate();
  await files.start().catch((problem) => files.showProblem(problem.message));
  await openFromLink(new URLSearchParams(window.location.search));
}

/** The data sets and fits made from this reduction (yours only: the server asks). */
async function showMadeFrom() {
  const box = $("#made-from-list");
  box.replaceChildren(h("small", {}, "looking them up…"));
  let found;
  try {
    found = (await api.madeFrom(state.template)).datasets;
  } catch (problem) {
    return box.replaceChildren(h("small", {}, `They cannot be looked up: ${problem.message}`));
  }
  if (!found.length) {
    return box.replaceChildren(h("small", {}, "None yet: plot an output, then Data → Fit this data."));
  }
  const fits = (d) =>
    d.fits.length
      ? d.fits.flatMap((f) => [" · ", h("a", { href: f.url }, `fit ${f.id}`), ` ${f.engine} ${f.state}${f.chisq === null ? "" : ` χ² ${f.chisq.toPrecision(4)}`}`])
      : [" · not fitted yet"];
  const rows = found.map((d) =>
    h(
      "li",
      { "data-dataset": d.dataset },
      h("a", { href: d.url }, d.name),
      ` — from node ${d.node} “${state.template.nodes[d.node]?.title ?? ""}”`,
      d.cross_sections.length ? `, polarized ${d.cross_sections.join(" ")}` : "",
      `, ${d.points} points`,
      ...fits(d),
    ),
  );
  box.replaceChildren(h("ul", { class: "made-from" }, ...rows));
}

/** Links from elsewhere: ?dataset=ID (a fitted data set: its reduction) or ?source=S&path=P
 *  (a folder, e.g. a DAQ run's files). */
async function openFromLink(query) {
  if (query.has("dataset")) {
    try {
      const header = await api.datasetProvenance(query.get("dataset"));
      if (!header.template) return say("That data set was uploaded, not reduced here: it has no reduction.");
      loadProvenance(header, `data set ${query.get("dataset")}`);
    } catch (problem) {
      say(`The data set's reduction cannot be opened: ${problem.message}`);
    }
  } else if (query.has("source")) {
    await files.open(query.get("source"), query.get("path") || "");
  }
}

start();

// The parameter panel of the selected node, built from its module's definition: one form
// field per control, the accept / clear buttons, the auto-accept switch and the module's help.
//
// Edits go into a draft of the node's values. With auto-accept on (the default) every edit is
// applied at once; with it off only "accept" applies the draft, and showing another node
// drops it — as in reductus.

import { h } from "reduction/dom.js";
import * as store from "reduction/store.js";

const MATH_DELIMITERS = [
  { left: "\\(", right: "\\)", display: false },
  { left: "\\[", right: "\\]", display: true },
];

export class Panel {
  /** handlers: commit(config) applies values to the node; retitle(title);
   *  draftChanged() tells that the unapplied values changed (file list, plotted masks). */
  constructor(element, handlers) {
    this.element = element;
    this.handlers = handlers;
    this.autoAccept = store.load("autoAccept", true);
    this.module = null;
    this.node = null;
    this.draft = {};
    this.error = null;
    this.show(null);
  }

  /** Show ``node`` (an instance of ``module``), or the empty panel for null. */
  show(node, module) {
    this.node = node;
    this.module = module || null;
    this.draft = node ? structuredClone(node.config || {}) : {};
    this.error = null;
    if (!node) {
      this.element.replaceChildren(
        h(
          "p",
          { class: "empty" },
          "Select a node in the diagram to set its parameters; click a terminal to plot it.",
        ),
      );
      return;
    }
    this.form = h("form", { class: "controls", onsubmit: (e) => e.preventDefault() });
    this.dirtyNote = h("small", { class: "dirty", hidden: true }, "not applied yet");
    const help = h("section", { class: "help" });
    help.innerHTML = module.html; // the server's docutils rendering of the module's own docstring
    this.element.replaceChildren(
      h(
        "header",
        {},
        h("input", {
          class: "node-title",
          value: node.title,
          "aria-label": "Node title",
          onchange: (e) => this.handlers.retitle(e.target.value.trim() || module.name),
        }),
        h("small", { class: "module-id" }, module.id),
      ),
      this.form,
      h(
        "div",
        { class: "panel-actions" },
        h("button", { type: "button", class: "small", onclick: () => this.accept() }, "accept"),
        h("button", { type: "button", class: "small secondary", onclick: () => this.clear() }, "clear"),
        h(
          "label",
          {},
          h("input", {
            type: "checkbox",
            name: "auto-accept",
            checked: this.autoAccept,
            onchange: (e) => this.setAutoAccept(e.target.checked),
          }),
          "auto-accept",
        ),
        this.dirtyNote,
      ),
      help,
    );
    this.renderControls();
    renderMath(help);
  }

  renderControls() {
    this.fieldErrors = new Map();
    this.nodeError = h("p", { class: "notice error", role: "alert", hidden: true });
    const fields = this.module.controls.map((control) => this.field(control));
    if (!fields.length) fields.push(h("p", { class: "empty" }, "This step has no parameters."));
    this.form.replaceChildren(this.nodeError, ...fields);
    this.showError(this.error);
    renderMath(this.form);
  }

  field(control) {
    const problem = h("small", { class: "error field-error", "aria-live": "polite" });
    this.fieldErrors.set(control.id, problem);
    const report = (message) => {
      problem.textContent = message;
    };
    const shown = this.node;
    const change = (value) => {
      // A text field left by clicking another node reports its change once that node is
      // shown: the value is not that node's, so it is dropped.
      if (this.node !== shown) return;
      report("");
      this.set(control.id, value);
      this.changed();
    };
    const widget = (WIDGETS[control.datatype] || jsonWidget)(
      control,
      this.value(control),
      change,
      report,
      this,
    );
    const units = control.units && control.datatype !== "opt" ? ` (${control.units})` : "";
    const hint = h("small", { class: "hint" });
    hint.innerHTML = inlineRst(control.description);
    const label =
      control.datatype === "bool"
        ? h("label", {}, widget, ` ${control.id}${units}`)
        : h("label", {}, h("span", { class: "name" }, control.id + units), widget);
    return h("div", { class: "control", "data-control": control.id }, label, hint, problem);
  }

  value(control) {
    return control.id in this.draft ? this.draft[control.id] : structuredClone(control.default);
  }

  set(id, value) {
    if (value === undefined) delete this.draft[id];
    else this.draft[id] = value;
  }

  changed() {
    this.handlers.draftChanged();
    if (this.autoAccept) this.accept();
    else this.dirtyNote.hidden = false;
  }

  accept() {
    this.dirtyNote.hidden = true;
    this.handlers.commit(structuredClone(this.draft));
  }

  /** Back to the module's defaults. */
  clear() {
    this.draft = {};
    this.renderControls();
    this.changed();
  }

  setAutoAccept(on) {
    this.autoAccept = on;
    store.save("autoAccept", on);
  }

  /** A server error on this node: beside its field, or above the fields. */
  showError(error) {
    this.error = error;
    if (!this.node) return;
    for (const problem of this.fieldErrors.values()) problem.textContent = "";
    const problem = error && this.fieldErrors.get(error.field);
    if (problem) problem.textContent = error.message;
    this.nodeError.hidden = !error || Boolean(problem);
    this.nodeError.textContent = error && !problem ? error.message : "";
  }

  // Edits from outside the panel: files picked in the browser, points clicked on the plot.

  /** The files control of the shown node: {control, files}, or null. */
  fileTarget() {
    const control = this.module?.controls.find((c) => c.datatype === "fileinfo");
    if (!control) return null;
    const value = this.value(control);
    return { control, files: control.multiple ? value || [] : value ? [value] : [] };
  }

  toggleFile(info) {
    const { control, files } = this.fileTarget();
    const same = (f) => f.source === info.source && f.path === info.path;
    let chosen = files.some(same) ? files.filter((f) => !same(f)) : [...files, info];
    if (!control.multiple) chosen = chosen.slice(-1);
    this.set(control.id, control.multiple ? chosen : (chosen[0] ?? null));
    this.renderControls();
    this.changed();
  }

  /** Add several files at once (on), or take them out. */
  pickFiles(infos, on) {
    const { control, files } = this.fileTarget();
    const same = (a) => (b) => a.source === b.source && a.path === b.path;
    let chosen = on
      ? [...files, ...infos.filter((info) => !files.some(same(info)))]
      : files.filter((f) => !infos.some(same(f)));
    if (!control.multiple) chosen = chosen.slice(-1);
    this.set(control.id, control.multiple ? chosen : (chosen[0] ?? null));
    this.renderControls();
    this.changed();
  }

  /** Load only these entries (cross-sections) of a picked file; null: all of them. */
  setEntries(info, entries) {
    const { control, files } = this.fileTarget();
    const chosen = files.map((f) => {
      if (f.source !== info.source || f.path !== info.path) return f;
      const { entries: _all, ...file } = f;
      return entries ? { ...file, entries } : file;
    });
    this.set(control.id, control.multiple ? chosen : (chosen[0] ?? null));
    this.renderControls();
    this.changed();
  }

  /** The point-index control of the shown node, or null. */
  indexControl() {
    return this.module?.controls.find((c) => c.datatype === "index" && c.multiple) || null;
  }

  /** The indices left out of each data set, as the draft has them. */
  masks() {
    const control = this.indexControl();
    return control ? this.value(control) || [] : [];
  }

  toggleIndex(dataset, index) {
    const masks = this.masks().map((list) => [...list]);
    while (masks.length <= dataset) masks.push([]);
    const list = masks[dataset];
    masks[dataset] = list.includes(index)
      ? list.filter((i) => i !== index)
      : [...list, index].sort((a, b) => a - b);
    while (masks.length && !masks[masks.length - 1].length) masks.pop();
    this.set(this.indexControl().id, masks);
    this.renderControls();
    this.changed();
  }
}

// Widgets: (control, value, change(value | undefined for the default), report(problem)) → element

function numberWidget(control, value, change, report) {
  if (control.multiple) return numbersWidget(control, value, change, report);
  const input = h("input", {
    type: "number",
    step: control.datatype === "int" ? 1 : "any",
    value: value ?? "",
  });
  input.addEventListener("change", () => {
    const number = Number(input.value);
    if (input.validity.badInput || (input.value !== "" && !Number.isFinite(number))) report("enter a number");
    else if (control.datatype === "int" && !Number.isInteger(number)) report("enter a whole number");
    else change(input.value === "" ? undefined : number);
  });
  return input;
}

/** A list of numbers as text ("0.5, 2, 1"): one per data set, or one for all. */
function numbersWidget(control, value, change, report) {
  const list = Array.isArray(value) ? value : value == null ? [] : [value];
  const input = h("input", {
    type: "text",
    value: list.join(", "),
    spellcheck: false,
    placeholder: "one per data set, or one for all, e.g. 1, 0.5",
  });
  input.addEventListener("change", () => {
    const words = input.value.split(/[\s,]+/).filter(Boolean);
    const numbers = words.map(Number);
    const bad = words.find((word, i) => !Number.isFinite(numbers[i]));
    if (bad !== undefined) report(`"${bad}" is not a number`);
    else if (control.datatype === "int" && !numbers.every(Number.isInteger)) report("enter whole numbers");
    else change(words.length ? numbers : undefined);
  });
  return input;
}

function boolWidget(control, value, change) {
  return h("input", { type: "checkbox", checked: Boolean(value), onchange: (e) => change(e.target.checked) });
}

function textWidget(control, value, change) {
  return h("input", { type: "text", value: value ?? "", onchange: (e) => change(e.target.value) });
}

function optWidget(control, value, change) {
  const choices = control.units.split("|");
  return h(
    "select",
    { onchange: (e) => change(e.target.value) },
    choices.map((choice) => h("option", { value: choice, selected: choice === value }, choice)),
  );
}

/** Point indices as text: one line per data set for a list of lists ("3, 7"). */
function indexWidget(control, value, change, report) {
  const lists = control.multiple ? value || [] : [value || []];
  const text = lists.map((list) => list.join(", ")).join("\n");
  const attributes = {
    value: text,
    spellcheck: false,
    placeholder: control.multiple ? "one line per data set, e.g. 0, 5" : "e.g. 0, 5",
  };
  const input = control.multiple
    ? h("textarea", { rows: Math.max(2, lists.length), ...attributes })
    : h("input", attributes);
  input.addEventListener("change", () => {
    try {
      const parsed = input.value.replace(/\s+$/, "").split("\n").map(parseIndices);
      change(control.multiple ? (parsed.length === 1 && !parsed[0].length ? [] : parsed) : parsed[0]);
    } catch (problem) {
      report(problem.message);
    }
  });
  return input;
}

function parseIndices(line) {
  const words = line.split(/[\s,]+/).filter(Boolean);
  const numbers = words.map(Number);
  const bad = words.find((word, i) => !Number.isInteger(numbers[i]) || numbers[i] < 0);
  if (bad !== undefined) throw new Error(`"${bad}" is not a point index (0, 1, 2, …)`);
  return [...new Set(numbers)].sort((a, b) => a - b);
}

function fileWidget(control, value, change, report, panel) {
  const { files } = panel.fileTarget();
  if (!files.length) return h("p", { class: "empty" }, "Pick files in the data browser on the left.");
  return h(
    "ul",
    { class: "chosen-files" },
    files.map((file) =>
      h(
        "li",
        { title: `${file.source}: ${file.path}` },
        h("span", {}, file.entries ? `${file.path} · ${file.entries.join(", ")}` : file.path),
        h(
          "button",
          {
            type: "button",
            class: "remove outline secondary",
            "aria-label": `remove ${file.path}`,
            onclick: () => panel.toggleFile(file),
          },
          "×",
        ),
      ),
    ),
  );
}

/** Any other type, as JSON text. */
function jsonWidget(control, value, change, report) {
  const input = h("input", { type: "text", value: JSON.stringify(value ?? null) });
  input.addEventListener("change", () => {
    try {
      change(JSON.parse(input.value));
    } catch {
      report("enter a JSON value");
    }
  });
  return input;
}

const WIDGETS = {
  float: numberWidget,
  int: numberWidget,
  bool: boolWidget,
  str: textWidget,
  opt: optWidget,
  index: indexWidget,
  fileinfo: fileWidget,
};

/** The reStructuredText a parameter description uses (*em*, ``code``, :math:`…`) as HTML. */
function inlineRst(text) {
  const escaped = (text || "").replace(
    /[&<>"]/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c],
  );
  return escaped
    .replace(/:math:`([^`]+)`/g, "\\($1\\)")
    .replace(/``([^`]+)``/g, "<code>$1</code>")
    .replace(/\*([^*]+)\*/g, "<em>$1</em>");
}

function renderMath(element) {
  // KaTeX loads deferred with the page; without it the TeX stays readable as it is.
  window.renderMathInElement?.(element, { delimiters: MATH_DELIMITERS, throwOnError: false });
}

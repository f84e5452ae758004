// The data-source browser: choose a source, walk its folders, and pick files into the
// selected node's file list (a click on a file adds it, a second click takes it out; a
// shift-click picks the files from the last one clicked; a group's box picks all its files).
// Files the instrument reads are grouped sample → intent → file → cross-section, each with
// its Q range drawn as a bar against the folder's whole range.

import * as api from "reduction/api.js";
import { formatSize, formatTime, h } from "reduction/dom.js";
import * as store from "reduction/store.js";

export class FileBrowser {
  /** handlers: target() → {files} of the node that takes files, or null; toggle(fileinfo);
   *  pick(fileinfos, on) adds (on) or takes out several files at once;
   *  entries(fileinfo, names | null for all) chooses a picked file's cross-sections;
   *  instrument() → the instrument whose reader describes the files. */
  constructor(element, handlers) {
    this.element = element;
    this.handlers = handlers;
    this.listing = null;
    this.summaries = new Map(); // "source:path@mtime" → what the file holds
    this.sourceSelect = h("select", {
      "aria-label": "Data source",
      onchange: (e) => this.open(e.target.value, ""),
    });
    this.crumbs = h("ul");
    this.filter = h("input", {
      type: "search",
      placeholder: "filter",
      "aria-label": "Filter files",
      oninput: () => this.renderEntries(),
    });
    this.hint = h("p", { class: "hint" });
    this.entries = h("ul", { class: "entries", "aria-label": "Files" });
    element.replaceChildren(
      this.sourceSelect,
      h("nav", { "aria-label": "breadcrumb" }, this.crumbs),
      this.filter,
      this.hint,
      this.entries,
    );
  }

  async start() {
    const sources = await api.sources();
    this.sourceSelect.replaceChildren(
      ...sources.map((source) => h("option", { value: source.name, title: source.description }, source.name)),
    );
    const saved = store.load("browser", {});
    const source = sources.some((s) => s.name === saved.source) ? saved.source : sources[0]?.name;
    if (source) await this.open(source, saved.source === source ? saved.path || "" : "");
    else this.showProblem("No data sources are configured on this server.");
  }

  async open(source, path) {
    this.sourceSelect.value = source;
    try {
      this.listing = await api.files(source, path);
    } catch (problem) {
      if (path) return this.open(source, ""); // a folder that went away: start at the top
      this.listing = null;
      this.showProblem(problem.message);
      return;
    }
    store.save("browser", { source, path: this.listing.path });
    this.filter.value = "";
    this.renderCrumbs();
    this.renderEntries();
    await this.describe();
  }

  /** Ask once per file version what the files of this folder hold, then show it. */
  async describe() {
    const listing = this.listing;
    const wanted = listing.entries
      .filter((entry) => !entry.dir && !this.summaries.has(summaryKey(this.fileinfo(entry))))
      .map((entry) => this.fileinfo(entry));
    if (!wanted.length) return;
    let summaries;
    try {
      summaries = await api.describeFiles(this.handlers.instrument(), wanted);
    } catch {
      return; // the names alone still serve
    }
    wanted.forEach((info, i) => this.summaries.set(summaryKey(info), summaries[i]));
    if (this.listing === listing) this.renderEntries();
  }

  fileinfo(entry) {
    const { source, path } = this.listing;
    return { source, path: path ? `${path}/${entry.name}` : entry.name, mtime: entry.mtime };
  }

  showProblem(message) {
    this.crumbs.replaceChildren();
    this.entries.replaceChildren(h("li", { class: "error" }, message));
  }

  renderCrumbs() {
    const { source, path } = this.listing;
    const parts = path ? path.split("/") : [];
    const crumb = (label, upTo) =>
      h(
        "li",
        {},
        link(label, () => this.open(source, parts.slice(0, upTo).join("/"))),
      );
    this.crumbs.replaceChildren(crumb(source, 0), ...parts.map((part, i) => crumb(part, i + 1)));
  }

  /** The folder's entries, folders first; files ticked when the selected node has them. */
  renderEntries() {
    if (!this.listing) return;
    const target = this.handlers.target();
    this.hint.textContent = target
      ? "Click files to add them to the selected node, or to take them out."
      : "Select a node that loads files (e.g. load) to add files to it.";
    const word = this.filter.value.trim().toLowerCase();
    const shown = this.listing.entries
      .filter((entry) => !word || entry.name.toLowerCase().includes(word))
      .sort(
        (a, b) => Number(b.dir) - Number(a.dir) || a.name.localeCompare(b.name, undefined, { numeric: true }),
      );
    const folders = shown.filter((entry) => entry.dir);
    const files = shown.filter((entry) => !entry.dir).map((entry) => {
      const info = this.fileinfo(entry);
      return { entry, info, summary: this.summaries.get(summaryKey(info)) };
    });
    const read = files.filter((file) => file.summary && !file.summary.error);
    const other = files.filter((file) => !read.includes(file));
    const grouped = groups(read, (file) => file.summary.sample).map(([sample, ofSample]) => [
      sample,
      groups(ofSample, (file) => file.summary.intent),
    ]);
    // The files in the order shown, for a shift-click's run.
    this.order = [...grouped.flatMap(([, intents]) => intents.flatMap(([, f]) => f)), ...other].map(
      (file) => file.info,
    );
    this.range = qRange(read.flatMap((file) => file.summary.entries));
    const row = (file) => this.file(file.entry, target);
    this.entries.replaceChildren(
      ...folders.map((entry) => this.folder(entry)),
      ...grouped.map(([sample, intents]) =>
        h(
          "li",
          { class: "group sample" },
          h("strong", {}, sample || "(no sample name)"),
          h(
            "ul",
            {},
            intents.map(([intent, ofIntent]) => this.group(intent, ofIntent, target, row)),
          ),
        ),
      ),
      ...other.map(row),
    );
    if (!shown.length)
      this.entries.append(h("li", { class: "empty" }, word ? "No file matches." : "This folder is empty."));
  }

  /** Tick marks follow the selected node (call when the selection or its files change). */
  refresh() {
    this.renderEntries();
  }

  /** An intent's files under a box that picks (or takes out) all of them. */
  group(intent, files, target, row) {
    const picked = (file) => target?.files.some((f) => f.source === file.info.source && f.path === file.info.path);
    const all = files.every(picked);
    return h(
      "li",
      { class: "group intent" },
      h(
        "label",
        {},
        h("input", {
          type: "checkbox",
          checked: all,
          disabled: !target,
          "aria-label": `all ${intent} files`,
          onchange: () =>
            this.handlers.pick(
              files.filter((file) => picked(file) === all).map((file) => file.info),
              !all,
            ),
        }),
        ` ${intent} `,
        h("small", {}, `${files.length} file${files.length === 1 ? "" : "s"}`),
      ),
      h("ul", {}, files.map(row)),
    );
  }

  /** A click on a file's box; with shift, every file from the last one clicked to this one. */
  clicked(event, info) {
    const index = this.order.findIndex((other) => other.path === info.path);
    const last = this.order.findIndex((other) => other.path === this.lastClicked);
    this.lastClicked = info.path;
    if (!event.shiftKey || last < 0) return this.handlers.toggle(info);
    const [from, to] = [Math.min(index, last), Math.max(index, last)];
    const target = this.handlers.target();
    const fresh = this.order
      .slice(from, to + 1)
      .filter((file) => !target.files.some((f) => f.source === file.source && f.path === file.path));
    this.handlers.pick(fresh, true);
  }

  folder(entry) {
    const { source, path } = this.listing;
    const inner = path ? `${path}/${entry.name}` : entry.name;
    return h(
      "li",
      { class: "folder" },
      link(`${entry.name}/`, () => this.open(source, inner)),
    );
  }

  file(entry, target) {
    const info = this.fileinfo(entry);
    const picked = target?.files.find((f) => f.source === info.source && f.path === info.path);
    const summary = this.summaries.get(summaryKey(info));
    return h(
      "li",
      { class: picked ? "file chosen" : "file" },
      h(
        "label",
        {},
        h("input", {
          type: "checkbox",
          checked: Boolean(picked),
          disabled: !target,
          onclick: (event) => {
            event.preventDefault(); // drawn anew with the node's files
            this.clicked(event, info);
          },
        }),
        h("span", { class: "name" }, entry.name),
        h("small", {}, `${formatSize(entry.size)} · ${formatTime(entry.mtime)}`),
        summaryLine(summary),
        summary?.entries ? qBar(qRange(summary.entries), this.range) : null,
      ),
      picked && summary?.entries?.length > 1 ? this.crossSections(picked, summary) : null,
    );
  }

  /** Tick boxes for the cross-sections of a picked file: all of them unless some are chosen. */
  crossSections(picked, summary) {
    const boxes = summary.entries.map((e) =>
      h("input", {
        type: "checkbox",
        value: e.entry,
        checked: !picked.entries || picked.entries.includes(e.entry),
        onchange: () => {
          const names = boxes.filter((box) => box.checked).map((box) => box.value);
          if (!names.length) return this.refresh(); // at least one: untick the file instead
          this.handlers.entries(picked, names.length === boxes.length ? null : names);
        },
      }),
    );
    return h(
      "fieldset",
      { class: "cross-sections" },
      h("legend", {}, "cross-sections"),
      ...summary.entries.map((e, i) => h("label", { title: e.entry }, boxes[i], ` ${spins(e)}`)),
    );
  }
}

/** A cross-section's spins ("+" alone: half polarized), or "unpolarized". */
const spins = (entry) => entry.polarization || "unpolarized";

const summaryKey = (info) => `${info.source}:${info.path}@${info.mtime}`;

/** "-- 15, ++ 14 points", or nothing for a file no reader understands (its group names the
 *  sample and intent). */
function summaryLine(summary) {
  if (!summary || summary.error) return null;
  const entries = summary.entries.map((e) => `${spins(e)} ${e.points}`).join(", ");
  return h("small", { class: "summary" }, `${entries} points`);
}

/** [[key, items with that key], …] in the order the keys first come. */
function groups(items, key) {
  const found = new Map();
  for (const item of items) {
    const k = key(item);
    if (!found.has(k)) found.set(k, []);
    found.get(k).push(item);
  }
  return [...found];
}

/** The smallest qmin and largest qmax of cross-sections, or null. */
function qRange(entries) {
  const lows = entries.map((e) => e.qmin).filter(Number.isFinite);
  const highs = entries.map((e) => e.qmax).filter(Number.isFinite);
  return lows.length && highs.length ? { qmin: Math.min(...lows), qmax: Math.max(...highs) } : null;
}

/** A file's Q range as a bar placed within the folder's range. */
function qBar(range, whole) {
  if (!range || !whole) return null;
  const span = whole.qmax - whole.qmin || 1;
  const left = (100 * (range.qmin - whole.qmin)) / span;
  const width = Math.max(1, (100 * (range.qmax - range.qmin)) / span);
  const label = `Qz ${range.qmin.toFixed(4)} – ${range.qmax.toFixed(4)} 1/Å`;
  return h(
    "span",
    { class: "qbar", title: label, role: "img", "aria-label": label },
    h("span", { style: `left: ${left.toFixed(2)}%; width: ${width.toFixed(2)}%` }),
  );
}

function link(label, action) {
  const go = (event) => {
    event.preventDefault();
    action();
  };
  return h("a", { href: "#", onclick: go }, label);
}

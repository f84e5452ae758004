// Stashed results, kept in the browser: each the plotted data sets with the template, node
// and terminal that made them. A stash can be reloaded into the editor, or several compared
// in one plot.

import { h } from "reduction/dom.js";
import * as store from "reduction/store.js";

export class Stash {
  /** handlers: current() → {datasets, template, node, terminal, kind, label} of the plotted
   *  terminal or null; reload(entry); compare(entries); problem(message). */
  constructor(element, handlers) {
    this.handlers = handlers;
    this.entries = store.load("stash", []);
    this.name = h("input", {
      type: "text",
      name: "stash-name",
      placeholder: "name (optional)",
      "aria-label": "Name of the stashed result",
    });
    this.list = h("ul", { class: "stashed" });
    this.compareButton = h(
      "button",
      { type: "button", class: "small secondary", onclick: () => this.compareTicked() },
      "compare ticked",
    );
    element.replaceChildren(
      h(
        "div",
        { class: "stash-add" },
        this.name,
        h("button", { type: "button", class: "small", onclick: () => this.stashCurrent() }, "stash the plot"),
      ),
      this.list,
      this.compareButton,
    );
    this.render();
  }

  focus() {
    this.name.focus();
  }

  stashCurrent() {
    const current = this.handlers.current();
    if (!current) return this.handlers.problem("Plot a terminal first: the stash keeps the plotted result.");
    const { label, ...result } = current;
    const entry = {
      id: Date.now(),
      name: this.name.value.trim() || label,
      saved: new Date().toISOString(),
      ...result,
    };
    this.entries.push(entry);
    if (!store.save("stash", this.entries)) {
      this.entries.pop();
      return this.handlers.problem("The browser's storage is full: remove some stashed results first.");
    }
    this.name.value = "";
    this.render();
  }

  remove(id) {
    this.entries = this.entries.filter((entry) => entry.id !== id);
    store.save("stash", this.entries);
    this.render();
  }

  ticked() {
    const ids = new Set([...this.list.querySelectorAll("input:checked")].map((box) => Number(box.value)));
    return this.entries.filter((entry) => ids.has(entry.id));
  }

  compareTicked() {
    const entries = this.ticked();
    if (!entries.length) return this.handlers.problem("Tick the stashed results to compare.");
    this.handlers.compare(entries);
  }

  render() {
    const items = this.entries.map((entry) =>
      h(
        "li",
        { "data-stash": entry.name },
        h(
          "label",
          {},
          h("input", { type: "checkbox", value: entry.id }),
          h("span", { class: "name" }, entry.name),
        ),
        h("small", {}, new Date(entry.saved).toLocaleString()),
        h(
          "button",
          { type: "button", class: "small outline", onclick: () => this.handlers.reload(entry) },
          "reload",
        ),
        h(
          "button",
          {
            type: "button",
            class: "small outline secondary",
            "aria-label": `remove ${entry.name}`,
            onclick: () => this.remove(entry.id),
          },
          "×",
        ),
      ),
    );
    this.list.replaceChildren(...items);
    if (!items.length) this.list.append(h("li", { class: "empty" }, "Nothing stashed yet."));
    this.compareButton.hidden = this.entries.length < 2;
  }
}

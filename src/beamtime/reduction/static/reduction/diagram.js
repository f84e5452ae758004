// The dataflow diagram, drawn as SVG: each node a box with its title, its input terminals on
// the left and its output terminals on the right; wires run from an output to an input.
//
// The diagram draws what the editor hands it and reports gestures (select, move, connect,
// plot a terminal); the editor owns the template and decides what a gesture does.

import { s } from "reduction/dom.js";

const LINE = 15; // one line of a node's title
const HEADER = 22; // the title band of a node with a one-line title
const ROW = 18; // one terminal
const PORT = 5; // a terminal's radius
const WIDTH = { min: 110, max: 160 };
// The title starts TITLE_X in; the "cached" dot sits DOT.inset from the right edge, and
// TITLE_ROOM is all of a node's width that is not its title's: both margins and the dot, with
// GAP between the title and the dot.
const TITLE_X = 8;
const DOT = { r: 4, inset: 8 };
const GAP = 6;
const TITLE_ROOM = TITLE_X + GAP + DOT.inset + DOT.r;
const DRAG = 4; // screen pixels of movement that turn a click into a drag
const MIN_HEIGHT = 160;
// Terminal colours by data type, in the order of the instrument's data types.
const PALETTE = ["#2563eb", "#16a34a", "#d97706", "#9333ea", "#db2777", "#0891b2"];

export class Diagram {
  /** handlers: select(node|null), selectWire(wire), move(node, x, y, done),
   *  connect([node, output], [node, input]), plot(kind, node, terminal). */
  constructor(svg, handlers) {
    this.svg = svg;
    this.handlers = handlers;
    this.view = null;
    this.gesture = null;
    this.measure = document.createElement("canvas").getContext("2d");
    svg.addEventListener("pointerdown", (e) => this.pointerDown(e));
    svg.addEventListener("pointermove", (e) => this.pointerMove(e));
    svg.addEventListener("pointerup", (e) => this.pointerUp(e));
    svg.addEventListener("pointercancel", () => this.endGesture());
    svg.addEventListener("keydown", (e) => this.keyDown(e));
    new ResizeObserver(() => this.view && this.render(this.view)).observe(svg.parentElement);
  }

  /** view: {template, modules (Map id → module), datatypes, selected, selectedWire,
   *  cached (Set of nodes), error ({node, message}|null), plotted ({kind, node, terminal}|null)} */
  render(view) {
    this.view = view;
    // Drawn anew: the node or terminal that had the keyboard's focus keeps it.
    const focused = this.svg.contains(document.activeElement) ? focusSelector(document.activeElement) : null;
    const boxes = view.template.nodes.map((node, index) => this.box(node, index));
    this.resize(boxes);
    const wires = view.template.wires.map((wire, index) => this.wire(wire, index, boxes));
    const nodes = boxes.map((box) => this.node(box));
    const error = view.error && boxes[view.error.node] && this.errorLabel(boxes[view.error.node]);
    this.svg.replaceChildren(s("g", {}, wires), s("g", {}, nodes), error || []);
    if (focused) this.svg.querySelector(focused)?.focus();
  }

  // Geometry ------------------------------------------------------------------------------

  box(node, index) {
    const module = this.view.modules.get(node.module);
    const widest = (terminals) => Math.max(0, ...terminals.map((t) => this.textWidth(t.id)));
    const labels = widest(module.inputs) + widest(module.outputs) + 4 * PORT + 16;
    const wanted = Math.max(this.textWidth(node.title, true) + TITLE_ROOM, labels);
    const width = clamp(wanted, WIDTH.min, WIDTH.max);
    const title = this.wrap(node.title, width - TITLE_ROOM);
    const header = HEADER + LINE * (title.length - 1);
    const rows = Math.max(module.inputs.length, module.outputs.length, 1);
    const port = (terminal, i, x) => ({ terminal, x: node.x + x, y: node.y + header + ROW * i + ROW / 2 });
    return {
      node,
      index,
      module,
      width,
      title,
      header,
      height: header + rows * ROW + 4,
      inputs: module.inputs.map((t, i) => port(t, i, 0)),
      outputs: module.outputs.map((t, i) => port(t, i, width)),
    };
  }

  /** The drawing at its full size (its text stays readable), as large as its nodes: the box
   *  around it scrolls to the ones beyond its edge. */
  resize(boxes) {
    const right = Math.max(0, ...boxes.map((b) => b.node.x + b.width)) + 2 * PORT + 10;
    const bottom = Math.max(0, ...boxes.map((b) => b.node.y + b.height)) + 30; // room for an error
    const room = this.svg.parentElement.clientWidth;
    const width = Math.ceil(Math.max(room, right)); // whole pixels: no scaling at all
    const height = Math.ceil(Math.max(MIN_HEIGHT, bottom));
    this.svg.setAttribute("width", width);
    this.svg.setAttribute("height", height);
    this.svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  }

  textWidth(text, bold = false) {
    const style = getComputedStyle(this.svg);
    this.measure.font = `${bold ? "600" : "400"} ${style.fontSize} ${style.fontFamily}`;
    return this.measure.measureText(text).width;
  }

  /** ``text`` in lines of at most ``width`` pixels, broken between words: two lines at most,
   *  the second shortened with an ellipsis if it must be. */
  wrap(text, width) {
    const words = text.split(" ");
    let first = words.shift();
    while (words.length && this.textWidth(`${first} ${words[0]}`, true) <= width) first += ` ${words.shift()}`;
    if (!words.length) return [this.fit(first, width, true)];
    return [this.fit(first, width, true), this.fit(words.join(" "), width, true)];
  }

  /** ``text`` shortened with an ellipsis to at most ``width`` pixels. */
  fit(text, width, bold = false) {
    if (this.textWidth(text, bold) <= width) return text;
    let cut = text.length;
    while (cut > 1 && this.textWidth(text.slice(0, cut) + "…", bold) > width) cut -= 1;
    return text.slice(0, cut) + "…";
  }

  // Drawing -------------------------------------------------------------------------------

  node(box) {
    const { node, index, width, height, header } = box;
    const view = this.view;
    const classes = ["node"];
    if (index === view.selected) classes.push("selected");
    if (view.error && view.error.node === index) classes.push("error");
    return s(
      "g",
      {
        class: classes.join(" "),
        "data-node": index,
        transform: `translate(${node.x},${node.y})`,
        tabindex: 0,
        role: "button",
        "aria-label": `${node.title} (${box.module.id})`,
        "aria-pressed": String(index === view.selected),
      },
      s("title", { text: `${node.title} (${box.module.id})` }),
      s("rect", { class: "box", width, height, rx: 5 }),
      s("path", { class: "band", d: `M0 ${header}H${width}` }),
      s(
        "text",
        { class: "title", x: TITLE_X, y: 15 },
        box.title.map((line, i) => s("tspan", { x: TITLE_X, dy: i ? LINE : 0, text: line })),
      ),
      view.cached.has(index) &&
        s(
          "circle",
          { class: "cached", cx: width - DOT.inset, cy: 11, r: DOT.r },
          s("title", { text: "cached on the server" }),
        ),
      box.inputs.map((port) => this.terminal(box, port, "input")),
      box.outputs.map((port) => this.terminal(box, port, "output")),
    );
  }

  terminal(box, port, kind) {
    const { terminal } = port;
    const plotted = this.view.plotted;
    const isPlotted =
      plotted && plotted.node === box.index && plotted.kind === kind && plotted.terminal === terminal.id;
    const x = port.x - box.node.x;
    const y = port.y - box.node.y;
    const colour = PALETTE[Math.max(0, this.view.datatypes.indexOf(terminal.datatype)) % PALETTE.length];
    const inward = kind === "input" ? 1 : -1;
    // A stack of data sets (multiple) is a square, one data set a circle.
    const mark = terminal.multiple
      ? s("rect", {
          class: "port",
          x: x - PORT,
          y: y - PORT,
          width: 2 * PORT,
          height: 2 * PORT,
          fill: colour,
        })
      : s("circle", { class: "port", cx: x, cy: y, r: PORT, fill: colour });
    const kindText = terminal.datatype + (terminal.multiple ? "[]" : "");
    const wiring = this.wiring && this.wiring.node === box.index && this.wiring.terminal === terminal.id;
    const keys = kind === "output" ? "Enter plots, W starts a wire" : "Enter plots (or ends a wire)";
    return s(
      "g",
      {
        class: `terminal ${kind}${isPlotted ? " plotted" : ""}${wiring && kind === "output" ? " wiring" : ""}`,
        "data-kind": kind,
        "data-terminal": terminal.id,
        tabindex: 0,
        role: "button",
        "aria-label": `${kind} ${terminal.id} of ${box.node.title}: ${keys}`,
      },
      s("title", { text: `${kind} ${terminal.id} (${kindText}): ${terminal.description}\nclick to plot` }),
      // An invisible hit area over the whole row: terminals are small targets.
      s("rect", {
        class: "hit",
        x: kind === "input" ? x - PORT - 3 : x - box.width / 2,
        y: y - ROW / 2,
        width: box.width / 2 + PORT + 3,
        height: ROW,
      }),
      mark,
      s("text", {
        class: "label",
        x: x + inward * (PORT + 5),
        y: y + 4,
        "text-anchor": kind === "input" ? "start" : "end",
        text: terminal.id,
      }),
    );
  }

  wire(wire, index, boxes) {
    const from = boxes[wire.source[0]]?.outputs.find((p) => p.terminal.id === wire.source[1]);
    const to = boxes[wire.target[0]]?.inputs.find((p) => p.terminal.id === wire.target[1]);
    if (!from || !to) return null;
    const d = curve(from, to);
    const selected = index === this.view.selectedWire ? " selected" : "";
    return s(
      "g",
      { class: "wire" + selected, "data-wire": index },
      s("path", { class: "hit", d }),
      s("path", { class: "line", d }),
    );
  }

  errorLabel(box) {
    const message = this.view.error.message;
    const text = this.fit(message, 280);
    const width = this.textWidth(text) + 10;
    const y = box.node.y + box.height + 4;
    return s(
      "g",
      { class: "error-label", transform: `translate(${box.node.x},${y})` },
      s("title", { text: message }),
      s("rect", { width, height: 18, rx: 3 }),
      s("text", { x: 5, y: 13, text }),
    );
  }

  // Gestures ------------------------------------------------------------------------------

  point(event) {
    const p = new DOMPoint(event.clientX, event.clientY).matrixTransform(this.svg.getScreenCTM().inverse());
    return { x: p.x, y: p.y };
  }

  pointerDown(event) {
    if (event.button !== 0 || !this.view) return;
    const target = event.target;
    const nodeElement = target.closest("[data-node]");
    const wireElement = target.closest("[data-wire]");
    const terminalElement = target.closest("[data-terminal]");
    const start = this.point(event);
    if (terminalElement) {
      const { kind, terminal } = terminalElement.dataset;
      this.gesture = { kind, node: Number(nodeElement.dataset.node), terminal, start };
    } else if (nodeElement) {
      const index = Number(nodeElement.dataset.node);
      const { x, y } = this.view.template.nodes[index];
      this.gesture = { kind: "move", node: index, start, origin: { x, y } };
      this.handlers.select(index);
    } else if (wireElement) {
      this.handlers.selectWire(Number(wireElement.dataset.wire));
      return;
    } else {
      this.handlers.select(null);
      return;
    }
    this.svg.setPointerCapture(event.pointerId);
    event.preventDefault(); // no text selection while dragging
  }

  pointerMove(event) {
    const gesture = this.gesture;
    if (!gesture) return;
    const at = this.point(event);
    const dx = at.x - gesture.start.x;
    const dy = at.y - gesture.start.y;
    gesture.moved ||= Math.hypot(dx, dy) > DRAG;
    if (!gesture.moved) return;
    if (gesture.kind === "move") {
      this.handlers.move(gesture.node, ...this.moved(gesture, dx, dy), false);
    } else if (gesture.kind === "output") {
      this.drawDraft(gesture, at);
    }
  }

  pointerUp(event) {
    const gesture = this.gesture;
    this.endGesture();
    if (!gesture) return;
    const at = this.point(event);
    if (gesture.kind === "move") {
      if (gesture.moved) {
        this.handlers.move(
          gesture.node,
          ...this.moved(gesture, at.x - gesture.start.x, at.y - gesture.start.y),
          true,
        );
      }
    } else if (!gesture.moved) {
      this.handlers.plot(gesture.kind, gesture.node, gesture.terminal);
    } else if (gesture.kind === "output") {
      // The pointer is captured by the SVG: find the input under it by position.
      const drop = document.elementFromPoint(event.clientX, event.clientY)?.closest("[data-kind=input]");
      if (drop) {
        const target = [Number(drop.closest("[data-node]").dataset.node), drop.dataset.terminal];
        this.handlers.connect([gesture.node, gesture.terminal], target);
      }
    }
  }

  /** The keyboard: Tab goes from node to node and through each node's terminals. Enter or
   *  space selects a focused node or plots a focused terminal; W on an output starts a wire,
   *  which Enter on an input ends (Escape drops it). */
  keyDown(event) {
    const nodeElement = event.target.closest?.("[data-node]");
    if (!nodeElement) return;
    const node = Number(nodeElement.dataset.node);
    const terminalElement = event.target.closest("[data-terminal]");
    if (event.key === "Escape" && this.wiring) {
      this.wiring = null;
      this.render(this.view);
      return;
    }
    if (terminalElement && event.key.toLowerCase() === "w" && terminalElement.dataset.kind === "output") {
      event.preventDefault();
      this.wiring = { node, terminal: terminalElement.dataset.terminal };
      this.render(this.view);
      return;
    }
    if (!["Enter", " "].includes(event.key)) return;
    event.preventDefault();
    if (!terminalElement) {
      this.handlers.select(node);
    } else if (this.wiring && terminalElement.dataset.kind === "input") {
      const from = this.wiring;
      this.wiring = null;
      this.handlers.connect([from.node, from.terminal], [node, terminalElement.dataset.terminal]);
    } else {
      this.handlers.plot(terminalElement.dataset.kind, node, terminalElement.dataset.terminal);
    }
  }

  moved(gesture, dx, dy) {
    return [Math.max(0, Math.round(gesture.origin.x + dx)), Math.max(0, Math.round(gesture.origin.y + dy))];
  }

  drawDraft(gesture, at) {
    const box = this.box(this.view.template.nodes[gesture.node], gesture.node);
    const from = box.outputs.find((p) => p.terminal.id === gesture.terminal);
    if (!this.draft) {
      this.draft = s("path", { class: "wire-draft" });
      this.svg.append(this.draft);
    }
    this.draft.setAttribute("d", curve(from, at));
  }

  endGesture() {
    this.gesture = null;
    this.draft?.remove();
    this.draft = null;
  }
}

/** A selector that finds ``element``'s node or terminal again once the diagram is redrawn. */
function focusSelector(element) {
  const node = element.closest("[data-node]")?.dataset.node;
  if (node === undefined) return null;
  const terminal = element.closest("[data-terminal]");
  const inside = terminal ? ` [data-kind="${terminal.dataset.kind}"][data-terminal="${terminal.dataset.terminal}"]` : "";
  return `[data-node="${node}"]${inside}`;
}

/** A wire's S-curve from an output to an input. */
/** A wire from an output to an input: it leaves and arrives level; one running back (to a
 *  node to the left, as in a template laid out in rows) bends little, to stay in view. */
function curve(from, to) {
  const bend = to.x >= from.x ? Math.max(30, (to.x - from.x) / 2) : 40;
  return `M${from.x} ${from.y}C${from.x + bend} ${from.y} ${to.x - bend} ${to.y} ${to.x} ${to.y}`;
}

function clamp(value, low, high) {
  return Math.min(high, Math.max(low, value));
}

// The plot of a terminal's data sets (Plotly): one trace per data set with its error bars,
// a log/linear y axis, and — when the shown data feed a point mask — clickable points, the
// masked ones drawn apart so that a second click brings them back.

const CONFIG = {
  responsive: true,
  displaylogo: false,
  modeBarButtonsToRemove: ["select2d", "lasso2d", "zoomIn2d", "zoomOut2d", "autoScale2d"],
};
const COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
const MASKED = "#9ca3af";

export class Plot {
  /** handlers: pointClick(dataset, index) for a click on a point when masking is on. */
  constructor(element, logToggle, handlers) {
    this.element = element;
    this.note = Object.assign(document.createElement("p"), { className: "plot-message", hidden: true });
    element.before(this.note);
    this.logToggle = logToggle;
    this.handlers = handlers;
    this.shown = null; // {datasets, options}
    this.subject = null;
    this.bound = false;
    logToggle.addEventListener("change", () => this.shown && this.draw());
  }

  /** Draw ``datasets`` ([{name, xlabel, ylabel, x, y, dy}]). options: subject (what is
   *  plotted; a new subject resets the zoom and the log default), masks (point indices left
   *  out, per data set, or null when the plot is not for masking). */
  show(datasets, options) {
    if (options.subject !== this.subject) {
      this.subject = options.subject;
      this.logToggle.checked = allPositive(datasets);
    }
    this.shown = { datasets, options };
    this.draw();
  }

  /** An empty plot with a message instead. */
  message(text) {
    this.shown = null;
    this.subject = null;
    Plotly.purge(this.element); // which also drops the click handler
    this.bound = false;
    this.note.textContent = text;
    this.note.hidden = false;
  }

  draw() {
    const { datasets, options } = this.shown;
    const masks = options.masks;
    const traces = datasets.flatMap((data, i) => tracesFor(data, i, masks ? masks[i] || [] : null));
    const layout = {
      uirevision: this.subject, // keep the user's zoom while the same terminal is re-plotted
      margin: { l: 70, r: 10, t: 10, b: 50 },
      height: 400,
      hovermode: "closest",
      showlegend: true,
      legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom" },
      xaxis: { title: { text: unique(datasets.map((d) => d.xlabel)) }, exponentformat: "power" },
      yaxis: {
        title: { text: unique(datasets.map((d) => d.ylabel)) },
        type: this.logToggle.checked ? "log" : "linear",
        exponentformat: "power",
      },
    };
    this.note.hidden = true;
    Plotly.react(this.element, traces, layout, CONFIG);
    this.element.classList.toggle("maskable", Boolean(masks));
    this.bindClicks();
  }

  bindClicks() {
    if (this.bound) return;
    this.bound = true;
    this.element.on("plotly_click", (event) => {
      const point = event.points[0];
      if (point && this.shown?.options.masks) this.handlers.pointClick(point.data.meta, point.customdata);
    });
  }
}

/** A data set's trace, and with masking on a second trace of its masked points. Each point
 *  carries its index in the data set (customdata) and each trace its data set (meta). */
function tracesFor(data, number, masked) {
  const colour = COLOURS[number % COLOURS.length];
  const left = new Set((masked || []).filter((i) => i < data.x.length));
  const kept = data.x.map((_, i) => i).filter((i) => !left.has(i));
  const result = [
    pointsTrace(data, number, kept, colour, { name: data.name, marker: { size: 6, color: colour } }),
  ];
  if (left.size) {
    const marker = { size: 9, color: MASKED, symbol: "x-thin-open", line: { width: 2, color: MASKED } };
    const style = { name: `${data.name} (masked)`, showlegend: false, marker };
    result.push(
      pointsTrace(
        data,
        number,
        [...left].sort((a, b) => a - b),
        MASKED,
        style,
      ),
    );
  }
  return result;
}

function pointsTrace(data, number, indices, colour, style) {
  return {
    type: "scatter",
    mode: "markers",
    x: indices.map((i) => data.x[i]),
    y: indices.map((i) => data.y[i]),
    error_y: { type: "data", array: indices.map((i) => data.dy[i]), thickness: 1, width: 2, color: colour },
    customdata: indices,
    meta: number,
    hovertemplate: "point %{customdata}: (%{x:.5g}, %{y:.4g})",
    ...style,
  };
}

function allPositive(datasets) {
  const values = datasets.flatMap((d) => d.y).filter((y) => y !== null);
  return values.length > 0 && values.every((y) => y > 0);
}

function unique(labels) {
  return [...new Set(labels.filter(Boolean))].join(" / ");
}

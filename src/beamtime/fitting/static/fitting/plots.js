// Fit plots, drawn when the page loads and again when htmx brings in a finished fit:
//   <div data-refl-plot="ID">  reflectivity (log, error bars, optional R·Q⁴), model, residuals
//   <div data-sld-plot="ID">   SLD profile
//   <div data-asymmetry="ID">  (R₁−R₂)/(R₁+R₂) of two data sets, data and model
//   <div data-spin-asymmetry="ID">  polarized: (R⁺⁺−R⁻⁻)/(R⁺⁺+R⁻⁻), data with errors and model
// where ID names a json_script element holding {data: {q, r, dr}, curve: {q, r, profile_z, profile_sld}}
// (for asymmetry: {q, data, model}); polarized data (curves.py): {data: {cross_sections: {"++":
// {q, r, dr}, …}}, curve: {cross_sections: {"++": {q, r}, …}, profile_z, profile_sld,
// profile_rhoM, profile_thetaM}, asymmetry: {q, sa, dsa, model} or null}.
const plotConfig = { responsive: true, displaylogo: false };
const margin = { l: 60, r: 10, t: 10, b: 40 };

const SPIN_COLOURS = { "++": "#1f77b4", "+-": "#2ca02c", "-+": "#9467bd", "--": "#d62728" };

function drawRefl(el, plot) {
  const { data, curve } = plot;
  el.plot = plot; // the R·Q⁴ toggle redraws whatever was drawn last
  const rq4 = el.parentElement.querySelector(".rq4");
  const scale = (q, v) => (rq4 && rq4.checked ? v * q ** 4 : v);
  if (data.cross_sections) {
    drawPolarized(el, plot, scale, rq4);
  } else {
    drawUnpolarized(el, plot, scale, rq4);
  }
  if (rq4 && !rq4.dataset.bound) {
    rq4.dataset.bound = "yes";
    rq4.addEventListener("change", () => drawRefl(el, el.plot));
  }
}

function residualsOf(data, model) {
  const fitted = new Map(model.q.map((q, i) => [q, model.r[i]]));
  return data.q.map((q, i) => (fitted.has(q) ? (data.r[i] - fitted.get(q)) / data.dr[i] : null));
}

// Every cross-section with its model curve in its colour, on one plot; residuals below.
function drawPolarized(el, { data, curve }, scale, rq4) {
  const traces = [];
  for (const [name, xs] of Object.entries(data.cross_sections)) {
    const color = SPIN_COLOURS[name];
    traces.push({
      x: xs.q, y: xs.r.map((r, i) => scale(xs.q[i], r)), mode: "markers", name: `${name} data`,
      marker: { size: 4, color }, legendgroup: name,
      error_y: { type: "data", array: xs.dr.map((e, i) => scale(xs.q[i], e)), thickness: 1, color },
    });
    const model = curve && curve.cross_sections[name];
    if (model) {
      traces.push({
        x: model.q, y: model.r.map((r, i) => scale(model.q[i], r)), mode: "lines", name: `${name} model`,
        line: { color }, legendgroup: name,
      });
      traces.push({
        x: xs.q, y: residualsOf(xs, model), mode: "markers", name: `${name} residuals`, yaxis: "y2",
        marker: { size: 3, color }, legendgroup: name, showlegend: false,
      });
    }
  }
  const layout = {
    margin: { ...margin, t: 30 }, height: curve ? 480 : 400, legend: { orientation: "h", x: 0, y: 1.08 },
    xaxis: { title: { text: "Q (1/Å)" } },
    yaxis: { title: { text: rq4 && rq4.checked ? "R·Q⁴" : "R" }, type: "log" },
  };
  if (curve) {
    layout.yaxis.domain = [0.3, 1];
    layout.yaxis2 = { domain: [0, 0.22], title: { text: "(R−fit)/dR" }, zeroline: true };
    layout.xaxis.anchor = "y2";
  }
  // The data decide the log axis: a model's spin flip can be 1e-40 where the data are noise.
  const measured = Object.values(data.cross_sections)
    .flatMap((xs) => xs.r.map((r, i) => scale(xs.q[i], r)))
    .filter((v) => v > 0);
  if (measured.length) {
    const low = Math.log10(Math.min(...measured)), high = Math.log10(Math.max(...measured));
    layout.yaxis.range = [low - 0.5, high + 0.5];
  }
  Plotly.react(el, traces, layout, plotConfig);
}

function drawUnpolarized(el, { data, curve }, scale, rq4) {
  const traces = [{
    x: data.q, y: data.r.map((r, i) => scale(data.q[i], r)), mode: "markers", name: "data", marker: { size: 4 },
    error_y: { type: "data", array: data.dr.map((e, i) => scale(data.q[i], e)), thickness: 1 },
  }];
  const layout = {
    margin, height: 380, legend: { x: 0.7, y: 0.98 }, xaxis: { title: { text: "Q (1/Å)" } },
    yaxis: { title: { text: rq4 && rq4.checked ? "R·Q⁴" : "R" }, type: "log" },
  };
  if (curve) {
    traces.push({ x: curve.q, y: curve.r.map((r, i) => scale(curve.q[i], r)), mode: "lines", name: "model" });
    const fitted = new Map(curve.q.map((q, i) => [q, curve.r[i]]));
    const residuals = data.q.map((q, i) => (fitted.has(q) ? (data.r[i] - fitted.get(q)) / data.dr[i] : null));
    traces.push({ x: data.q, y: residuals, mode: "markers", name: "residuals (σ)", yaxis: "y2", marker: { size: 3 } });
    layout.yaxis.domain = [0.3, 1];
    layout.yaxis2 = { domain: [0, 0.22], title: { text: "(R−fit)/dR" }, zeroline: true };
    layout.xaxis.anchor = "y2"; // Q's ticks and title below the residuals, not across them
    layout.height = 460;
  }
  Plotly.react(el, traces, layout, plotConfig);
}

// The nuclear SLD profile; polarized, also the magnetic SLD and (right axis) the magnetization angle.
function drawSld(el, { curve }) {
  if (!curve) return;
  const traces = [{ x: curve.profile_z, y: curve.profile_sld, mode: "lines", name: "nuclear SLD ρ" }];
  const layout = {
    margin, height: 300, xaxis: { title: { text: "depth below the front surface (Å)" } },
    yaxis: { title: { text: "SLD (10⁻⁶/Å²)" } }, legend: { orientation: "h", x: 0, y: 1.15 },
  };
  if (curve.profile_rhoM) {
    traces.push({ x: curve.profile_z, y: curve.profile_rhoM, mode: "lines", name: "magnetic SLD ρM" });
    traces.push({
      x: curve.profile_z, y: curve.profile_thetaM, mode: "lines", name: "θM (°)", yaxis: "y2",
      line: { dash: "dot", width: 1 },
    });
    layout.yaxis2 = { title: { text: "θM (°)" }, overlaying: "y", side: "right", range: [0, 360], showgrid: false };
    layout.margin = { ...margin, r: 50, t: 40 };
  }
  Plotly.react(el, traces, layout, plotConfig);
}

// Polarized: the spin asymmetry of the data (error bars propagated from dR) and of the model.
function drawSpinAsymmetry(el, plot) {
  const found = plot.asymmetry;
  el.hidden = !found;
  if (!found) return;
  const traces = [{
    x: found.q, y: found.sa, mode: "markers", name: "data", marker: { size: 4 },
    error_y: { type: "data", array: found.dsa || [], visible: Boolean(found.dsa), thickness: 1 },
  }];
  if (found.model) traces.push({ x: found.q, y: found.model, mode: "lines", name: "model" });
  Plotly.react(el, traces, {
    margin: { ...margin, t: 30 }, height: 300, xaxis: { title: { text: "Q (1/Å)" } },
    yaxis: { title: { text: "spin asymmetry (R⁺⁺−R⁻⁻)/(R⁺⁺+R⁻⁻)" } }, legend: { orientation: "h", x: 0, y: 1.12 },
  }, plotConfig);
}

function drawAsymmetry(el, { q, data, model }) {
  Plotly.newPlot(el, [
    { x: q, y: data, mode: "markers", name: "data", marker: { size: 4 } },
    { x: q, y: model, mode: "lines", name: "model" },
  ], { margin, height: 300, xaxis: { title: { text: "Q (1/Å)" } }, yaxis: { title: { text: "asymmetry" } } }, plotConfig);
}

function drawFitPlots() {
  const kinds = [
    ["reflPlot", drawRefl], ["sldPlot", drawSld], ["asymmetry", drawAsymmetry], ["spinAsymmetry", drawSpinAsymmetry],
  ];
  for (const [key, draw] of kinds) {
    const attribute = "data-" + key.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
    document.querySelectorAll(`[${attribute}]`).forEach((el) => {
      if (el.dataset.drawn) return;
      el.dataset.drawn = "yes";
      draw(el, JSON.parse(document.getElementById(el.dataset[key]).textContent));
    });
  }
}

// Burn and samples are DREAM's: shown only when DREAM is the chosen engine.
function showEngineOptions() {
  const engine = document.querySelector("select[name=engine]");
  if (!engine) return;
  const toggle = () => document.querySelectorAll(".dream-only").forEach((el) => { el.hidden = engine.value !== "dream"; });
  engine.addEventListener("change", toggle);
  toggle();
}

// Evaluate without leaving the page: the form as it stands is posted (with its CSRF token) to
// the evaluate view, and the answer redraws the plots and χ², or is shown above the buttons with
// each input at fault marked. A layer's Remove button hides its row, flags it deleted (the
// formset's DELETE) and evaluates the rest; without JavaScript it submits the page instead.
function evaluateInPlace() {
  const form = document.querySelector("form.model-form[data-evaluate-url]");
  if (!form) return;
  const error = document.getElementById("fit-error");
  const chisq = document.getElementById("chisq");
  let evaluations = 0;

  async function evaluate() {
    const asked = ++evaluations;
    let answer;
    try {
      // URL-encoded, not multipart: Django reads it in a fraction of the time
      const body = new URLSearchParams(new FormData(form));
      const response = await fetch(form.dataset.evaluateUrl, { method: "POST", body });
      const json = (response.headers.get("Content-Type") || "").startsWith("application/json");
      answer = json ? await response.json()
        : { error: `Evaluate failed (HTTP ${response.status}${response.redirected ? ", logged out?" : ""}): reload the page.` };
    } catch (failure) {
      answer = { error: "Evaluate: the server did not answer (" + failure.message + ")." };
    }
    if (asked !== evaluations) return; // a later click's answer is the one to show
    markInvalid(form, answer.errors || {});
    if (answer.error) {
      error.textContent = answer.error;
      error.hidden = false;
      return;
    }
    error.hidden = true;
    const refl = document.getElementById("refl-plot");
    // the data as drawn, not re-read
    const plot = { data: refl.plot.data, curve: answer.curve, asymmetry: answer.asymmetry };
    drawRefl(refl, plot);
    drawSld(document.getElementById("sld-plot"), plot);
    const spin = document.getElementById("spin-asymmetry-plot");
    if (spin) drawSpinAsymmetry(spin, plot);
    const note = document.getElementById("fit-note");
    if (note) {
      note.textContent = answer.note || "";
      note.hidden = !answer.note;
    }
    chisq.textContent = "χ² = " + answer.chisq.toFixed(4);
    form.dispatchEvent(new Event("evaluated"));
  }

  form.addEventListener("submit", (event) => {
    const button = event.submitter;
    if (!button) return;
    if (button.hasAttribute("data-remove-row")) {
      event.preventDefault();
      const flag = document.createElement("input");
      Object.assign(flag, { type: "hidden", name: button.name, value: "on" });
      button.after(flag);
      button.closest("tr").hidden = true;
      form.dispatchEvent(new Event("input"));
      evaluate();
    } else if (button.value === "evaluate") {
      event.preventDefault();
      evaluate();
    }
  });
}

// The inputs an answer names: marked (class "invalid", aria-invalid) with their message below;
// the marks of the answer before are cleared.
function markInvalid(form, errors) {
  form.querySelectorAll(".field-error").forEach((note) => note.remove());
  form.querySelectorAll(".invalid").forEach((input) => {
    input.classList.remove("invalid");
    input.removeAttribute("aria-invalid");
  });
  for (const [name, message] of Object.entries(errors)) {
    const input = form.querySelector(`[name="${CSS.escape(name)}"]`);
    if (!input) continue;
    input.classList.add("invalid");
    input.setAttribute("aria-invalid", "true");
    const note = document.createElement("small");
    note.className = "field-error";
    note.textContent = message;
    input.after(note);
  }
}

// The Magnetism box shows or hides the magnetic columns (ρM, θM, the guide field); hidden ones
// keep their values and are still posted.
function toggleMagnetism() {
  document.querySelectorAll("[data-magnetism-toggle]").forEach((box) => {
    const form = box.closest("form");
    box.addEventListener("change", () => form.classList.toggle("magnetic", box.checked));
  });
}

// Edits to the model live in the form until it is submitted: warn before leaving them.
function warnAboutUnsavedEdits() {
  const form = document.querySelector("form.model-form");
  if (!form) return;
  let edited = false;
  form.addEventListener("input", () => { edited = true; });
  form.addEventListener("submit", (event) => { if (!event.defaultPrevented) edited = false; });
  form.addEventListener("evaluated", () => { edited = false; });
  window.addEventListener("beforeunload", (event) => {
    if (edited) event.preventDefault();
  });
}

document.addEventListener("DOMContentLoaded", drawFitPlots);
document.addEventListener("DOMContentLoaded", showEngineOptions);
document.addEventListener("DOMContentLoaded", toggleMagnetism);
document.addEventListener("DOMContentLoaded", evaluateInPlace); // before the warning: it reads defaultPrevented
document.addEventListener("DOMContentLoaded", warnAboutUnsavedEdits);
document.addEventListener("htmx:afterSettle", drawFitPlots);

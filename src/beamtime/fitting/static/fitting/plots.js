// Reflectivity (log scale, error bars, optional R·Q⁴) with the model curve, residuals when a
// curve exists, and the SLD profile. Drawn when the page loads and again when htmx brings in
// a finished fit's results.
function drawFitPlots() {
  const source = document.getElementById("plot-data");
  if (!source || source.dataset.drawn) return;
  source.dataset.drawn = "yes";
  const { data, curve } = JSON.parse(source.textContent);
  const config = { responsive: true, displaylogo: false };
  const rq4 = document.getElementById("rq4");

  function draw() {
    const scale = (q, v) => (rq4 && rq4.checked ? v * q ** 4 : v);
    const traces = [{
      x: data.q, y: data.r.map((r, i) => scale(data.q[i], r)), mode: "markers", name: "data",
      marker: { size: 4 }, error_y: { type: "data", array: data.dr.map((e, i) => scale(data.q[i], e)), thickness: 1 },
    }];
    const layout = {
      margin: { l: 60, r: 10, t: 10, b: 40 }, height: 380, legend: { x: 0.7, y: 0.98 },
      xaxis: { title: { text: "Q (1/Å)" } }, yaxis: { title: { text: rq4 && rq4.checked ? "R·Q⁴" : "R" }, type: "log" },
    };
    if (curve) {
      traces.push({ x: curve.q, y: curve.r.map((r, i) => scale(curve.q[i], r)), mode: "lines", name: "model" });
      const fitted = new Map(curve.q.map((q, i) => [q, curve.r[i]]));
      const res = data.q.map((q, i) => (fitted.has(q) ? (data.r[i] - fitted.get(q)) / data.dr[i] : null));
      traces.push({ x: data.q, y: res, mode: "markers", name: "residuals (σ)", yaxis: "y2", marker: { size: 3 } });
      layout.yaxis.domain = [0.3, 1];
      layout.yaxis2 = { domain: [0, 0.22], title: { text: "(R−fit)/dR" }, zeroline: true };
      layout.height = 460;
    }
    Plotly.react("refl-plot", traces, layout, config);
  }
  draw();
  if (rq4) rq4.addEventListener("change", draw);
  if (curve) {
    Plotly.newPlot("sld-plot", [{ x: curve.profile_z, y: curve.profile_sld, mode: "lines", name: "SLD" }], {
      margin: { l: 60, r: 10, t: 10, b: 40 }, height: 300,
      xaxis: { title: { text: "depth (Å)" } }, yaxis: { title: { text: "SLD (10⁻⁶/Å²)" } },
    }, config);
  }
}

document.addEventListener("DOMContentLoaded", drawFitPlots);
document.addEventListener("htmx:afterSettle", drawFitPlots);

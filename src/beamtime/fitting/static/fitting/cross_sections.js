// The cross-sections of a polarized data set, each as points with error bars on one plot:
//   <div data-cross-sections="ID">, ID naming a json_script element {"++": {q, r, dr}, …};
//   the checkbox #cross-section-log switches R between log and linear.
const COLOURS = { "++": "#1f77b4", "+-": "#2ca02c", "-+": "#9467bd", "--": "#d62728" };
const SYMBOLS = { "++": "circle", "+-": "triangle-up", "-+": "triangle-down", "--": "square" };

function drawCrossSections() {
  const log = document.getElementById("cross-section-log");
  document.querySelectorAll("[data-cross-sections]").forEach((el) => {
    const sections = JSON.parse(document.getElementById(el.dataset.crossSections).textContent);
    const traces = Object.entries(sections).map(([xs, data]) => ({
      x: data.q, y: data.r, mode: "markers", name: xs,
      marker: { size: 6, color: COLOURS[xs], symbol: SYMBOLS[xs] },
      error_y: { type: "data", array: data.dr, thickness: 1, color: COLOURS[xs] },
    }));
    Plotly.react(el, traces, {
      margin: { l: 60, r: 10, t: 10, b: 40 }, height: 380, legend: { x: 0.85, y: 0.98 },
      xaxis: { title: { text: "Q (1/Å)" } },
      yaxis: { title: { text: "R" }, type: log && !log.checked ? "linear" : "log" },
    }, { responsive: true, displaylogo: false });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  drawCrossSections();
  document.getElementById("cross-section-log")?.addEventListener("change", drawCrossSections);
});

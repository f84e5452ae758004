// One observable against run number.
document.addEventListener("DOMContentLoaded", () => {
  const data = JSON.parse(document.getElementById("chart-data").textContent);
  Plotly.newPlot("chart", [{ x: data.x, y: data.y, mode: "lines+markers", name: data.name }], {
    margin: { l: 60, r: 10, t: 10, b: 50 },
    xaxis: { title: { text: "run number" }, dtick: data.x.length < 20 ? 1 : undefined },
    yaxis: { title: { text: data.name } },
    height: 420,
  }, { responsive: true, displaylogo: false });
});

// Draw the focal plane: one square per slot at its position, coloured by state;
// a click opens the slot's history.
document.addEventListener("DOMContentLoaded", () => {
  const el = document.getElementById("focal-plane");
  const points = JSON.parse(document.getElementById("focal-plane-data").textContent);
  const slotUrl = (slot) => el.dataset.slotUrl.replace(/000\/$/, slot + "/");
  const trace = {
    type: "scatter",
    mode: "markers+text",
    x: points.map((p) => p.x),
    y: points.map((p) => p.y),
    text: points.map((p) => p.text),
    hovertext: points.map((p) => p.hover),
    hoverinfo: "text",
    customdata: points.map((p) => p.slot),
    textfont: { size: 10, color: "#111" },
    marker: { symbol: "square", size: 30, color: points.map((p) => p.colour), line: { width: 1, color: "#555" } },
  };
  const layout = {
    margin: { l: 50, r: 10, t: 10, b: 40 },
    xaxis: { title: { text: "X_FP [arcsec]" }, zeroline: false },
    yaxis: { title: { text: "Y_FP [arcsec]" }, zeroline: false, scaleanchor: "x" },
    height: 560,
    showlegend: false,
  };
  Plotly.newPlot(el, [trace], layout, { responsive: true, displaylogo: false });
  el.on("plotly_click", (event) => {
    window.location.href = slotUrl(event.points[0].customdata);
  });
});

// Draw the focal plane as the IFU head mounting plate: one square per seat at its position
// (columns 1–10 left to right, rows 0–9 top to bottom), coloured by state; a click opens the
// slot's history.
document.addEventListener("DOMContentLoaded", () => {
  const el = document.getElementById("focal-plane");
  const points = JSON.parse(document.getElementById("focal-plane-data").textContent);
  const slotUrl = (slot) => el.dataset.slotUrl.replace(/000\/$/, slot + "/");
  const columns = [...Array(10).keys()].map((i) => i + 1);
  const rows = [...Array(10).keys()];
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
    marker: { symbol: "square", size: 34, color: points.map((p) => p.colour), line: { width: 1, color: "#555" } },
  };
  const layout = {
    margin: { l: 90, r: 10, t: 10, b: 60 },
    xaxis: {
      title: { text: "column · X_FP [arcsec]" },
      tickvals: columns.map((c) => (c - 5.5) * 100),
      ticktext: columns.map((c) => `${c}<br>${(c - 5.5) * 100}`),
      range: [-530, 530],
      zeroline: false,
    },
    yaxis: {
      title: { text: "row · Y_FP [arcsec]" },
      tickvals: rows.map((r) => (4.5 - r) * 100),
      ticktext: rows.map((r) => `${r} · ${(4.5 - r) * 100}`),
      range: [-530, 530],
      zeroline: false,
      scaleanchor: "x",
    },
    height: 620,
    showlegend: false,
  };
  Plotly.newPlot(el, [trace], layout, { responsive: true, displaylogo: false });
  el.on("plotly_click", (event) => {
    window.location.href = slotUrl(event.points[0].customdata);
  });
});

// Drag observable rows by their handle; the new order is saved at once.
document.addEventListener("DOMContentLoaded", () => {
  const body = document.getElementById("observable-rows");
  let dragged = null;
  body.addEventListener("dragstart", (event) => { dragged = event.target.closest("tr"); });
  body.addEventListener("dragover", (event) => {
    event.preventDefault();
    const over = event.target.closest("tr");
    if (!dragged || !over || over === dragged) return;
    const after = event.clientY > over.getBoundingClientRect().top + over.offsetHeight / 2;
    body.insertBefore(dragged, after ? over.nextSibling : over);
  });
  body.addEventListener("drop", (event) => {
    event.preventDefault();
    const order = [...body.querySelectorAll("tr[data-pk]")].map((row) => row.dataset.pk).join(",");
    htmx.ajax("POST", body.dataset.orderUrl, { values: { order }, swap: "none" });
    dragged = null;
  });
});

// A control shows its spinner (Pico draws one for aria-busy) as soon as its request starts,
// until htmx swaps in the answer. A script file, since the Content Security Policy runs no
// inline script (htmx's hx-on attributes included).
document.addEventListener("htmx:beforeRequest", (event) => {
  const element = event.detail.elt;
  if (element.matches("button")) element.setAttribute("aria-busy", "true");
});

// Behaviour the pages ask for with data attributes, since the Content Security Policy allows
// no inline script (no onclick="…"):
//   data-confirm="Question?"  on a form or a submit button: ask before submitting;
//   data-autosubmit           on a form field: submit its form when the value changes.
document.addEventListener("submit", (event) => {
  const button = event.submitter;
  const question =
    (button && button.dataset.confirm) || event.target.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});
document.addEventListener("change", (event) => {
  if (event.target.matches("[data-autosubmit]") && event.target.form) {
    event.target.form.requestSubmit();
  }
});

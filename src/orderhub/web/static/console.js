// The console's small behaviours, kept out of the HTML so the Content-Security-Policy can
// forbid inline script: forms with data-confirm ask first; selects with data-autosubmit
// submit their form when changed.
document.addEventListener("submit", function (event) {
  var message = event.target.dataset && event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
}, true);
document.addEventListener("change", function (event) {
  if (event.target.matches && event.target.matches("select[data-autosubmit]")) event.target.form.submit();
});

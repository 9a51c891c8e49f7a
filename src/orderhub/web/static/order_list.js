// The orders list: "select all" ticks every row of the page; after a bulk action (the server
// answers with the HX-Trigger "orders-changed") the rows are read again for the current URL.
document.addEventListener("change", function (event) {
  var box = event.target;
  if (!box.matches || !box.matches("input[data-select-all]")) return;
  box.closest("table").querySelectorAll("input[name=order_id]").forEach(function (row) { row.checked = box.checked; });
});
document.body.addEventListener("orders-changed", function () {
  htmx.ajax("GET", window.location.pathname + window.location.search, { target: "#rows" });
});

// Counts down the time left on holds ([data-expires]) once a second and after each htmx swap.
(function () {
  function tick() {
    document.querySelectorAll("[data-expires]").forEach(function (el) {
      var left = Math.round((Date.parse(el.dataset.expires) - Date.now()) / 1000);
      el.textContent = left > 0 ? Math.floor(left / 60) + "m " + (left % 60) + "s" : "expiring";
    });
  }
  setInterval(tick, 1000);
  document.addEventListener("htmx:afterSwap", tick);
  tick();
})();

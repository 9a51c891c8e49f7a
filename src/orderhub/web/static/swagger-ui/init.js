// Starts the vendored Swagger UI on /api/docs; a file, not inline, so the Content-Security-Policy holds.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
});

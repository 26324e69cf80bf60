// Shipyard: start Swagger UI on the API document. A file, not an inline script, so the
// page's Content-Security-Policy can forbid inline code. validatorUrl: null keeps the UI
// from asking an outside validator about the document (it makes no request but to us).
window.ui = SwaggerUIBundle({
  url: "/api/v1/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  persistAuthorization: false,
});

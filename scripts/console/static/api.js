// The API reference: docs/openapi.yaml in the pinned Swagger UI, "try it" for GETs.
"use strict";

(async function () {
  const config = await (await fetch("/api/config")).json();
  const ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger",
    deepLinking: true,
    // The console is read-only: it proxies GETs to the API and nothing else.
    supportedSubmitMethods: config.apiUrl ? ["get"] : [],
    persistAuthorization: false,
  });
  if (!config.tokens) return;
  const form = document.getElementById("mint");
  const status = document.getElementById("token-status");
  document.getElementById("token-form").hidden = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const query = new URLSearchParams({ sub: form.sub.value, scopes: form.scopes.value });
    const response = await fetch("/api/token?" + query);
    const body = await response.json();
    if (!response.ok) {
      status.textContent = "No token: " + body.error.message;
      return;
    }
    // The scheme's name in docs/openapi.yaml's components.securitySchemes.
    const schemes = Object.keys(ui.specSelectors.specJson().toJS().components.securitySchemes);
    schemes.forEach((name) => ui.preauthorizeApiKey(name, body.token));
    status.textContent = "Authorized as " + form.sub.value + " (valid one hour).";
  });
})();

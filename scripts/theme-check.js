// Lint a theme app extension offline with Shopify's theme-check (the npm devDependency
// @shopify/theme-check-node; it falls back to the Liquid docs bundled with it, no network needed).
// Usage: node scripts/theme-check.js extensions/loyalty-widget   -> JSON list of offenses on stdout.
"use strict";
const path = require("path");
const { themeCheckRun } = require("@shopify/theme-check-node");

const root = path.resolve(process.argv[2] || "extensions/loyalty-widget");
const config = path.join(path.dirname(require.resolve("@shopify/theme-check-node/package.json")),
  "configs", "theme-app-extension.yml");

themeCheckRun(root, config, () => {})
  .then((result) => {
    const offenses = result.offenses.map((o) => ({
      check: o.check, severity: o.severity, message: o.message,
      file: path.relative(root, o.uri.replace(/^file:\/\//, "")), line: o.start ? o.start.line : null,
    }));
    process.stdout.write(JSON.stringify(offenses, null, 1) + "\n");
  })
  .catch((error) => { process.stderr.write(String(error && error.stack || error) + "\n"); process.exit(2); });

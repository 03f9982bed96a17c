#!/usr/bin/env node
// Writes package.json's `contributes.configuration` from the server's settings JSON schema.
//
//   node scripts/gen-settings.mjs                   regenerate from the committed schema.json
//   node scripts/gen-settings.mjs --refresh-schema  first rewrite schema.json from `hybrid-assist config schema`
//   node scripts/gen-settings.mjs --check           fail when package.json (or, with HYBRID_LSP_BIN
//                                                   set, schema.json) is stale
//
// The server executable is $HYBRID_LSP_BIN, else `hybrid-assist` on PATH.
// Needs the compiled core module (`npm run compile`).

import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
const corePath = join(root, "out", "src", "core", "settings.js");
if (!existsSync(corePath)) {
  console.error(`gen-settings: ${corePath} is missing; run \`npm run compile\` first`);
  process.exit(2);
}
const { generateConfiguration } = require(corePath);

const args = new Set(process.argv.slice(2));
const check = args.has("--check");
const refresh = args.has("--refresh-schema");
const schemaPath = join(root, "schema.json");
const packagePath = join(root, "package.json");

function serverSchemaText() {
  const bin = process.env.HYBRID_LSP_BIN || "hybrid-assist";
  const text = execFileSync(bin, ["config", "schema"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  return JSON.stringify(JSON.parse(text), null, 2) + "\n";
}

const problems = [];
let schemaText = readFileSync(schemaPath, "utf8");
if (refresh || (check && process.env.HYBRID_LSP_BIN)) {
  const live = serverSchemaText();
  if (live !== schemaText) {
    if (check) {
      problems.push("schema.json differs from `hybrid-assist config schema`; run `npm run refresh-schema`");
    } else {
      writeFileSync(schemaPath, live);
      console.log("gen-settings: schema.json refreshed");
    }
    schemaText = live;
  }
}

const packageText = readFileSync(packagePath, "utf8");
const pkg = JSON.parse(packageText);
pkg.contributes ??= {};
pkg.contributes.configuration = generateConfiguration(JSON.parse(schemaText));
const generated = JSON.stringify(pkg, null, 2) + "\n";

if (check) {
  if (generated !== packageText) {
    problems.push("package.json contributes.configuration is stale; run `npm run gen-settings`");
  }
  if (problems.length) {
    for (const problem of problems) console.error(`check-settings: ${problem}`);
    process.exit(1);
  }
  console.log(`check-settings: ok (${Object.keys(pkg.contributes.configuration.properties).length} settings)`);
} else if (generated !== packageText) {
  writeFileSync(packagePath, generated);
  console.log(`gen-settings: package.json updated (${Object.keys(pkg.contributes.configuration.properties).length} settings)`);
} else {
  console.log("gen-settings: package.json already up to date");
}

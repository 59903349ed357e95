#!/usr/bin/env node
// Validates Adaptive Cards with Microsoft's own parser (the `adaptivecards` package pinned in
// package-lock.json), at the version each card declares.
//
//   node tests/tools/adaptivecards/check-cards.js CARDS.json
//
// CARDS.json is an array of {"name": "...", "card": {...AdaptiveCard...}}. Prints one JSON
// document: an array of {"name", "version", "problems", "problems_one_below"}, where
// `problems` are the parser's and the validator's events at the declared version (an empty
// list means valid) and `problems_one_below` the same at the version before it (so a caller
// can tell whether a lower version would do). Exits 2 when the package is not installed.
"use strict";

const fs = require("fs");
const path = require("path");

let AC;
try {
  // The UMD bundle: the package's `lib/` is ES modules that Node cannot load as they are.
  AC = require(path.join(__dirname, "node_modules", "adaptivecards", "dist", "adaptivecards.js"));
} catch (e) {
  process.stderr.write(
    "the adaptivecards package is not installed: run tests/tools/install.sh " +
      "(npm ci in tests/tools/adaptivecards)\n" + e.message + "\n",
  );
  process.exit(2);
}

const VERSIONS = ["1.0", "1.1", "1.2", "1.3", "1.4", "1.5", "1.6"];

function problems(json, version) {
  const target = AC.Versions["v" + version.replace(".", "_")];
  if (!target) {
    return [`unknown Adaptive Card version ${JSON.stringify(version)}`];
  }
  const card = new AC.AdaptiveCard();
  const context = new AC.SerializationContext(target);
  card.parse(json, context);
  const out = [];
  for (let i = 0; i < context.eventCount; i++) {
    const e = context.getEventAt(i);
    out.push(`${AC.ValidationEvent[e.event]}: ${e.message}`);
  }
  for (const e of card.validateProperties().validationEvents) {
    out.push(`${AC.ValidationEvent[e.event]}: ${e.message}`);
  }
  return out;
}

const cards = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const results = cards.map(({ name, card }) => {
  const version = typeof card.version === "string" ? card.version : "";
  const index = VERSIONS.indexOf(version);
  return {
    name,
    version,
    problems: problems(card, version),
    problems_one_below: index > 0 ? problems(card, VERSIONS[index - 1]) : [],
  };
});
process.stdout.write(JSON.stringify(results) + "\n");

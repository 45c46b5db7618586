#!/usr/bin/env node
// Compile contracts/*.sol (and OpenZeppelin's TimelockController) with the pinned solcjs into
// src/depinkit/chain/artifacts/<Contract>.json, deterministically and offline.
//
// Usage: node scripts/build_contracts.mjs [--out DIR]
//
// Every artifact carries `sourceHash`: sha256 of the canonical JSON of
// {"compiler": <solc version>, "settings": <solc settings>, "sources": {<unit name>: sha256(content)}},
// over every source unit the compilation read. build-info.json next to the artifacts lists the
// same inputs so tests/chain/test_artifacts.py can recompute the hash without node.
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(path.join(ROOT, "package.json"));
const solc = require("solc");

// Deployable contracts that get an artifact: source unit name -> contract name.
const EXTRA_SOURCES = ["@openzeppelin/contracts/governance/TimelockController.sol"];
const ARTIFACTS = [
  ["contracts/Parameters.sol", "Parameters"],
  ["contracts/OracleSet.sol", "OracleSet"],
  ["contracts/DepinToken.sol", "DepinToken"],
  ["contracts/DeviceRegistry.sol", "DeviceRegistry"],
  ["contracts/RewardsDistributor.sol", "RewardsDistributor"],
  ["contracts/Credits.sol", "Credits"],
  ["contracts/HexBoosts.sol", "HexBoosts"],
  ["contracts/DepinGovernor.sol", "DepinGovernor"],
  ["@openzeppelin/contracts/governance/TimelockController.sol", "TimelockController"],
];

const SETTINGS = {
  evmVersion: "cancun",
  optimizer: { enabled: true, runs: 200 },
  outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
};

function parseArgs(argv) {
  let out = path.join(ROOT, "src", "depinkit", "chain", "artifacts");
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--out" && i + 1 < argv.length) out = path.resolve(argv[++i]);
    else throw new Error(`unknown argument: ${argv[i]}`);
  }
  return { out };
}

function sha256(text) {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

// JSON with sorted keys and no whitespace: equal to Python's
// json.dumps(value, sort_keys=True, separators=(",", ":")) for the ASCII data used here.
function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

function resolveUnit(name) {
  // Project sources are named relative to the repository; library sources by their npm path.
  if (name.startsWith("contracts/")) return path.join(ROOT, name);
  return path.join(ROOT, "node_modules", name);
}

function main() {
  const { out } = parseArgs(process.argv.slice(2));
  const contents = new Map();
  const read = (name) => {
    if (!contents.has(name)) contents.set(name, readFileSync(resolveUnit(name), "utf8"));
    return contents.get(name);
  };
  const roots = readdirSync(path.join(ROOT, "contracts"))
    .filter((f) => f.endsWith(".sol"))
    .sort()
    .map((f) => `contracts/${f}`)
    .concat(EXTRA_SOURCES);
  const sources = {};
  for (const name of roots) sources[name] = { content: read(name) };
  const input = { language: "Solidity", sources, settings: SETTINGS };
  const findImports = (name) => {
    try {
      return { contents: read(name) };
    } catch (err) {
      return { error: `cannot read ${name}: ${err.message}` };
    }
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
  // Errors always, warnings only for our own sources: OpenZeppelin's are not ours to fix.
  const diagnostics = output.errors || [];
  const ours = (e) => e.severity === "error" || e.sourceLocation?.file?.startsWith("contracts/");
  for (const e of diagnostics.filter(ours)) process.stderr.write(`${e.formattedMessage}\n`);
  if (diagnostics.some((e) => e.severity === "error")) process.exit(1);

  const compiler = solc.version();
  const usedSources = {};
  for (const name of Object.keys(output.sources).sort()) usedSources[name] = sha256(read(name));
  const sourceHash = sha256(canonical({ compiler, settings: SETTINGS, sources: usedSources }));

  mkdirSync(out, { recursive: true });
  const wanted = new Set(ARTIFACTS.map(([, name]) => `${name}.json`).concat(["build-info.json"]));
  for (const f of readdirSync(out)) {
    if (f.endsWith(".json") && !wanted.has(f)) rmSync(path.join(out, f));
  }
  for (const [unit, name] of ARTIFACTS) {
    const compiled = output.contracts[unit]?.[name];
    if (!compiled) throw new Error(`no output for ${unit}:${name}`);
    const artifact = {
      contractName: name,
      abi: compiled.abi,
      bytecode: `0x${compiled.evm.bytecode.object}`,
      deployedBytecode: `0x${compiled.evm.deployedBytecode.object}`,
      sourceHash,
    };
    writeFileSync(path.join(out, `${name}.json`), `${JSON.stringify(artifact, null, 2)}\n`);
  }
  const buildInfo = { compiler, settings: SETTINGS, sources: usedSources, sourceHash };
  writeFileSync(path.join(out, "build-info.json"), `${JSON.stringify(buildInfo, null, 2)}\n`);
  process.stdout.write(
    `compiled ${Object.keys(usedSources).length} sources with solc ${compiler}: ` +
      `${ARTIFACTS.length} artifacts in ${path.relative(process.cwd(), out) || "."}\n`,
  );
}

main();

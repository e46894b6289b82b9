#!/usr/bin/env node
// Generate src/gen/ (TypeScript messages and grpc-js clients) from the repository's proto/
// with buf + ts-proto, both installed by `npm ci`: no protoc, no network.
//
//   npm run gen          regenerate src/gen/
//   npm run gen:check    exit 1 if src/gen/ differs from what proto/ generates (drift)
//
// Never edit src/gen/ by hand: change the .proto files and regenerate.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const protoDir = resolve(pkg, "..", "..", "proto");
const target = join(pkg, "src", "gen");
const bin = join(pkg, "node_modules", ".bin");

function generate(out) {
  rmSync(out, { recursive: true, force: true });
  execFileSync(join(bin, "buf"), ["generate", protoDir, "--template", "buf.gen.yaml", "--output", out], {
    cwd: pkg,
    stdio: "inherit",
    env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}` },
  });
}

function files(dir) {
  const out = [];
  const walk = (d) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

if (process.argv.includes("--check")) {
  const tmp = mkdtempSync(join(tmpdir(), "fila-js-gen-"));
  try {
    const fresh = join(tmp, "gen");
    generate(fresh);
    const want = files(fresh);
    const have = files(target);
    const drift = [
      ...want.filter((f) => !have.includes(f)).map((f) => `missing: src/gen/${f}`),
      ...have.filter((f) => !want.includes(f)).map((f) => `extra:   src/gen/${f}`),
      ...want
        .filter((f) => have.includes(f))
        .filter((f) => !readFileSync(join(fresh, f)).equals(readFileSync(join(target, f))))
        .map((f) => `differs: src/gen/${f}`),
    ];
    if (drift.length) {
      console.error(`src/gen/ has drifted from proto/ (run \`npm run gen\`):\n  ${drift.join("\n  ")}`);
      process.exitCode = 1;
    } else {
      console.log(`src/gen/ matches proto/ (${want.length} files)`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
} else {
  generate(target);
  console.log(`generated ${files(target).length} files in src/gen/`);
}

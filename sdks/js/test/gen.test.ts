// The generated code in src/gen/ is what proto/ generates today (scripts/gen.mjs --check
// regenerates into a temporary folder and compares, file by file).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";

import { packageRoot } from "./helpers/broker.js";

test("src/gen matches proto/ (no drift)", async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [join(packageRoot(), "scripts", "gen.mjs"), "--check"],
                                               { cwd: packageRoot() });
  assert.match(stdout, /src\/gen\/ matches proto\//);
});

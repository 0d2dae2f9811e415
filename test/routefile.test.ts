import { test } from "uvu";
import * as assert from "uvu/assert";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseRoutes, readRouteFile, formatRoutes } from "../host/routefile.ts";

test("routes, comments, mixed families and host bits", () => {
  const { routes, errors } = parseRoutes(
    ["# a table", "10.1.2.3/8 192.0.2.1", "", "2001:db8::/32   2001:db8::1  # v6", "0.0.0.0/0 upstream", "  \t"].join("\n"),
    "t.routes",
  );
  assert.equal(errors, []);
  assert.equal(routes.map((r) => `${r.prefix} ${r.nexthop}`), ["10.0.0.0/8 192.0.2.1", "2001:db8::/32 2001:db8::1", "0.0.0.0/0 upstream"]);
});

test("every bad line is reported as file:line: reason, good lines kept", () => {
  const text = [
    "10.0.0.0/8 a",
    "10.0.0.0/33 b",
    "1.2.3/8 c",
    "10.0.0.0/16",
    "10.0.0.0/16 x y",
    "::g/64 d",
    "10.0.0.0/8 again",
    "11.0.0.0/8 e",
  ].join("\n");
  const { routes, errors } = parseRoutes(text, "bad.routes");
  assert.equal(routes.map(String).length, 2);
  assert.equal(errors.map((e) => e.message), [
    'bad.routes:2: bad prefix "10.0.0.0/33": prefix length out of range 0..32',
    'bad.routes:3: bad prefix "1.2.3/8": IPv4 address too short',
    'bad.routes:4: expected "PREFIX/LEN NEXTHOP", got 1 field',
    'bad.routes:5: expected "PREFIX/LEN NEXTHOP", got 3 fields',
    'bad.routes:6: bad prefix "::g/64": unexpected character "g"',
    "bad.routes:7: duplicate prefix 10.0.0.0/8 (first at line 1)",
  ]);
});

test("a missing file is one error naming it", () => {
  const { routes, errors } = readRouteFile("/nonexistent/x.routes");
  assert.is(routes.length, 0);
  assert.match(errors[0].message, /^\/nonexistent\/x\.routes:0: ENOENT/);
});

test("format then parse gives the same routes", () => {
  const dir = mkdtempSync(join(tmpdir(), "fibcast-"));
  const { routes } = parseRoutes("10.0.0.0/8 a\n2001:db8::/48 b\n0.0.0.0/0 c\n");
  writeFileSync(join(dir, "t.routes"), formatRoutes(routes));
  const again = readRouteFile(join(dir, "t.routes"));
  assert.equal(again.routes.map((r) => `${r.prefix} ${r.nexthop}`), routes.map((r) => `${r.prefix} ${r.nexthop}`));
});

test.run();

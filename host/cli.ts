// fibcast: the command line. Each command parses its own options strictly; a usage error
// exits 2 with the command's help, a failure exits 1 with its reason.

import { parseArgs, type ParseArgsConfig } from "node:util";
import { makeContext, UsageError, FailedError, type Context } from "./cli-support.ts";
import { lookupCommand } from "./commands/lookup.ts";
import { demoCommand } from "./commands/demo.ts";
import { benchCommand } from "./commands/bench.ts";
import { snapshotCommand } from "./commands/snapshot.ts";
import { decodeCommand } from "./commands/decode.ts";
import { chaosCommand, nodeCommand, runCommand } from "./commands/run.ts";
import { flashCommand, keygenCommand, signCommand } from "./commands/firmware.ts";

interface Command {
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig["options"]>;
  positionals?: boolean;
  run(ctx: Context, values: Record<string, unknown>, positionals: string[]): Promise<number>;
}

const quiet = { quiet: { type: "boolean", short: "q" } } as const;

const commands: Record<string, Command> = {
  demo: {
    summary: "the main job (npm start): a chassis of processes flashed, synced, failed over, summarised",
    usage: `fibcast demo [--routes FILE | --mrt FILE] [--v4 N] [--v6 N] [--seed N] [--keep] [--report FILE]

Brings up 2 route processors, 4 line cards and 8 forwarding engines as processes; flashes
every line card over its serial console; converges on the table; parts the route
processors, churns the secondary and kills the primary; every card fails over and passes on
only the difference. A live view on a terminal; a summary at the end.

  --routes FILE  a route file instead of the synthetic table
  --mrt FILE     an MRT TABLE_DUMP_V2 file instead of the synthetic table
  --v4 N         synthetic IPv4 routes (default 1000000)
  --v6 N         synthetic IPv6 routes (default 200000)
  --seed N       seed of the synthetic table (default 1)
  --keep         keep the chassis up at the end, until Ctrl-C
  --report FILE  write the run's report (JSON)`,
    options: {
      routes: { type: "string" }, mrt: { type: "string" }, v4: { type: "string" }, v6: { type: "string" }, seed: { type: "string" },
      keep: { type: "boolean" }, report: { type: "string" }, ...quiet,
    },
    run: (ctx, v) =>
      demoCommand(ctx, {
        ...(v.routes ? { routes: v.routes as string } : {}),
        ...(v.mrt ? { mrt: v.mrt as string } : {}),
        ...(v.report ? { report: v.report as string } : {}),
        v4: count(v.v4, 1000000, "--v4"),
        v6: count(v.v6, 200000, "--v6"),
        seed: count(v.seed, 1, "--seed"),
        keep: Boolean(v.keep),
      }),
  },
  lookup: {
    summary: "answer addresses on stdin from a route file",
    usage: `fibcast lookup --routes FILE

Reads addresses on stdin, one a line, and prints "ADDRESS NEXTHOP" (the next hop as written
in the route file) or "ADDRESS -" when no route matches, in input order. A malformed address
prints "ADDRESS !error" and its reason on stderr; the run goes on and exits 1 at the end.`,
    options: { routes: { type: "string" }, ...quiet },
    run: (ctx, v) => lookupCommand(ctx, { routes: v.routes as string | undefined }),
  },
  snapshot: {
    summary: "write the table of a route file as a framed snapshot stream",
    usage: `fibcast snapshot --routes FILE [--out F]

Writes the table as frames (docs/protocol.md): the next-hop table, then per family
snapshotBegin, the chunks of routes, snapshotEnd with the table's digest. To stdout unless
--out is given.`,
    options: { routes: { type: "string" }, out: { type: "string" }, ...quiet },
    run: (ctx, v) => snapshotCommand(ctx, { routes: v.routes as string | undefined, out: v.out as string | undefined }),
  },
  decode: {
    summary: "read any framed stream on stdin: one JSON line per frame, then a summary",
    usage: `fibcast decode [--routes-out F] [--memory MIB]

Reads frames on stdin (a capture of a serial line, a snapshot file) and prints one JSON line
per frame; bad bytes and frames are skipped, counted and reported. Ends with a summary line:
frames, badFrames, skippedBytes, routes. --routes-out writes the table rebuilt from the
stream's snapshots as a route file, next hops as the sender named them.`,
    options: { "routes-out": { type: "string" }, memory: { type: "string" }, ...quiet },
    run: (ctx, v) => decodeCommand(ctx, { routesOut: v["routes-out"] as string | undefined, memoryMiB: count(v.memory, 256, "--memory") }),
  },
  run: {
    summary: "start a topology's nodes as processes, run a scenario, write a report",
    usage: `fibcast run TOPOLOGY.yaml [--scenario SCENARIO.yaml] [--report REPORT.json] [--dump DIR]

Starts every node of the topology as its own process, runs the scenario's steps in order
(default: wait until converged), and writes the report (JSON; to stdout without --report).
--dump writes DIR/<node>.routes for every node at the end. Exits 0 only if every step
passed. The formats are in the README.`,
    options: { scenario: { type: "string" }, report: { type: "string" }, dump: { type: "string" }, ...quiet },
    positionals: true,
    run: (ctx, v, positionals) => runCommand(ctx, positionals[0], {
      ...(v.scenario ? { scenario: v.scenario as string } : {}),
      ...(v.report ? { report: v.report as string } : {}),
      ...(v.dump ? { dump: v.dump as string } : {}),
    }),
  },
  chaos: {
    summary: "seeded random kills, freezes, cuts, impairments and churn on a topology, then converge",
    usage: `fibcast chaos TOPOLOGY.yaml [--seed N] [--steps M] [--runs K] [--report REPORT.json]

Runs the topology under a random scenario drawn from seed N (default 1): M events (default
20) among kills, restarts, freezes, thaws, cuts, restores, link impairments, churn, sleeps
and waits, then everything is brought back and the chassis must converge. The same seed
gives the same steps. After every step no card that held routes may hold none. --runs K
takes seeds N … N+K−1 in turn. Exits 0 only if every run passed; the report (JSON; to
stdout without --report) has one run report per seed.`,
    options: { seed: { type: "string" }, steps: { type: "string" }, runs: { type: "string" }, report: { type: "string" }, ...quiet },
    positionals: true,
    run: (ctx, v, positionals) => chaosCommand(ctx, positionals[0], {
      seed: count(v.seed, 1, "--seed"), steps: count(v.steps, 20, "--steps"), runs: Math.max(1, count(v.runs, 1, "--runs")),
      ...(v.report ? { report: v.report as string } : {}),
    }),
  },
  keygen: {
    summary: "make a build key: PREFIX.key signs images, PREFIX.pub is what cards trust",
    usage: `fibcast keygen --out PREFIX

Writes an Ed25519 build key to PREFIX.key (PKCS#8 PEM, mode 0600) and its public half to
PREFIX.pub (SPKI PEM), and prints the key id cards will name it by.`,
    options: { out: { type: "string" }, ...quiet },
    run: (ctx, v) => keygenCommand(ctx, { out: v.out as string | undefined }),
  },
  sign: {
    summary: "sign a firmware image (the WASM build) with a build key",
    usage: `fibcast sign --key PREFIX.key --image FILE.wasm --out FILE.fw

Writes the signed image: a manifest (key id, size, SHA-256, Ed25519 signature) and the
module. The release build is build/out/fib.wasm.`,
    options: { key: { type: "string" }, image: { type: "string" }, out: { type: "string" }, ...quiet },
    run: (ctx, v) => signCommand(ctx, { key: v.key as string | undefined, image: v.image as string | undefined, out: v.out as string | undefined }),
  },
  flash: {
    summary: "flash a signed image onto a card through its console",
    usage: `fibcast flash --card ADDRESS --image FILE.fw [--baud N] [--chunk BYTES]

  --card ADDRESS  the card's console: a serial device path, tcp:HOST:PORT or unix:PATH
  --image FILE    a signed image (fibcast sign)
  --baud N        bits a second on a serial console (default 1000000)
  --chunk BYTES   image bytes per chunk (default 2048)

The card checks the signature against the keys it trusts, writes the slot it does not
run, self-tests the image, and only then marks it good; a refusal prints the card's reason
and exits 1, and the card stays on its running image. A flash cut in the middle resumes
where it stopped when run again.`,
    options: { card: { type: "string" }, image: { type: "string" }, baud: { type: "string" }, chunk: { type: "string" }, ...quiet },
    run: (ctx, v) => flashCommand(ctx, {
      card: v.card as string | undefined, image: v.image as string | undefined,
      baud: count(v.baud, 1_000_000, "--baud"), chunk: count(v.chunk, 2048, "--chunk"),
    }),
  },
  node: {
    summary: "one node of a chassis (started by fibcast run)",
    usage: `fibcast node

Runs one node: its configuration is the JSON in FIBCAST_NODE, written by fibcast run.`,
    options: {},
    run: () => nodeCommand(),
  },
  bench: {
    summary: "benchmarks: lookup, wire, forward, flash, program, failover, multicast; JSON with --json, a report with charts with --out",
    usage: `fibcast bench [lookup] [wire] [forward] [flash] [program] [failover] [multicast] [--routes FILE] [--json] [--quick] [--out DIR]

  lookup         lookup, update and memory figures per family, against the npm
                 peers longest-prefix-match and arkime-iptrie in the same run;
                 then lookup rates against table size, fibcast and peers
  wire           snapshot bytes per route against FRR's FPM, route encode and
                 decode rates, diff rate
  forward        forwarding engines: packets looked up and counted per next hop
                 in WASM, uniform and Zipf traffic, Mpps per engine
  flash          a signed image flashed over a 1 Mbit/s serial line (simulated,
                 and a paced PTY pair), against the wire time
  program        the chassis as processes (2 RPs, 4 LCs, 8 NPUs over TCP): cold
                 start, end-to-end programming rate, convergence under churn
  failover       the same chassis on the real tables: the primary route processor
                 freezes while 1% of routes differ on the secondary; detection,
                 resync time and bytes per card, beside a full resend (FPM's);
                 then digest resync bytes against the share that differs
  multicast      the real IPv4 table to 1 and 8 cards over UDP multicast, and
                 with 5% loss: sender bytes, repair bytes, convergence
                 (no name: all of them)
  --routes FILE  a route file instead of the real table (@ip-location-db/asn)
  --json         print JSON
  --quick        smaller tables, fewer addresses and runs (under 2 minutes)
  --out DIR      also write DIR/<date>.json, DIR/<date>.md and its SVG charts
                 (npm run bench writes them to bench/results)`,
    options: { routes: { type: "string" }, json: { type: "boolean" }, quick: { type: "boolean" }, out: { type: "string" }, ...quiet },
    positionals: true,
    run: (ctx, v, positionals) => benchCommand(ctx, positionals, {
      routes: v.routes as string | undefined, json: Boolean(v.json), quick: Boolean(v.quick), out: v.out as string | undefined,
    }),
  },
};

function count(value: unknown, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${name} needs a whole number, got ${JSON.stringify(value)}`);
  return n;
}

function help(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  return `fibcast: forwarding tables for distributed routers, a WebAssembly FIB on every line card

usage: fibcast <command> [options]      fibcast <command> --help

commands:
${Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`).join("\n")}
`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    const topic = name === "help" ? rest[0] : undefined;
    process.stdout.write(topic && commands[topic] ? `${commands[topic].usage}\n` : help());
    return 0;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`fibcast: unknown command ${JSON.stringify(name)}\n\n${help()}`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(`${command.usage}\n`);
    return 0;
  }
  try {
    const { values, positionals } = parseArgs({ args: rest, options: command.options, allowPositionals: command.positionals ?? false, strict: true });
    return await command.run(makeContext(Boolean(values.quiet)), values, positionals);
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      process.stderr.write(`fibcast ${name}: ${(e as Error).message}\n\nusage: ${command.usage}\n`);
      return 2;
    }
    if (e instanceof FailedError || (e as Error).name === "FirmwareError") {
      process.stderr.write(`fibcast ${name}: ${(e as Error).message}\n`);
      return 1;
    }
    throw e;
  }
}

// A reader that stops early (fibcast decode | head) ends the run, as for any Unix tool.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw e;
});

process.exitCode = await main(process.argv.slice(2));

// Chaos: a seeded random scenario for a topology. Kills, restarts, freezes, cuts, link
// impairments and churn, with sleeps and now and then a wait for convergence between
// them; every step is one the chassis can take at that point (a restart names a killed
// node, a restore a cut link). At the end everything is brought back (thawed, restarted,
// restored, unimpaired) and the run must converge. The same topology and seed give the
// same steps, so a failing seed is a reproducible bug report.

import { Random } from "../random.ts";
import type { Step } from "./scenario.ts";
import type { Topology } from "./topology.ts";

/** The final wait: everything is back, and the chassis has this long to converge. */
const FINAL_WAIT_MS = 60000;

export function chaosSteps(topology: Topology, seed: number, count: number): Step[] {
  const rnd = new Random(seed);
  const ids = topology.nodes.map((n) => n.id);
  const links: [string, string][] = [];
  for (const n of topology.nodes) for (const s of n.role === "rp" ? n.peers : n.servers) links.push([n.id, s]);
  const churners = topology.nodes.filter((n) => n.role === "rp" && n.sources.some((s) => s.generate !== undefined || s.routes !== undefined || s.mrt !== undefined)).map((n) => n.id);

  const killed = new Set<string>();
  const frozen = new Set<string>();
  const cut = new Set<number>();        // indexes into links
  const impaired = new Set<number>();
  const running = () => ids.filter((id) => !killed.has(id) && !frozen.has(id));
  const pick = <T>(xs: readonly T[]): T => xs[rnd.below(xs.length)];
  // Cuts and impairments live in the dialing node's process: only a running one takes
  // them, and one that dies forgets them.
  const reachable = (set: Set<number>, inSet: boolean) =>
    links.map((_, k) => k).filter((k) => set.has(k) === inSet && running().includes(links[k][0]));
  // Convergence can be waited for only when every running card can reach a running server
  // and every two running route processors can reach each other, over clean links: an
  // impairment corrupts up to 1% of the bytes, and a line like that carries no table-sized
  // frame at all (convergence over it is promised once it is restored, at the end).
  const canConverge = () => {
    const up = new Set(running());
    const linked = (k: number) => !cut.has(k) && !impaired.has(k) && up.has(links[k][0]) && up.has(links[k][1]);
    return topology.nodes.every((n) => {
      if (!up.has(n.id)) return true;
      const mine = links.map((_, k) => k).filter((k) => links[k][0] === n.id);
      return n.role === "rp" ? mine.every((k) => !up.has(links[k][1]) || linked(k)) : mine.some(linked);
    });
  };
  const kill = (node: string) => {
    killed.add(node);
    for (const set of [cut, impaired]) for (const k of [...set]) if (links[k][0] === node) set.delete(k);
  };

  // Each kind of event, with what makes it possible now.
  const events: { weight: number; possible: () => boolean; make: () => Step }[] = [
    { weight: 2, possible: () => running().length > 1, make: () => { const node = pick(running()); kill(node); return { kind: "kill", node }; } },
    { weight: 3, possible: () => killed.size > 0, make: () => { const node = pick([...killed]); killed.delete(node); return { kind: "restart", node }; } },
    { weight: 2, possible: () => running().length > 1, make: () => { const node = pick(running()); frozen.add(node); return { kind: "freeze", node }; } },
    { weight: 3, possible: () => frozen.size > 0, make: () => { const node = pick([...frozen]); frozen.delete(node); return { kind: "thaw", node }; } },
    { weight: 2, possible: () => reachable(cut, false).length > 0, make: () => { const i = pick(reachable(cut, false)); cut.add(i); return { kind: "cut", link: links[i] }; } },
    { weight: 3, possible: () => reachable(cut, true).length > 0, make: () => { const i = pick(reachable(cut, true)); cut.delete(i); return { kind: "restore", link: links[i] }; } },
    {
      weight: 2, possible: () => reachable(impaired, false).length > 0, make: () => {
        const i = pick(reachable(impaired, false));
        impaired.add(i);
        return { kind: "impair", link: links[i], impairment: { loss: round(rnd.float() * 0.05), corrupt: round(rnd.float() * 0.01) } };
      },
    },
    { weight: 2, possible: () => churners.length > 0, make: () => ({ kind: "churn", node: pick(churners), updates: 100 + rnd.below(5000), rate: 20000, seed: rnd.below(1000) }) },
    { weight: 2, possible: () => true, make: () => ({ kind: "sleep", ms: 50 + rnd.below(450) }) },
    { weight: 1, possible: canConverge, make: () => ({ kind: "wait", timeoutMs: FINAL_WAIT_MS }) },
  ];

  const steps: Step[] = [{ kind: "wait", timeoutMs: FINAL_WAIT_MS }];
  while (steps.length <= count) {
    const open = events.filter((e) => e.possible());
    const cumulative: number[] = [];
    let total = 0;
    for (const e of open) cumulative.push((total += e.weight));
    const step = open[rnd.pick(cumulative)].make();
    // A churn on a node that is not running fails the step: only churn where it can run.
    if (step.kind === "churn" && (killed.has(step.node) || frozen.has(step.node))) continue;
    steps.push(step);
  }
  for (const node of frozen) steps.push({ kind: "thaw", node });
  for (const node of killed) steps.push({ kind: "restart", node });
  // Restarted nodes forgot their cuts and impairments (kill() dropped them from the sets).
  for (const i of cut) steps.push({ kind: "restore", link: links[i] });
  for (const i of impaired) steps.push({ kind: "impair", link: links[i], impairment: { loss: 0, corrupt: 0 } });
  steps.push({ kind: "wait", timeoutMs: FINAL_WAIT_MS });
  return steps;
}

function round(x: number): number {
  return Math.round(x * 10000) / 10000;
}

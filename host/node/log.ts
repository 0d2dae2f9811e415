// A node's structured log, through pino: one JSON line per event on stderr, with the node's
// id, the time, a level, a message and the event's fields. A state transition's line is
// "from → to" with who it concerns and the reason in operator terms (node.ts logs every
// session's transition through one call). Lines are written synchronously: a card killed
// the moment after a transition still leaves the line that says why it was in that state.
//
//   {"level":"warn","time":"2026-11-22T18:30:00.123Z","node":"lc0","server":"rp0",
//    "from":"active","to":"closed","reason":"rp0 is silent and rp1 is ready: failing over",
//    "msg":"active → closed"}

import { pino, type DestinationStream, type Logger } from "pino";

/** What a node logs through: an event name and its fields (NodeOptions.log). */
export type LogLine = (line: Record<string, unknown>) => void;

/** Events an operator should look at: something refused, lost, silent, or out of step. */
const WARN = /refused|rejected|differs|silent|stalled|out of sequence|no firmware|evicted|not joined|denied|dropped|disconnected/;

/**
 * The pino logger of node `id`: JSON lines with `node`, an ISO `time` and the level's name,
 * to `destination` (default: stderr, each line written before the call returns).
 */
export function nodeLogger(id: string, destination: DestinationStream = pino.destination({ fd: 2, sync: true })): Logger {
  return pino({
    base: { node: id },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  }, destination);
}

/**
 * The log function of node `id` (NodeOptions.log) over nodeLogger: `event` becomes the
 * message (a `state` event's is "from → to"), the other fields go as they are (`node` is
 * the logger's). A transition to closed, and events that name a refusal, a loss or a
 * silence, are warn; the rest info.
 */
export function nodeLog(id: string, destination?: DestinationStream): LogLine {
  const logger = nodeLogger(id, destination);
  return ({ node: _node, event, ...fields }) => {
    const name = String(event ?? "event");
    const transition = name === "state";
    const msg = transition ? `${String(fields.from)} → ${String(fields.to)}` : name;
    const warn = transition ? fields.to === "closed" : WARN.test(name);
    logger[warn ? "warn" : "info"](fields, msg);
  };
}

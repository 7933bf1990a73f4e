/**
 * `signpost actors [--watch]`: a node's live actors in a terminal, as `actors.list` gives them or followed
 * live over `/inspect`.
 */
import { WebSocket } from 'ws';
import { baseUrlOf } from '../../protocols/urls.js';
import { RpcClient } from '../client/rpc-client.js';
import { DEFAULT_URL, helpFor, parse, UsageError } from './command.js';
import { isoTime } from './format.js';

const HELP: { [command: string]: string } = {
  actors: `Usage: signpost actors [--watch] [--url URL] [--json]

Lists the node's live actors (id, kind, state), as actors.list gives them, for
servers without a browser (the node's page at http://HOST:PORT/ shows more).
  --watch     keep the list on screen and redraw it as actors change, from the
              node's /inspect stream (at most 10 times a second), until Ctrl-C
  --json      print JSON: the list; with --watch one line {"at", "actors"} per redraw
  --url URL   the node's URL (default ${DEFAULT_URL}; ws://HOST:PORT works too)`,
};
const help = helpFor(HELP);

/** One row of `actors.list` / the /inspect snapshot. */
interface ActorRow {
  id: string;
  kind: string;
  state: unknown;
}

/** An XState snapshot value on one line: "holding", {a: "b"} → "a.b", parallel regions joined with ", ". */
function stateText(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'string') return value;
  return Object.entries(value as object)
    .map(([k, v]) => (v && typeof v === 'object' && Object.keys(v).length === 0 ? k : `${k}.${stateText(v)}`))
    .join(', ');
}

/** "5 actors: resource 2, gc 1, renew 1, republish 1" */
function actorSummary(actors: ActorRow[]): string {
  const counts = new Map<string, number>();
  for (const a of actors) counts.set(a.kind, (counts.get(a.kind) ?? 0) + 1);
  const kinds = [...counts].map(([kind, n]) => `${kind} ${n}`).join(', ');
  return `${actors.length} actor${actors.length === 1 ? '' : 's'}${kinds ? `: ${kinds}` : ''}`;
}

/** The actors as aligned columns ID, KIND, STATE; at most `maxRows` rows, then how many more there are. */
function actorTable(actors: ActorRow[], maxRows = Infinity): string {
  const rows = actors.map((a) => [a.id, a.kind, stateText(a.state)]);
  // A loop, not Math.max(...spread): a node may have more live actors than a call takes arguments.
  const widths = [2, 4].map((min, col) => rows.reduce((w, r) => Math.max(w, r[col].length), min));
  const line = (r: string[]) => `${r[0].padEnd(widths[0])}  ${r[1].padEnd(widths[1])}  ${r[2]}`;
  const shown = rows.length > maxRows ? rows.slice(0, Math.max(0, maxRows - 1)) : rows;
  const out = [line(['ID', 'KIND', 'STATE']), ...shown.map(line)];
  if (shown.length < rows.length) out.push(`... ${rows.length - shown.length} more`);
  return out.join('\n');
}

export async function actors(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { url: { type: 'string' }, watch: { type: 'boolean' }, json: { type: 'boolean' } });
  if (values.help) return help('actors');
  if (positionals.length > 0) throw new UsageError(`actors takes no arguments, got ${positionals.join(' ')}`);
  const url = (values.url as string | undefined) ?? DEFAULT_URL;
  const base = baseUrlOf(url);
  if (base === null) throw new UsageError(`--url must be a node's URL (ws://HOST:PORT), got ${JSON.stringify(url)}`);
  if (values.watch) return watchActors(base, values.json === true);
  const client = await RpcClient.connect(`${base}/rpc`);
  try {
    const list = await client.call<ActorRow[]>('actors.list');
    process.stdout.write(values.json ? JSON.stringify(list, null, 2) + '\n' : `${actorTable(list)}\n${actorSummary(list)}\n`);
    return 0;
  } finally {
    await client.close();
  }
}

/** Redraws at most this often: an event storm costs one frame per interval, not one per event. */
const WATCH_FRAME_MS = 100;

/**
 * `actors --watch`: follows the node's /inspect stream (a snapshot, then batches of events; a later
 * snapshot replaces the view) and redraws the list. On a terminal each frame replaces the screen and fits
 * it; piped, each frame is printed in full after a header line. Ctrl-C ends it with status 0; losing the
 * node ends it with status 1.
 */
function watchActors(base: string, json: boolean): Promise<number> {
  const url = `${base}/inspect`;
  const live = new Map<string, ActorRow>();
  let at: number | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let lastFrame = 0;
  const out = process.stdout;
  const draw = () => {
    timer = null;
    lastFrame = Date.now();
    const list = [...live.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    if (json) {
      out.write(JSON.stringify({ at, actors: list }) + '\n');
      return;
    }
    const header = `signpost actors --watch  ${base}  node clock ${at === null ? '-' : isoTime(at)}  ${actorSummary(list)}`;
    if (out.isTTY) out.write(`\x1b[H\x1b[2J${header}\n\n${actorTable(list, Math.max(3, (out.rows ?? 24) - 4))}\n`);
    else out.write(`${header}\n${actorTable(list)}\n\n`);
  };
  const schedule = () => {
    timer ??= setTimeout(draw, Math.max(0, lastFrame + WATCH_FRAME_MS - Date.now()));
  };
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    let done = false;
    const finish = (status: number) => {
      done = true;
      if (timer) clearTimeout(timer);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(status);
    };
    const stop = () => {
      finish(0);
      ws.terminate();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      if (m.type === 'snapshot') {
        live.clear();
        for (const a of m.actors as ActorRow[]) live.set(a.id, { id: a.id, kind: a.kind, state: a.state });
        at = m.at;
      } else if (m.type === 'events') {
        for (const e of m.events as (ActorRow & { state_after: unknown; ended?: boolean; at: number })[]) {
          at = e.at;
          if (e.ended === true || e.state_after === null) live.delete(e.id);
          else live.set(e.id, { id: e.id, kind: e.kind, state: e.state_after });
        }
      } else if (m.type === 'dropped') {
        process.stderr.write(`signpost actors: the node dropped ${m.count} events (reading too slowly); the list may be behind until the next change\n`);
      }
      schedule();
    });
    ws.on('error', (e) => {
      if (done) return;
      process.stderr.write(`signpost actors: ${url}: ${e.message}\n`);
      finish(1);
    });
    ws.on('close', (code) => {
      if (done) return;
      process.stderr.write(`signpost actors: the node closed ${url} (${code})\n`);
      finish(1);
    });
  });
}

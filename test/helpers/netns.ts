/**
 * Hosts of their own for multi-host tests, on one machine: Linux network namespaces, each with a veth pair
 * into a bridge the test creates and an address in a private /24 the test picks. The test process (in the
 * root namespace) has an address on the bridge too, so it reaches every host and nothing else; nodes run
 * in their namespace with `ip netns exec`. Needs root and iproute2 (CI has both).
 *
 * Everything is named `spt<run>…` and deleted by `destroy()` (and on exit if a test dies first).
 *
 * @example
 * const lab = await netnsLab(5);
 * if (typeof lab === 'string') return console.log(lab); // why namespaces are not available here
 * await lab.linkDown(4); … await lab.linkUp(4);
 * await lab.destroy();
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

export interface NetnsHost {
  /** The namespace. */
  ns: string;
  ip: string;
  /** The host side of its veth pair (on the bridge): taking it down cuts the host off. */
  link: string;
}

export interface NetnsLab {
  hosts: NetnsHost[];
  bridge: string;
  /** The test process's own address on the bridge. */
  gateway: string;
  /** `ip netns exec NS` and a command: what to spawn to run `command` on host `i`. */
  wrap(i: number, command: string, args: string[]): { command: string; args: string[] };
  /** Names host `i`'s peers may use for the others: `name → ip` in each namespace's /etc/hosts. */
  names(entries: { [name: string]: string }): void;
  linkDown(i: number): void;
  linkUp(i: number): void;
  destroy(): void;
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

/** Why namespaces cannot be used here, or null when they can. */
export function netnsUnavailable(): string | null {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  try {
    ip('-V');
  } catch {
    return 'no `ip` command (iproute2)';
  }
  return null;
}

const live = new Set<NetnsLab>();
process.once('exit', () => {
  for (const lab of live) lab.destroy();
});

/** Creates `n` hosts on a new bridge; a string says why it cannot. */
export function netnsLab(n: number): NetnsLab | string {
  const why = netnsUnavailable();
  if (why) return why;
  const run = randomBytes(2).toString('hex');
  const prefix = `spt${run}`;
  const net = `10.${200 + (randomBytes(1)[0] % 50)}.${randomBytes(1)[0]}`;
  const bridge = `${prefix}br`;
  const hosts: NetnsHost[] = Array.from({ length: n }, (_, i) => ({ ns: `${prefix}-${i}`, ip: `${net}.${i + 1}`, link: `${prefix}v${i}` }));
  let destroyed = false;
  const lab: NetnsLab = {
    hosts,
    bridge,
    gateway: `${net}.254`,
    wrap: (i, command, args) => ({ command: 'ip', args: ['netns', 'exec', hosts[i].ns, command, ...args] }),
    names(entries) {
      const lines = ['127.0.0.1 localhost', ...Object.entries(entries).map(([name, addr]) => `${addr} ${name}`)].join('\n') + '\n';
      // `ip netns exec` bind-mounts /etc/netns/NS/hosts over /etc/hosts inside the namespace.
      for (const h of hosts) {
        mkdirSync(`/etc/netns/${h.ns}`, { recursive: true });
        writeFileSync(`/etc/netns/${h.ns}/hosts`, lines);
      }
    },
    linkDown: (i) => void ip('link', 'set', hosts[i].link, 'down'),
    linkUp: (i) => void ip('link', 'set', hosts[i].link, 'up'),
    destroy() {
      if (destroyed) return;
      destroyed = true;
      live.delete(lab);
      for (const h of hosts) {
        try {
          ip('netns', 'del', h.ns); // its end of the veth pair goes with it, and so the pair
        } catch {
          // not created
        }
        rmSync(`/etc/netns/${h.ns}`, { recursive: true, force: true });
      }
      try {
        ip('link', 'del', bridge);
      } catch {
        // not created
      }
    },
  };
  live.add(lab);
  try {
    ip('link', 'add', bridge, 'type', 'bridge');
    ip('addr', 'add', `${lab.gateway}/24`, 'dev', bridge);
    ip('link', 'set', bridge, 'up');
    for (const h of hosts) {
      ip('netns', 'add', h.ns);
      ip('link', 'add', h.link, 'type', 'veth', 'peer', 'name', `${h.link}p`);
      ip('link', 'set', `${h.link}p`, 'netns', h.ns);
      ip('-n', h.ns, 'link', 'set', `${h.link}p`, 'name', 'eth0');
      ip('-n', h.ns, 'addr', 'add', `${h.ip}/24`, 'dev', 'eth0');
      ip('-n', h.ns, 'link', 'set', 'eth0', 'up');
      ip('-n', h.ns, 'link', 'set', 'lo', 'up');
      ip('link', 'set', h.link, 'master', bridge);
      ip('link', 'set', h.link, 'up');
    }
  } catch (e) {
    lab.destroy();
    return `cannot create network namespaces: ${(e as { stderr?: Buffer }).stderr?.toString().trim() || (e as Error).message}`;
  }
  return lab;
}

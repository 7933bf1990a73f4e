/**
 * What a node announces (SPEC §12 `announce`): the base URLs peers and clients should dial. `announce`
 * when set; otherwise the listen address, where a wildcard (`0.0.0.0`, `::`) stands for every interface
 * and is replaced by their addresses (loopback only when the machine has nothing else). A wildcard is never
 * announced: dialled, it reaches the dialler itself.
 */
import os from 'node:os';
import { isWildcardHost } from '../../protocols/urls.js';

type Interfaces = ReturnType<typeof os.networkInterfaces>;

export function announcedAddresses(opts: {
  announce: readonly string[];
  host: string;
  port: number;
  tls: boolean;
  interfaces?: Interfaces;
}): string[] {
  if (opts.announce.length > 0) return [...opts.announce];
  const scheme = opts.tls ? 'wss' : 'ws';
  const url = (host: string) => `${scheme}://${host.includes(':') ? `[${host}]` : host}:${opts.port}`;
  if (!isWildcardHost(opts.host)) return [url(opts.host.replace(/^\[|\]$/g, ''))];
  const ipv6 = opts.host.includes(':');
  const all = Object.values(opts.interfaces ?? os.networkInterfaces())
    .flat()
    .filter((i) => i !== undefined)
    // `::` listens on IPv4 too; `0.0.0.0` on IPv4 only. Link-local IPv6 needs a zone no URL can carry.
    .filter((i) => i.family === 'IPv4' || (ipv6 && !i.address.toLowerCase().startsWith('fe80:')));
  const external = all.filter((i) => !i.internal);
  return (external.length > 0 ? external : all).map((i) => url(i.address));
}

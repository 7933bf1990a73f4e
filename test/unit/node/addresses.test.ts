/**
 * What a node announces (runtime/node/addresses.ts, SPEC §12 `announce`): never a wildcard.
 */
import type os from 'node:os';
import { describe, expect, it } from 'vitest';
import { announcedAddresses } from '../../../runtime/node/addresses.js';

type Interfaces = ReturnType<typeof os.networkInterfaces>;
const nic = (address: string, family: 'IPv4' | 'IPv6', internal = false) => ({ address, family, internal, netmask: '', mac: '', cidr: null }) as NonNullable<Interfaces[string]>[number];
const MACHINE: Interfaces = {
  lo: [nic('127.0.0.1', 'IPv4', true), nic('::1', 'IPv6', true)],
  eth0: [nic('10.77.0.3', 'IPv4'), nic('fe80::1', 'IPv6'), nic('2001:db8::3', 'IPv6')],
  eth1: [nic('192.168.5.9', 'IPv4')],
};

describe('announced addresses', () => {
  it('announce wins, as given', () => {
    expect(announcedAddresses({ announce: ['wss://node.example:443'], host: '0.0.0.0', port: 7070, tls: false, interfaces: MACHINE })).toEqual(['wss://node.example:443']);
  });

  it('a concrete listen host is announced as it is', () => {
    expect(announcedAddresses({ announce: [], host: '10.77.0.3', port: 7070, tls: false, interfaces: MACHINE })).toEqual(['ws://10.77.0.3:7070']);
    expect(announcedAddresses({ announce: [], host: '::1', port: 7070, tls: true, interfaces: MACHINE })).toEqual(['wss://[::1]:7070']);
  });

  it('0.0.0.0 becomes every non-loopback IPv4 address', () => {
    expect(announcedAddresses({ announce: [], host: '0.0.0.0', port: 7070, tls: false, interfaces: MACHINE })).toEqual(['ws://10.77.0.3:7070', 'ws://192.168.5.9:7070']);
  });

  it(':: becomes every non-loopback address, IPv6 too, but no link-local one', () => {
    expect(announcedAddresses({ announce: [], host: '::', port: 1, tls: false, interfaces: MACHINE })).toEqual(['ws://10.77.0.3:1', 'ws://[2001:db8::3]:1', 'ws://192.168.5.9:1']);
  });

  it('loopback only when the machine has nothing else, and never the wildcard', () => {
    const alone: Interfaces = { lo: MACHINE.lo };
    expect(announcedAddresses({ announce: [], host: '0.0.0.0', port: 7070, tls: false, interfaces: alone })).toEqual(['ws://127.0.0.1:7070']);
    for (const host of ['0.0.0.0', '::', '[::]']) {
      for (const a of announcedAddresses({ announce: [], host, port: 7070, tls: false, interfaces: MACHINE })) expect(a).not.toMatch(/0\.0\.0\.0|\[::\]/);
    }
  });
});

/**
 * The deployment files (Dockerfile, docker-compose.yml, deploy/k8s/) against the node they deploy. No
 * container runtime runs here, so what can be checked is checked: every SIGNPOST_* variable they set is a
 * real config key and its value loads; their ports agree; the entrypoint is a real command; the paths the
 * health checks and probes ask for answer as the files expect on a real node process.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_KEYS, configToEnvName, loadConfig } from '../../config/index.js';
import { startNodeProcess, type NodeProcess } from '../helpers/node-process.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (f: string) => readFileSync(`${ROOT}${f}`, 'utf8');
const DOCKERFILE = read('Dockerfile');
const COMPOSE = read('docker-compose.yml');
const STATEFULSET = read('deploy/k8s/statefulset.yaml');
const SERVICE = read('deploy/k8s/service.yaml');
const ENV_NAMES = new Set(CONFIG_KEYS.map((k) => configToEnvName(k.key)));

/** Every `SIGNPOST_*` setting of the files, with its value (k8s `$(VAR)` filled in as the kubelet would). */
function settings(): { file: string; env: Record<string, string> }[] {
  const docker = Object.fromEntries([...DOCKERFILE.matchAll(/(SIGNPOST_\w+)=(\S+)/g)].map((m) => [m[1], m[2]]));
  const services = COMPOSE.split(/\n  (?=node\d+:)/).slice(1).map((block) => Object.fromEntries([...block.matchAll(/(SIGNPOST_\w+): (\S+)/g)].map((m) => [m[1], m[2]])));
  const k8s = Object.fromEntries([...STATEFULSET.matchAll(/- name: (SIGNPOST_\w+)\n\s+value: "?([^"\n]+)"?/g)].map((m) => [m[1], m[2].replaceAll('$(POD_NAME)', 'signpost-3').replaceAll('$(POD_NAMESPACE)', 'default')]));
  return [{ file: 'Dockerfile', env: docker }, ...services.map((env, i) => ({ file: `docker-compose.yml node${i + 1}`, env: { ...docker, ...env } })), { file: 'deploy/k8s/statefulset.yaml', env: { ...docker, ...k8s } }];
}

describe('the deployment files', () => {
  it('set only real config keys, with values the node loads', () => {
    const all = settings();
    expect(all.map((s) => s.file)).toHaveLength(7);
    for (const { file, env } of all) {
      for (const name of Object.keys(env)) expect(ENV_NAMES, `${file}: ${name}`).toContain(name);
      const config = loadConfig({ env });
      expect(config.host, file).toBe('0.0.0.0');
      expect(config.port, file).toBe(7070);
      expect(config.announce.every((a) => !a.includes('0.0.0.0')), file).toBe(true);
    }
    const pod = all.at(-1)!.env;
    expect(loadConfig({ env: pod }).announce).toEqual(['ws://signpost-3.signpost.default.svc.cluster.local:7070']);
    expect(loadConfig({ env: pod }).bootstrap).toEqual(['ws://signpost-0.signpost.default.svc.cluster.local:7070']);
  });

  it('agree on the port, and every node of the compose file but the first bootstraps from it', () => {
    expect(DOCKERFILE).toMatch(/^EXPOSE 7070$/m);
    expect(COMPOSE).toContain('"7070:7070"');
    expect(STATEFULSET).toMatch(/containerPort: 7070/);
    expect(SERVICE).toMatch(/port: 7070/);
    const services = settings().filter((s) => s.file.startsWith('docker-compose'));
    expect(services.map((s) => s.env.SIGNPOST_BOOTSTRAP ?? null)).toEqual([null, ...Array(4).fill('ws://node1:7070')]);
    expect(services.map((s) => s.env.SIGNPOST_ANNOUNCE)).toEqual([1, 2, 3, 4, 5].map((i) => `ws://node${i}:7070`));
  });

  it('run a real command as a non-root user, with the data on a volume, and copy files that exist', () => {
    expect(DOCKERFILE).toMatch(/^FROM node:20-slim AS build$/m);
    expect(DOCKERFILE).toMatch(/^USER node$/m);
    expect(DOCKERFILE).toMatch(/^VOLUME \["\/data"\]$/m);
    expect(DOCKERFILE).toContain('ENTRYPOINT ["node", "bin/signpost.mjs", "node", "start"]');
    for (const [, path] of DOCKERFILE.matchAll(/^COPY (?!--from)(\S+) /gm)) expect(existsSync(`${ROOT}${path}`), path).toBe(true);
    expect(execFileSync(process.execPath, [`${ROOT}bin/signpost.mjs`, 'node', 'start', '--help'], { encoding: 'utf8' })).toContain('--announce URL');
  });

  describe('on a real node', () => {
    let node: NodeProcess;
    beforeAll(async () => {
      node = await startNodeProcess();
    });
    afterAll(async () => {
      expect(await node.stop()).toBe(0);
    });

    it('answers the paths the health check and the probes ask for', async () => {
      expect(DOCKERFILE).toContain("'/healthz'");
      expect(STATEFULSET).toMatch(/readinessProbe:\n\s+httpGet:\n\s+path: \/healthz/);
      expect(STATEFULSET).toMatch(/livenessProbe:\n\s+httpGet:\n\s+path: \/livez/);
      for (const path of ['healthz', 'livez']) expect((await fetch(new URL(path, node.httpUrl))).status, path).toBe(200);
    });
  });
});

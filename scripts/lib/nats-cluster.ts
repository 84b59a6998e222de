/**
 * A real JetStream cluster of nats-server processes on 127.0.0.1, for tests and the benchmark: each node
 * with its own store folder, routes to the others and an MQTT listener (what agents publish to), all on
 * free ports. Nodes can be killed (SIGKILL: a crash) and started again on the same ports and store.
 */
import { freePort } from './free-port.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface NatsNode {
  name: string;
  client: number;
  route: number;
  mqtt: number;
  monitor: number;
}

export { freePort };

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

export class NatsCluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'omniloop-nats-'));
  nodes: NatsNode[] = [];
  private procs: (ChildProcess | null)[] = [];

  constructor(
    readonly size = 3,
    private readonly bin = process.env.OMNILOOP_NATS_SERVER ?? 'nats-server',
  ) {}

  /** Client URLs of every node, for HQ's `stream.servers`. */
  get servers(): string[] {
    return this.nodes.map((n) => `nats://127.0.0.1:${n.client}`);
  }

  mqttUrl(i: number): string {
    return `mqtt://127.0.0.1:${this.nodes[i]!.mqtt}`;
  }

  /** The config a node runs with: README's recipe, on loopback ports. */
  conf(i: number): string {
    const n = this.nodes[i]!;
    const routes = this.nodes.filter((_, j) => j !== i).map((o) => `nats-route://127.0.0.1:${o.route}`);
    return [
      `server_name: ${n.name}`,
      `listen: 127.0.0.1:${n.client}`,
      `http: 127.0.0.1:${n.monitor}`,
      `jetstream { store_dir: "${join(this.dir, n.name)}", max_memory_store: 64MB, max_file_store: 4GB }`,
      this.size > 1 ? `cluster { name: omniloop, listen: 127.0.0.1:${n.route}, routes: [${routes.join(', ')}] }` : '',
      // The listener's own streams (sessions, retained messages) replicated too: with the replicas it
      // guesses from the routes up at its first client, a node lost could take every agent's session with it.
      `mqtt { listen: 127.0.0.1:${n.mqtt}${this.size > 1 ? `, stream_replicas: ${Math.min(this.size, 3)}` : ''} }`,
      '',
    ].join('\n');
  }

  async start(): Promise<void> {
    for (let i = 0; i < this.size; i++) this.nodes.push({ name: `n${i + 1}`, client: await freePort(), route: await freePort(), mqtt: await freePort(), monitor: await freePort() });
    this.procs = this.nodes.map(() => null);
    for (let i = 0; i < this.size; i++) this.spawn(i);
    for (let i = 0; i < this.size; i++) await this.waitUp(i);
  }

  private spawn(i: number): void {
    const n = this.nodes[i]!;
    mkdirSync(join(this.dir, n.name), { recursive: true });
    const conf = join(this.dir, `${n.name}.conf`);
    writeFileSync(conf, this.conf(i));
    const p = spawn(this.bin, ['-c', conf, '-l', join(this.dir, `${n.name}.log`)], { stdio: 'ignore' });
    p.on('error', () => {}); // a missing binary shows as "did not start"
    this.procs[i] = p;
  }

  private async waitUp(i: number): Promise<void> {
    const n = this.nodes[i]!;
    for (let t = 0; t < 200; t++) {
      if ((await canConnect(n.client)) && (await canConnect(n.mqtt))) return;
      if (this.procs[i]?.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`nats-server ${n.name} did not start (log: ${join(this.dir, `${n.name}.log`)})`);
  }

  alive(i: number): boolean {
    const p = this.procs[i];
    return !!p && p.exitCode === null && p.signalCode === null;
  }

  /** SIGKILL: a crash, nothing flushed; SIGTERM: a clean stop. */
  async stop(i: number, signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    const p = this.procs[i];
    if (!p || !this.alive(i)) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill(signal);
    });
    this.procs[i] = null;
  }

  /** The same node again: same name, ports and store folder. */
  async restart(i: number): Promise<void> {
    await this.stop(i);
    this.spawn(i);
    await this.waitUp(i);
  }

  async close(): Promise<void> {
    for (let i = 0; i < this.nodes.length; i++) await this.stop(i);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

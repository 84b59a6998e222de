/** A real Mosquitto on a free port of our own, for tests that need to stop, restart or lock it down. */
import { freePort } from '../../scripts/lib/free-port.js';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';

export { freePort };

export class Mosquitto {
  private proc: ChildProcess | null = null;
  readonly dir = mkdtempSync(join(tmpdir(), 'omniloop-mosq-'));
  constructor(
    readonly port: number,
    private readonly users?: Record<string, string>,
    /** TLS listener with these files; client certificates required when `requireCertificate`. */
    private readonly tls?: { ca: string; cert: string; key: string; requireCertificate: boolean },
    /** More config lines (e.g. `omniloop broker provision`'s mosquitto.conf); they bring their own authentication. */
    private readonly extraConf?: string,
  ) {}

  get url(): string {
    return `${this.tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const conf = join(this.dir, 'mosquitto.conf');
    // Persistence (saved on a clean stop) keeps the collectors' sessions and queued messages across a
    // restart, as a production broker does.
    // Run as whoever runs the tests: as root, mosquitto would otherwise switch to its own user and
    // lose access to our private temporary folder.
    let text = `user ${userInfo().username}\nlistener ${this.port} 127.0.0.1\npersistence true\npersistence_location ${this.dir}/\n`;
    if (this.tls) text += `cafile ${this.tls.ca}\ncertfile ${this.tls.cert}\nkeyfile ${this.tls.key}\nrequire_certificate ${this.tls.requireCertificate}\n`;
    if (this.users) {
      const pw = join(this.dir, 'passwd');
      writeFileSync(pw, '');
      for (const [u, p] of Object.entries(this.users)) spawnSync('mosquitto_passwd', ['-b', pw, u, p]);
      text += `allow_anonymous false\npassword_file ${pw}\n`;
    } else if (this.extraConf === undefined) text += 'allow_anonymous true\n';
    if (this.extraConf !== undefined) text += this.extraConf;
    writeFileSync(conf, text);
    this.proc = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      if (await canConnect(this.port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('mosquitto did not start');
  }

  /** SIGHUP: Mosquitto reads its password and ACL files again (and disconnects users no longer in them). */
  reload(): void {
    this.proc?.kill('SIGHUP');
  }

  /** SIGTERM: a clean stop that saves sessions; SIGKILL: a crash. */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill(signal);
    });
    this.proc = null;
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Collects every message under a topic filter (QoS 1, persistent session so nothing is missed across broker restarts of ours). */
export async function collect(url: string, filter = 'omniloop/v1/#', auth: { username?: string; password?: string } = {}) {
  const messages: { topic: string; payload: string; retain: boolean }[] = [];
  const client = mqtt.connect(url, { ...auth, reconnectPeriod: 100, clean: false, clientId: `collector-${Math.random().toString(16).slice(2)}` });
  client.on('message', (topic, payload, packet) => messages.push({ topic, payload: payload.toString(), retain: packet.retain }));
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => client.subscribe(filter, { qos: 1 }, (err) => (err ? reject(err) : resolve())));
    client.once('error', reject);
  });
  return { messages, client, close: () => new Promise<void>((r) => client.end(true, {}, () => r())) };
}

/**
 * A TCP relay between an agent and the broker that can be cut and restored: an outage of the link
 * (WAN down, broker unreachable) without the broker itself forgetting anything.
 */
export class Relay {
  private server: import('node:net').Server | null = null;
  private readonly sockets = new Set<import('node:net').Socket>();
  constructor(
    readonly port: number,
    private readonly target: number,
  ) {}

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  async up(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target, '127.0.0.1');
      this.sockets.add(client).add(upstream);
      client.pipe(upstream).pipe(client);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', () => resolve()));
  }

  async down(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** A throwaway CA with a server certificate for 127.0.0.1 and a client certificate (openssl). */
export function makeCertificates(dir: string): { ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string } {
  const f = (n: string) => join(dir, n);
  const ssl = (...args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args[0]}: ${r.stderr}`);
  };
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=omniloop test CA', '-keyout', f('ca.key'), '-out', f('ca.pem'));
  writeFileSync(f('san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  for (const who of ['server', 'client']) {
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${who === 'server' ? '127.0.0.1' : 'ap-tls'}`, '-keyout', f(`${who}.key`), '-out', f(`${who}.csr`));
    ssl('x509', '-req', '-in', f(`${who}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-out', f(`${who}.pem`), ...(who === 'server' ? ['-extfile', f('san.ext')] : []));
  }
  return { ca: f('ca.pem'), serverCert: f('server.pem'), serverKey: f('server.key'), clientCert: f('client.pem'), clientKey: f('client.key') };
}

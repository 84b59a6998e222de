/**
 * `omniloop doctor`: every check, in the order a technician fixes things (config and key, clock, radio
 * and permissions, then the way out: TLS, broker, outbox, disk). The probes of the machine are
 * injectable, so the whole run can be exercised without radios, capabilities or a time-sync service.
 */
import { listCaptureInterfaces, type InterfaceInfo } from '../capture/interfaces.js';
import type { AgentConfig } from '../config/agent-config.js';
import { judgeBluetooth } from './bluetooth-check.js';
import { checkBroker } from './broker-check.js';
import { checkBrokerRights } from './broker-rights-check.js';
import { guard, type CheckResult } from './check.js';
import { judgeClock, probeNtp, type NtpState } from './clock-check.js';
import { checkConfig } from './config-check.js';
import { checkControlKeys } from './control-check.js';
import { judgeDisk, probeDisk, type DiskSpace } from './disk-check.js';
import { judgeIw, probeIw } from './iw-check.js';
import { judgeCaptureConfigured, judgeWifiInterface, probeInterfaceUp, summarizeInterfaces } from './interfaces-check.js';
import { checkKeyFile } from './key-check.js';
import { judgeOutbox, readOutbox } from './outbox-check.js';
import { checkPcapBinding, type PcapLoader } from './pcap-check.js';
import { judgeCapturePermissions, probeCapEff, probeServiceGrants } from './permissions-check.js';
import { checkCertificateFile } from './tls-check.js';

export interface DoctorReport {
  checks: CheckResult[];
  ok: boolean;
}

/** The machine, as the checks see it. */
export interface DoctorProbes {
  now(): number;
  ntp(): Promise<NtpState>;
  loadPcap?: PcapLoader;
  interfaces(): Promise<InterfaceInfo[]>;
  interfaceUp(name: string): boolean | null;
  uid(): number | null;
  capEff(): bigint | null;
  serviceGrants(): string[] | null;
  iw(): { onPath: string | null; elsewhere: string | null };
  disk(outboxPath: string): DiskSpace;
}

export const systemProbes: DoctorProbes = {
  now: () => Date.now(),
  ntp: () => probeNtp(),
  interfaces: () => listCaptureInterfaces(),
  interfaceUp: (name) => probeInterfaceUp(name),
  uid: () => process.getuid?.() ?? null,
  capEff: () => probeCapEff(),
  serviceGrants: () => probeServiceGrants(),
  iw: () => probeIw(),
  disk: (p) => probeDisk(p),
};

export interface DoctorOptions {
  /** For the broker's connect + publish round trip. */
  timeoutMs: number;
  env?: NodeJS.ProcessEnv;
  probes?: DoctorProbes;
}

/** The checks that only make sense with a valid config: named when they could not run. */
const NEEDS_CONFIG = ['key', 'wifi-interface', 'bluetooth', 'iw', 'tls', 'broker', 'broker-rights', 'control', 'outbox', 'disk'];

/** Throws InputError only when the config file cannot be read at all. */
export async function runDoctor(configPath: string, opts: DoctorOptions): Promise<DoctorReport> {
  const probes = opts.probes ?? systemProbes;
  const { result: configResult, config } = checkConfig(configPath, opts.env);
  const checks: CheckResult[] = [configResult];
  if (!config) {
    configResult.details = { notChecked: NEEDS_CONFIG };
    configResult.fix += `; then run the doctor again (not checked without a valid config: ${NEEDS_CONFIG.join(', ')})`;
  }
  const add = async (id: string, run: () => CheckResult | Promise<CheckResult>): Promise<CheckResult> => {
    const r = await guard(id, run);
    checks.push(r);
    return r;
  };

  if (config) await add('key', () => checkKeyFile(config.keyFile));
  await add('clock', async () => judgeClock(probes.now(), await probes.ntp()));
  await add('pcap', () => checkPcapBinding(probes.loadPcap));
  const interfaces = await probes.interfaces().catch(() => [] as InterfaceInfo[]);
  await add('interfaces', () => summarizeInterfaces(interfaces));
  if (config) await captureChecks(config, interfaces, probes, add);
  else await add('permissions', () => judgeCapturePermissions({ uid: probes.uid(), capEff: probes.capEff(), needRaw: true, needAdmin: true, serviceGrants: probes.serviceGrants() }));
  if (config) await wayOutChecks(config, opts.timeoutMs, probes, add);
  return { checks, ok: checks.every((c) => c.status !== 'fail') };
}

type Add = (id: string, run: () => CheckResult | Promise<CheckResult>) => Promise<CheckResult>;

async function captureChecks(config: AgentConfig, interfaces: InterfaceInfo[], probes: DoctorProbes, add: Add): Promise<void> {
  const { ble } = config.capture;
  // Monitor mode only: an access point that reports its own stations needs no monitor interface.
  const wifi = config.capture.wifi?.interface !== undefined ? { ...config.capture.wifi, interface: config.capture.wifi.interface } : undefined;
  const none = judgeCaptureConfigured(config.capture);
  if (none) await add('capture', () => none);
  if (wifi) await add('wifi-interface', () => judgeWifiInterface(interfaces, wifi.interface, probes.interfaceUp(wifi.interface), wifi.radio));
  if (ble) await add('bluetooth', () => judgeBluetooth(interfaces, ble.interface));
  await add('permissions', () => judgeCapturePermissions({ uid: probes.uid(), capEff: probes.capEff(), needRaw: !!(wifi || ble), needAdmin: !!wifi, serviceGrants: probes.serviceGrants() }));
  await add('iw', () => judgeIw({ wifi: wifi ?? null, ...probes.iw() }));
}

async function wayOutChecks(config: AgentConfig, timeoutMs: number, probes: DoctorProbes, add: Add): Promise<void> {
  const b = config.broker;
  if (b?.caFile) await add('tls-caFile', () => checkCertificateFile('caFile', b.caFile!, probes.now()));
  if (b?.certFile) await add('tls-certFile', () => checkCertificateFile('certFile', b.certFile!, probes.now(), b.keyFile));
  const reached = await add('broker', () => checkBroker(b, config, timeoutMs));
  // What the credentials may do beyond their own topics: only worth asking a broker that let them in.
  if (b && reached.status !== 'fail') await add('broker-rights', () => checkBrokerRights(b, config, timeoutMs));
  await add('control', () => checkControlKeys(config));
  await add('outbox', () => judgeOutbox(config.outbox.path, readOutbox(config.outbox.path), config.outbox.maxRows, probes.now()));
  await add('disk', () => judgeDisk(probes.disk(config.outbox.path), config.outbox.maxMegabytes * 1024 * 1024));
}

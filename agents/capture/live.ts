/**
 * Live capture through libpcap (the optional native `pcap` module, loaded only when live capture is
 * asked for, so everything else works where it is missing). Packets go to the same RecordSink the file
 * reader feeds, as views into node_pcap's one reused buffer. libpcap's errors become one-line messages
 * that tell the technician what to do.
 */
import { CheckError } from '../../shared/errors.js';
import { LinkType, type RecordSink } from './record.js';

export type CaptureKind = 'wifi' | 'ble';

export interface LiveCaptureOptions {
  iface: string;
  kind: CaptureKind;
  /** BPF filter; WiFi defaults to probe requests only. */
  filter?: string;
  /** Ask libpcap to put the interface into monitor mode itself (mac80211 drivers). */
  rfmon?: boolean;
  snapLength?: number;
  bufferBytes?: number;
  /** Tests only: deliver whatever link type the interface has. */
  anyLinkType?: boolean;
}

export interface LiveStats {
  received: number;
  dropped: number;
  ifDropped: number;
}

export interface LiveCapture {
  readonly linktype: number;
  readonly iface: string;
  stats(): LiveStats;
  close(): void;
}

const WIFI_TYPES: readonly number[] = [LinkType.Ieee80211Radiotap, LinkType.Ieee80211, LinkType.Ppi, LinkType.Ieee80211Prism, LinkType.Ieee80211Avs];
const BLE_TYPES: readonly number[] = [LinkType.BluetoothHciH4WithPhdr, LinkType.BluetoothLinuxMonitor, LinkType.BluetoothLeLlWithPhdr, LinkType.BluetoothLeLl, LinkType.BluetoothHciH4];

/** node_pcap names a few link types and reports the rest as "Unknown linktype N". */
const NAMED: Record<string, number> = {
  LINKTYPE_NULL: 0,
  LINKTYPE_ETHERNET: 1,
  LINKTYPE_IEEE802_11_RADIO: 127,
  LINKTYPE_RAW: 101,
  LINKTYPE_LINUX_SLL: 113,
};

export function linkTypeFromPcapName(name: string): number {
  if (name in NAMED) return NAMED[name]!;
  const m = /linktype (\d+)/i.exec(name);
  return m ? Number(m[1]) : -1;
}

/** Probe requests only: the kernel drops everything else before it reaches us. */
export const PROBE_REQUEST_FILTER = 'type mgt subtype probe-req';

interface PcapModule {
  createSession(iface: string, opts: Record<string, unknown>): PcapSessionLike;
  warningHandler: (msg: string) => void;
}
interface PcapSessionLike {
  link_type: string;
  on(ev: 'packet', cb: (p: { buf: Buffer; header: Buffer }) => void): void;
  close(): void;
  stats(): { ps_recv: number; ps_drop: number; ps_ifdrop: number };
}

export async function loadPcap(): Promise<PcapModule> {
  try {
    // A specifier the compiler does not resolve: pcap is optional, and the build must not need it.
    const optional = 'pcap';
    const mod = (await import(optional)) as { default?: PcapModule } & PcapModule;
    const pcap = mod.default ?? mod;
    // libpcap warns that a monitor or Bluetooth interface has no IPv4 address: true and irrelevant here.
    pcap.warningHandler = () => {};
    return pcap;
  } catch (err) {
    throw new CheckError(`live capture needs the native pcap module, which did not load (${firstLine(err)}): apt-get install libpcap-dev && npm rebuild pcap`);
  }
}

export async function openLiveCapture(opts: LiveCaptureOptions, sink: RecordSink): Promise<LiveCapture> {
  const pcap = await loadPcap();
  let session: PcapSessionLike;
  try {
    session = pcap.createSession(opts.iface, {
      // A filter can only be compiled for the link type the interface turns out to have: for WiFi we
      // try the probe-request filter and fall back to none (decoders skip other frames cheaply).
      filter: opts.filter ?? '',
      monitor: !!opts.rfmon,
      snap_length: opts.snapLength ?? 2048,
      buffer_size: opts.bufferBytes ?? 4 * 1024 * 1024,
      buffer_timeout: 100,
      promiscuous: false,
    });
  } catch (err) {
    throw translatePcapError(opts.iface, err);
  }
  const linktype = linkTypeFromPcapName(session.link_type);
  const accepted = opts.kind === 'wifi' ? WIFI_TYPES : BLE_TYPES;
  if (!opts.anyLinkType && !accepted.includes(linktype)) {
    session.close();
    throw wrongLinkTypeError(opts.iface, opts.kind, linktype, session.link_type);
  }
  if (opts.kind === 'wifi' && opts.filter === undefined && linktype === LinkType.Ieee80211Radiotap) {
    // Reopen with the kernel-side filter now that we know the link type supports it.
    session.close();
    try {
      session = pcap.createSession(opts.iface, { filter: PROBE_REQUEST_FILTER, monitor: !!opts.rfmon, snap_length: opts.snapLength ?? 2048, buffer_size: opts.bufferBytes ?? 4 * 1024 * 1024, buffer_timeout: 100, promiscuous: false });
    } catch (err) {
      throw translatePcapError(opts.iface, err);
    }
  }
  session.on('packet', (p) => {
    const h = p.header;
    const caplen = h.readUInt32LE(8);
    sink(linktype, p.buf, 0, Math.min(caplen, p.buf.length), h.readUInt32LE(12), h.readUInt32LE(0) * 1000 + h.readUInt32LE(4) / 1000);
  });
  let closed = false;
  return {
    linktype,
    iface: opts.iface,
    stats(): LiveStats {
      if (closed) return { received: 0, dropped: 0, ifDropped: 0 };
      const s = session.stats();
      return { received: s.ps_recv, dropped: s.ps_drop, ifDropped: s.ps_ifdrop };
    },
    close(): void {
      if (closed) return;
      closed = true;
      session.close();
    },
  };
}

function wrongLinkTypeError(iface: string, kind: CaptureKind, linktype: number, name: string): CheckError {
  if (kind === 'wifi') {
    return new CheckError(
      `${iface} is not in monitor mode (link type ${name}, ${linktype}): run \`sudo iw dev ${iface} set type monitor\` with the interface down, ` +
        `or add a monitor interface: \`sudo iw dev ${iface} interface add mon0 type monitor && sudo ip link set mon0 up\``,
    );
  }
  return new CheckError(`${iface} is not a Bluetooth capture interface (link type ${name}, ${linktype}): use bluetooth0 (hci0) or bluetooth-monitor; see \`omniloop interfaces\``);
}

/** libpcap's messages, turned into what the technician should do about them. */
export function translatePcapError(iface: string, err: unknown): CheckError {
  const msg = firstLine(err);
  if (/no such device|doesn't exist|not found|No such device exists/i.test(msg)) {
    return new CheckError(`no interface ${iface} (${msg}): list them with \`omniloop interfaces\` or \`ip link\``);
  }
  if (/permission|not permitted|EPERM|EACCES/i.test(msg)) {
    return new CheckError(`capturing on ${iface} needs root or CAP_NET_RAW and CAP_NET_ADMIN (${msg}): sudo setcap cap_net_raw,cap_net_admin+eip $(readlink -f $(which node))`);
  }
  if (/not up|is down|Network is down/i.test(msg)) {
    return new CheckError(`${iface} is down (${msg}): sudo ip link set ${iface} up`);
  }
  if (/rfmon|monitor mode/i.test(msg)) {
    return new CheckError(`${iface} cannot be put into monitor mode (${msg}): use an adapter whose driver supports monitor mode (see \`omniloop interfaces\`)`);
  }
  return new CheckError(`cannot capture on ${iface}: ${msg}`);
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0]!;
}

/**
 * libpcap through the optional native `pcap` module: without it the agent can only read files. Loaded
 * here the same way live capture loads it, so a pass means `agent run` will get that far.
 */
import { loadPcap } from '../capture/live.js';
import { fail, firstLine, ok, type CheckResult } from './check.js';

export type PcapLoader = () => Promise<{ lib_version?: unknown }>;

const defaultLoader: PcapLoader = () => loadPcap() as Promise<{ lib_version?: unknown }>;

export async function checkPcapBinding(load: PcapLoader = defaultLoader): Promise<CheckResult> {
  try {
    const pcap = await load();
    const version = typeof pcap.lib_version === 'string' ? pcap.lib_version : 'libpcap (version unknown)';
    return ok('pcap', `native pcap module loaded: ${version}`, { libVersion: version });
  } catch (err) {
    // loadPcap's message already carries the fix after a colon; keep only the reason for the summary.
    const reason = firstLine(err).replace(/: apt-get install.*$/, '');
    return fail('pcap', reason, "sudo apt-get install libpcap-dev && npm rebuild pcap (in omniloop's install folder); without it only capture files can be read");
  }
}

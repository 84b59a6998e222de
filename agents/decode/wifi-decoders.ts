/** The WiFi link types: the radio header in front of the 802.11 frame differs, the frame does not. */
import { Fcs, decodeDot11 } from './ieee80211.js';
import { FrameStatus, type FrameDecoder } from './observation.js';
import { RT_FLAG_BAD_FCS, RT_FLAG_FCS_AT_END, newRadiotapInfo, parseRadiotap } from './radiotap.js';
import { newPpiInfo, parsePpi, PPI_DLT_IEEE80211 } from './ppi.js';
import { isAvs, parseAvs, parsePrism } from './prism.js';

const rt = newRadiotapInfo();
const old = newRadiotapInfo();
const ppi = newPpiInfo();

/** The WiFi decoders of one mode: probe requests only, or (connections) the network watcher's frames too. */
export interface WifiDecoders {
  radiotap: FrameDecoder;
  plain: FrameDecoder;
  ppi: FrameDecoder;
  prism: FrameDecoder;
  avs: FrameDecoder;
}

function makeWifiDecoders(connections: boolean): WifiDecoders {
  return {
    /** LINKTYPE_IEEE802_11_RADIOTAP (127). */
    radiotap: (buf, off, len, origLen, tsMs, o, sink) => {
      if (!parseRadiotap(buf, off, len, rt)) return FrameStatus.Malformed;
      // The driver tells us the frame failed its checksum: its address bytes cannot be trusted.
      if (rt.flags & RT_FLAG_BAD_FCS) return FrameStatus.Malformed;
      const h = rt.length;
      return decodeDot11(buf, off + h, len - h, len < origLen, rt.flags & RT_FLAG_FCS_AT_END ? Fcs.Present : Fcs.Absent, rt.signalDbm, rt.freqMhz, tsMs, o, sink, connections);
    },
    /** LINKTYPE_IEEE802_11 (105): no radio header, so no signal or channel (but the DS Parameter Set may say). */
    plain: (buf, off, len, origLen, tsMs, o, sink) => decodeDot11(buf, off, len, len < origLen, Fcs.Unknown, NaN, 0, tsMs, o, sink, connections),
    /** LINKTYPE_PPI (192) carrying 802.11, with the 802.11-Common field's signal and channel. */
    ppi: (buf, off, len, origLen, tsMs, o, sink) => {
      if (!parsePpi(buf, off, len, ppi)) return FrameStatus.Malformed;
      if (ppi.dlt !== PPI_DLT_IEEE80211) return FrameStatus.Ignored;
      if (ppi.fcsInvalid) return FrameStatus.Malformed;
      const h = ppi.length;
      return decodeDot11(buf, off + h, len - h, len < origLen, ppi.fcsPresent ? Fcs.Present : Fcs.Absent, ppi.signalDbm, ppi.freqMhz, tsMs, o, sink, connections);
    },
    /** LINKTYPE_IEEE802_11_PRISM (119); an AVS header is recognized there too, as libpcap and tshark do. */
    prism: (buf, off, len, origLen, tsMs, o, sink) => {
      const ok = isAvs(buf, off, len) ? parseAvs(buf, off, len, old) : parsePrism(buf, off, len, old);
      if (!ok) return FrameStatus.Malformed;
      const h = old.length;
      return decodeDot11(buf, off + h, len - h, len < origLen, Fcs.Unknown, old.signalDbm, old.freqMhz, tsMs, o, sink, connections);
    },
    /** LINKTYPE_IEEE802_11_AVS (163). */
    avs: (buf, off, len, origLen, tsMs, o, sink) => {
      if (!parseAvs(buf, off, len, old)) return FrameStatus.Malformed;
      const h = old.length;
      return decodeDot11(buf, off + h, len - h, len < origLen, Fcs.Unknown, old.signalDbm, old.freqMhz, tsMs, o, sink, connections);
    },
  };
}

/** Probe requests only (the default: nothing else is read). */
export const probeDecoders = makeWifiDecoders(false);
/** Probe requests and the frames of stations and access points, for the store-network watcher. */
export const connectionDecoders = makeWifiDecoders(true);
export const decodeRadiotap = probeDecoders.radiotap;
export const decodePlainDot11 = probeDecoders.plain;
export const decodePpi = probeDecoders.ppi;
export const decodePrism = probeDecoders.prism;
export const decodeAvs = probeDecoders.avs;

/** IEEE 802.11 channel numbers from centre frequencies (MHz); 0 when the frequency is not a WiFi channel. */
export function wifiChannelFromFreq(freqMhz: number): number {
  if (freqMhz === 2484) return 14;
  if (freqMhz >= 2412 && freqMhz <= 2472) return (freqMhz - 2407) / 5;
  if (freqMhz >= 5160 && freqMhz <= 5885) return (freqMhz - 5000) / 5; // 5 GHz: channels 32..177
  if (freqMhz >= 5955 && freqMhz <= 7115) return (freqMhz - 5950) / 5; // 6 GHz: channels 1..233
  if (freqMhz === 5935) return 2; // 6 GHz channel 2 sits below the regular grid
  return 0;
}

/** The centre frequency of a 2.4 or 5 GHz channel number (used by the DS Parameter Set fallback and `iw`). */
export function wifiFreqFromChannel(channel: number): number {
  if (channel === 14) return 2484;
  if (channel >= 1 && channel <= 13) return 2407 + channel * 5;
  if (channel >= 32 && channel <= 177) return 5000 + channel * 5;
  return 0;
}

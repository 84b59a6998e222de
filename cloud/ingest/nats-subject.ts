/**
 * Where nats-server's MQTT listener keeps what agents publish: a QoS 1 PUBLISH is stored in the stream
 * `$MQTT_msgs`, replicated, under `$MQTT.msgs.<subject>` — and only then acknowledged to the agent. The
 * subject is the topic with `/` as `.` (`omniloop/v1/acme/…` is `omniloop.v1.acme.…`).
 */
export const MQTT_STREAM = '$MQTT_msgs';
export const MQTT_STREAM_PREFIX = '$MQTT.msgs.';
/**
 * Six levels, as the MQTT consumer's `omniloop/v1/+/+/+/+`: every agent's uplink (and a store's downlink,
 * which ingest ignores) — not the tenant-wide opt-out list `omniloop/v1/<tenant>/control/optout`.
 */
export const INGEST_FILTER = `${MQTT_STREAM_PREFIX}omniloop.v1.*.*.*.*`;

/**
 * The MQTT topic of a subject in `$MQTT_msgs`: the bridge's conversion reversed (`.` is a level
 * separator; `./` and a leading `/.` stand for an empty level).
 */
export function subjectToTopic(subject: string): string {
  const s = subject.startsWith(MQTT_STREAM_PREFIX) ? subject.slice(MQTT_STREAM_PREFIX.length) : subject;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '.') {
      out += '/';
      if (s[i + 1] === '/') i++;
    } else if (!(ch === '/' && i === 0 && s[1] === '.')) out += ch;
  }
  return out;
}

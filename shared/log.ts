/**
 * Structured logs (pino, JSON lines on stderr). Nothing that identifies a person is ever passed to
 * them: addresses exist only as numbers inside the decoders and as Consumer-IDs after them.
 */
import pino, { type Logger } from 'pino';

export function createLogger(name: string, level = process.env.OMNILOOP_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: true }));
}

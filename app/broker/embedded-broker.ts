/**
 * The embedded MQTT broker (aedes) for running everything on one machine: `omniloop demo` and tests.
 * Production agents talk to a real broker (Mosquitto, EMQX, HiveMQ). aedes speaks MQTT 3.1.1, so
 * clients of it use protocolVersion 4.
 */
import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';

export interface EmbeddedBroker {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startEmbeddedBroker(port = 0, host = '127.0.0.1'): Promise<EmbeddedBroker> {
  const aedes = await Aedes.createBroker();
  const server: Server = createServer(aedes.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const actual = (server.address() as { port: number }).port;
  return {
    url: `mqtt://${host}:${actual}`,
    port: actual,
    close: () =>
      new Promise<void>((resolve) => {
        aedes.close(() => server.close(() => resolve()));
      }),
  };
}

/**
 * One PostgreSQL transaction on a pooled connection: committed when `work` returns, rolled back when it
 * throws. pg reports a connection lost meanwhile (the database restarted, a network cut) as an 'error'
 * event on the client, which with no listener ends the process; the query in flight, or the next one,
 * fails with it anyway, and the caller sees that.
 */
import type pg from 'pg';

const onLostConnection = () => {};

/** A pooled connection with the listener on; give it back with checkin. */
export async function checkout(pool: pg.Pool): Promise<pg.PoolClient> {
  const c = await pool.connect();
  c.on('error', onLostConnection);
  return c;
}

export function checkin(c: pg.PoolClient): void {
  c.removeListener('error', onLostConnection);
  c.release();
}

export async function inTransaction<T>(pool: pg.Pool, work: (c: pg.PoolClient) => Promise<T>, begin = 'BEGIN'): Promise<T> {
  const c = await checkout(pool);
  try {
    await c.query(begin);
    const out = await work(c);
    await c.query('COMMIT');
    return out;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    checkin(c);
  }
}

/**
 * The CLI tests run the built program, as users do: build it once before the suite. Type errors do not
 * stop the build here (tsc still emits); `npm test` type-checks the whole tree before vitest starts.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const r = spawnSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', 'tsconfig.build.json'], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0 && process.env.OMNILOOP_DEBUG) process.stderr.write(r.stdout + r.stderr);
}

// Preloaded with `node --import`: appends the URL of every ES module the program loads to $MODULE_LOG,
// so a test can count what a command pulls in before it does anything.
import { register } from 'node:module';

register(
  'data:text/javascript,' +
    encodeURIComponent(`
import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  if (process.env.MODULE_LOG) appendFileSync(process.env.MODULE_LOG, url + '\\n');
  return next(url, context);
}`),
);

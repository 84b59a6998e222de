/**
 * Reads a mosquitto.conf as the broker does, with the files of its `include_dir` lines (their *.conf,
 * in name order) in place, for `omniloop broker check`.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InputError } from '../../shared/errors.js';
import { parseMosquittoConf, type ConfLine } from './mosquitto-conf-check.js';

/** Mosquitto includes one level deep; more files than this is not a broker config. */
const MAX_FILES = 200;

export function readMosquittoConf(path: string): ConfLine[] {
  const files = { count: 0 };
  return readOne(resolve(path), files, true);
}

function readOne(path: string, files: { count: number }, top: boolean): ConfLine[] {
  if (++files.count > MAX_FILES) throw new InputError(`${path}: more than ${MAX_FILES} config files through include_dir`);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(code === 'ENOENT' ? `broker config ${path} does not exist` : `cannot read broker config ${path} (${code ?? 'error'})`);
  }
  const out: ConfLine[] = [];
  for (const line of parseMosquittoConf(text, path)) {
    if (line.key !== 'include_dir' || !top) {
      out.push(line);
      continue;
    }
    const dir = resolve(line.value);
    let names: string[];
    try {
      names = readdirSync(dir).filter((n) => n.endsWith('.conf')).sort();
    } catch (err) {
      throw new InputError(`${path}:${line.line}: cannot read include_dir ${dir} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    for (const n of names) out.push(...readOne(join(dir, n), files, false));
  }
  return out;
}

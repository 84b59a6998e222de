/** A config file's schema problems, for a one-line error. */
import type { z } from 'zod';

/** "capture.wifi.dwellMs: Too small ..." for every problem, joined on one line. */
export function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => {
      const path = i.path.join('.') || '(top level)';
      if (i.code === 'unrecognized_keys') return `${path === '(top level)' ? '' : path + ': '}unknown setting ${i.keys.map((k) => `"${k}"`).join(', ')}`;
      return `${path}: ${i.message}`;
    })
    .join('; ');
}

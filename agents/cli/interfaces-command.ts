/** `omniloop interfaces`: what this machine can capture from — WiFi radios (monitor mode?) and Bluetooth adapters. */
import type { Command } from 'commander';
import { formatTable, printJson, printLine } from '../../shared/cli/output.js';
import { listCaptureInterfaces } from '../capture/interfaces.js';

export function configureInterfaces(cmd: Command): void {
  cmd
    .option('--json', 'machine-readable output')
    .action(async (flags: { json?: boolean }) => {
      const list = await listCaptureInterfaces();
      if (flags.json) return printJson(list);
      printLine(formatTable(['interface', 'kind', 'monitor', 'note'], list.map((i) => [i.name, i.kind, i.inMonitorMode ? 'yes' : i.monitorCapable ? 'capable' : 'no', i.note])));
    });
}

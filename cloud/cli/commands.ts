/** HQ's commands, loaded only when they run. */
import type { CommandSpec } from '../../shared/cli/command-spec.js';

export const CLOUD_COMMANDS: CommandSpec[] = [
  {
    name: 'cloud',
    description: "HQ's consumer of every store's stream",
    load: async () => (await import('./cloud-command.js')).configureCloud,
  },
];

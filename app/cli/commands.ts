/** Every top-level command, grouped in --help by who uses them; each side lists its own. */
import type { CommandSpec } from '../../shared/cli/command-spec.js';
import { AGENT_COMMANDS } from '../../agents/cli/commands.js';
import { CLOUD_COMMANDS } from '../../cloud/cli/commands.js';

export interface CommandGroup {
  title: string;
  commands: CommandSpec[];
}

export const COMMAND_GROUPS: CommandGroup[] = [
  {
    title: 'Getting started:',
    commands: [
      {
        name: 'demo',
        description: 'the whole product on this machine: embedded broker, HQ on SQLite with its dashboard, store agents replaying customers',
        load: async () => (await import('./demo-command.js')).configureDemo,
      },
    ],
  },
  {
    title: 'Tenant set-up (HQ / store IT):',
    commands: [
      { name: 'key', description: 'manage the tenant secret that Consumer-IDs are derived from', load: async () => (await import('./key-command.js')).configureKey },
      { name: 'optout', description: 'opt-out tokens for devices whose owners said no', load: async () => (await import('./optout-command.js')).configureOptout },
      { name: 'broker', description: "the broker's users, topic rights and settings: provision Mosquitto from the roster of stores and agents, check its config", load: async () => (await import('./broker-command.js')).configureBroker },
    ],
  },
  { title: 'Edge agent and on-site diagnostics (technicians):', commands: AGENT_COMMANDS },
  { title: 'HQ:', commands: CLOUD_COMMANDS },
];

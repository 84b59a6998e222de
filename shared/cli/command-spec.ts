/**
 * A top-level command as the CLI root lists it: its name and one-line description, known without
 * loading anything, and the module that configures it (options, subcommands, action), loaded only when
 * that command runs. So `omniloop --help` or `omniloop whoami` never pay for MQTT, PostgreSQL or the
 * embedded broker.
 */
import type { Command } from 'commander';

export interface CommandSpec {
  name: string;
  description: string;
  /** Loads the command's module and returns what fills in `cmd` (created with name and description). */
  load(): Promise<(cmd: Command) => void>;
}

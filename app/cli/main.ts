#!/usr/bin/env node
/**
 * The one `omniloop` program. Commands are grouped by who uses them and registered by the side that owns
 * them; this file only wires them up and turns every failure into one line and an exit code:
 * 0 ok, 1 a failed check, 2 bad usage or bad input.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError } from 'commander';
import { ExitCode, UserError } from '../errors.js';
import { registerDemoCommand } from './demo-command.js';
import { registerKeyCommands } from './key-command.js';
import { registerOptoutCommand } from './optout-command.js';
import { registerAgentCommands } from '../../agents/cli/register.js';
import { registerCloudCommands } from '../../cloud/cli/register.js';

export function buildProgram(): Command {
  const program = new Command('omniloop')
    .description('In-store presence analytics with privacy-safe Consumer-IDs (edge agent, cloud and tools).')
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (text, write) => write(`omniloop: ${text.replace(/^error: /, '')}`) });
  // Grouped in --help by who uses them.
  program.commandsGroup('Getting started:');
  registerDemoCommand(program);
  program.commandsGroup('Tenant set-up (HQ / store IT):');
  registerKeyCommands(program);
  registerOptoutCommand(program);
  program.commandsGroup('Edge agent and on-site diagnostics (technicians):');
  registerAgentCommands(program);
  program.commandsGroup('HQ:');
  registerCloudCommands(program);
  // Every subcommand: usage errors exit 2 instead of commander's 1, and nothing calls process.exit behind our back.
  const harden = (cmd: Command): void => {
    cmd.exitOverride().showHelpAfterError('(run with --help for usage)');
    cmd.commands.forEach(harden);
  };
  harden(program);
  return program;
}

const VERSION = '0.1.0';

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return process.exitCode === undefined ? ExitCode.Ok : Number(process.exitCode);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return ExitCode.Ok;
      return ExitCode.BadInput; // commander already printed the one-line reason
    }
    if (err instanceof UserError) {
      process.stderr.write(`omniloop: ${err.message}\n`);
      return err.exitCode;
    }
    const e = err as Error;
    process.stderr.write(`omniloop: internal error: ${e?.message ?? String(err)} (please report; set OMNILOOP_DEBUG=1 for details)\n`);
    if (process.env.OMNILOOP_DEBUG) process.stderr.write(`${e?.stack ?? ''}\n`);
    return 70;
  }
}

// Run when executed as the program (directly or through the npm bin link), not when imported by tests.
function isEntryPoint(): boolean {
  try {
    return process.argv[1] !== undefined && pathToFileURL(realpathSync(process.argv[1])).href === import.meta.url;
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  // Exit as soon as the command is done: a native handle left behind (libpcap's poller lingers for
  // about a minute after a session on a non-monitor interface closes) must not hold the terminal.
  // stdout and stderr are synchronous for files and pipes on Linux, so nothing written is lost.
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    () => process.exit(70),
  );
}

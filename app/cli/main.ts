#!/usr/bin/env node
/**
 * The one `omniloop` program. Commands are grouped by who uses them and registered by the side that owns
 * them; this file only wires them up and turns every failure into one line and an exit code:
 * 0 ok, 1 a failed check, 2 bad usage or bad input.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError } from 'commander';
import { ExitCode, UserError } from '../../shared/errors.js';
import { COMMAND_GROUPS } from './commands.js';

/**
 * The program for these arguments. Every command is listed (name and description), but only the one
 * the arguments name is loaded and configured: a technician's `whoami` or `--help` does not load the
 * MQTT client, PostgreSQL driver or embedded broker.
 */
export async function buildProgram(argv: string[]): Promise<Command> {
  const program = new Command('omniloop')
    .description('In-store presence analytics with privacy-safe Consumer-IDs (edge agent, cloud and tools).')
    .version(packageVersion(), '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (text, write) => write(`omniloop: ${text.replace(/^error: /, '')}`) });
  const selected = selectedCommand(argv);
  for (const group of COMMAND_GROUPS) {
    program.commandsGroup(group.title);
    for (const spec of group.commands) {
      const cmd = program.command(spec.name).description(spec.description);
      if (spec.name === selected) (await spec.load())(cmd);
    }
  }
  // Every subcommand: usage errors exit 2 instead of commander's 1, and nothing calls process.exit behind our back.
  const harden = (cmd: Command): void => {
    cmd.exitOverride().showHelpAfterError('(run with --help for usage)');
    cmd.commands.forEach(harden);
  };
  harden(program);
  return program;
}

/** The top-level command the arguments name (`omniloop help X` names X), if any. */
function selectedCommand(argv: string[]): string | undefined {
  const words = argv.filter((a) => !a.startsWith('-'));
  return words[0] === 'help' ? words[1] : words[0];
}

/** The version is package.json's: one place to change it. */
function packageVersion(): string {
  // Two levels up from app/cli/ both in the source tree (tests) and in dist/ (three levels: dist/app/cli).
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'omniloop' && pkg.version) return pkg.version;
    } catch {
      // not at this level
    }
  }
  return 'unknown';
}

export async function main(argv: string[]): Promise<number> {
  const program = await buildProgram(argv);
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

/** The edge agent's commands (for technicians and store IT). */
import type { Command } from 'commander';
import { registerAgentProcessCommands, registerStatusCommand } from './agent-command.js';
import { registerCaptureCommands } from './capture-command.js';
import { registerDecodeCommand } from './decode-command.js';
import { registerDoctorCommand } from './doctor-command.js';
import { registerWhoamiCommand } from './whoami-command.js';

export function registerAgentCommands(program: Command): void {
  registerDecodeCommand(program);
  registerWhoamiCommand(program);
  registerCaptureCommands(program);
  registerAgentProcessCommands(program);
  registerStatusCommand(program);
  registerDoctorCommand(program);
}

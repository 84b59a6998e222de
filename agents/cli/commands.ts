/** The edge agent's commands (technicians and store IT), each loaded only when it runs. */
import type { CommandSpec } from '../../shared/cli/command-spec.js';

export const AGENT_COMMANDS: CommandSpec[] = [
  {
    name: 'decode',
    description: 'decode and pseudonymize a capture file (pcap, pcapng or btsnoop): one line per observation, or a summary',
    load: async () => (await import('./decode-command.js')).configureDecode,
  },
  {
    name: 'whoami',
    description: "print a device's Consumer-ID for today (or --date), to find a test phone in the stream",
    load: async () => (await import('./whoami-command.js')).configureWhoami,
  },
  {
    name: 'capture',
    description: 'capture live from a monitor-mode WiFi interface and/or a Bluetooth adapter; print what is heard',
    load: async () => (await import('./capture-command.js')).configureCapture,
  },
  {
    name: 'interfaces',
    description: 'list interfaces to capture from: WiFi radios (monitor mode?) and Bluetooth adapters',
    load: async () => (await import('./interfaces-command.js')).configureInterfaces,
  },
  {
    name: 'agent',
    description: 'the store agent process: capture, pseudonymize, buffer, publish',
    load: async () => (await import('./agent-command.js')).configureAgent,
  },
  {
    name: 'buffer',
    description: "the agent's outbox file: what waits to be published",
    load: async () => (await import('./buffer-command.js')).configureBuffer,
  },
  {
    name: 'status',
    description: "a running agent's state from its local status endpoint",
    load: async () => (await import('./status-command.js')).configureStatus,
  },
  {
    name: 'doctor',
    description: 'check everything the agent needs on this machine (radio, permissions, key, clock, broker, outbox, disk) and say how to fix what is wrong',
    load: async () => (await import('./doctor-command.js')).configureDoctor,
  },
];

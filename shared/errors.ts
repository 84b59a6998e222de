/**
 * Errors a user can act on. The CLI prints `message` on one line and exits with `exitCode`; anything
 * else that escapes is a bug and is reported as such (still one line, exit 70).
 */
export const ExitCode = {
  Ok: 0,
  CheckFailed: 1,
  BadInput: 2,
} as const;

export class UserError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = ExitCode.BadInput) {
    super(message);
    this.name = 'UserError';
    this.exitCode = exitCode;
  }
}

/** Bad usage or bad input (a file, a flag, a config value): exit 2. */
export class InputError extends UserError {
  constructor(message: string) {
    super(message, ExitCode.BadInput);
    this.name = 'InputError';
  }
}

/** An environment problem or failed check the user must fix (no interface, no permission): exit 1. */
export class CheckError extends UserError {
  constructor(message: string) {
    super(message, ExitCode.CheckFailed);
    this.name = 'CheckError';
  }
}

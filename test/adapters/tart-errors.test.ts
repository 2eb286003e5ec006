/** The stderr classifier of the tart adapter (pure; facts sheet Appendix A). */
import { classifyTartFailure, firstLine } from '../../src/adapters/tart-errors.js';

test.each([
  [2, 'the specified VM "x" does not exist', 'vm-missing'],
  [1, 'Error: the specified VM "x" does not exist', 'vm-missing'],
  [2, 'VM "x" is already running!', 'already-running'],
  [2, 'VM "x" is not running', 'not-running'],
  [2, 'VM "VM "x" is not running" is not running', 'not-running'],
  [1, 'VM "x" is running', 'is-running'],
  [1, 'The number of VMs exceeds the system limit (other running VMs: a, b)', 'vz-limit'],
  [1, 'The number of VMs exceeds the system limit', 'vz-limit'],
  [1, 'Error Domain=VZErrorDomain Code=6 "The maximum supported number of active virtual machines has been reached."', 'vz-limit'],
  [1, 'something first\nError: Error Domain=VZErrorDomain Code=6 "…"', 'vz-limit'],
  [1, 'no IP address found', 'no-ip'],
  [1, 'no IP address found, is your VM running?', 'no-ip'],
  [1, 'Error: Error Domain=NSPOSIXErrorDomain Code=28 "No space left on device"', 'out-of-disk'],
  [1, 'Error: not enough disk space to clone', 'out-of-disk'],
  [1, 'write failed: ENOSPC', 'out-of-disk'],
  [127, 'bash: line 1: exec: tart: not found', 'tart-missing'],
  [126, 'bash: line 1: /x/tart: Permission denied', 'tart-missing'],
  [64, "Error: Unknown option '--foo'\nUsage: tart list", 'usage'],
  [1, 'Error: something else entirely', 'other'],
  [null, '', 'other'],
] as const)('exit %s, %j → %s', (code, stderr, kind) => {
  expect(classifyTartFailure(code, stderr).kind).toBe(kind);
});

test('spawn ENOENT is tart-missing; advice is attached where an operator can act', () => {
  expect(classifyTartFailure(null, '', 'ENOENT')).toMatchObject({ kind: 'tart-missing', advice: expect.stringContaining('brew install cirruslabs/cli/tart') });
  expect(classifyTartFailure(1, 'The number of VMs exceeds the system limit').advice).toMatch(/reboot/);
});

test('firstLine skips blank lines', () => {
  expect(firstLine('\n\n  Error: x  \nUsage: y\n')).toBe('Error: x');
  expect(firstLine('')).toBe('');
});

/** The stderr classifier of the tart adapter (pure; facts sheet Appendix A). */
import { classifyTartFailure, firstLine, knownFailureIn } from '../../src/adapters/tart-errors.js';

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
  [1, 'VM is missing some of its files (config.json, disk.img or nvram.bin)', 'vm-missing'],
  [1, 'Error: “disk.img” couldn’t be copied to “tmp” because there isn’t enough space.', 'out-of-disk'],
  [1, "Error: The file couldn't be saved because there isn't enough space.", 'out-of-disk'],
  [1, 'Error: “x” couldn’t be copied because the volume “Macintosh HD” is out of space.', 'out-of-disk'],
  [1, 'Error Domain=NSCocoaErrorDomain Code=640 "…"', 'out-of-disk'],
  [1, 'Error Domain=VZErrorDomain Code=8 "The virtual machine ran out of disk space."', 'out-of-disk'],
  [1, "*** Terminating app due to uncaught exception 'NSFileHandleOperationException', reason: '*** -[NSConcreteFileHandle writeData:]: No space left on device'", 'out-of-disk'],
  [1, 'Error Domain=VZErrorDomain Code=60 "x"', 'other'],
  [1, 'Error Domain=VZErrorDomain Code=2 "A directory sharing device configuration is invalid." UserInfo={… {Error Domain=NSPOSIXErrorDomain Code=2 "No such file or directory"}}', 'other'],
  [1, 'Error: InitializationFailed(why: "softnet not found in PATH")', 'other'],
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

test('a missing share dir and Softnet failures carry advice naming the fix', () => {
  expect(classifyTartFailure(1, 'Error Domain=VZErrorDomain Code=2 "A directory sharing device configuration is invalid."').advice).toMatch(/cache dir/);
  expect(classifyTartFailure(1, 'RuntimeFailed(why: "Softnet process terminated prematurely")').advice).toMatch(/brew install cirruslabs\/cli\/softnet.*chmod u\+s/);
});

test('knownFailureIn picks the line of a run log that explains a death, and nothing from a clean log', () => {
  const log = 'guest: booting\nThe number of VMs exceeds the system limit (other running VMs: a, b)\n';
  expect(knownFailureIn(log)).toMatchObject({ kind: 'vz-limit', line: 'The number of VMs exceeds the system limit (other running VMs: a, b)' });
  expect(knownFailureIn('guest: booting\nguest has stopped the virtual machine\n')).toBeUndefined();
});

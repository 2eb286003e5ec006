// `tart-fleet launchd`: in-process against a temp config, with the process facts (node path, user,
// /Library/LaunchDaemons, launchctl, the platform) pinned through runLaunchd's deps and the context;
// through main() as the CLI runs it.
import { chmodSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parse } from 'plist';
import { runLaunchd, defaultDeps, plistMode, type CommandResult, type LaunchdDeps } from '../../src/cli/launchd.js';
import { ExitError, type CliContext } from '../../src/cli/context.js';
import { ConfigError } from '../../src/config/errors.js';
import { main } from '../../src/main.js';

const dir = mkdtempSync(join(tmpdir(), 'tf-launchd-'));
const configPath = join(dir, 'pipeline.yml');
writeFileSync(configPath, 'github: { org: acme, runner_name: mini-a }\nprofiles:\n  coder: { ram_mb: 2048, cpu: 2, timeout_minutes: 60 }\n');
const keyPath = join(dir, 'app.pem');
writeFileSync(keyPath, '-----BEGIN RSA PRIVATE KEY-----\nnot really\n-----END RSA PRIVATE KEY-----\n');
chmodSync(keyPath, 0o600);
const pwPath = join(dir, 'ssh-password');
writeFileSync(pwPath, 'admin\n');
chmodSync(pwPath, 0o600);
const loosePath = join(dir, 'ssh-password-loose');
writeFileSync(loosePath, 'admin\n');
chmodSync(loosePath, 0o644);

const APP_ENV = { TART_FLEET_GITHUB_APP_ID: '42', TART_FLEET_GITHUB_APP_INSTALLATION_ID: '99', TART_FLEET_GITHUB_APP_PRIVATE_KEY: keyPath };

function capture() {
  let text = '';
  const stream = new Writable({
    write(chunk, _enc, cb) {
      text += String(chunk);
      cb();
    },
  });
  return { stream, text: () => text };
}

/** A fake launchctl: `print` answers from `loaded`, `bootout` unloads; every call is recorded. */
function fakeLaunchctl(state: { loaded: boolean; calls: string[][]; printed?: string; bootstrapFails?: boolean }) {
  return (args: string[]): CommandResult => {
    state.calls.push(args);
    if (args[0] === 'print') {
      return state.loaded ? { code: 0, stdout: state.printed ?? '\tstate = running\n\tpid = 4242\n\tlast exit code = 0\n', stderr: '' } : { code: 113, stdout: '', stderr: 'Could not find service' };
    }
    if (args[0] === 'bootstrap') {
      if (state.bootstrapFails) return { code: 5, stdout: '', stderr: 'Bootstrap failed: 5: Input/output error' };
      state.loaded = true;
      return { code: 0, stdout: '', stderr: '' };
    }
    if (args[0] === 'bootout') {
      if (!state.loaded) return { code: 3, stdout: '', stderr: 'No such process' };
      state.loaded = false;
      return { code: 0, stdout: '', stderr: '' };
    }
    return { code: 1, stdout: '', stderr: 'unexpected' };
  };
}

function world(env: NodeJS.ProcessEnv, platform: NodeJS.Platform = 'darwin') {
  const out = capture();
  const err = capture();
  const ctx: CliContext = { env, cwd: dir, stdout: out.stream, stderr: err.stream, hostname: 'mini-a.local', totalMemBytes: 16 * 1024 ** 3, platform };
  const daemonsDir = mkdtempSync(join(tmpdir(), 'tf-daemons-'));
  const launchd = { loaded: false, calls: [] as string[][] } as { loaded: boolean; calls: string[][]; printed?: string; bootstrapFails?: boolean };
  const deps: LaunchdDeps = {
    ...defaultDeps(),
    execPath: '/opt/homebrew/bin/node',
    currentUser: { username: 'root', homedir: '/var/root' },
    uid: 0,
    launchDaemonsDir: daemonsDir,
    userExists: (name) => name === 'ci',
    launchctl: fakeLaunchctl(launchd),
    nodeHasSystemCa: false,
  };
  return { ctx, deps, out, err, daemonsDir, launchd };
}

/** The CI user `ci` (uid 501) at its own shell, home in a temp dir: where the agent installs. */
function userWorld(env: NodeJS.ProcessEnv) {
  const w = world({ USER: 'ci', ...env });
  const home = mkdtempSync(join(tmpdir(), 'tf-home-'));
  const deps: LaunchdDeps = { ...w.deps, currentUser: { username: 'ci', homedir: home }, uid: 501 };
  return { ...w, deps, home, agentPlist: join(home, 'Library', 'LaunchAgents', 'dev.tart-fleet.agent.plist') };
}

function exitErrorOf(fn: () => unknown): ExitError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ExitError) return e;
    throw e;
  }
  throw new Error('expected an ExitError');
}

describe('tart-fleet launchd --mode daemon (the LaunchDaemon)', () => {
  test('prints a plist that runs node + the bin script with the absolute config, as SUDO_USER', () => {
    const { ctx, deps, out } = world({ ...APP_ENV, SUDO_USER: 'ci', USER: 'root', TART_FLEET_SSH_PASSWORD_FILE: 'ssh-password', TART_FLEET_HOST_MAX_VMS: '1', UNRELATED: 'x' });
    expect(runLaunchd(ctx, { mode: 'daemon', config: 'pipeline.yml' }, deps)).toBe(0);
    const p = parse(out.text()) as Record<string, unknown>;
    const args = p.ProgramArguments as string[];
    expect(args[0]).toBe('/opt/homebrew/bin/node');
    expect(args.slice(1, 3)).toEqual(['--max-semi-space-size=2', '--no-memory-reducer']);
    expect(args[3]).toMatch(/^\/.*\/bin\/tart-fleet\.js$/);
    expect(args.slice(4)).toEqual(['run', '--config', configPath, '--log-file', '/Library/Logs/tart-fleet/tart-fleet.log']);
    expect(args.join(' ')).not.toMatch(/npx/);
    expect(p.UserName).toBe('ci');
    expect(p.WorkingDirectory).toBe(dir);
    expect(p.EnvironmentVariables).toEqual({
      HOME: '/Users/ci',
      PATH: expect.stringContaining('/opt/homebrew/bin') as unknown as string,
      TART_FLEET_CONFIG: configPath,
      TART_FLEET_GITHUB_APP_ID: '42',
      TART_FLEET_GITHUB_APP_INSTALLATION_ID: '99',
      TART_FLEET_GITHUB_APP_PRIVATE_KEY: keyPath,
      TART_FLEET_SSH_PASSWORD_FILE: pwPath,
      TART_FLEET_HOST_MAX_VMS: '1',
    });
  });

  test('a secret file other users can read is refused (exit 2), naming the file and chmod 600', () => {
    const { ctx, deps, out, daemonsDir } = world({ ...APP_ENV, SUDO_USER: 'ci', TART_FLEET_SSH_PASSWORD_FILE: loosePath });
    const e = exitErrorOf(() => runLaunchd(ctx, { mode: 'daemon', config: configPath, install: true }, deps));
    expect(e.code).toBe(2);
    expect(e.lines).toEqual([`TART_FLEET_SSH_PASSWORD_FILE: ${loosePath} can be read by other users (mode 0644); refusing to use it: chmod 600 ${loosePath}`]);
    expect(out.text()).toBe('');
    expect(existsSync(join(daemonsDir, 'dev.tart-fleet.daemon.plist'))).toBe(false);
    // Printing refuses too: a plist naming that file would start a daemon with an exposed secret.
    expect(exitErrorOf(() => runLaunchd(ctx, { mode: 'daemon', config: configPath }, deps)).code).toBe(2);
  });

  test('never copies a secret value; warns naming each variable and its _FILE replacement', () => {
    const env = { ...APP_ENV, USER: 'ci', TART_FLEET_GITHUB_TOKEN: 'ghp_TOPSECRET111', GITHUB_TOKEN: 'ghp_TOPSECRET222', TART_FLEET_SSH_PASSWORD: 'hunter2-secret' };
    const { ctx, deps, out, err } = world(env);
    expect(runLaunchd(ctx, { mode: 'daemon', config: configPath }, deps)).toBe(0);
    for (const secret of ['ghp_TOPSECRET111', 'ghp_TOPSECRET222', 'hunter2-secret']) {
      expect(out.text()).not.toContain(secret);
      expect(err.text()).not.toContain(secret);
    }
    expect(err.text()).toMatch(/warn: TART_FLEET_GITHUB_TOKEN is set in this shell; .*TART_FLEET_GITHUB_TOKEN_FILE=/);
    expect(err.text()).toMatch(/warn: GITHUB_TOKEN is set in this shell/);
    expect(err.text()).toMatch(/warn: TART_FLEET_SSH_PASSWORD is set in this shell; .*TART_FLEET_SSH_PASSWORD_FILE=/);
  });

  test('a PEM key given inline is not copied, and without file credentials --install refuses', () => {
    const pem = '-----BEGIN RSA PRIVATE KEY-----\nMIIEsecretbits\n-----END RSA PRIVATE KEY-----';
    const { ctx, deps, out, daemonsDir } = world({ USER: 'ci', TART_FLEET_GITHUB_APP_ID: '42', TART_FLEET_GITHUB_APP_INSTALLATION_ID: '99', TART_FLEET_GITHUB_APP_PRIVATE_KEY: pem });
    const e = exitErrorOf(() => runLaunchd(ctx, { mode: 'daemon', config: configPath, install: true }, deps));
    expect(e.code).toBe(2);
    expect(e.lines.join('\n')).toMatch(/TART_FLEET_GITHUB_APP_PRIVATE_KEY holds the key itself/);
    expect(e.lines.join('\n')).toMatch(/no GitHub credentials/);
    expect(e.lines.join('\n')).not.toContain('MIIEsecretbits');
    expect(out.text()).toBe('');
    expect(() => statSync(join(daemonsDir, 'dev.tart-fleet.daemon.plist'))).toThrow();
  });

  test('--install, --uninstall and --status refuse off macOS (exit 2) and write nothing', () => {
    for (const flag of ['install', 'uninstall', 'status'] as const) {
      const { ctx, deps, out, daemonsDir, launchd } = world({ ...APP_ENV, SUDO_USER: 'ci', TART_FLEET_SSH_PASSWORD_FILE: pwPath }, 'linux');
      const e = exitErrorOf(() => runLaunchd(ctx, { mode: 'daemon', config: configPath, [flag]: true }, deps));
      expect(e.code).toBe(2);
      expect(e.lines[0]).toMatch(new RegExp(`^launchd --${flag}: not a Mac \\(linux\\)`));
      expect(out.text()).toBe('');
      expect(existsSync(join(daemonsDir, 'dev.tart-fleet.daemon.plist'))).toBe(false);
      expect(launchd.calls).toEqual([]);
    }
  });

  test('--install refuses a --user that does not exist', () => {
    const { ctx, deps, daemonsDir } = world({ ...APP_ENV, TART_FLEET_SSH_PASSWORD_FILE: pwPath });
    const e = exitErrorOf(() => runLaunchd(ctx, { mode: 'daemon', config: configPath, install: true, user: 'nobody-here' }, deps));
    expect(e.code).toBe(2);
    expect(e.lines[0]).toMatch(/^--user: there is no user "nobody-here" on this Mac/);
    expect(existsSync(join(daemonsDir, 'dev.tart-fleet.daemon.plist'))).toBe(false);
  });

  test('--uninstall boots the daemon out and removes the plist, saying each; again, it says there was nothing', () => {
    const { ctx, deps, out, daemonsDir, launchd } = world({ ...APP_ENV, SUDO_USER: 'ci', TART_FLEET_SSH_PASSWORD_FILE: pwPath });
    expect(runLaunchd(ctx, { mode: 'daemon', config: configPath, install: true }, deps)).toBe(0);
    launchd.loaded = true;
    const target = join(daemonsDir, 'dev.tart-fleet.daemon.plist');
    const before = out.text().length;
    expect(runLaunchd(ctx, { mode: 'daemon', uninstall: true }, deps)).toBe(0);
    const said = out.text().slice(before);
    expect(launchd.calls).toContainEqual(['bootout', 'system/dev.tart-fleet.daemon']);
    expect(launchd.loaded).toBe(false);
    expect(existsSync(target)).toBe(false);
    expect(said).toContain('unloaded system/dev.tart-fleet.daemon (launchctl bootout)');
    expect(said).toContain(`removed ${target}`);
    const again = out.text().length;
    expect(runLaunchd(ctx, { mode: 'daemon', uninstall: true }, deps)).toBe(0);
    expect(out.text().slice(again)).toMatch(/was not loaded[\s\S]*was not installed/);
  });

  test('--status: installed and running exits 0 with state and pid; not loaded exits 3', () => {
    const { ctx, deps, out, launchd } = world({ ...APP_ENV, SUDO_USER: 'ci', TART_FLEET_SSH_PASSWORD_FILE: pwPath });
    expect(runLaunchd(ctx, { mode: 'daemon', status: true }, deps)).toBe(3);
    expect(out.text()).toMatch(/plist: +not installed/);
    expect(out.text()).toMatch(/service: not loaded/);
    expect(runLaunchd(ctx, { mode: 'daemon', config: configPath, install: true }, deps)).toBe(0);
    launchd.loaded = true;
    const from = out.text().length;
    expect(runLaunchd(ctx, { mode: 'daemon', status: true }, deps)).toBe(0);
    expect(out.text().slice(from)).toMatch(/plist: +installed[\s\S]*service: loaded \(system\/dev\.tart-fleet\.daemon\), state running, pid 4242, last exit code 0/);
    launchd.printed = '\tstate = not running\n\tlast exit code = 2\n';
    expect(runLaunchd(ctx, { mode: 'daemon', status: true }, deps)).toBe(3);
  });

  test('the plist mode: 0644 for paths only, 0600 if a secret value were in it', () => {
    expect(plistMode({ TART_FLEET_GITHUB_TOKEN_FILE: '/x', TART_FLEET_GITHUB_APP_PRIVATE_KEY: '/k.pem' })).toBe(0o644);
    expect(plistMode({ TART_FLEET_SSH_PASSWORD: 'x' })).toBe(0o600);
    expect(plistMode({ TART_FLEET_GITHUB_APP_PRIVATE_KEY: '-----BEGIN RSA PRIVATE KEY-----\nx' })).toBe(0o600);
  });

  test('--install writes the plist with mode 0644 and prints the launchctl commands', () => {
    const { ctx, deps, out, daemonsDir } = world({ ...APP_ENV, SUDO_USER: 'ci', TART_FLEET_SSH_PASSWORD_FILE: pwPath });
    expect(runLaunchd(ctx, { mode: 'daemon', config: configPath, install: true }, deps)).toBe(0);
    const target = join(daemonsDir, 'dev.tart-fleet.daemon.plist');
    expect(statSync(target).mode & 0o777).toBe(0o644);
    expect((parse(readFileSync(target, 'utf8')) as Record<string, unknown>).UserName).toBe('ci');
    const text = out.text();
    expect(text).toContain(`sudo launchctl bootstrap system ${target}`);
    expect(text).toContain('sudo launchctl bootout system/dev.tart-fleet.daemon');
    expect(text).toContain('sudo launchctl kickstart -k system/dev.tart-fleet.daemon');
    expect(text).toContain('sudo launchctl print system/dev.tart-fleet.daemon');
    expect(text).toContain('sudo install -d -o ci -m 0755 /Library/Logs/tart-fleet');
    expect(text).not.toContain('<plist');
  });

  test('refuses root as the daemon user and names that are not account names', () => {
    const { ctx, deps } = world({ ...APP_ENV, USER: 'root' });
    expect(exitErrorOf(() => runLaunchd(ctx, { mode: 'daemon', config: configPath }, deps)).lines[0]).toMatch(/not root/);
    expect(exitErrorOf(() => runLaunchd(ctx, { mode: 'daemon', config: configPath, user: 'a&b' }, deps)).lines[0]).toMatch(/not a macOS account name/);
  });

  test('a broken config is a ConfigError (exit 2), as for every command', () => {
    const bad = join(dir, 'bad.yml');
    writeFileSync(bad, 'github: {}\nprofiles: {}\n');
    const { ctx, deps } = world({ ...APP_ENV, USER: 'ci' });
    expect(() => runLaunchd(ctx, { mode: 'daemon', config: bad }, deps)).toThrow(ConfigError);
  });

  test('through main() on Linux: `launchd --install` exits 2 and creates no /Library/LaunchDaemons', async () => {
    const existed = existsSync('/Library/LaunchDaemons');
    const { ctx, err } = world({ ...APP_ENV, TART_FLEET_SSH_PASSWORD_FILE: pwPath }, 'linux');
    expect(await main(['launchd', '--install', '--config', configPath, '--user', 'ci'], ctx)).toBe(2);
    expect(err.text()).toMatch(/not a Mac \(linux\)/);
    expect(existsSync('/Library/LaunchDaemons')).toBe(existed);
  });

  test('through main(): `tart-fleet launchd --user ci` prints the plist, exit 0', async () => {
    const { ctx, out } = world({ ...APP_ENV, TART_FLEET_SSH_PASSWORD_FILE: pwPath });
    expect(await main(['launchd', '--mode', 'daemon', '--config', configPath, '--user', 'ci'], ctx)).toBe(0);
    const p = parse(out.text()) as Record<string, unknown>;
    expect((p.ProgramArguments as string[])[0]).toBe(process.execPath);
    expect(p.UserName).toBe('ci');
  });
});

describe("tart-fleet launchd (the default: a LaunchAgent in the user's GUI session)", () => {
  const OFFICE = { HTTPS_PROXY: 'http://proxy.corp.example:3128', no_proxy: 'localhost,.corp.example', NODE_EXTRA_CA_CERTS: keyPath };

  test('prints an agent plist: no UserName, Aqua only, KeepAlive, RunAtLoad, logs under ~/Library/Logs; the proxy and CA variables are carried', () => {
    const { ctx, deps, out, home } = userWorld({ ...APP_ENV, ...OFFICE, TART_FLEET_SSH_PASSWORD_FILE: pwPath });
    expect(runLaunchd(ctx, { config: configPath }, deps)).toBe(0);
    const p = parse(out.text()) as Record<string, unknown>;
    expect(p).toEqual(expect.objectContaining({ Label: 'dev.tart-fleet.agent', LimitLoadToSessionType: 'Aqua', KeepAlive: true, RunAtLoad: true, ProcessType: 'Interactive' }));
    expect(p.UserName).toBeUndefined();
    expect((p.ProgramArguments as string[]).slice(-2)).toEqual(['--log-file', join(home, 'Library', 'Logs', 'tart-fleet', 'tart-fleet.log')]);
    expect(p.EnvironmentVariables).toEqual(expect.objectContaining({ HOME: home, HTTPS_PROXY: 'http://proxy.corp.example:3128', no_proxy: 'localhost,.corp.example', NODE_EXTRA_CA_CERTS: keyPath }));
  });

  test('names what it leaves out: a proxy URL with a password (a secret), NODE_OPTIONS, registry credentials; never writes their values', () => {
    const env = { ...APP_ENV, TART_FLEET_SSH_PASSWORD_FILE: pwPath, https_proxy: 'http://me:Pr0xyPass@proxy.corp.example:3128', NODE_OPTIONS: '--max-old-space-size=64', TART_REGISTRY_PASSWORD: 'registry-secret-9' };
    const { ctx, deps, out, err } = userWorld(env);
    expect(runLaunchd(ctx, { config: configPath }, deps)).toBe(0);
    const vars = (parse(out.text()) as { EnvironmentVariables: Record<string, string> }).EnvironmentVariables;
    for (const name of ['https_proxy', 'NODE_OPTIONS', 'TART_REGISTRY_PASSWORD']) expect(vars[name]).toBeUndefined();
    for (const secret of ['Pr0xyPass', 'registry-secret-9']) expect(out.text() + err.text()).not.toContain(secret);
    expect(err.text()).toMatch(/warn: https_proxy carries a user name or password; it is not copied into the plist/);
    expect(err.text()).toMatch(/warn: NODE_OPTIONS is set in this shell and is left out of the plist: the plist gives node its flags itself/);
    expect(err.text()).toMatch(/warn: TART_REGISTRY_PASSWORD is set in this shell and is left out of the plist/);
  });

  test('--use-system-ca (the keychain\'s CAs) only when this node has it', () => {
    for (const has of [true, false]) {
      const { ctx, deps, out } = userWorld({ ...APP_ENV, TART_FLEET_SSH_PASSWORD_FILE: pwPath });
      expect(runLaunchd(ctx, { config: configPath }, { ...deps, nodeHasSystemCa: has })).toBe(0);
      expect((parse(out.text()) as { ProgramArguments: string[] }).ProgramArguments.includes('--use-system-ca')).toBe(has);
    }
  });

  test('--install as the user: writes ~/Library/LaunchAgents/dev.tart-fleet.agent.plist (0644) and bootstraps it into gui/<uid>; again, it boots the old one out first', () => {
    const { ctx, deps, out, launchd, agentPlist, home } = userWorld({ ...APP_ENV, TART_FLEET_SSH_PASSWORD_FILE: pwPath });
    expect(runLaunchd(ctx, { config: configPath, install: true }, deps)).toBe(0);
    expect(statSync(agentPlist).mode & 0o777).toBe(0o644);
    expect((parse(readFileSync(agentPlist, 'utf8')) as Record<string, unknown>).LimitLoadToSessionType).toBe('Aqua');
    expect(existsSync(join(home, 'Library', 'Logs', 'tart-fleet'))).toBe(true);
    expect(launchd.calls).toEqual([['print', 'gui/501/dev.tart-fleet.agent'], ['bootstrap', 'gui/501', agentPlist]]);
    expect(out.text()).toContain('loaded gui/501/dev.tart-fleet.agent (launchctl bootstrap gui/501)');
    expect(out.text()).toMatch(/automatic login for this user \(FileVault off\)/);
    launchd.calls.length = 0;
    expect(runLaunchd(ctx, { config: configPath, install: true }, deps)).toBe(0);
    expect(launchd.calls).toEqual([['print', 'gui/501/dev.tart-fleet.agent'], ['bootout', 'gui/501/dev.tart-fleet.agent'], ['bootstrap', 'gui/501', agentPlist]]);
  });

  test('--install with no GUI session: the plist stays for the next login, exit 1 naming automatic login', () => {
    const { ctx, deps, launchd, agentPlist } = userWorld({ ...APP_ENV, TART_FLEET_SSH_PASSWORD_FILE: pwPath });
    launchd.bootstrapFails = true;
    const e = exitErrorOf(() => runLaunchd(ctx, { config: configPath, install: true }, deps));
    expect(e.code).toBe(1);
    expect(e.lines.join('\n')).toMatch(/launchctl bootstrap gui\/501 .* failed \(exit 5\)[\s\S]*automatic login/);
    expect(existsSync(agentPlist)).toBe(true);
  });

  test('--install under sudo, or for another user, is refused (exit 2): an agent belongs to its own user', () => {
    const sudo = world({ ...APP_ENV, SUDO_USER: 'ci', TART_FLEET_SSH_PASSWORD_FILE: pwPath });
    expect(exitErrorOf(() => runLaunchd(sudo.ctx, { config: configPath, install: true }, sudo.deps)).lines[0]).toMatch(/run it as ci itself, without sudo/);
    expect(sudo.launchd.calls).toEqual([]);
  });

  test('--uninstall boots it out of gui/<uid> and removes the plist; --status reads gui/<uid>/<label>', () => {
    const { ctx, deps, out, launchd, agentPlist } = userWorld({ ...APP_ENV, TART_FLEET_SSH_PASSWORD_FILE: pwPath });
    expect(runLaunchd(ctx, { config: configPath, install: true }, deps)).toBe(0);
    const from = out.text().length;
    expect(runLaunchd(ctx, { status: true }, deps)).toBe(0);
    expect(out.text().slice(from)).toMatch(/service: loaded \(gui\/501\/dev\.tart-fleet\.agent\), state running/);
    expect(runLaunchd(ctx, { uninstall: true }, deps)).toBe(0);
    expect(launchd.calls).toContainEqual(['bootout', 'gui/501/dev.tart-fleet.agent']);
    expect(existsSync(agentPlist)).toBe(false);
    expect(runLaunchd(ctx, { status: true }, deps)).toBe(3);
  });

  test('--mode daemon with a macOS image not named 14 or older: warns that a LaunchDaemon cannot start it', () => {
    const { ctx, deps, err } = world({ ...APP_ENV, SUDO_USER: 'ci', TART_FLEET_SSH_PASSWORD_FILE: pwPath });
    expect(runLaunchd(ctx, { mode: 'daemon', config: configPath }, deps)).toBe(0);
    expect(err.text()).toMatch(/warn: a LaunchDaemon cannot start workhorse .*unlocked login keychain/);
    const sonoma = world({ ...APP_ENV, SUDO_USER: 'ci', TART_FLEET_SSH_PASSWORD_FILE: pwPath, TART_FLEET_VM_IMAGE: 'sonoma-xcode' });
    expect(runLaunchd(sonoma.ctx, { mode: 'daemon', config: configPath }, sonoma.deps)).toBe(0);
    expect(sonoma.err.text()).not.toMatch(/cannot start/);
  });
});

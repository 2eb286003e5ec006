// `tart-fleet launchd`: in-process against a temp config, with the process facts (node path, user,
// /Library/LaunchDaemons) pinned through runLaunchd's deps; once through main() as the CLI runs it.
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parse } from 'plist';
import { runLaunchd, defaultDeps, type LaunchdDeps } from '../../src/cli/launchd.js';
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
chmodSync(pwPath, 0o644);

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

function world(env: NodeJS.ProcessEnv) {
  const out = capture();
  const err = capture();
  const ctx: CliContext = { env, cwd: dir, stdout: out.stream, stderr: err.stream, hostname: 'mini-a.local', totalMemBytes: 16 * 1024 ** 3 };
  const daemonsDir = mkdtempSync(join(tmpdir(), 'tf-daemons-'));
  const deps: LaunchdDeps = {
    ...defaultDeps(),
    execPath: '/opt/homebrew/bin/node',
    currentUser: { username: 'root', homedir: '/var/root' },
    uid: 0,
    launchDaemonsDir: daemonsDir,
  };
  return { ctx, deps, out, err, daemonsDir };
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

describe('tart-fleet launchd', () => {
  test('prints a plist that runs node + the bin script with the absolute config, as SUDO_USER', () => {
    const { ctx, deps, out, err } = world({ ...APP_ENV, SUDO_USER: 'ci', USER: 'root', TART_FLEET_SSH_PASSWORD_FILE: 'ssh-password', TART_FLEET_HOST_MAX_VMS: '1', UNRELATED: 'x' });
    expect(runLaunchd(ctx, { config: 'pipeline.yml' }, deps)).toBe(0);
    const p = parse(out.text()) as Record<string, unknown>;
    const args = p.ProgramArguments as string[];
    expect(args[0]).toBe('/opt/homebrew/bin/node');
    expect(args[1]).toMatch(/^\/.*\/bin\/tart-fleet\.js$/);
    expect(args.slice(2)).toEqual(['run', '--config', configPath]);
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
    // The password file is 0644: named, with its mode, never its content.
    expect(err.text()).toContain(`warn: TART_FLEET_SSH_PASSWORD_FILE: ${pwPath} can be read by other users (mode 0644); chmod 600 it`);
  });

  test('never copies a secret value; warns naming each variable and its _FILE replacement', () => {
    const env = { ...APP_ENV, USER: 'ci', TART_FLEET_GITHUB_TOKEN: 'ghp_TOPSECRET111', GITHUB_TOKEN: 'ghp_TOPSECRET222', TART_FLEET_SSH_PASSWORD: 'hunter2-secret' };
    const { ctx, deps, out, err } = world(env);
    expect(runLaunchd(ctx, { config: configPath }, deps)).toBe(0);
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
    const e = exitErrorOf(() => runLaunchd(ctx, { config: configPath, install: true }, deps));
    expect(e.code).toBe(2);
    expect(e.lines.join('\n')).toMatch(/TART_FLEET_GITHUB_APP_PRIVATE_KEY holds the key itself/);
    expect(e.lines.join('\n')).toMatch(/no GitHub credentials/);
    expect(e.lines.join('\n')).not.toContain('MIIEsecretbits');
    expect(out.text()).toBe('');
    expect(() => statSync(join(daemonsDir, 'dev.tart-fleet.daemon.plist'))).toThrow();
  });

  test('--install writes the plist with mode 0644 and prints the launchctl commands', () => {
    const { ctx, deps, out, daemonsDir } = world({ ...APP_ENV, SUDO_USER: 'ci', TART_FLEET_SSH_PASSWORD_FILE: pwPath });
    expect(runLaunchd(ctx, { config: configPath, install: true }, deps)).toBe(0);
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
    expect(exitErrorOf(() => runLaunchd(ctx, { config: configPath }, deps)).lines[0]).toMatch(/not root/);
    expect(exitErrorOf(() => runLaunchd(ctx, { config: configPath, user: 'a&b' }, deps)).lines[0]).toMatch(/not a macOS account name/);
  });

  test('a broken config is a ConfigError (exit 2), as for every command', () => {
    const bad = join(dir, 'bad.yml');
    writeFileSync(bad, 'github: {}\nprofiles: {}\n');
    const { ctx, deps } = world({ ...APP_ENV, USER: 'ci' });
    expect(() => runLaunchd(ctx, { config: bad }, deps)).toThrow(ConfigError);
  });

  test('through main(): `tart-fleet launchd --user ci` prints the plist, exit 0', async () => {
    const { ctx, out } = world({ ...APP_ENV, TART_FLEET_SSH_PASSWORD_FILE: pwPath });
    expect(await main(['launchd', '--config', configPath, '--user', 'ci'], ctx)).toBe(0);
    const p = parse(out.text()) as Record<string, unknown>;
    expect((p.ProgramArguments as string[])[0]).toBe(process.execPath);
    expect(p.UserName).toBe('ci');
  });
});

/**
 * `tart-fleet init`: writes a commented `pipeline.yml` for this Mac from what it can detect (RAM,
 * host name, tart on PATH, golden images under TART_HOME) and from flags (`--org`, `--runner-name`,
 * `--image`), then prints the next steps (secret files, image build, validate, selftest, launchd).
 * Non-interactive with flags; on a TTY it asks for what the flags did not give.
 *
 * ## Gotchas
 * - Refuses to overwrite an existing file without `--force`: a pipeline.yml is hand-tuned.
 * - Writes no secrets and asks for none: the next steps say how to put them in 0600 files.
 * - Detection never runs tart: golden images are the VM directories under `$TART_HOME/vms` that are
 *   not tart-fleet clones (`tf-…`), and "tart on PATH" is a PATH lookup. So init works before tart
 *   is installed, and on Linux (where it writes a file `validate --config-only` accepts).
 * - Profiles are the shipped three, minus those larger than this Mac's VM RAM ceiling (a profile
 *   that can never fit is a config error).
 * - A macOS golden image refuses less than 4096 MB (Apple's minimum in its config.json; tart
 *   enforces it, image-checks.ts), so `coder` gets 4096 MB unless the image's config.json says
 *   `os: linux` (then 2048 MB and `os: linux`): the file init writes passes `validate`. An image not
 *   built yet is taken as macOS, like the default `workhorse`.
 */
import { accessSync, constants, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { delimiter, join, resolve } from 'node:path';
import { ExitError, isTTY, println, tartHomeOf, type CliContext } from './context.js';

export interface InitOptions {
  org?: string;
  runnerName?: string;
  image?: string;
  output?: string;
  force?: boolean;
}

export type PromptInput = Readable & { isTTY?: boolean };

/** Kept for macOS itself, as the shipped pipeline.yml does. */
const RESERVED_RAM_GB = 4;
const ORG_PATTERN = /^[A-Za-z0-9][A-Za-z0-9-]*$/;
const RUNNER_NAME_PATTERN = /^[a-z0-9][a-z0-9-]*$/;

const PROFILES = [
  { name: 'developer', ram: 8192, cpu: 6, timeout: 60, why: 'full builds and tests' },
  // 4096 MB: every macOS image's minimum (tart refuses less: VMConfig.swift memorySizeMin, facts
  // sheet §3); 2048 MB fits only a Linux image, which init does not assume (audit turn4-fidelity N1).
  { name: 'coder', ram: 4096, cpu: 2, timeout: 60, why: 'small jobs: lint, scripts (a macOS guest\'s minimum; 2048 fits a Linux image)' },
  { name: 'marketer', ram: 5120, cpu: 4, timeout: 30, why: 'media and site builds' },
];

export interface Detected {
  totalRamMb: number;
  runnerName: string;
  tartPath: string | undefined;
  tartHome: string;
  images: string[];
}

export function detect(ctx: CliContext): Detected {
  const tartHome = tartHomeOf(ctx);
  return {
    totalRamMb: Math.floor(ctx.totalMemBytes / (1024 * 1024)),
    runnerName: runnerNameFrom(ctx.hostname),
    tartPath: findTart(ctx),
    tartHome,
    images: goldenImagesIn(tartHome),
  };
}

/** `Mac-Mini-A.local` → `mac-mini-a`: the short host name in the form runner_name allows. */
export function runnerNameFrom(hostname: string): string {
  const short = hostname.split('.')[0] ?? '';
  const name = short.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40);
  return RUNNER_NAME_PATTERN.test(name) ? name : 'mac-1';
}

function findTart(ctx: CliContext): string | undefined {
  const bin = ctx.env.TART_FLEET_TART_BIN;
  if (bin) return existsSync(bin) ? bin : undefined;
  for (const dir of (ctx.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, 'tart');
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

function goldenImagesIn(tartHome: string): string[] {
  const vms = join(tartHome, 'vms');
  try {
    return readdirSync(vms)
      .filter((n) => !n.startsWith('tf-') && statSync(join(vms, n)).isDirectory())
      .sort();
  } catch {
    return [];
  }
}

export async function initCommand(ctx: CliContext & { stdin?: PromptInput }, opts: InitOptions): Promise<number> {
  const target = resolve(ctx.cwd, opts.output ?? 'pipeline.yml');
  if (existsSync(target) && !opts.force) {
    throw new ExitError(2, [`${target} exists; not overwriting it (pass --force to replace it, or --output PATH to write elsewhere)`]);
  }
  const found = detect(ctx);
  const stdin = ctx.stdin ?? process.stdin;
  const interactive = stdin.isTTY === true && isTTY(ctx.stdout);
  const defaultImage = found.images.includes('workhorse') ? 'workhorse' : (found.images[0] ?? 'workhorse');

  let { org, runnerName, image } = opts;
  if (interactive && (org === undefined || runnerName === undefined || image === undefined)) {
    const rl = createInterface({ input: stdin, terminal: false });
    // The iterator buffers lines typed (or pasted) ahead of the question.
    const lines = rl[Symbol.asyncIterator]();
    const ask = async (q: string): Promise<string> => {
      ctx.stderr.write(q);
      const next = await lines.next();
      if (next.done) throw new ExitError(2, ['init: input ended before every question was answered (or pass --org, --runner-name, --image)']);
      return String(next.value).trim();
    };
    try {
      while (org === undefined || !ORG_PATTERN.test(org)) org = await ask('GitHub organisation whose jobs this Mac runs: ');
      runnerName ??= (await ask(`this Mac's name [${found.runnerName}]: `)) || found.runnerName;
      image ??= (await ask(`golden image to clone per job [${defaultImage}]: `)) || defaultImage;
    } finally {
      rl.close();
    }
  }
  if (org === undefined) {
    throw new ExitError(2, ['--org: required (the GitHub organisation whose jobs this Mac runs); stdin is not a TTY, so init cannot ask']);
  }
  runnerName ??= found.runnerName;
  image ??= defaultImage;
  const problems: string[] = [];
  if (!ORG_PATTERN.test(org)) problems.push(`--org: ${JSON.stringify(org)} is not a GitHub organisation name (letters, digits and dashes)`);
  if (!RUNNER_NAME_PATTERN.test(runnerName) || runnerName.length > 40) {
    problems.push(`--runner-name: ${JSON.stringify(runnerName)} must be lower case letters, digits and dashes, at most 40 characters`);
  }
  if (problems.length > 0) throw new ExitError(2, problems);

  const text = renderPipeline({ org, runnerName, image, found });
  writeFileSync(target, text, { mode: 0o644 });
  for (const line of nextSteps(target, image, found)) println(ctx.stdout, line);
  return 0;
}

/** Whether the image's config.json says it is a Linux guest (tart: no `os` means darwin). */
function isLinuxImage(tartHome: string, image: string): boolean {
  try {
    return (JSON.parse(readFileSync(join(tartHome, 'vms', image, 'config.json'), 'utf8')) as { os?: unknown }).os === 'linux';
  } catch {
    return false;
  }
}

/** The shipped profiles for this image: on macOS as shipped (coder at the guest's minimum); on Linux coder fits in 2048 MB. */
function profilesFor(linux: boolean): Array<(typeof PROFILES)[number] & { os?: string }> {
  if (linux) return PROFILES.map((x) => ({ ...x, os: 'linux', ...(x.name === 'coder' ? { ram: 2048, why: 'small jobs: lint, scripts' } : {}) }));
  return PROFILES;
}

export function renderPipeline(p: { org: string; runnerName: string; image: string; found: Detected }): string {
  const ceiling = p.found.totalRamMb - RESERVED_RAM_GB * 1024;
  const shipped = profilesFor(isLinuxImage(p.found.tartHome, p.image));
  const fitting = shipped.filter((x) => x.ram <= ceiling);
  const profiles = fitting.length > 0 ? fitting : [{ ...shipped[1]!, ram: Math.max(512, ceiling) }];
  const width = Math.max(...profiles.map((x) => x.name.length)) + 1;
  const imageNote = p.found.images.includes(p.image)
    ? `found in ${p.found.tartHome}`
    : `not found in ${p.found.tartHome} yet: build it with images/build-workhorse.sh`;
  return [
    '# tart-fleet configuration for this Mac, written by `tart-fleet init`. Every key but github.org and',
    '# the profiles has a default; see schema/pipeline.schema.json for all of them. Secrets never go',
    '# here: the GitHub token (or App key) and the guest SSH password come from *_FILE variables',
    '# naming 0600 files (README, "Secrets"). Check it with: tart-fleet validate',
    `# Detected: ${p.found.totalRamMb} MB RAM, host name → runner_name ${p.found.runnerName}, tart ${p.found.tartPath ?? 'not on PATH'}, golden images: ${p.found.images.join(', ') || 'none'}.`,
    'github:',
    `  org: ${p.org}${' '.repeat(Math.max(1, 24 - p.org.length))}# the organisation whose queued Actions jobs this Mac runs`,
    `  runner_name: ${p.runnerName}${' '.repeat(Math.max(1, 16 - p.runnerName.length))}# this Mac's name, unique per Mac: prefixes its VMs, labels its runners`,
    '',
    'host:',
    `  reserved_ram_gb: ${RESERVED_RAM_GB}         # kept for macOS itself: VM RAM ceiling = ${p.found.totalRamMb} MB - ${RESERVED_RAM_GB} GB = ${ceiling} MB`,
    '',
    'vm:',
    `  image: ${p.image}${' '.repeat(Math.max(1, 22 - p.image.length))}# golden image cloned per job (${imageNote})`,
    '',
    '# A job whose runs-on is [self-hosted, <profile>] gets a fresh VM of that profile, destroyed after.',
    '# A macOS guest needs at least its image\'s minimums (every current macOS image: ram_mb >= 4096,',
    '# cpu >= 2; `tart-fleet validate` checks it). A smaller profile needs a Linux image:',
    '# add `os: linux, image: <your Linux golden image>` to it.',
    ...(fitting.length === 0 && ceiling < 4096 ? [`# coder is cut to the ${ceiling} MB ceiling, below a macOS guest's 4096 MB: it boots only a Linux image (add os: linux, image: …).`] : []),
    ...(fitting.length < shipped.length ? [`# Left out, larger than the ${ceiling} MB ceiling: ${shipped.filter((x) => !fitting.includes(x)).map((x) => `${x.name} (${x.ram} MB)`).join(', ')}.`] : []),
    'profiles:',
    ...profiles.map((x) => `  ${`${x.name}:`.padEnd(width + 1)}{ ram_mb: ${x.ram}, cpu: ${x.cpu}, timeout_minutes: ${x.timeout}${x.os ? `, os: ${x.os}` : ''} }   # ${x.why}`),
    '',
  ].join('\n');
}

function nextSteps(target: string, image: string, found: Detected): string[] {
  const steps: string[] = [
    `wrote ${target}`,
    'next steps:',
    '  1. secrets, in files only you can read:',
    '       install -d -m 700 ~/.tart-fleet',
    '       (umask 077; printf %s "<token>" > ~/.tart-fleet/github-token; printf %s "<guest password>" > ~/.tart-fleet/ssh-password)',
    '       export TART_FLEET_GITHUB_TOKEN_FILE=~/.tart-fleet/github-token TART_FLEET_SSH_PASSWORD_FILE=~/.tart-fleet/ssh-password',
  ];
  let n = 2;
  if (!found.tartPath) steps.push(`  ${n++}. install tart: brew install cirruslabs/cli/tart`);
  if (!found.images.includes(image)) steps.push(`  ${n++}. build the golden image ${image}: images/build-workhorse.sh (images/README.md)`);
  steps.push(
    `  ${n++}. check everything: tart-fleet validate --config ${target}`,
    `  ${n++}. boot one VM end to end, without GitHub: tart-fleet selftest --config ${target}`,
    `  ${n++}. run it in this user's login session, at every login: tart-fleet launchd --install --config ${target}`,
    '     (as this user, no sudo: a LaunchAgent; it needs automatic login, FileVault off, sleep off: docs/install-macos.md)',
    // A shell proves nothing about launchd (keychain, Local Network privacy): docs/boot-proof.md.
    `  ${n}. prove it from the daemon's own context: tart-fleet selftest --as-daemon --config ${target}`,
  );
  return steps;
}

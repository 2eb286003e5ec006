// In-memory fakes of the ports (GitHub, Tart, Guest, Clock) over one shared world, for testing the
// reconciler and creator without processes or sockets. Each daemon gets its own `session` of port
// objects over the world; `session.crash()` freezes that session's calls forever (a killed process
// never sees its calls return), so a new daemon can be started on the same world.
import { TartError, type ClaimResult, type Clock, type DeleteRunnerResult, type GitHub, type Guest, type Job, type Runner, type Tart, type TartVm, type TartVmDetails } from '../../src/core/ports.js';

interface WorldVm {
  name: string;
  state: 'running' | 'stopped';
  ramMb: number;
  cpu: number;
  startedAt?: number;
  ip?: string;
}

export class MemoryWorld {
  now = 1_800_000_000_000;
  jobs = new Map<number, Job>();
  runners = new Map<number, Runner & { jit: string }>();
  /** Each Mac has its own tart: VMs per host. */
  hosts = new Map<string, Map<string, WorldVm>>();
  /** Every (job, runner) assignment ever made: the world's own record. */
  assignments: Array<{ jobId: number; runner: string }> = [];
  githubDown = false;
  private nextId = 1;
  private ipSeq = 2;

  vmsOf(host: string): Map<string, WorldVm> {
    let vms = this.hosts.get(host);
    if (!vms) {
      vms = new Map([['workhorse', { name: 'workhorse', state: 'stopped', ramMb: 4096, cpu: 4 }]]);
      this.hosts.set(host, vms);
    }
    return vms;
  }

  private allVms(): WorldVm[] {
    return [...this.hosts.values()].flatMap((m) => [...m.values()]);
  }

  /** Jobs GitHub will never hand to our runners (e.g. a public repository and a group that refuses them). */
  unroutable = new Set<number>();

  queue(profile: string, ageS = 60): Job {
    const id = 5000 + this.nextId++;
    const job: Job = { id, runId: id, repo: 'acme/app', name: `job-${id}`, status: 'queued', labels: ['self-hosted', profile], createdAt: this.now - ageS * 1000, runnerName: null };
    this.jobs.set(id, job);
    this.assignIdleRunners();
    return job;
  }

  assignIdleRunners(): void {
    for (const r of this.runners.values()) if (r.status === 'online' && !r.busy) this.connect(r);
  }

  /** A runner connected: GitHub hands it the oldest queued job whose labels it has. */
  connect(runner: Runner): void {
    runner.status = 'online';
    runner.everConnected = true;
    const labels = new Set(runner.labels.map((l) => l.toLowerCase()));
    const job = [...this.jobs.values()]
      .filter((j) => j.status === 'queued' && !this.unroutable.has(j.id) && j.labels.every((l) => labels.has(l.toLowerCase())))
      .sort((a, b) => a.createdAt - b.createdAt)[0];
    if (!job) return;
    job.status = 'in_progress';
    job.runnerName = runner.name;
    runner.busy = true;
    this.assignments.push({ jobId: job.id, runner: runner.name });
  }

  /** Every running job completes: its JIT runner is removed and its guest powers off. */
  finishRunningJobs(): void {
    for (const job of this.jobs.values()) {
      if (job.status !== 'in_progress') continue;
      job.status = 'completed';
      const runner = [...this.runners.values()].find((r) => r.name === job.runnerName);
      if (!runner) continue;
      this.runners.delete(runner.id);
      for (const vm of this.allVms()) if (vm.ip && this.guestRunner.get(vm.name) === runner.name) vm.state = 'stopped';
    }
    this.assignIdleRunners();
  }

  /** Which runner each VM's guest was given. */
  guestRunner = new Map<string, string>();

  ourVms(host: string): WorldVm[] {
    return [...this.vmsOf(host).values()].filter((v) => v.name.startsWith(`tf-${host}-`));
  }

  session(host: string): Session {
    return new Session(this, host);
  }

  vmByIp(ip: string): WorldVm | undefined {
    return this.allVms().find((v) => v.ip === ip && v.state === 'running');
  }

  newRunnerId(): number {
    return this.nextId++;
  }

  nextIp(): string {
    return `192.168.64.${this.ipSeq++}`;
  }
}

export class Session {
  private frozen = false;
  calls: string[] = [];
  /** Freeze right after the first call of this name completes (a crash between two steps). */
  crashAfter: string | undefined;
  /** Runs just before each call (the world changing between observation and action). */
  beforeCall: ((name: string) => void) | undefined;

  constructor(private readonly world: MemoryWorld, readonly host: string) {}

  crash(): void {
    this.frozen = true;
  }

  private async call<T>(name: string, fn: () => T): Promise<T> {
    if (this.frozen) return new Promise<T>(() => undefined);
    this.beforeCall?.(name);
    const result = fn();
    this.calls.push(name);
    if (this.crashAfter === name) this.frozen = true;
    return result;
  }

  clock(): Clock {
    return { now: () => this.world.now, sleep: async () => undefined };
  }

  github(): GitHub {
    const w = this.world;
    const down = () => {
      if (w.githubDown) throw new Error('HTTP 502 Bad Gateway');
    };
    const runnerView = (r: Runner): Runner => ({ id: r.id, name: r.name, labels: [...r.labels], status: r.status, busy: r.busy, everConnected: r.everConnected });
    return {
      listJobs: () => this.call('listJobs', () => {
        down();
        const jobs = [...w.jobs.values()].filter((j) => j.status === 'queued' || j.status === 'in_progress').map((j) => ({ ...j }));
        return { jobs, stats: { requests: 1, notModified: 0, rateLimitRemaining: 5000, rateLimitReset: null, coldestRepoAgeSeconds: 0, repositories: 1, unsweptRepositories: 0, sweptRepositories: 1 } };
      }),
      listRunners: () => this.call('listRunners', () => {
        down();
        return [...w.runners.values()].filter((r) => r.name.startsWith('tf-')).map(runnerView);
      }),
      getJob: (_repo, id) => this.call('getJob', () => {
        down();
        const j = w.jobs.get(id);
        if (!j) throw new Error('HTTP 404');
        return { ...j };
      }),
      createJitRunner: (req) => this.call('createJitRunner', (): ClaimResult => {
        down();
        const existing = [...w.runners.values()].find((r) => r.name === req.name);
        if (existing) return { kind: 'conflict', holder: runnerView(existing) };
        const id = w.newRunnerId();
        const runner = { id, name: req.name, labels: [...req.labels], status: 'offline' as const, busy: false, everConnected: false, jit: `JIT-SECRET-${id}` };
        w.runners.set(id, runner);
        return { kind: 'created', jit: { runner: runnerView(runner), encodedJitConfig: runner.jit } };
      }),
      deleteRunner: (id) => this.call('deleteRunner', (): DeleteRunnerResult => {
        down();
        const r = w.runners.get(id);
        if (!r) return 'not-found';
        if (r.busy) return 'busy';
        w.runners.delete(id);
        return 'deleted';
      }),
    };
  }

  tart(): Tart {
    const w = this.world;
    const vms = w.vmsOf(this.host);
    const need = (name: string, cmd: string) => {
      const vm = vms.get(name);
      if (!vm) throw new TartError('vm-missing', [cmd, name], 2, `the specified VM "${name}" does not exist`);
      return vm;
    };
    return {
      list: () => this.call('list', (): TartVm[] => [...vms.values()].map((v) => ({ name: v.name, state: v.state }))),
      get: (name) => this.call('get', (): TartVmDetails => {
        const v = need(name, 'get');
        return { name, state: v.state, os: 'darwin', cpu: v.cpu, ramMb: v.ramMb };
      }),
      clone: (src, name) => this.call('clone', () => {
        const s = need(src, 'clone');
        vms.set(name, { ...s, name, state: 'stopped', ip: undefined, startedAt: undefined });
      }),
      set: (name, o) => this.call('set', () => {
        const v = need(name, 'set');
        v.cpu = o.cpu;
        v.ramMb = o.ramMb;
      }),
      run: (name) => this.call('run', () => {
        const v = need(name, 'run');
        if (v.state === 'running') throw new TartError('already-running', ['run', name], 2, `VM "${name}" is already running!`);
        const running = [...vms.values()].filter((x) => x.state === 'running');
        if (running.length >= 2) throw new TartError('vz-limit', ['run', name], 1, 'The number of VMs exceeds the system limit');
        v.state = 'running';
        v.startedAt = w.now;
        v.ip = w.nextIp();
      }),
      startedAt: (name) => this.call('startedAt', () => vms.get(name)?.startedAt),
      ip: (name) => this.call('ip', () => {
        const v = need(name, 'ip');
        if (v.state !== 'running' || !v.ip) throw new TartError('no-ip', ['ip', name], 1, 'no IP address found, is your VM running?');
        return v.ip;
      }),
      stop: (name) => this.call('stop', () => {
        const v = need(name, 'stop');
        if (v.state !== 'running') throw new TartError('not-running', ['stop', name], 2, `VM "${name}" is not running`);
        v.state = 'stopped';
      }),
      delete: (name) => this.call('delete', () => {
        const v = need(name, 'delete');
        if (v.state === 'running') throw new TartError('is-running', ['delete', name], 1, `VM "${name}" is running`);
        vms.delete(name);
      }),
      version: () => this.call('version', () => '2.32.1'),
    };
  }

  guest(): Guest {
    const w = this.world;
    return {
      launchRunner: (target, jit) => this.call('launchRunner', () => {
        const vm = w.vmByIp(target.ip);
        const runner = [...w.runners.values()].find((r) => r.jit === jit);
        if (!vm || !runner) throw new Error('guest unreachable');
        w.guestRunner.set(vm.name, runner.name);
        w.connect(runner);
        return { exited: Promise.resolve() };
      }),
    };
  }
}

/**
 * ConfigError: every problem found in pipeline.yml or the TART_FLEET_* environment, one line each,
 * each naming its field (`profiles.coder.ram_mb: must be >= 512`) or its variable
 * (`TART_FLEET_HOST_MAX_VMS: must be an integer`). The CLI prints them and exits 2.
 */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

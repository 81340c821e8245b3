import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { loadConfig } from '../src/config.js';
import { PACKAGE_ROOT } from '../src/paths.js';
import { INFRA, parseYaml } from './support/infra-files.js';

/** Ports the stack's services use by default on a developer's machine: the compose stack must avoid them. */
const DEFAULT_PORTS = [3000, 5000, 5432, 6379];

describe('container and cluster files', () => {
  describe('docker-compose.yml', () => {
    interface ComposeService {
      image?: string;
      build?: unknown;
      command?: string[];
      ports?: string[];
      environment?: Record<string, string>;
      healthcheck?: { test?: string[]; disable?: boolean };
      depends_on?: Record<string, { condition: string }>;
    }
    let services: Record<string, ComposeService>;

    before(async () => {
      const [compose] = (await parseYaml(path.join(INFRA, 'docker-compose.yml'))) as [
        { services: Record<string, ComposeService> },
      ];
      services = compose.services;
    });

    it('has the stores, an S3/KMS emulator, its init, the migration, the API, a worker and monitoring', () => {
      expect(Object.keys(services).sort()).to.deep.equal(
        ['api', 'aws', 'aws-init', 'grafana', 'migrate', 'postgres', 'prometheus', 'redis', 'worker'].sort(),
      );
      expect(services.aws?.image).to.match(/^motoserver\/moto:5\./);
      expect(services.redis?.command?.join(' ')).to.match(/--maxmemory-policy noeviction/);
      expect(services.api?.command).to.deep.equal(['serve']);
      expect(services.worker?.command?.[0]).to.equal('worker');
      expect(services.migrate?.command).to.deep.equal(['control', 'migrate']);
    });

    it('health-checks every long-running service and waits on the right conditions', () => {
      const oneShot = new Set(['aws-init', 'migrate']);
      for (const [name, service] of Object.entries(services)) {
        if (oneShot.has(name)) continue;
        expect(service.healthcheck?.test, name).to.be.an('array').that.is.not.empty;
      }
      for (const [name, service] of Object.entries(services)) {
        for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
          expect(services, `${name} depends on ${dependency}`).to.have.property(dependency);
          expect(condition, `${name} → ${dependency}`).to.equal(
            oneShot.has(dependency) ? 'service_completed_successfully' : 'service_healthy',
          );
        }
      }
      for (const name of ['api', 'worker']) {
        expect(Object.keys(services[name]?.depends_on ?? {}), name).to.include.members([
          'migrate',
          'aws-init',
        ]);
      }
    });

    it('publishes no host port that clashes with a default one', () => {
      const published = Object.values(services).flatMap((service) => service.ports ?? []);
      expect(published).to.have.length.at.least(4);
      for (const mapping of published) {
        const [host, container] = mapping.split(':').slice(-2).map(Number);
        expect(DEFAULT_PORTS, mapping).to.not.include(host);
        expect(host, mapping).to.not.equal(container);
      }
    });

    it('gives the API and worker a working configuration that points at services of the stack', () => {
      for (const name of ['api', 'worker', 'migrate']) {
        const env = services[name]?.environment ?? {};
        const config = loadConfig(env);
        expect(config.controlDatabaseUrl, name).to.be.a('string');
        expect(config.redisUrl, name).to.be.a('string');
        expect(config.backupUrl, name).to.match(/^s3:\/\//);
        expect(config.kmsKeyId, name).to.be.a('string');
        expect(Buffer.from(config.catalogSecretKey ?? '', 'base64'), name).to.have.length(32);
        for (const url of [env.CONTROL_DATABASE_URL, env.REDIS_URL, env.AWS_ENDPOINT_URL]) {
          expect(services, `${name}: ${url}`).to.have.property(new URL(url!).hostname);
        }
      }
    });
  });

  describe('Dockerfile', () => {
    interface Stage {
      from: string;
      name: string | undefined;
      instructions: Array<{ op: string; args: string }>;
    }
    let stages: Stage[];
    let ciRun: string;

    before(async () => {
      const text = (await readFile(path.join(PACKAGE_ROOT, 'Dockerfile'), 'utf8')).replace(/\\\n\s*/g, ' ');
      stages = [];
      for (const line of text.split('\n')) {
        const match = /^([A-Z]+)\s+(.*)$/.exec(line.trim());
        if (!match || line.trim().startsWith('#')) continue;
        const [, op, args] = match as unknown as [string, string, string];
        if (op === 'FROM') {
          const [image, as, name] = args.split(/\s+/);
          stages.push({
            from: image!,
            name: as?.toUpperCase() === 'AS' ? name : undefined,
            instructions: [],
          });
        } else {
          stages.at(-1)?.instructions.push({ op, args });
        }
      }
      ciRun = await readFile(path.join(PACKAGE_ROOT, '.ci/run'), 'utf8');
    });

    const runs = (stage: Stage) => stage.instructions.filter((i) => i.op === 'RUN').map((i) => i.args);
    const last = (stage: Stage, op: string) => stage.instructions.filter((i) => i.op === op).at(-1)?.args;

    it('builds in one stage with the same commands as .ci/run', () => {
      expect(stages.map((stage) => stage.name)).to.deep.equal(['build', 'runtime']);
      for (const stage of stages) expect(stage.from).to.match(/^node:(22|24)-bookworm-slim$/);
      const build = runs(stages[0]!).join('\n');
      for (const command of ['npm ci', 'npm run build']) {
        expect(build, command).to.include(command);
        expect(ciRun, `.ci/run runs ${command}`).to.match(new RegExp(`^${command}\\b`, 'm'));
      }
    });

    it('runs with production dependencies only, as a non-root user, with a health check', () => {
      const runtime = stages[1]!;
      const install = runs(runtime).find((command) => command.startsWith('npm ci'));
      expect(install).to.match(/--omit=dev/);
      // .ci/run proves the runtime tree starts with exactly this install.
      const installFlags = install!.split('&&')[0]!.trim();
      expect(ciRun).to.include(installFlags);
      const copies = runtime.instructions.filter((i) => i.op === 'COPY').map((i) => i.args);
      expect(copies).to.include('--from=build /app/dist ./dist');
      expect(copies.join('\n')).to.include('control-migrations').and.include('tenant-migrations');
      expect(last(runtime, 'ENV')).to.match(/NODE_ENV=production/);
      expect(last(runtime, 'USER'))
        .to.be.a('string')
        .and.not.match(/^(root|0)(:|$)/);
      expect(last(runtime, 'HEALTHCHECK')).to.match(/\/health/);
      expect(last(runtime, 'EXPOSE')).to.equal('3000');
      expect(JSON.parse(last(runtime, 'ENTRYPOINT')!)).to.deep.equal(['node', 'dist/src/cli/main.js']);
      expect(JSON.parse(last(runtime, 'CMD')!)).to.deep.equal(['serve']);
    });
  });
});

import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { loadConfig } from '../src/config.js';
import { INFRA, parseYaml, yamlFiles } from './support/infra-files.js';

const K8S = path.join(INFRA, 'k8s');

// Loosely typed views of the manifests: only what the checks read.
type Labels = Record<string, string>;
interface Probe {
  httpGet?: { path: string; port: string | number };
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  ports?: Array<{ name?: string; containerPort: number }>;
  envFrom?: Array<{ configMapRef?: { name: string }; secretRef?: { name: string } }>;
  env?: Array<{ name: string; value?: string }>;
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: { readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean };
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}
interface PodSpec {
  terminationGracePeriodSeconds?: number;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  initContainers?: Container[];
  containers: Container[];
  volumes?: Array<{ name: string; emptyDir?: object }>;
}
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}
interface DeploymentObject extends K8sObject {
  spec: { selector: { matchLabels: Labels }; template: { metadata: { labels: Labels }; spec: PodSpec } };
}

/** The kubernetes-models class for an apiVersion and kind, whose `validate()` checks the Kubernetes schema. */
async function modelFor(
  apiVersion: string,
  kind: string,
): Promise<new (data: unknown) => { validate(): void }> {
  const module = (await import(`kubernetes-models/${apiVersion}`)) as Record<string, unknown>;
  const model = module[kind];
  if (typeof model !== 'function') throw new Error(`kubernetes-models has no ${apiVersion} ${kind}`);
  return model as new (
    data: unknown,
  ) => { validate(): void };
}

function includesLabels(labels: Labels, selector: Labels): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

function portNumber(container: Container, port: string | number): number | undefined {
  if (typeof port === 'number') return port;
  return container.ports?.find((candidate) => candidate.name === port)?.containerPort;
}

describe('container and cluster files', () => {
  let manifests: Map<string, K8sObject[]>;
  let objects: K8sObject[];
  let deployments: DeploymentObject[];

  const named = (kind: string, name: string) =>
    objects.find((object) => object.kind === kind && object.metadata.name === name);

  before(async () => {
    manifests = new Map();
    for (const file of await yamlFiles(K8S)) {
      manifests.set(path.basename(file), (await parseYaml(file)) as K8sObject[]);
    }
    objects = [...manifests.entries()]
      .filter(([file]) => file !== 'kustomization.yaml')
      .flatMap(([, documents]) => documents);
    deployments = objects.filter((object) => object.kind === 'Deployment') as DeploymentObject[];
  });

  describe('Kubernetes manifests', () => {
    it('parse, and every object is valid against the Kubernetes schema', async () => {
      const files = await yamlFiles(INFRA);
      expect(files.length).to.be.at.least(10);
      for (const file of files) await parseYaml(file);
      const kinds = new Set(objects.map((object) => `${object.apiVersion} ${object.kind}`));
      for (const needed of [
        'apps/v1 Deployment',
        'v1 Service',
        'autoscaling/v2 HorizontalPodAutoscaler',
        'policy/v1 PodDisruptionBudget',
        'v1 ConfigMap',
        'v1 Secret',
        'v1 ServiceAccount',
      ]) {
        expect(kinds, needed).to.include(needed);
      }
      for (const object of objects) {
        const Model = await modelFor(object.apiVersion, object.kind);
        expect(() => new Model(object).validate(), `${object.kind} ${object.metadata.name}`).to.not.throw();
      }
    });

    it('would catch a manifest that breaks the schema', async () => {
      const Deployment = await modelFor('apps/v1', 'Deployment');
      const broken = structuredClone(deployments[0]!) as unknown as { spec: Record<string, unknown> };
      broken.spec.replicas = 'two';
      expect(() => new Deployment(broken).validate()).to.throw(/replicas/);
    });

    it('kustomization lists exactly the manifest files', async () => {
      const [kustomization] = manifests.get('kustomization.yaml') as unknown as [{ resources: string[] }];
      const files = [...manifests.keys()].filter((file) => file !== 'kustomization.yaml');
      expect([...kustomization.resources].sort()).to.deep.equal(files.sort());
    });

    it('has an API and a worker Deployment, each probed, bounded and locked down', () => {
      expect(deployments.map((deployment) => deployment.metadata.name).sort()).to.deep.equal([
        'tenantplane-api',
        'tenantplane-worker',
      ]);
      const configMap = named('ConfigMap', 'tenantplane-config');
      for (const deployment of deployments) {
        const where = deployment.metadata.name;
        const pod = deployment.spec.template.spec;
        expect(
          includesLabels(deployment.spec.template.metadata.labels, deployment.spec.selector.matchLabels),
          `${where}: selector matches its pods`,
        ).to.equal(true);
        expect(pod.securityContext?.runAsNonRoot, where).to.equal(true);
        expect(pod.securityContext?.runAsUser, where).to.be.above(0);
        const tmpVolume = pod.volumes?.find((volume) => volume.emptyDir !== undefined);
        expect(tmpVolume, `${where}: an emptyDir volume`).to.not.equal(undefined);
        for (const container of [...(pod.initContainers ?? []), ...pod.containers]) {
          const at = `${where}/${container.name}`;
          expect(container.resources?.requests, at).to.include.keys('cpu', 'memory');
          expect(container.resources?.limits, at).to.include.keys('cpu', 'memory');
          expect(container.securityContext?.readOnlyRootFilesystem, at).to.equal(true);
          expect(container.securityContext?.allowPrivilegeEscalation, at).to.equal(false);
          expect(container.volumeMounts, at).to.deep.include({ name: tmpVolume!.name, mountPath: '/tmp' });
        }
        const [main] = pod.containers;
        expect(pod.containers, where).to.have.length(1);
        const probes = {
          startup: main!.startupProbe,
          liveness: main!.livenessProbe,
          readiness: main!.readinessProbe,
        };
        expect(probes.startup?.httpGet?.path, where).to.equal('/health');
        expect(probes.liveness?.httpGet?.path, where).to.equal('/health');
        expect(probes.readiness?.httpGet?.path, where).to.equal('/ready');
        for (const [kind, probe] of Object.entries(probes)) {
          // The probed port is the one the process listens on: PORT for serve, --health-port for worker.
          const port = portNumber(main!, probe!.httpGet!.port);
          expect(port, `${where} ${kind} probe port`).to.not.equal(undefined);
          const listensOn =
            main!.args?.[0] === 'worker'
              ? Number(main!.args[main!.args.indexOf('--health-port') + 1])
              : Number(configMap?.data?.PORT ?? 3000);
          expect(port, `${where} ${kind} probe port`).to.equal(listensOn);
        }
        // Shutdown must finish before Kubernetes kills the pod: preStop pause plus the grace period.
        const graceMs = Number(
          main!.env?.find((variable) => variable.name === 'SHUTDOWN_GRACE_MS')?.value ??
            configMap?.data?.SHUTDOWN_GRACE_MS,
        );
        const preStop = main!.lifecycle?.preStop?.exec?.command;
        const pauseMs = preStop?.[0] === 'sleep' ? Number(preStop[1]) * 1000 : 0;
        expect(graceMs, `${where}: SHUTDOWN_GRACE_MS`).to.be.above(0);
        expect((pod.terminationGracePeriodSeconds ?? 30) * 1000, where).to.be.above(pauseMs + graceMs);
      }
    });

    it('runs `tenantctl control migrate` before the API, on the same image and configuration', () => {
      const api = named('Deployment', 'tenantplane-api') as DeploymentObject;
      const [migrate] = api.spec.template.spec.initContainers ?? [];
      expect(migrate?.args).to.deep.equal(['control', 'migrate']);
      expect(migrate?.image).to.equal(api.spec.template.spec.containers[0]!.image);
      expect(migrate?.envFrom).to.deep.equal(api.spec.template.spec.containers[0]!.envFrom);
      expect(api.spec.template.spec.containers[0]!.args).to.deep.equal(['serve']);
    });

    it('the Service selects the API pods and targets their HTTP port', () => {
      const service = named('Service', 'tenantplane-api') as K8sObject & {
        spec: { selector: Labels; ports: Array<{ targetPort: string | number }> };
      };
      const api = named('Deployment', 'tenantplane-api') as DeploymentObject;
      const worker = named('Deployment', 'tenantplane-worker') as DeploymentObject;
      expect(includesLabels(api.spec.template.metadata.labels, service.spec.selector)).to.equal(true);
      expect(includesLabels(worker.spec.template.metadata.labels, service.spec.selector)).to.equal(false);
      for (const port of service.spec.ports) {
        expect(portNumber(api.spec.template.spec.containers[0]!, port.targetPort)).to.equal(3000);
      }
    });

    it('takes configuration only from the ConfigMap and Secret that exist', () => {
      for (const deployment of deployments) {
        const pod = deployment.spec.template.spec;
        expect(
          named('ServiceAccount', (pod as { serviceAccountName?: string }).serviceAccountName ?? ''),
        ).to.not.equal(undefined);
        for (const container of [...(pod.initContainers ?? []), ...pod.containers]) {
          const sources = container.envFrom ?? [];
          expect(sources, container.name).to.have.length.above(0);
          for (const source of sources) {
            if (source.configMapRef)
              expect(named('ConfigMap', source.configMapRef.name)).to.not.equal(undefined);
            if (source.secretRef) expect(named('Secret', source.secretRef.name)).to.not.equal(undefined);
          }
        }
      }
    });

    it('the ConfigMap and Secret together are a complete production configuration', () => {
      const env = {
        ...named('ConfigMap', 'tenantplane-config')?.data,
        ...named('Secret', 'tenantplane-secrets')?.stringData,
      };
      expect(env.NODE_ENV).to.equal('production');
      // loadConfig refuses every development fallback in production: this throws if one is left unset.
      const config = loadConfig(env);
      expect(config.production).to.equal(true);
      expect(config.redisUrl).to.be.a('string');
      // The Secret is a template: its placeholders are there to be replaced, and say so.
      for (const [name, value] of Object.entries(named('Secret', 'tenantplane-secrets')?.stringData ?? {})) {
        expect(value, name).to.match(/REPLACE_ME/);
      }
    });

    it('autoscalers and disruption budgets point at Deployments that exist', () => {
      const hpas = objects.filter((object) => object.kind === 'HorizontalPodAutoscaler') as Array<
        K8sObject & { spec: { scaleTargetRef: { kind: string; name: string }; minReplicas: number } }
      >;
      const pdbs = objects.filter((object) => object.kind === 'PodDisruptionBudget') as Array<
        K8sObject & { spec: { selector: { matchLabels: Labels } } }
      >;
      for (const deployment of deployments) {
        const hpa = hpas.find((candidate) => candidate.spec.scaleTargetRef.name === deployment.metadata.name);
        expect(hpa?.spec.scaleTargetRef.kind, deployment.metadata.name).to.equal('Deployment');
        const pdb = pdbs.filter((candidate) =>
          includesLabels(deployment.spec.template.metadata.labels, candidate.spec.selector.matchLabels),
        );
        expect(pdb, deployment.metadata.name).to.have.length(1);
      }
      expect(hpas.length).to.equal(deployments.length);
      expect(pdbs.length).to.equal(deployments.length);
      const apiHpa = hpas.find((hpa) => hpa.spec.scaleTargetRef.name === 'tenantplane-api');
      // A PDB of minAvailable 1 with one replica would block every node drain.
      expect(apiHpa?.spec.minReplicas).to.be.at.least(2);
    });
  });
});

describe('Prometheus alert rules', () => {
  const RULES = path.join(INFRA, 'prometheus', 'alerts.yml');
  /** promtool (Debian's prometheus package; .ci/run installs it) on the rule files. */
  const promtool = (...args: string[]) => {
    const run = spawnSync('promtool', args, { cwd: path.dirname(RULES), encoding: 'utf8', timeout: 20000 });
    if (run.error) throw new Error(`promtool did not run (apt-get install prometheus): ${run.error.message}`);
    return { code: run.status, output: `${run.stdout}${run.stderr}` };
  };

  it('pass promtool check rules, and fire as their unit tests say (promtool test rules)', () => {
    const checked = promtool('check', 'rules', 'alerts.yml');
    expect(checked.code, checked.output).to.equal(0);
    const tested = promtool('test', 'rules', 'alerts.test.yml');
    expect(tested.code, tested.output).to.equal(0);
  });

  it('alert on backups overdue and failed drills, over series tenantplane exports', async () => {
    const [rules] = (await parseYaml(RULES)) as [
      { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> },
    ];
    const alerts = rules.groups.flatMap((group) => group.rules);
    expect(alerts.map((rule) => rule.alert)).to.include.members([
      'TenantplaneBackupOverdue',
      'TenantplaneBackupDrillFailed',
    ]);
    const source = await readFile(path.join(INFRA, '..', 'src', 'metrics', 'backup-series.ts'), 'utf8');
    for (const rule of alerts) {
      for (const name of rule.expr.match(/tenantplane_[a-z_]+/g) ?? []) {
        expect(source, `${rule.alert} reads ${name}`).to.include(`'${name}'`);
      }
    }
  });
});

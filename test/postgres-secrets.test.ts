import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config/load';
import { EXIT } from '../lib/exit-codes';
import { LearnflowStack } from '../lib/learnflow-stack';
import { testCertificateAuthority } from './harness/kafka/certificates';
import { secretsCluster } from './harness/postgres/fake-kubectl';
import { runProcess } from './harness/processes';
import { FakeKubectl } from './support/fake-kubectl';
import { ROOT, tempDir } from './support/synth';

// `npm run secrets` as an operator runs it, with a fake kubectl first on PATH (our own seam:
// harness/postgres/fake-kubectl.ts, served by support/fake-kubectl.ts).
let kubectl: FakeKubectl;
const b64 = (value: string) => Buffer.from(value).toString('base64');
const decode = (data: Record<string, string>) => Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));

interface FakeCluster {
  namespaces: string[];
  secrets: Record<string, { metadata: { name: string; namespace: string }; data: Record<string, string> }>;
  unreachable?: boolean;
  /** kubectl create fails with this message (e.g. RBAC forbids it). */
  refuseCreate?: string;
}

function cluster(state: Partial<FakeCluster> = {}): string {
  const dir = tempDir('kubectl');
  fs.writeFileSync(
    path.join(dir, 'state.json'),
    JSON.stringify({ namespaces: ['kafka', 'postgres', 'learnflow'], secrets: {}, ...state }),
  );
  return dir;
}

/** The CLI without blocking this worker, which serves its kubectl meanwhile. */
async function runSecrets(dir: string, args: string[] = []) {
  const env = kubectl.env(path.join(dir, 'state.json'));
  const result = await runProcess(process.execPath, [path.join(ROOT, 'scripts/run.js'), 'scripts/secrets', ...args], env, 120_000);
  const state = JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')) as FakeCluster;
  const callsFile = path.join(dir, 'state.json.calls');
  const calls = fs.existsSync(callsFile) ? fs.readFileSync(callsFile, 'utf8') : '';
  return { status: result.exitCode, stdout: result.stdout, stderr: result.stderr, state, calls };
}

const secretsOf = (state: FakeCluster) => Object.fromEntries(Object.entries(state.secrets).map(([key, secret]) => [key, decode(secret.data)]));

// Each case runs the CLI (and a few fake kubectl processes per Secret) several times: seconds each on a busy machine.
describe('npm run secrets', { timeout: 240_000 }, () => {
  const contract = new LearnflowStack(loadConfig()).postgres.secrets;

  beforeAll(async () => {
    kubectl = await FakeKubectl.start(secretsCluster());
  });

  afterAll(() => kubectl?.close());

  it('creates every Secret of the contract with random values, printing names but never values', async () => {
    const result = await runSecrets(cluster());
    expect(result.status, result.stderr).toBe(0);
    const created = secretsOf(result.state);
    expect(Object.keys(created).sort()).toEqual(
      [
        'learnflow/learnflow-postgres-app',
        'learnflow/learnflow-postgres-dapr',
        'postgres/learnflow-postgres-app',
        'postgres/learnflow-postgres-dapr',
        'postgres/learnflow-postgres-seed-users',
        'postgres/learnflow-postgres-superuser',
      ],
    );
    for (const secret of contract.all) {
      for (const namespace of secret.namespaces) {
        expect(Object.keys(created[`${namespace}/${secret.name}`]).sort()).toEqual(secret.keys.map((k) => k.key).sort());
        expect(result.stdout).toContain(`created: secret ${secret.name} in ${namespace}`);
      }
    }
    // Both namespaces hold the same credentials, and the connection strings carry them.
    const app = created['learnflow/learnflow-postgres-app'];
    expect(created['postgres/learnflow-postgres-app']).toEqual(app);
    expect(app.connectionString).toBe(
      `postgresql://learnflow:${app.password}@postgres.postgres.svc.cluster.local:5432/learnflow_db?sslmode=disable`,
    );
    const dapr = created['learnflow/learnflow-postgres-dapr'];
    expect(dapr.connectionString).toBe(
      `host=postgres.postgres.svc.cluster.local port=5432 user=learnflow_dapr password=${dapr.password} dbname=learnflow_db sslmode=disable`,
    );
    const generated = Object.values(created).flatMap((data) => Object.entries(data).filter(([key]) => key.endsWith('password')).map(([, v]) => v));
    expect(new Set(generated).size).toBe(3 + 3); // superuser, app, dapr, three test users
    for (const value of generated) {
      expect(value).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(result.stdout + result.stderr).not.toContain(value);
      // Not on a kubectl command line either (visible to every user through ps).
      expect(result.calls).not.toContain(value);
    }
  });

  it('never overwrites an existing Secret, and copies its password into the missing namespace', async () => {
    const existing = { password: 'operator-chosen-password', username: 'learnflow', connectionString: 'hand-made' };
    const result = await runSecrets(
      cluster({
        secrets: {
          'postgres/learnflow-postgres-app': {
            metadata: { name: 'learnflow-postgres-app', namespace: 'postgres' },
            data: Object.fromEntries(Object.entries(existing).map(([k, v]) => [k, b64(v)])),
          },
        },
      }),
    );
    expect(result.status, result.stderr).toBe(0);
    const secrets = secretsOf(result.state);
    expect(secrets['postgres/learnflow-postgres-app']).toEqual(existing);
    expect(secrets['learnflow/learnflow-postgres-app'].password).toBe('operator-chosen-password');
    expect(result.stdout).toContain('exists:  secret learnflow-postgres-app in postgres (left unchanged)');
    expect(result.stdout).toMatch(/created: secret learnflow-postgres-app in learnflow .*password copied from postgres/);
    expect(result.stdout).not.toContain('operator-chosen-password');
  });

  it('changes nothing on a second run', async () => {
    const dir = cluster();
    const first = await runSecrets(dir);
    const second = await runSecrets(dir);
    expect(second.status).toBe(0);
    expect(second.state).toEqual(first.state);
    expect(second.stdout).not.toContain('created:');
    expect(second.calls.slice(first.calls.length)).not.toContain('"create"');
  });

  it('creates no seed-users Secret for the production profile', async () => {
    const result = await runSecrets(cluster(), ['--profile', 'production']);
    expect(result.status, result.stderr).toBe(0);
    expect(Object.keys(result.state.secrets)).not.toContain('postgres/learnflow-postgres-seed-users');
    // Observability is on in production: postgres_exporter's monitoring role has its Secret.
    expect(Object.keys(result.state.secrets)).toContain('postgres/learnflow-postgres-monitoring');
    // Backups are on in production: the backup role's Secret, in the postgres namespace only.
    expect(Object.keys(result.state.secrets)).toContain('postgres/learnflow-postgres-backup');
    expect(Object.keys(result.state.secrets).filter((key) => key.includes('/learnflow-postgres-'))).toHaveLength(7);
  });

  it('with kafka.security (production): a SCRAM credential per app-id in the kafka and apps namespaces, the same password in both; the verifier\'s in kafka', async () => {
    const { appIds } = loadConfig({ profile: 'production' }).dapr;
    const dir = cluster();
    const result = await runSecrets(dir, ['--profile', 'production']);
    expect(result.status, result.stderr).toBe(0);
    const secrets = secretsOf(result.state);
    const kafkaSecrets = Object.keys(secrets).filter((key) => key.includes('/learnflow-kafka-')).sort();
    expect(kafkaSecrets).toEqual(
      [...appIds.flatMap((appId) => [`kafka/learnflow-kafka-${appId}`, `learnflow/learnflow-kafka-${appId}`]), 'kafka/learnflow-kafka-verify'].sort(),
    );
    for (const appId of appIds) {
      const inKafka = secrets[`kafka/learnflow-kafka-${appId}`];
      expect(inKafka).toEqual(secrets[`learnflow/learnflow-kafka-${appId}`]);
      expect(inKafka.username).toBe(`learnflow.app.${appId}`);
      expect(inKafka.password).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(result.stdout).not.toContain(inKafka.password);
    }
    expect(secrets['kafka/learnflow-kafka-verify'].username).toBe('learnflow.verify');
    // The CA copy waits for the nodes' certificate, then is made once and never overwritten.
    expect(result.stdout).toContain('pending: secret learnflow-kafka-ca in learnflow: secret kafka-tls in kafka has no ca.crt yet');
    const ca = '-----BEGIN CERTIFICATE-----\nMIIB-kafka-ca\n-----END CERTIFICATE-----\n';
    const state = JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')) as FakeCluster;
    state.secrets['kafka/kafka-tls'] = { metadata: { name: 'kafka-tls', namespace: 'kafka' }, data: { 'ca.crt': b64(ca), 'tls.crt': b64('cert'), 'tls.key': b64('key') } };
    fs.writeFileSync(path.join(dir, 'state.json'), JSON.stringify(state));
    const copied = await runSecrets(dir, ['--profile', 'production']);
    expect(secretsOf(copied.state)['learnflow/learnflow-kafka-ca']).toEqual({ 'ca.crt': ca });
    expect(copied.stdout).toContain('created: secret learnflow-kafka-ca in learnflow (keys ca.crt, copied from secret kafka-tls in kafka)');
    // Existing credentials are left alone: a second run creates nothing.
    expect(copied.stdout).toContain('exists:  secret learnflow-kafka-frontend in kafka (left unchanged)');
    const again = await runSecrets(dir, ['--profile', 'production']);
    expect(again.calls.slice(copied.calls.length)).not.toContain('"create"');
    expect(secretsOf(again.state)).toEqual(secretsOf(copied.state));
  });

  it("reports, and leaves in place, the Secrets it made that the configuration no longer names (a removed app-id's credential)", async () => {
    const { appIds } = loadConfig({ profile: 'production' }).dapr;
    const [removed, ...kept] = appIds;
    const dir = cluster();
    expect((await runSecrets(dir, ['--profile', 'production'])).stdout).not.toContain('orphan:');
    // The user's own Secret in the same namespace is not ours to judge.
    const state = JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')) as FakeCluster;
    state.secrets['kafka/corp-credentials'] = { metadata: { name: 'corp-credentials', namespace: 'kafka' }, data: { password: b64('x') } };
    fs.writeFileSync(path.join(dir, 'state.json'), JSON.stringify(state));
    const override = path.join(dir, 'fewer-apps.yaml');
    fs.writeFileSync(override, `dapr:\n  appIds: [${kept.join(', ')}]\n`);
    const fewer = await runSecrets(dir, ['--profile', 'production', '--config', override]);
    expect(fewer.status, fewer.stderr).toBe(0);
    const orphans = fewer.stdout.split('\n').filter((line) => line.startsWith('orphan:'));
    expect(orphans.map((line) => /secret (\S+) in (\S+)/.exec(line)!.slice(1).join(' ')).sort()).toEqual([`learnflow-kafka-${removed} kafka`, `learnflow-kafka-${removed} learnflow`]);
    expect(orphans.join('\n')).toContain(`\`kubectl -n kafka delete secret learnflow-kafka-${removed}\``);
    expect(Object.keys(fewer.state.secrets)).toEqual(expect.arrayContaining([`kafka/learnflow-kafka-${removed}`, `learnflow/learnflow-kafka-${removed}`]));
    // A cluster that does not let us list Secrets: a notice, and the run still succeeds.
    const refused = JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8'));
    refused.refuseList = 'Error from server (Forbidden): secrets is forbidden: User "dev" cannot list resource "secrets"';
    fs.writeFileSync(path.join(dir, 'state.json'), JSON.stringify(refused));
    const unlisted = await runSecrets(dir, ['--profile', 'production', '--config', override]);
    expect(unlisted.status, unlisted.stderr).toBe(0);
    expect(unlisted.stdout).toMatch(/^notice: {2}could not list the Secrets of kafka made by npm run secrets, .*cannot list resource "secrets"/m);
  });

  it('creates no Kafka credentials where Kafka does not authenticate (minikube)', async () => {
    const result = await runSecrets(cluster());
    expect(Object.keys(result.state.secrets).filter((key) => key.includes('/learnflow-kafka-'))).toEqual([]);
  });

  it("copies the CA of PostgreSQL's issued certificate into the apps namespace once it exists, and replaces the copy only when the CA changed", async () => {
    const dir = cluster();
    const pending = await runSecrets(dir, ['--profile', 'production']);
    expect(pending.status, pending.stderr).toBe(0);
    expect(pending.stdout).toContain('pending: secret learnflow-postgres-ca in learnflow: secret postgres-tls in postgres has no ca.crt yet');
    expect(Object.keys(pending.state.secrets)).not.toContain('learnflow/learnflow-postgres-ca');
    // cert-manager issues the certificate: its Secret appears with the CA.
    const ca = '-----BEGIN CERTIFICATE-----\nMIIB-test-ca\n-----END CERTIFICATE-----\n';
    const state = JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')) as FakeCluster;
    state.secrets['postgres/postgres-tls'] = { metadata: { name: 'postgres-tls', namespace: 'postgres' }, data: { 'ca.crt': b64(ca), 'tls.crt': b64('cert'), 'tls.key': b64('key') } };
    fs.writeFileSync(path.join(dir, 'state.json'), JSON.stringify(state));
    const copied = await runSecrets(dir, ['--profile', 'production']);
    expect(copied.status, copied.stderr).toBe(0);
    expect(secretsOf(copied.state)['learnflow/learnflow-postgres-ca']).toEqual({ 'ca.crt': ca });
    expect(copied.stdout).toContain('created: secret learnflow-postgres-ca in learnflow (keys ca.crt, copied from secret postgres-tls in postgres)');
    // The key never reaches the apps namespace, and nothing is printed of the certificate.
    expect(copied.stdout).not.toContain('MIIB-test-ca');
    const again = await runSecrets(dir, ['--profile', 'production']);
    expect(again.stdout).toContain('exists:  secret learnflow-postgres-ca in learnflow (left unchanged)');
    expect(again.calls.slice(copied.calls.length)).not.toContain('"create"');
    expect(again.calls.slice(copied.calls.length)).not.toContain('"replace"');
    // The CA is replaced: the copy no longer holds the CA of the certificate the server presents.
    const newCa = '-----BEGIN CERTIFICATE-----\nMIIB-new-ca\n-----END CERTIFICATE-----\n';
    const renewed = JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')) as FakeCluster;
    renewed.secrets['postgres/postgres-tls'].data['ca.crt'] = b64(newCa);
    fs.writeFileSync(path.join(dir, 'state.json'), JSON.stringify(renewed));
    const dryRun = await runSecrets(dir, ['--profile', 'production', '--dry-run']);
    expect(dryRun.stdout).toContain('stale:   secret learnflow-postgres-ca in learnflow (it lacked the CA of secret postgres-tls in postgres, which changed');
    expect(secretsOf(dryRun.state)['learnflow/learnflow-postgres-ca']).toEqual({ 'ca.crt': ca });
    const updated = await runSecrets(dir, ['--profile', 'production']);
    expect(updated.status, updated.stderr).toBe(0);
    expect(updated.stdout).toContain('updated: secret learnflow-postgres-ca in learnflow (it lacked the CA of secret postgres-tls in postgres');
    expect(secretsOf(updated.state)['learnflow/learnflow-postgres-ca']).toEqual({ 'ca.crt': newCa });
    expect(updated.stdout).not.toContain('MIIB-new-ca');
    // A copy that holds the current CA among others (a bundle made by hand) is left alone.
    renewed.secrets['learnflow/learnflow-postgres-ca'].data['ca.crt'] = b64(`${ca}${newCa}`);
    fs.writeFileSync(path.join(dir, 'state.json'), JSON.stringify(renewed));
    expect((await runSecrets(dir, ['--profile', 'production'])).stdout).toContain('exists:  secret learnflow-postgres-ca in learnflow (left unchanged)');
    // Real certificates are compared as certificates: a bundle with CRLF line ends and the CA second still holds it.
    const authority = testCertificateAuthority(tempDir('secrets-ca'), 'corp-ca').certificate;
    const older = testCertificateAuthority(tempDir('secrets-ca-old'), 'old-ca').certificate;
    renewed.secrets['postgres/postgres-tls'].data['ca.crt'] = b64(authority);
    renewed.secrets['learnflow/learnflow-postgres-ca'].data['ca.crt'] = b64(`${older}${authority}`.replace(/\n/g, '\r\n'));
    fs.writeFileSync(path.join(dir, 'state.json'), JSON.stringify(renewed));
    expect((await runSecrets(dir, ['--profile', 'production'])).stdout).toContain('exists:  secret learnflow-postgres-ca in learnflow (left unchanged)');
    renewed.secrets['learnflow/learnflow-postgres-ca'].data['ca.crt'] = b64(older);
    fs.writeFileSync(path.join(dir, 'state.json'), JSON.stringify(renewed));
    const replaced = await runSecrets(dir, ['--profile', 'production']);
    expect(replaced.stdout).toContain('updated: secret learnflow-postgres-ca in learnflow');
    expect(secretsOf(replaced.state)['learnflow/learnflow-postgres-ca']).toEqual({ 'ca.crt': authority });
  });

  it('only reports with --dry-run', async () => {
    const result = await runSecrets(cluster(), ['--dry-run']);
    expect(result.status).toBe(0);
    expect(result.state.secrets).toEqual({});
    expect(result.stdout).toContain('missing: secret learnflow-postgres-superuser in postgres');
  });

  it('passes --context to kubectl', async () => {
    const result = await runSecrets(cluster(), ['--context', 'minikube']);
    expect(result.status).toBe(0);
    expect(result.calls.trim().split('\n').every((line) => line.startsWith('["--context","minikube",'))).toBe(true);
  });

  it('stops with the command that fixes a missing namespace', async () => {
    const result = await runSecrets(cluster({ namespaces: ['kafka'] }));
    expect(result.status).toBe(EXIT.couldNotCheck);
    expect(result.stderr).toContain('namespace postgres does not exist: run `kubectl apply -f dist/00-namespaces.yaml` first');
    expect(result.state.secrets).toEqual({});
  });

  it('exits 2 (could not check) with kubectl’s message when the cluster is unreachable', async () => {
    const result = await runSecrets(cluster({ unreachable: true }));
    expect(result.status).toBe(EXIT.couldNotCheck);
    expect(result.stderr).toContain('connection to the server localhost:8080 was refused');
  });

  it('exits 5 (apply failed) when creating a Secret is refused, naming why', async () => {
    const result = await runSecrets(cluster({ refuseCreate: 'Error from server (Forbidden): secrets is forbidden: User "dev" cannot create resource "secrets"' }));
    expect(result.status).toBe(EXIT.apply);
    expect(result.stderr).toContain('cannot create resource "secrets"');
    expect(result.state.secrets).toEqual({});
  });

  it('exits 3 (invalid input) on invalid configuration without calling kubectl', async () => {
    const result = await runSecrets(cluster(), ['--profile', 'staging']);
    expect(result.status).toBe(EXIT.usage);
    expect(result.stderr).toContain('profile: must be one of minikube, production');
    expect(result.calls).toBe('');
  });
});

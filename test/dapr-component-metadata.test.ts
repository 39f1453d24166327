import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Testing } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { Component } from '../imports/dapr-component-dapr.io';
import {
  defaultComponentMetadataDir,
  loadComponentMetadata,
  type MetadataFinding,
  type MetadataRuleId,
  validateComponent,
} from '../lib/dapr/component-metadata';
import { projectRoot } from '../lib/platform/project-files';

type Entry = Record<string, unknown>;

function component(type: string, version: string, metadata: Entry[]) {
  return {
    apiVersion: 'dapr.io/v1alpha1',
    kind: 'Component',
    metadata: { name: 'under-test', namespace: 'learnflow' },
    auth: { secretStore: 'secretstore' },
    spec: { type, version, metadata },
  };
}

const secretRef = (key: string) => ({ secretKeyRef: { name: 'learnflow-postgres-app', key } });

const kafkaMetadata: Entry[] = [
  { name: 'brokers', value: 'kafka-bootstrap.kafka.svc.cluster.local:9092' },
  { name: 'authType', value: 'none' },
  { name: 'consumerGroup', value: '{appID}' },
  { name: 'clientID', value: '{appID}' },
  { name: 'initialOffset', value: 'oldest' },
  { name: 'version', value: '3.9.0' },
];
const kafka = (metadata: Entry[] = kafkaMetadata) => component('pubsub.kafka', 'v1', metadata);

const postgresMetadata: Entry[] = [
  { name: 'connectionString', ...secretRef('connectionString') },
  { name: 'tablePrefix', value: 'dapr_' },
  { name: 'cleanupInterval', value: '1h' },
  { name: 'timeout', value: '20s' },
];
const postgres = (metadata: Entry[] = postgresMetadata) => component('state.postgresql', 'v2', metadata);

const without = (entries: Entry[], name: string) => entries.filter((entry) => entry.name !== name);
const withValue = (entries: Entry[], name: string, value: string) =>
  entries.map((entry) => (entry.name === name ? { name, value } : entry));

const rules = (findings: MetadataFinding[]) => findings.map((finding) => finding.rule);

function only(findings: MetadataFinding[], rule: MetadataRuleId): MetadataFinding {
  expect(rules(findings)).toEqual([rule]);
  return findings[0];
}

describe('loading Dapr component metadata', () => {
  it('reads the vendored reference files located from the repository root', () => {
    const dir = defaultComponentMetadataDir();
    expect(dir).toBe(path.join(projectRoot(), 'reference', 'dapr-component-metadata'));
    const catalog = loadComponentMetadata(dir);
    expect(catalog.specs.map((spec) => `${spec.type}@${spec.version}`).sort()).toEqual([
      'pubsub.kafka@v1',
      'secretstores.kubernetes@v1',
      'state.postgresql@v1',
      'state.postgresql@v2',
    ]);
    expect(catalog.versionsOf('state.postgresql')).toEqual(['v1', 'v2']);
  });

  it('expands referenced built-in authentication profiles, reference fields first', () => {
    const kafkaSpec = loadComponentMetadata().find('pubsub.kafka', 'v1');
    const assumeRole = kafkaSpec?.authenticationProfiles.find((profile) => profile.title === 'AWS: Assume IAM Role');
    expect(assumeRole?.fields[0]).toEqual({ name: 'authType', required: true, sensitive: false, allowedValues: ['awsiam'] });
    expect(assumeRole?.fields.map((field) => field.name)).toContain('assumeRoleArn');
    // 5 own profiles plus the 4 AWS built-ins.
    expect(kafkaSpec?.authenticationProfiles).toHaveLength(9);
  });

  it('refuses a metadata file that does not match the component metadata schema', () => {
    const source = defaultComponentMetadataDir();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dapr-metadata-'));
    try {
      for (const file of ['component-metadata-schema.json', 'builtin-authentication-profiles.yaml']) {
        fs.copyFileSync(path.join(source, file), path.join(dir, file));
      }
      const misspeltKey = 'schemaVersion: v1\ntype: pubsub\nname: broken\nversion: v1\nmetadata:\n  - sensitiv: true\n';
      fs.writeFileSync(path.join(dir, 'pubsub.broken.yaml'), misspeltKey);
      expect(() => loadComponentMetadata(dir)).toThrow(/pubsub\.broken\.yaml does not match/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('valid components', () => {
  it('accepts pubsub.kafka with authType none', () => {
    expect(validateComponent(kafka())).toEqual([]);
  });

  it('accepts pubsub.kafka with SASL over TLS verified against a CA (caCert is read for every authType)', () => {
    const sasl = [
      ...withValue(kafkaMetadata, 'authType', 'password'),
      { name: 'saslUsername', value: 'learnflow.app.frontend' },
      { name: 'saslPassword', secretKeyRef: { name: 'learnflow-kafka-frontend', key: 'password' } },
      { name: 'saslMechanism', value: 'SHA-512' },
      { name: 'disableTls', value: 'false' },
      { name: 'caCert', secretKeyRef: { name: 'learnflow-kafka-ca', key: 'ca.crt' } },
    ];
    expect(validateComponent(kafka(sasl))).toEqual([]);
    // Only caCert is shared: the mTLS profile's client certificate next to SASL is still a stray property.
    const stray = only(validateComponent(kafka([...sasl, { name: 'clientCert', value: 'PEM' }])), 'metadata-auth-profile-field');
    expect(stray.message).toContain("'SASL Authentication'");
  });

  it('accepts state.postgresql v2 with the connection string from a secret', () => {
    expect(validateComponent(postgres())).toEqual([]);
  });

  it('accepts secretstores.kubernetes without metadata', () => {
    expect(validateComponent(component('secretstores.kubernetes', 'v1', []))).toEqual([]);
  });

  it('accepts the properties the runtime reads for every state store and pub/sub', () => {
    expect(validateComponent(postgres([...postgresMetadata, { name: 'keyPrefix', value: 'name' }]))).toEqual([]);
    expect(validateComponent(kafka([...kafkaMetadata, { name: 'consumerID', value: 'triage' }]))).toEqual([]);
  });

  it('accepts a Component built with the imported typed class', () => {
    const chart = Testing.chart();
    const typed = new Component(chart, 'statestore', {
      metadata: { name: 'statestore' },
      spec: { type: 'state.postgresql', version: 'v2', metadata: postgresMetadata as never },
    });
    expect(validateComponent(typed.toJson())).toEqual([]);
  });
});

describe('each rule sees its violation', () => {
  it('component-kind: another apiVersion', () => {
    const finding = only(validateComponent({ ...kafka(), apiVersion: 'dapr.io/v1' }), 'component-kind');
    expect(finding.value).toBe('dapr.io/v1/Component');
  });

  it('component-type-known: a type without a metadata file', () => {
    const finding = only(validateComponent(component('pubsub.rabbitmq', 'v1', [])), 'component-type-known');
    expect(finding.value).toBe('pubsub.rabbitmq');
  });

  it('component-version: a version the metadata files do not describe', () => {
    const finding = only(validateComponent(component('state.postgresql', 'v3', postgresMetadata)), 'component-version');
    expect(finding).toMatchObject({ path: 'spec.version', value: 'v3' });
    expect(finding.message).toContain('v1, v2');
  });

  it('component-version: v1 properties do not pass as v2', () => {
    const v1Only = [...without(postgresMetadata, 'tablePrefix'), { name: 'tableName', value: 'state' }];
    expect(validateComponent(component('state.postgresql', 'v1', v1Only))).toEqual([]);
    expect(only(validateComponent(postgres(v1Only)), 'metadata-name-known').value).toBe('tableName');
  });

  it('metadata-value-source: both value and secretKeyRef, or no name', () => {
    const findings = validateComponent(
      postgres([...postgresMetadata, { name: 'maxConns', value: '4', ...secretRef('maxConns') }, { value: 'orphan' }]),
    );
    expect(findings.filter((finding) => finding.rule === 'metadata-value-source').map((finding) => finding.path)).toEqual([
      'spec.metadata[4]',
      'spec.metadata[5]',
    ]);
  });

  it('metadata-duplicate-name: a name set twice', () => {
    const twice = [...kafkaMetadata, { name: 'brokers', value: 'other:9092' }];
    const finding = only(validateComponent(kafka(twice)), 'metadata-duplicate-name');
    expect(finding).toMatchObject({ path: 'spec.metadata[6]', value: 'brokers' });
  });

  it('metadata-name-known: a misspelt name, with the right spelling when only the case differs', () => {
    const misspelt = [...kafkaMetadata, { name: 'maxMesageBytes', value: '2048' }];
    expect(only(validateComponent(kafka(misspelt)), 'metadata-name-known').value).toBe('maxMesageBytes');
    const capitalised = [...kafkaMetadata, { name: 'ClientConnectionKeepAliveInterval', value: '1m' }];
    const caseOnly = only(validateComponent(kafka(capitalised)), 'metadata-name-known');
    expect(caseOnly.message).toContain("spells it 'clientConnectionKeepAliveInterval'");
  });

  it('metadata-required: a required component property is missing', () => {
    const finding = only(validateComponent(kafka(without(kafkaMetadata, 'brokers'))), 'metadata-required');
    expect(finding).toMatchObject({ path: 'spec.metadata', value: 'brokers' });
  });

  it('metadata-required: the closest authentication profile names what it misses', () => {
    const noConnection = only(validateComponent(postgres(without(postgresMetadata, 'connectionString'))), 'metadata-required');
    expect(noConnection.message).toContain("profile 'Connection string'");

    const saslWithoutUser = [
      ...withValue(kafkaMetadata, 'authType', 'password'),
      { name: 'saslPassword', ...secretRef('saslPassword') },
    ];
    expect(validateComponent(kafka(saslWithoutUser)).map((finding) => `${finding.rule}:${finding.value}`)).toEqual([
      'metadata-required:saslUsername',
      'metadata-required:saslMechanism',
    ]);
  });

  it('metadata-allowed-values: a component property outside its list', () => {
    const finding = only(validateComponent(kafka(withValue(kafkaMetadata, 'initialOffset', 'earliest'))), 'metadata-allowed-values');
    expect(finding).toMatchObject({ path: 'spec.metadata[4]', value: 'earliest' });
    expect(finding.message).toContain('newest, oldest');
  });

  it('metadata-allowed-values: an authType no profile accepts', () => {
    const finding = only(validateComponent(kafka(withValue(kafkaMetadata, 'authType', 'plaintext'))), 'metadata-allowed-values');
    expect(finding).toMatchObject({ path: 'spec.metadata[1]', value: 'plaintext' });
    expect(finding.message).toContain('oidc, oidc_private_key_jwt, password, mtls, none, awsiam');
  });

  it('metadata-auth-profile-field: a SASL property next to authType none', () => {
    const stray = [...kafkaMetadata, { name: 'saslUsername', value: 'learnflow' }];
    const finding = only(validateComponent(kafka(stray)), 'metadata-auth-profile-field');
    expect(finding.message).toContain("'No Authentication'");
  });

  it('metadata-sensitive-secret-ref: an inline or env-var connection string, never echoed', () => {
    const inline = withValue(postgresMetadata, 'connectionString', 'host=pg user=app password=s3cr3t-Value');
    const inlineFinding = only(validateComponent(postgres(inline)), 'metadata-sensitive-secret-ref');
    expect(inlineFinding).toMatchObject({ path: 'spec.metadata[0]', value: 'connectionString' });
    expect(JSON.stringify(inlineFinding)).not.toContain('s3cr3t-Value');

    const fromEnv = postgres([{ name: 'connectionString', envRef: 'PG_CONNECTION' }, ...postgresMetadata.slice(1)]);
    expect(only(validateComponent(fromEnv), 'metadata-sensitive-secret-ref').value).toBe('connectionString');
  });

  it('metadata-sensitive-secret-ref: sensitive properties of built-in profiles count too', () => {
    const aws = [...withValue(kafkaMetadata, 'authType', 'awsiam'), { name: 'awsSecretKey', value: 'wJalr-not-for-logs' }];
    const findings = validateComponent(kafka(aws));
    expect(rules(findings)).toEqual(['metadata-sensitive-secret-ref']);
    expect(JSON.stringify(findings)).not.toContain('wJalr-not-for-logs');
  });

  it('dapr-code-required: pubsub.kafka without authType, reported once', () => {
    const finding = only(validateComponent(kafka(without(kafkaMetadata, 'authType'))), 'dapr-code-required');
    expect(finding).toMatchObject({ path: 'spec.metadata', value: 'authType' });
  });
});

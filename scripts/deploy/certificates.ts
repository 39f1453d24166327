import { createPrivateKey, X509Certificate } from 'node:crypto';
import { loadConfig } from '../../lib/config/load';
import { CERTIFICATE_PRINCIPAL_PATTERN } from '../../lib/kafka/kafka-tls';
import { LearnflowStack } from '../../lib/learnflow-stack';
import { referencesIn } from '../../verify/checks/references';
import { type CheckResult, fail, pass, skip } from '../../verify/model';
import { GET_TIMEOUT_MS, REQUEST_TIMEOUT } from '../kubectl';
import type { PreflightCheck } from './preflight';

// A user-provided Secret (postgres.tls.source or kafka.security.source: secret names your own certificate Secret): what a pod of
// dist/ mounts that neither step 2 (`npm run secrets`) creates nor a Certificate of dist/ writes must exist
// before anything is applied. A pod whose Secret is missing never starts, and says so only in its events.
// cert-manager's CRDs and the issuer are the verifier's live-cert-manager-crds and live-certificate-issuers.

export const certificateSecretsCheck: PreflightCheck = {
  id: 'preflight-certificate-secrets',
  description: 'every Secret a pod of dist/ mounts that neither `npm run secrets` creates nor a Certificate of dist/ writes exists (your TLS Secret)',
  component: 'cluster',
  remediation: 'create the Secret (tls.crt, tls.key, ca.crt), or postgres.tls.source / kafka.security.source: cert-manager',
  needs: ['dist', 'cluster'],
  run: (context) => {
    const { readDist: dist, kubectl, options } = context;
    let created: Set<string>;
    let expectations: Map<string, CertificateExpectations>;
    try {
      const stack = new LearnflowStack(loadConfig({ profile: options.profile, overrideFile: options.config }));
      // What step 2 creates: the Secret contract of --profile and --config, as `npm run secrets` makes it.
      created = new Set(stack.secretContracts.map((secret) => secret.name));
      expectations = certificateExpectations(stack);
    } catch (error) {
      return [fail([], `the configuration cannot be loaded: ${(error as Error).message}`, 'fix --profile/--config (`npm run synth` shows the same errors)')];
    }
    const written = new Set(
      dist.objects.filter(({ object }) => object.kind === 'Certificate' && object.apiVersion.startsWith('cert-manager.io/')).map(({ object }) => `${object.metadata.namespace}/${object.spec?.secretName}`),
    );
    const provided = new Map<string, Set<string>>();
    for (const reference of referencesIn(dist)) {
      const key = `${reference.namespace}/${reference.name}`;
      if (reference.kind !== 'Secret' || created.has(reference.name) || written.has(key)) continue;
      // Pods only: a Dapr Component's secretKeyRef (the apps' Kafka credentials, the CA copy) is the secret
      // contract's, resolved by the Dapr operator when a sidecar starts, and stops no pod of dist/.
      if (reference.from.kind === 'Component') continue;
      provided.set(key, (provided.get(key) ?? new Set()).add(`${reference.from.kind.toLowerCase()}/${reference.from.name}`));
    }
    if (provided.size === 0) return [skip('none to provide: every Secret of dist/ is created by `npm run secrets` or written by a Certificate')];
    const results: CheckResult[] = [];
    for (const [key, readers] of provided) {
      const [namespace, secret] = key.split('/');
      const ref = { kind: 'Secret', namespace, name: secret };
      const read = kubectl.run(['get', 'secret', secret, '-n', namespace, '-o', 'json', '--ignore-not-found', REQUEST_TIMEOUT], GET_TIMEOUT_MS);
      if (!read.ok) return [context.cannotRead(`read Secret ${key}`, read.reason, ['get', 'secrets', '-n', namespace])];
      const reader = [...readers].join(', ');
      const problem = read.stdout.trim() === '' ? undefined : certificateProblem(JSON.parse(read.stdout).data ?? {}, expectations.get(key) ?? ANY_CERTIFICATE);
      results.push(
        problem
          ? fail([ref], `Secret ${key} (mounted by ${reader}): ${problem}`, 'replace the Secret with a certificate, its key and the CA that signed it (tls.crt, tls.key, ca.crt)')
          : read.stdout.trim() === ''
          ? fail(
              [ref],
              `Secret ${secret} in ${namespace} does not exist: ${reader} mount${readers.size > 1 ? '' : 's'} it and nothing creates it (postgres.tls.source or kafka.security.source: secret names your own certificate Secret, with tls.crt, tls.key and ca.crt)`,
              `\`kubectl -n ${namespace} create secret generic ${secret} --from-file=tls.crt --from-file=tls.key --from-file=ca.crt\`, or postgres.tls.source / kafka.security.source: cert-manager`,
            )
          : pass([ref], `Secret ${key} exists (mounted by ${reader})`),
      );
    }
    return results;
  },
};

/** What a certificate Secret's reader needs of it beyond a valid certificate, key and CA. */
export interface CertificateExpectations {
  /** Kafka's PEM keystore reads only `BEGIN PRIVATE KEY` (DefaultSslEngineFactory.PemParser). */
  readonly pkcs8Key: boolean;
  /** The principal the certificate's subject must map to (Kafka's ssl.principal.mapping.rules; super.users names it). */
  readonly principal?: string;
  /** The names clients check against the certificate (TLS host-name verification, sslmode=verify-full). */
  readonly hostNames: readonly string[];
}

const ANY_CERTIFICATE: CertificateExpectations = { pkcs8Key: false, hostNames: [] };

/** The certificate Secrets of the configuration, by `namespace/name`, with what their readers check. */
export function certificateExpectations(stack: LearnflowStack): Map<string, CertificateExpectations> {
  const { kafka, postgres } = stack;
  const entries: [string | undefined, string, CertificateExpectations][] = [
    [kafka.tls.secretName, kafka.namespace, { pkcs8Key: true, principal: kafka.tls.nodeCommonName, hostNames: kafka.tls.hostNames }],
    [kafka.tls.adminSecretName, kafka.namespace, { pkcs8Key: true, principal: kafka.tls.adminCommonName, hostNames: [] }],
    // The name every client of dist/ dials (the connection strings' host); the shorter ones are the certificate's too.
    [postgres.tls.secretName, postgres.namespace, { pkcs8Key: false, hostNames: [postgres.host] }],
  ];
  return new Map(entries.filter(([name]) => name !== undefined).map(([name, namespace, expected]) => [`${namespace}/${name}`, expected]));
}

/** The subject as Kafka reads it: RFC 2253, the most specific attribute first (Node lists them in the certificate's order). */
function rfc2253(certificate: X509Certificate): string {
  return certificate.subject.split('\n').reverse().join(',');
}

/** The principal name Kafka's ssl.principal.mapping.rules make of a peer presenting `certificate`. */
function kafkaPrincipalOf(certificate: X509Certificate): string {
  const subject = rfc2253(certificate);
  return new RegExp(CERTIFICATE_PRINCIPAL_PATTERN).exec(subject)?.[1] ?? subject;
}

/**
 * What would keep the pods that mount a certificate Secret from starting or from being trusted, or undefined:
 * a missing key, PEM that does not parse, a private key that is not the certificate's, a certificate that its
 * chain or ca.crt did not sign, an expired one, one whose names the clients refuse or whose CN is not the
 * principal super.users names; for Kafka a key that is not PKCS#8. Each would crash-loop or strand every pod at once.
 */
export function certificateProblem(data: Record<string, string>, expected: CertificateExpectations): string | undefined {
  const decoded = Object.fromEntries(Object.entries(data).map(([name, value]) => [name, Buffer.from(value, 'base64').toString('utf8')]));
  const missing = ['tls.crt', 'tls.key', 'ca.crt'].filter((name) => !decoded[name]?.trim());
  if (missing.length > 0) return `no ${missing.join(', ')} (the pods mount each key by name and would wait for it forever)`;
  if (expected.pkcs8Key && !/-----BEGIN PRIVATE KEY-----/.test(decoded['tls.key'])) {
    const found = /-----BEGIN ([A-Z ]+)-----/.exec(decoded['tls.key'])?.[1] ?? 'no PEM block';
    return `tls.key is not an unencrypted PKCS#8 key (${found}); Kafka reads only "BEGIN PRIVATE KEY" (convert it: openssl pkcs8 -topk8 -nocrypt)`;
  }
  const pemBlocks = (text: string) => text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  try {
    const [leaf, ...chain] = pemBlocks(decoded['tls.crt']).map((pem) => new X509Certificate(pem));
    const authorities = [...chain, ...pemBlocks(decoded['ca.crt']).map((pem) => new X509Certificate(pem))];
    if (!leaf || authorities.length === 0) return 'tls.crt or ca.crt holds no PEM certificate';
    if (!leaf.checkPrivateKey(createPrivateKey(decoded['tls.key']))) return "tls.key is not the key of tls.crt's certificate";
    if (!authorities.some((authority) => leaf.checkIssued(authority) && leaf.verify(authority.publicKey))) {
      return `tls.crt (${leaf.subject.replace(/\n/g, ', ')}) is signed by neither its chain nor ca.crt: clients and the other nodes would refuse it`;
    }
    if (Date.parse(leaf.validTo) <= Date.now()) return `tls.crt expired on ${leaf.validTo}`;
    const principal = kafkaPrincipalOf(leaf);
    if (expected.principal !== undefined && principal !== expected.principal) {
      return `tls.crt's subject ${rfc2253(leaf)} is the principal User:${principal} (ssl.principal.mapping.rules), not User:${expected.principal}, which super.users names: issue it with the subject CN=${expected.principal} alone`;
    }
    // The DNS names of subjectAltName, wildcards as TLS clients match them (one label); never the subject's CN,
    // which Go's TLS (Dapr's Kafka and PostgreSQL clients) ignores.
    const uncovered = expected.hostNames.filter((name) => leaf.checkHost(name, { subject: 'never' }) === undefined);
    if (uncovered.length > 0) return `tls.crt does not name ${uncovered.join(', ')} (its names: ${leaf.subjectAltName ?? 'none'}): clients checking the host name would refuse it`;
  } catch (error) {
    return `tls.crt, tls.key or ca.crt does not parse: ${(error as Error).message}`;
  }
  return undefined;
}

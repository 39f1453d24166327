import { METADATA_RULES, validateComponent } from '../../lib/dapr/component-metadata';
import type { StaticContext } from '../context';
import type { Dist } from '../dist';
import { appCredentialsSecret, appPrincipal } from '../../lib/config/kafka-principals';
import { type Check, type DistObject, fail, formatRef, pass, refOf, skip } from '../model';
import { envValue, kafkaContainer, kafkaStatefulSets, namespaceOf } from '../workloads';
import { listenerProtocols } from './kafka';
import { daprComponents } from './references';

const NO_COMPONENTS = 'no Dapr Components in dist/';

export const daprComponentMetadata: Check<StaticContext> = {
  id: 'dapr-component-metadata',
  description: "Dapr Components match Dapr's component metadata (known type and version, required fields, sensitive fields from secretKeyRef)",
  component: 'dapr',
  remediation: 'fix the metadata entry as the finding says (see the component page on docs.dapr.io for its fields)',
  run: ({ dist, reference }) => {
    const components = daprComponents(dist);
    if (components.length === 0) return [skip(NO_COMPONENTS)];
    const catalog = reference.componentMetadata();
    return components.map((item) => {
      const ref = refOf(item);
      // Findings carry property names and non-sensitive values only (the library's contract).
      const findings = validateComponent(item.object, catalog);
      return findings.length === 0
        ? pass([ref], `${formatRef(ref)} (${item.object.spec?.type} ${item.object.spec?.version}) matches its metadata`)
        : fail([ref], `${formatRef(ref)}: ${findings.map((f) => `${f.path} '${f.value}': ${f.message} [${f.rule}]`).join('; ')}`, METADATA_RULES[findings[0].rule]);
    });
  },
};

export const daprComponentScopes: Check<StaticContext> = {
  id: 'dapr-component-scopes',
  description: 'every Dapr Component is scoped to named app-ids (unscoped components load into every sidecar)',
  component: 'dapr',
  remediation: 'list the app-ids that use the component under top-level scopes:',
  run: ({ dist }) => {
    const components = daprComponents(dist);
    if (components.length === 0) return [skip(NO_COMPONENTS)];
    return components.map((item) => {
      const scopes = item.object.scopes;
      const ref = refOf(item);
      return Array.isArray(scopes) && scopes.length > 0 && scopes.every((scope) => typeof scope === 'string' && scope !== '')
        ? pass([ref], `${formatRef(ref)} is scoped to ${scopes.join(', ')}`)
        : fail([ref], `${formatRef(ref)} has no scopes; every Dapr sidecar in namespace ${namespaceOf(item)} loads it`);
    });
  },
};

const isPubSub = (item: DistObject) => String(item.object.spec?.type ?? '').startsWith('pubsub.');

export const daprPubSubPerApp: Check<StaticContext> = {
  id: 'dapr-pubsub-per-app',
  description:
    "every Dapr pub/sub Component is scoped to exactly one app-id and shares no Kafka credential with another (its credentials are that app's principal), and every Subscription goes through a pub/sub its app-ids load",
  component: 'dapr',
  remediation:
    "synthesize again: one pubsub component per app-id ('<dapr.pubsub.name>-<app-id>', scopes: [<app-id>]), and one Subscription per app-id naming that app's pubsub",
  run: ({ dist }) => {
    const components = daprComponents(dist);
    const pubsubs = components.filter(isPubSub);
    if (pubsubs.length === 0) return [skip('no Dapr pub/sub Components in dist/')];
    // The credential a component logs in with: its SASL user, and the Secret its password comes from.
    const credentialsOf = (item: DistObject): string[] =>
      ((item.object.spec?.metadata ?? []) as Record<string, any>[]).flatMap((entry) => {
        if (entry?.name === 'saslUsername' && typeof entry.value === 'string') return [`user ${entry.value}`];
        if (entry?.name === 'saslPassword' && entry.secretKeyRef?.name) return [`password Secret ${entry.secretKeyRef.name}`];
        return [];
      });
    const fromComponents = pubsubs.map((item) => {
      const ref = refOf(item);
      const scopes: unknown[] = Array.isArray(item.object.scopes) ? item.object.scopes : [];
      if (scopes.length !== 1) {
        const scoped = scopes.length === 0 ? 'no app-id (every sidecar of the namespace loads it)' : `${scopes.length} app-ids (${scopes.join(', ')})`;
        return fail([ref], `${formatRef(ref)} is scoped to ${scoped}: they would share one Kafka principal and its ACLs`);
      }
      const sharing = pubsubs.filter((other) => other !== item && namespaceOf(other) === namespaceOf(item) && credentialsOf(other).some((c) => credentialsOf(item).includes(c)));
      if (sharing.length > 0) {
        const shared = credentialsOf(item).filter((c) => sharing.some((other) => credentialsOf(other).includes(c)));
        return fail([ref, ...sharing.map(refOf)], `${formatRef(ref)} (app-id ${scopes[0]}) shares ${shared.join(', ')} with ${sharing.map((other) => formatRef(refOf(other))).join(', ')}: two app-ids, one Kafka principal`);
      }
      // The credential must be the scoped app's own: its principal (the users Job gives it that app's ACLs) and its Secret.
      const appId = String(scopes[0]);
      const foreign = credentialsOf(item).filter((c) => c !== `user ${appPrincipal(appId)}` && c !== `password Secret ${appCredentialsSecret(appId)}`);
      if (foreign.length > 0) {
        return fail([ref], `${formatRef(ref)} is scoped to app-id ${appId} but logs in with ${foreign.join(', ')}: another app's rights (rule: user ${appPrincipal(appId)}, password Secret ${appCredentialsSecret(appId)})`);
      }
      return pass([ref], `${formatRef(ref)} is scoped to app-id ${scopes[0]} alone`);
    });
    const fromSubscriptions = dist.objects
      .filter((item) => item.object.kind === 'Subscription' && item.object.apiVersion.startsWith('dapr.io/'))
      .map((item) => {
        const ref = refOf(item);
        const name = item.object.spec?.pubsubname;
        const pubsub = pubsubs.find((each) => each.object.metadata.name === name && namespaceOf(each) === namespaceOf(item));
        if (!pubsub) return fail([ref], `${formatRef(ref)}: spec.pubsubname '${name}' is no pub/sub Component of namespace ${namespaceOf(item)} in dist/`);
        const refs = [ref, refOf(pubsub)];
        const loaded: unknown[] = pubsub.object.scopes ?? [];
        const scopes: unknown[] = Array.isArray(item.object.scopes) ? item.object.scopes : [];
        const without = scopes.filter((scope) => !loaded.includes(scope));
        if (scopes.length === 0 || without.length > 0) {
          const who = scopes.length === 0 ? 'every app-id (no scopes)' : `app-id(s) ${without.join(', ')}`;
          return fail(refs, `${formatRef(ref)}: delivers to ${who} through ${formatRef(refOf(pubsub))}, which only ${loaded.join(', ')} load(s): those sidecars have no such pubsub`);
        }
        return pass(refs, `${formatRef(ref)}: ${scopes.join(', ')} through ${formatRef(refOf(pubsub))}`);
      });
    return [...fromComponents, ...fromSubscriptions];
  },
};

/** The SASL mechanisms of the brokers whose client listeners authenticate with SASL (SASL_SSL, SASL_PLAINTEXT); empty when none do. */
function brokerSaslMechanisms(dist: Dist): Set<string> | undefined {
  const secured = kafkaStatefulSets(dist)
    .map((item) => kafkaContainer(item))
    .filter((container) => {
      const { listeners, protocols } = listenerProtocols(container);
      return listeners.some((name) => (protocols.get(name) ?? name).startsWith('SASL_'));
    });
  if (secured.length === 0) return undefined;
  // Kafka's default for sasl.enabled.mechanisms is GSSAPI.
  return new Set(secured.flatMap((container) => (envValue(container, 'KAFKA_SASL_ENABLED_MECHANISMS') ?? 'GSSAPI').split(',').map((m) => m.trim())));
}

export const daprPubSubAuthenticated: Check<StaticContext> = {
  id: 'dapr-pubsub-authenticated',
  description:
    'where the Kafka brokers authenticate clients with SASL, every pubsub.kafka Component logs in with SCRAM (authType password, the password from a secretKeyRef, a mechanism the brokers enable) over TLS verified against a CA (caCert; disableTls and skipVerify not true)',
  component: 'dapr',
  remediation:
    "synthesize with kafka.security on: each app's pubsub gets authType password, saslUsername learnflow.app.<app-id>, saslPassword from Secret learnflow-kafka-<app-id>, saslMechanism SHA-512 and caCert from Secret learnflow-kafka-ca",
  run: ({ dist }) => {
    const pubsubs = daprComponents(dist).filter((item) => item.object.spec?.type === 'pubsub.kafka');
    if (pubsubs.length === 0) return [skip('no pubsub.kafka Components in dist/')];
    const mechanisms = brokerSaslMechanisms(dist);
    if (!mechanisms) return [skip('no Kafka StatefulSet in dist/ whose listeners authenticate with SASL')];
    return pubsubs.map((item) => {
      const ref = refOf(item);
      const entries = ((item.object.spec?.metadata ?? []) as Record<string, any>[]).filter((entry) => typeof entry?.name === 'string');
      const entry = (name: string) => entries.find((each) => each.name.toLowerCase() === name.toLowerCase());
      const value = (name: string): string | undefined => {
        const raw = entry(name)?.value;
        return raw === undefined || raw === null ? undefined : String(raw);
      };
      const problems: string[] = [];
      const authType = value('authType');
      if (authType !== 'password') problems.push(`authType is ${authType === undefined ? 'unset' : `'${authType}'`}, not 'password' (SASL): the brokers refuse it`);
      else {
        if (!value('saslUsername') && !entry('saslUsername')?.secretKeyRef) problems.push('no saslUsername');
        const password = entry('saslPassword');
        // Never the value itself: it is a credential.
        if (!password) problems.push('no saslPassword');
        else if (!password.secretKeyRef?.name) problems.push(`saslPassword comes from ${password.value !== undefined ? 'an inline value' : 'no secretKeyRef'}, not a secretKeyRef`);
        // components-contrib auth.go: SHA-256 and SHA-512 are SCRAM; anything else is SASL PLAIN.
        const mechanism = value('saslMechanism') ?? 'PLAINTEXT';
        const asKafka = /^SHA-(256|512)$/.test(mechanism) ? `SCRAM-${mechanism}` : 'PLAIN';
        if (!mechanisms.has(asKafka)) problems.push(`saslMechanism '${mechanism}' is ${asKafka}, which the brokers do not enable (${[...mechanisms].join(', ')})`);
      }
      // Dapr decodes these as Go booleans and "truthy" strings (strconv.ParseBool, utils.IsTruthy): "True", "1", "yes" too.
      const truthy = (name: string) => /^(1|t|true|y|yes|on)$/i.test(value(name)?.trim() ?? '');
      if (truthy('disableTls')) problems.push('disableTls is true: the password would cross the network in the clear, and the SASL_SSL listener refuses it');
      if (truthy('skipVerify')) problems.push('skipVerify is true: any server is trusted with the password');
      if (!entry('caCert')) problems.push("no caCert: the brokers' certificate is checked against the system roots, which do not hold the install's CA");
      return problems.length === 0
        ? pass([ref], `${formatRef(ref)} logs in as ${value('saslUsername') ?? '(username from a Secret)'} (${value('saslMechanism')}) over TLS verified against its caCert`)
        : fail([ref], `${formatRef(ref)}: ${problems.join('; ')}`);
    });
  },
};

import { describe, expect, it } from 'vitest';
import { ConfigError } from '../lib/config/load';
import { synthObjects } from './support/synth';

// The limits Kubernetes puts on the objects' names (lib/config/object-names.ts cites where), checked on
// what synth really writes: the longest names the config accepts produce objects that keep them.
const LIMITS: Record<string, number> = { Service: 63, StatefulSet: 52, Job: 63, CronJob: 52 };
const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

const longest = { kafka: 42, postgres: 41, clusterDomain: 253 - 'kafka-0.kafka-headless.kafka.svc.'.length };
const nameOf = (length: number) => `n${'x'.repeat(length - 1)}`;
/** Labels of up to 63 characters joined by '.', `length` characters in all. */
const domainOf = (length: number) => `${'d'.repeat(63)}.${'d'.repeat(63)}.${'d'.repeat(63)}.${'d'.repeat(length - 3 * 64)}`;

/** Subscriptions to new topics. */
const subscribe = (...topics: string[]) => ({
  kafka: { topics: topics.map((name) => ({ name, partitions: 1, retention: '1d' })) },
  dapr: { subscriptions: topics.map((topic) => ({ topic, route: '/events', appIds: ['frontend'] })) },
});

describe('derived object names', () => {
  it('the longest names the config accepts make objects Kubernetes accepts', () => {
    const objects = synthObjects({
      override: { kafka: { name: nameOf(longest.kafka) }, postgres: { name: nameOf(longest.postgres), backup: { enabled: true, dump: { enabled: true } } } },
    });
    const limited = objects.filter((object) => LIMITS[object.kind] !== undefined);
    expect(limited.map((object) => object.kind).sort()).toEqual(['CronJob', 'CronJob', 'Job', 'Job', 'Job', 'Job', 'Job', 'Service', 'Service', 'Service', 'Service', 'StatefulSet', 'StatefulSet']);
    for (const object of limited) expect(object.metadata.name.length, `${object.kind} ${object.metadata.name}`).toBeLessThanOrEqual(LIMITS[object.kind]);
    // At the limit, not below it: one character more is refused (below).
    expect(Math.max(...limited.filter((object) => object.kind === 'Job').map((object) => object.metadata.name.length))).toBe(63);
    expect(Math.max(...limited.filter((object) => object.kind === 'CronJob').map((object) => object.metadata.name.length))).toBe(52);
    for (const service of objects.filter((object) => object.kind === 'Service')) expect(service.metadata.name).toMatch(DNS_1035_LABEL);
  });

  it('the longest cluster domain the config accepts makes in-cluster host names of at most 253 characters', () => {
    const objects = synthObjects({ override: { platform: { clusterDomain: domainOf(longest.clusterDomain) } } });
    const hosts = JSON.stringify(objects).match(/[a-z0-9.-]+\.svc\.[a-z0-9.-]+/g)!;
    expect(Math.max(...hosts.map((host) => host.length))).toBe(253);
  });

  it.each([
    ['kafka.name', { kafka: { name: nameOf(longest.kafka + 1) } }, `must be at most ${longest.kafka} characters: it makes the rebalance Job`],
    ['postgres.name', { postgres: { name: nameOf(longest.postgres + 1) } }, `must be at most ${longest.postgres} characters: it makes the migrations Job`],
    ['platform.clusterDomain', { platform: { clusterDomain: domainOf(longest.clusterDomain + 1) } }, `must be at most ${longest.clusterDomain} characters: it makes the host name of broker kafka-0`],
    ['kafka.name', { kafka: { name: '1kafka' } }, "makes the headless Service '1kafka-headless', but a Service name is a DNS-1035 label"],
    ['postgres.name', { postgres: { name: '9pg' } }, "makes the Service '9pg', but a Service name is a DNS-1035 label"],
    ['dapr.subscriptions[_private].topic', subscribe('_private'), "makes the Subscription '-private-frontend', but a custom resource's name must start and end with a letter or digit"],
    ['dapr.subscriptions[hint-given].topic', subscribe('hint.given', 'hint-given'), "makes the Subscription 'hint-given-frontend', as the subscription to hint.given for frontend does"],
    [`dapr.subscriptions[${'t'.repeat(57)}...].topic`, subscribe('t'.repeat(249)), "(258 characters), but a custom resource's name is at most 253"],
  ])('%s: one character more, or a name Kubernetes refuses, is refused', (field, override, rule) => {
    const error = (() => {
      try {
        synthObjects({ override });
      } catch (caught) {
        return caught as ConfigError;
      }
      throw new Error('synth accepted the config');
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0].path).toBe(field);
    expect(error.problems[0].rule).toContain(rule);
  });
});

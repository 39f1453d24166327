import * as fs from 'node:fs';
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { LEARNFLOW_TOPICS } from '../lib/config/kafka';
import { loadConfig } from '../lib/config/load';
import { ROOT, tempDir } from './support/synth';

const profileTopics = LEARNFLOW_TOPICS.map((topic) => topic.name);
const subscription = (topic: string, route: string) => ({ topic, route, appIds: ['triage-agent'] });

/** The YAML example of the README's Synth section. */
function readmeExample(): unknown {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const example = /Example: larger volumes[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme);
  if (!example) throw new Error("README.md's Synth section has no override example");
  return yaml.load(example[1].replace(/^ {2}/gm, ''));
}

describe('overrides: lists of named things merge by name', () => {
  it("the README's example changes one topic, adds one and keeps the profile's others", () => {
    const { topics } = loadConfig({ override: readmeExample() }).kafka;
    expect(topics.map((topic) => topic.name)).toEqual([...profileTopics, 'hint.requested']);
    const query = topics.find((topic) => topic.name === 'learning.query')!;
    // Changed key by key: the profile's retention stays.
    expect(query.partitions).toBe(6);
    expect(query.retention).toBe(7 * 86_400_000);
    expect(topics.find((topic) => topic.name === 'learning.response')!.partitions).toBe(3);
  });

  it('$remove removes an entry, and nothing else', () => {
    const { topics } = loadConfig({ override: { kafka: { topics: [{ name: 'learnflow.verify', $remove: true }] } } }).kafka;
    expect(topics.map((topic) => topic.name)).toEqual(profileTopics.filter((name) => name !== 'learnflow.verify'));
  });

  it('merges dapr.subscriptions by topic, layer over layer (file, then programmatic override)', () => {
    const file = path.join(tempDir('overrides'), 'subscriptions.yaml');
    fs.writeFileSync(file, yaml.dump({ dapr: { subscriptions: [subscription('learning.query', '/q'), subscription('learning.response', '/r')] } }));
    const { subscriptions } = loadConfig({ overrideFile: file, override: { dapr: { subscriptions: [{ topic: 'learning.query', route: '/query' }] } } }).dapr;
    expect(subscriptions).toEqual([subscription('learning.query', '/query'), subscription('learning.response', '/r')]);
  });

  it('other lists replace the list of the profile', () => {
    expect(loadConfig({ override: { dapr: { appIds: ['frontend'] } } }).dapr.appIds).toEqual(['frontend']);
  });
});

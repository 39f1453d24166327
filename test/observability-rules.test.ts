import * as fs from 'node:fs';
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { locateBuild, PROMTOOL } from './harness/go-builds';
import { parseTopicsConf } from './harness/kafka/client';
import { runProcess } from './harness/processes';
import { METRIC_SOURCES, metricNamesOf, usedMetricNames } from './observability/metric-names';
import { requireEngine } from './support/engines';
import { type K8sObject, synthObjects, tempDir } from './support/synth';

const RULE_TESTS = path.join(__dirname, 'observability/alert-rules.test.yaml');
const promtool = locateBuild(PROMTOOL);

function prometheusRule(objects: readonly K8sObject[]): K8sObject {
  const rules = objects.filter((o) => o.kind === 'PrometheusRule');
  expect(rules).toHaveLength(1);
  return rules[0];
}

/** The rule groups without their runbook annotations (promtool compares annotations exactly). */
function withoutRunbooks(groups: { rules: { annotations?: Record<string, string> }[] }[]) {
  return groups.map((group) => ({
    ...group,
    rules: group.rules.map(({ annotations, ...rule }) => {
      if (!annotations) return rule;
      const { runbook: _, ...rest } = annotations;
      return { ...rule, annotations: rest };
    }),
  }));
}

/** Runs `promtool test rules` on the rule tests, with `rule` written beside them as rules.yaml. */
async function promtoolTest(rule: K8sObject, tests = fs.readFileSync(RULE_TESTS, 'utf8')) {
  const dir = tempDir('promtool');
  try {
    fs.writeFileSync(path.join(dir, 'rules.yaml'), yaml.dump({ groups: withoutRunbooks(rule.spec.groups) }));
    fs.writeFileSync(path.join(dir, 'tests.yaml'), tests);
    return await runProcess(promtool.path!, ['test', 'rules', path.join(dir, 'tests.yaml')], { PATH: process.env.PATH }, 120_000);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe.skipIf(!requireEngine('alert rules suite', promtool.missing))('LearnFlow alert rules under promtool', () => {
  let rule: K8sObject;
  beforeAll(() => {
    rule = prometheusRule(synthObjects({ profile: 'production' }));
  });

  it('pass promtool check rules (valid PromQL, templates)', async () => {
    const dir = tempDir('promtool-check');
    fs.writeFileSync(path.join(dir, 'rules.yaml'), yaml.dump({ groups: rule.spec.groups }));
    const result = await runProcess(promtool.path!, ['check', 'rules', path.join(dir, 'rules.yaml')], { PATH: process.env.PATH }, 60_000);
    fs.rmSync(dir, { recursive: true, force: true });
    expect(result.exitCode, result.output).toBe(0);
  });

  it('fire, and stay quiet, exactly as the unit tests expect', async () => {
    const result = await promtoolTest(rule);
    expect(result.exitCode, result.output).toBe(0);
    expect(result.output).toContain('SUCCESS');
  }, 180_000);

  it('every alert has a firing test case and a runbook', () => {
    const tests = yaml.load(fs.readFileSync(RULE_TESTS, 'utf8')) as { tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[] };
    const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const group of rule.spec.groups as { rules: { alert?: string; annotations: Record<string, string> }[] }[]) {
      for (const alert of group.rules.filter((r) => r.alert !== undefined)) {
        expect(cases.some((c) => c.alertname === alert.alert && c.exp_alerts.length > 0), `${alert.alert} fires in a test`).toBe(true);
        expect(cases.some((c) => c.alertname === alert.alert && c.exp_alerts.length === 0), `${alert.alert} stays quiet in a test`).toBe(true);
        expect(alert.annotations.runbook?.length, `${alert.alert} runbook`).toBeGreaterThan(40);
      }
    }
  });

  it('can fail: a rule with a broken threshold fails the same unit tests', async () => {
    const broken = structuredClone(rule);
    const offline = broken.spec.groups[0].rules.find((r: { alert: string }) => r.alert === 'KafkaOfflinePartitions');
    offline.expr = offline.expr.replace('> 0', '> 5');
    const result = await promtoolTest(broken);
    expect(result.exitCode).not.toBe(0);
    expect(result.output).toContain('KafkaOfflinePartitions');
  }, 180_000);

  it('record one declared partition count per topic of the config, for the drift alerts', () => {
    const records = rule.spec.groups.flatMap((g: { rules: { record?: string; expr: string; labels?: Record<string, string> }[] }) => g.rules.filter((r) => r.record));
    const topicsConf = synthObjects({ profile: 'production' }).find((o) => o.kind === 'ConfigMap' && o.data?.['topics.conf'] !== undefined)!.data!['topics.conf'];
    const declared = parseTopicsConf(topicsConf);
    expect(declared.length).toBeGreaterThan(3);
    expect(records.map((r: { labels: Record<string, string>; expr: string }) => `${r.labels.topic} ${r.expr}`).sort()).toEqual(declared.map((t) => `${t.name} vector(${t.partitions})`).sort());
  });

  it('can fail: a declared partition count the cluster does not have fires the drift alert where the tests expect silence', async () => {
    const broken = structuredClone(rule);
    const query = broken.spec.groups.flatMap((g: { rules: { record?: string; labels?: Record<string, string>; expr: string }[] }) => g.rules).find((r: { labels?: Record<string, string> }) => r.labels?.topic === 'exercise.graded');
    query.expr = 'vector(5)';
    const result = await promtoolTest(broken);
    expect(result.exitCode).not.toBe(0);
    expect(result.output).toContain('KafkaTopicPartitionsDrift');
  }, 180_000);

  it('are scoped to the configured namespaces', () => {
    const other = prometheusRule(synthObjects({ profile: 'production', override: { platform: { namespaces: { kafka: 'streams', postgres: 'db' } } } }));
    const exprs = other.spec.groups.flatMap((g: { rules: { expr: string }[] }) => g.rules.map((r) => r.expr)).join('\n');
    expect(exprs).toContain('namespace="streams"');
    expect(exprs).toContain('namespace="db"');
    expect(exprs).not.toContain('namespace="kafka"');
  });
});

describe('metric names the alerts and dashboards use', () => {
  it('are read out of PromQL without label names, functions, strings or durations', () => {
    expect(metricNamesOf('sum by (pod, type) (rate(kafka_request_count_total{namespace="kafka", a=~"x|y"}[5m])) > 0')).toEqual(['kafka_request_count_total']);
    expect(metricNamesOf('a_b{x="c_d"} / on (ns) group_left max by (ns) (e_f) and bool g')).toEqual(['a_b', 'e_f', 'g']);
  });

  it('each come from a known source (the scraped ones are checked against real scrapes)', () => {
    const used = usedMetricNames(synthObjects({ profile: 'production' }));
    expect(used.size).toBeGreaterThan(20);
    const unknown = [...used.keys()].filter((name) => !METRIC_SOURCES.some((source) => source.prefix.test(name)));
    expect(unknown).toEqual([]);
    // Can fail: a dashboard typo is a name of no source.
    expect(METRIC_SOURCES.some((source) => source.prefix.test('kafak_partition_offline'))).toBe(false);
  });
});

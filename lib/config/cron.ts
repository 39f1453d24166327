import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';

// What a CronJob's spec.schedule accepts: Kubernetes parses it with robfig/cron v3's ParseStandard
// (k8s.io/kubernetes pkg/apis/batch/validation validateScheduleFormat): five fields, or a descriptor.
// cron-parser (the library that evaluates it here) is more lenient (six fields, 'H', four fields), so
// the shape is checked first and cron-parser judges the values (ranges, names, steps).
const DESCRIPTORS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'];
const FIELD = /^[0-9A-Za-z*,/?-]+$/;

/** Why `schedule` is not a CronJob schedule, or undefined when it is one. */
export function cronScheduleProblem(schedule: string): string | undefined {
  const text = schedule.trim();
  if (DESCRIPTORS.includes(text)) return undefined;
  const fields = text.split(/\s+/);
  // 'H' (a hashed value) is Jenkins' and cron-parser's, not robfig/cron's.
  if (fields.length !== 5 || !fields.every((field) => FIELD.test(field) && !/\bH\b/i.test(field))) {
    return `must be a cron expression of five fields (minute hour day-of-month month day-of-week, e.g. '0 2 * * *') or one of ${DESCRIPTORS.join(', ')}`;
  }
  try {
    CronExpressionParser.parse(text, { tz: 'UTC' });
    return undefined;
  } catch (error) {
    return `must be a valid cron expression: ${(error as Error).message}`;
  }
}

export const cronSchedule = z.string().superRefine((schedule, ctx) => {
  const problem = cronScheduleProblem(schedule);
  if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
});

/**
 * The latest time at or before `now` that `schedule` fires (UTC, as a CronJob without timeZone on a
 * UTC control plane), and the longest gap between two runs around it: how old the newest run's result
 * may be when the schedule keeps running.
 */
export function scheduleWindow(schedule: string, now: Date): { previous: Date; intervalMs: number } {
  const runs = CronExpressionParser.parse(schedule.trim(), { currentDate: now, tz: 'UTC' });
  const previous = runs.prev().toDate();
  const before = runs.prev().toDate();
  const after = CronExpressionParser.parse(schedule.trim(), { currentDate: now, tz: 'UTC' }).next().toDate();
  return { previous, intervalMs: Math.max(previous.getTime() - before.getTime(), after.getTime() - previous.getTime()) };
}

/**
 * The longest wait between two runs of `schedule` over a year (UTC), from a fixed day so that synth stays
 * deterministic: a weekday-only schedule's weekend, a monthly one's 31 days.
 */
export function longestScheduleGapMs(schedule: string): number {
  const runs = CronExpressionParser.parse(schedule.trim(), { currentDate: new Date(Date.UTC(2026, 0, 1)), tz: 'UTC' });
  const end = Date.UTC(2027, 0, 8);
  let previous = runs.next().toDate().getTime();
  let longest = 0;
  // An hourly schedule has 8,760 runs a year; a minutely one is cut at a week of them.
  for (let i = 0; i < 10_080 && previous < end; i++) {
    const next = runs.next().toDate().getTime();
    longest = Math.max(longest, next - previous);
    previous = next;
  }
  return longest;
}

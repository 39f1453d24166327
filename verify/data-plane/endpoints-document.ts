import { ENDPOINTS_DOCUMENT } from '../../lib/platform/endpoints';
import type { Dist } from '../dist';

/** A port-forward line of the endpoints document: the local address and the kubectl command that serves it. */
export interface PortForward {
  readonly section: string;
  readonly localPort: number;
  readonly command: readonly string[];
}

/** `localhost:19092    kubectl port-forward -n kafka pod/kafka-0 19092:9094`, under `## Kafka` or `## PostgreSQL`. */
export function parsePortForwards(document: string): PortForward[] {
  const forwards: PortForward[] = [];
  let section = '';
  for (const line of document.split('\n')) {
    const heading = /^##\s+(.+?)\s*$/.exec(line);
    if (heading) section = heading[1];
    const match = /\blocalhost:(\d+)\s+(kubectl\s+port-forward\s+.+?)\s*$/.exec(line);
    if (match) forwards.push({ section, localPort: Number(match[1]), command: match[2].split(/\s+/) });
  }
  return forwards;
}

/** The Kafka port-forwards of dist/'s endpoints document (the lines under its Kafka section). */
export function kafkaPortForwards(dist: Dist): PortForward[] {
  const document = dist.documents[ENDPOINTS_DOCUMENT];
  return document === undefined ? [] : parsePortForwards(document).filter((forward) => /kafka/i.test(forward.section));
}

import * as fs from 'node:fs';
import type { Client, QueryResultRow } from 'pg';
import { ClusterUnavailableError, withTimeout } from '../cluster/cluster-reader';

export interface PostgresConnection {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
  /**
   * TLS that verifies the server: the CA (PEM) and the name its certificate must carry (the in-cluster host
   * when the connection goes through a port-forward). @default - no TLS
   */
  readonly tls?: { readonly ca: string; readonly servername: string };
}

/**
 * Reads host, port, user, password and database from a postgres:// URL; throws on anything else. As libpq:
 * `sslmode=verify-full` (or verify-ca) with `sslrootcert=<file>` verifies the server against that CA, and
 * `hostaddr` is where to connect while the host stays the name the certificate must carry (through a
 * port-forward: `...@postgres.postgres.svc.cluster.local:15432/...&hostaddr=127.0.0.1`).
 */
export function parsePostgresUrl(url: string): PostgresConnection {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error('--postgres-url is not a URL (postgresql://user:password@host:port/database)');
  }
  if (!['postgres:', 'postgresql:'].includes(parsed.protocol)) throw new Error(`--postgres-url must start with postgresql://, not ${parsed.protocol}//`);
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (!parsed.username || !database) throw new Error('--postgres-url must name the user and the database (postgresql://user:password@host:port/database)');
  const sslmode = parsed.searchParams.get('sslmode');
  const rootCert = parsed.searchParams.get('sslrootcert');
  if ((sslmode === 'verify-full' || sslmode === 'verify-ca') && !rootCert) throw new Error(`--postgres-url with sslmode=${sslmode} needs sslrootcert=<CA file>`);
  return {
    host: parsed.searchParams.get('hostaddr') ?? parsed.hostname,
    port: Number(parsed.port || 5432),
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    database,
    ...(rootCert && sslmode !== 'disable' ? { tls: { ca: fs.readFileSync(rootCert, 'utf8'), servername: parsed.hostname } } : {}),
  };
}

/**
 * The LearnFlow database, through one connection opened on first use. Every statement is bounded by
 * the timeout on both sides (statement_timeout in the server, query_timeout in the client).
 */
export class PostgresTarget {
  /** user@host:port/database: never the password. */
  readonly description: string;
  private clientPromise?: Promise<Client>;

  constructor(
    readonly connection: PostgresConnection,
    private readonly timeoutMs: number,
  ) {
    this.description = `PostgreSQL ${connection.user}@${connection.host}:${connection.port}/${connection.database}`;
  }

  get user(): string {
    return this.connection.user;
  }

  /** Rows of one statement. A failed connection is "could not check"; a failed statement is the caller's to judge. */
  async query<Row extends QueryResultRow = Record<string, any>>(sql: string, params: unknown[] = []): Promise<Row[]> {
    const client = await this.client();
    return (await client.query<Row>(sql, params)).rows;
  }

  private client(): Promise<Client> {
    this.clientPromise ??= this.connect();
    return this.clientPromise;
  }

  private async connect(): Promise<Client> {
    // Loaded here: runs without PostgreSQL never pay for it.
    const { Client } = await import('pg');
    const { host, port, user, password, database } = this.connection;
    const client = new Client({
      host,
      port,
      user,
      password,
      database,
      ssl: this.connection.tls && { ca: this.connection.tls.ca, servername: this.connection.tls.servername },
      application_name: 'learnflow-verify',
      connectionTimeoutMillis: this.timeoutMs,
      statement_timeout: this.timeoutMs,
      query_timeout: this.timeoutMs,
    });
    // An idle connection dropped by the server must not crash the process.
    client.on('error', () => undefined);
    try {
      await withTimeout(client.connect(), this.timeoutMs, this.description);
      return client;
    } catch (error) {
      void client.end().catch(() => undefined);
      if (error instanceof ClusterUnavailableError) throw error;
      throw new ClusterUnavailableError(`${this.description}: ${(error as Error).message}`);
    }
  }

  async close(): Promise<void> {
    const client = await this.clientPromise?.catch(() => undefined);
    await client?.end().catch(() => undefined);
  }
}

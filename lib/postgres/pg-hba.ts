/**
 * The server's one pg_hba.conf (shipped in the server-files ConfigMap whenever TLS or backups are on;
 * otherwise the image's own file applies). Local connections over the socket only as the superuser by
 * peer (the image's initialisation and maintenance in the pod, as uid 999 = postgres); from the network
 * only SCRAM, and with TLS on only over TLS (hostssl). The backup role, and no other, may use the
 * replication protocol (pg_basebackup). Anything else matches no line and is refused ("no pg_hba.conf
 * entry"). The `all` database keyword does not match replication connections (PostgreSQL docs, "The
 * pg_hba.conf File"), so the replication line is needed, and is the only one that admits them.
 */
export function hbaFile(options: { readonly ssl: boolean; readonly replicationRole?: string }): string {
  const host = options.ssl ? 'hostssl' : 'host';
  const rows = [
    ['# TYPE', 'DATABASE', 'USER', 'ADDRESS', 'METHOD'],
    ['local', 'all', 'postgres', '', 'peer'],
    [host, 'all', 'all', 'all', 'scram-sha-256'],
    ...(options.replicationRole ? [[host, 'replication', options.replicationRole, 'all', 'scram-sha-256']] : []),
  ];
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)) + 2);
  return `${rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]))).join('')).join('\n')}\n`;
}

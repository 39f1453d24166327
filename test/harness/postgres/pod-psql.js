// `kubectl exec <postgres pod> -- psql ...` as the operator commands run it (scripts/rotate.ts: the superuser on
// the pod's socket, the script on stdin), run instead against the real PostgreSQL of `server` (host, port, user,
// password) over TCP: no kubelet here runs the pod's container. Used by the kubectl fakes.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');

/** The psql command line and environment of such an exec, or undefined when args are not one. */
exports.podPsql = (args, server) => {
  if (args[0] !== 'exec' || !args.includes('--') || args[args.indexOf('--') + 1] !== 'psql') return undefined;
  const env = { ...process.env, PGHOST: server.host, PGPORT: String(server.port), PGUSER: server.user, PGPASSWORD: server.password };
  return { args: args.slice(args.indexOf('--') + 2), env };
};

/** Whether args are such an exec (the server in FAKE_KUBECTL_PSQL, JSON); if so, runs it and exits with psql's code. */
exports.runIfPodPsql = (args) => {
  const psql = exports.podPsql(args, JSON.parse(process.env.FAKE_KUBECTL_PSQL || '{}'));
  if (!psql) return;
  const result = spawnSync('psql', psql.args, { input: fs.readFileSync(0), env: psql.env });
  process.stdout.write(result.stdout);
  process.stderr.write(result.stderr);
  process.exit(result.status ?? 1);
};

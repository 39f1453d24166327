// `kubectl exec <postgres pod> -- psql ...` as the operator commands run it (scripts/rotate.ts: the superuser on
// the pod's socket, the script on stdin), run instead against the real PostgreSQL of FAKE_KUBECTL_PSQL (JSON:
// host, port, user, password) over TCP: no kubelet here runs the pod's container. Used by the kubectl fakes.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');

/** Whether args are such an exec; if so, runs it and exits with psql's code. */
exports.runIfPodPsql = (args) => {
  if (args[0] !== 'exec' || !args.includes('--') || args[args.indexOf('--') + 1] !== 'psql') return;
  const server = JSON.parse(process.env.FAKE_KUBECTL_PSQL);
  const result = spawnSync('psql', args.slice(args.indexOf('--') + 2), {
    input: fs.readFileSync(0),
    env: { ...process.env, PGHOST: server.host, PGPORT: String(server.port), PGUSER: server.user, PGPASSWORD: server.password },
  });
  process.stdout.write(result.stdout);
  process.stderr.write(result.stderr);
  process.exit(result.status ?? 1);
};

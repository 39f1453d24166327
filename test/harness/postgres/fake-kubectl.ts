import { spawn } from 'node:child_process';
import { type KubectlAnswer, type KubectlCommand, kubectlFails } from '../../support/fake-kubectl';

// The cluster of `npm run secrets` (scripts/secrets.ts only shells out to kubectl), served by
// test/support/fake-kubectl.ts: namespaces, Secrets, workloads and pods in the state file. `kubectl exec ... --
// psql ...` (the server pod's psql, which `--rotate` runs) runs against the real PostgreSQL `psqlServer`
// (pod-psql.js).

export interface PsqlServer {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
}

const { podPsql } = require('./pod-psql') as {
  podPsql(args: readonly string[], server: PsqlServer): { args: string[]; env: NodeJS.ProcessEnv } | undefined;
};

function runPsql(psql: { args: string[]; env: NodeJS.ProcessEnv }, stdin: string): Promise<KubectlAnswer> {
  return new Promise((resolve) => {
    const child = spawn('psql', psql.args, { env: psql.env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', (error) => resolve(kubectlFails(error.message)));
    child.on('close', (status) => resolve({ status: status ?? 1, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

/** Secret data as the API server stores it: stringData turned into base64 data. */
function storedSecret(manifest: any) {
  const data = Object.fromEntries(Object.entries(manifest.stringData as Record<string, string>).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
  return { apiVersion: 'v1', kind: 'Secret', metadata: manifest.metadata, type: manifest.type, data };
}

/** The secrets suites' kubectl; `psqlServer` answers `kubectl exec ... -- psql`. */
export function secretsCluster(psqlServer?: PsqlServer) {
  return ({ args, stdin, state }: KubectlCommand): KubectlAnswer | Promise<KubectlAnswer> => {
    if (state.unreachable) return kubectlFails('The connection to the server localhost:8080 was refused - did you specify the right host or port?');
    const flag = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
    const ok = (stdout: string): KubectlAnswer => ({ status: 0, stdout });
    const [verb, kind, name] = args;
    if (verb === 'get' && kind === 'namespace') {
      if (state.namespaces.includes(name)) return ok(`namespace/${name}\n`);
      return args.includes('--ignore-not-found') ? ok('') : kubectlFails(`Error from server (NotFound): namespaces "${name}" not found`);
    }
    if (verb === 'get' && kind === 'secret') {
      const secret = state.secrets[`${flag('-n')}/${name}`];
      if (secret) return ok(JSON.stringify(secret));
      return args.includes('--ignore-not-found') ? ok('') : kubectlFails(`Error from server (NotFound): secrets "${name}" not found`);
    }
    if (verb === 'get' && kind === 'secrets' && flag('-l') !== undefined) {
      if (state.refuseList) return kubectlFails(state.refuseList);
      const [label, value] = flag('-l')!.split('=');
      const items = Object.entries(state.secrets as Record<string, any>)
        .filter(([key, secret]) => key.startsWith(`${flag('-n')}/`) && secret.metadata?.labels?.[label] === value)
        .map(([, secret]) => secret);
      return ok(JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
    }
    if ((verb === 'create' || verb === 'replace') && kind === '-f' && name === '-') {
      const manifest = JSON.parse(stdin);
      const key = `${manifest.metadata.namespace}/${manifest.metadata.name}`;
      if (verb === 'create') {
        if (!state.namespaces.includes(manifest.metadata.namespace)) return kubectlFails(`Error from server (NotFound): namespaces "${manifest.metadata.namespace}" not found`);
        if (state.refuseCreate) return kubectlFails(state.refuseCreate);
        if (state.secrets[key]) return kubectlFails(`Error from server (AlreadyExists): secrets "${manifest.metadata.name}" already exists`);
      } else if (!state.secrets[key]) {
        return kubectlFails(`Error from server (NotFound): secrets "${manifest.metadata.name}" not found`);
      }
      state.secrets[key] = storedSecret(manifest);
      return ok(`secret/${manifest.metadata.name} ${verb === 'create' ? 'created' : 'replaced'}\n`);
    }
    if (verb === 'get' && kind === 'deployments,statefulsets,daemonsets') return ok(JSON.stringify({ kind: 'List', items: state.workloads?.[flag('-n')!] ?? [] }));
    if (verb === 'get' && kind === 'pods') return ok(JSON.stringify({ kind: 'List', items: state.pods?.[flag('-n')!] ?? [] }));
    const psql = psqlServer && podPsql(args, psqlServer);
    if (psql) return runPsql(psql, stdin);
    return kubectlFails(`fake kubectl: unsupported command: ${args.join(' ')}`);
  };
}

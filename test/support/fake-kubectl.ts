import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { tempDir } from './synth';

// A kubectl stand-in for the suites of the operator commands (deploy, secrets), which reach the cluster only by
// running kubectl: our own seam. The fake cluster is a JSON file (FAKE_KUBECTL_STATE) that the test writes and
// reads; every command line is appended to <state>.calls. What a command does is decided here, in the test
// process, by the suite's handler; `kubectl` on PATH is fake-kubectl.sh, which sends its command line over
// loopback and prints the answer. Only the handler's logic lives in the test process: the operator command
// still runs kubectl as a separate process, with its exit code, stdout and stderr, and can stop it.
//
// The test's worker must stay free to answer meanwhile: run the command under test asynchronously (spawn,
// runProcess), never with spawnSync.

const CLIENT = path.join(__dirname, 'fake-kubectl.sh');

export interface KubectlCommand {
  /** The command line without a leading `--context <name>`. */
  readonly args: readonly string[];
  /** What kubectl read from stdin (`-f -`, `exec -i`), else ''. */
  readonly stdin: string;
  /** The fake cluster, read from its file for this command; changes are written back when the command ends. */
  readonly state: any;
  /** Settles when the kubectl process is gone before its answer (its caller stopped it). */
  readonly gone: Promise<void>;
}

export interface KubectlAnswer {
  readonly status: number;
  readonly stdout?: string;
  readonly stderr?: string;
}

export type KubectlHandler = (command: KubectlCommand) => KubectlAnswer | Promise<KubectlAnswer>;

/** kubectl's failure: its message on stderr, exit code 1. */
export const kubectlFails = (message: string, stdout = ''): KubectlAnswer => ({ status: 1, stdout, stderr: `${message}\n` });

/** The fields of a request: state file, reply prefix, argument count, the arguments, stdin; each ends with a NUL. */
function parseRequest(buffer: Buffer): { stateFile: string; reply: string; argv: string[]; stdin: string } | undefined {
  const fields: string[] = [];
  let start = 0;
  for (let end = buffer.indexOf(0, start); end >= 0; end = buffer.indexOf(0, start)) {
    fields.push(buffer.toString('utf8', start, end));
    start = end + 1;
  }
  if (fields.length < 3 || fields.length < 4 + Number(fields[2])) return undefined;
  const count = Number(fields[2]);
  return { stateFile: fields[0], reply: fields[1], argv: fields.slice(3, 3 + count), stdin: fields[3 + count] };
}

/** Written whole and renamed into place, as the API server is atomic: a test may read the state meanwhile. */
function writeState(stateFile: string, state: unknown): void {
  fs.writeFileSync(`${stateFile}.tmp`, JSON.stringify(state, null, 2));
  fs.renameSync(`${stateFile}.tmp`, stateFile);
}

export class FakeKubectl {
  private constructor(
    private readonly server: net.Server,
    private readonly port: number,
    private readonly sockets: Set<net.Socket>,
  ) {}

  /** Serves `handler` on a loopback port until close(). */
  static async start(handler: KubectlHandler): Promise<FakeKubectl> {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      let buffer = Buffer.alloc(0);
      const gone = new Promise<void>((resolve) => socket.on('close', () => resolve()));
      socket.on('error', () => undefined);
      socket.on('data', (chunk) => {
        buffer = Buffer.concat([buffer, chunk]);
        const request = parseRequest(buffer);
        if (!request) return;
        socket.removeAllListeners('data');
        fs.appendFileSync(`${request.stateFile}.calls`, `${JSON.stringify(request.argv)}\n`);
        const text = fs.readFileSync(request.stateFile, 'utf8');
        const state = JSON.parse(text);
        const args = request.argv[0] === '--context' ? request.argv.slice(2) : request.argv;
        Promise.resolve()
          .then(() => handler({ args, stdin: request.stdin, state, gone }))
          .catch((error: Error) => kubectlFails(`fake kubectl: ${error.stack ?? error}`))
          .then((answer) => {
            if (socket.destroyed) return;
            if (JSON.stringify(state) !== JSON.stringify(JSON.parse(text))) writeState(request.stateFile, state);
            fs.writeFileSync(`${request.reply}.out`, answer.stdout ?? '');
            fs.writeFileSync(`${request.reply}.err`, answer.stderr ?? '');
            socket.end(`${answer.status}\n`);
          });
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    return new FakeKubectl(server, (server.address() as net.AddressInfo).port, sockets);
  }

  /**
   * The environment of a command under test whose kubectl is this fake with the cluster `stateFile`: a directory
   * with only `kubectl` in it first on PATH.
   */
  env(stateFile: string, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
    const bin = tempDir('fake-kubectl');
    fs.symlinkSync(CLIENT, path.join(bin, 'kubectl'));
    return { ...base, PATH: `${bin}${path.delimiter}${base.PATH}`, FAKE_KUBECTL_PORT: String(this.port), FAKE_KUBECTL_STATE: stateFile };
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

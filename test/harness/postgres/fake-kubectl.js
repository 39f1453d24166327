#!/usr/bin/env node
// A stand-in for kubectl (our own seam: scripts/secrets.ts only shells out to it). It keeps the
// cluster's namespaces, Secrets, workloads and pods in the JSON file FAKE_KUBECTL_STATE and appends each command
// line to FAKE_KUBECTL_STATE.calls, so that a test can see what the script ran. `kubectl exec ... -- psql ...`
// (the server pod's psql, which `--rotate` runs) runs against a real PostgreSQL (pod-psql.js).
'use strict';
const fs = require('fs');
const { runIfPodPsql } = require('./pod-psql');

const stateFile = process.env.FAKE_KUBECTL_STATE;
const state = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
let args = process.argv.slice(2);
fs.appendFileSync(`${stateFile}.calls`, `${JSON.stringify(args)}\n`);
if (args[0] === '--context') args = args.slice(2);

// Atomic, as the API server is: a test may read the state while a command changes it.
const save = () => {
  fs.writeFileSync(`${stateFile}.tmp`, JSON.stringify(state, null, 2));
  fs.renameSync(`${stateFile}.tmp`, stateFile);
};
const flag = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const fail = (message) => {
  process.stderr.write(`${message}\n`);
  process.exit(1);
};

if (state.unreachable) fail('The connection to the server localhost:8080 was refused - did you specify the right host or port?');
const [verb, kind, name] = args;
if (verb === 'get' && kind === 'namespace') {
  if (state.namespaces.includes(name)) process.stdout.write(`namespace/${name}\n`);
  else if (!args.includes('--ignore-not-found')) fail(`Error from server (NotFound): namespaces "${name}" not found`);
} else if (verb === 'get' && kind === 'secret') {
  const secret = state.secrets[`${flag('-n')}/${name}`];
  if (secret) process.stdout.write(JSON.stringify(secret));
  else if (!args.includes('--ignore-not-found')) fail(`Error from server (NotFound): secrets "${name}" not found`);
} else if (verb === 'create' && kind === '-f' && name === '-') {
  const manifest = JSON.parse(fs.readFileSync(0, 'utf8'));
  const key = `${manifest.metadata.namespace}/${manifest.metadata.name}`;
  if (!state.namespaces.includes(manifest.metadata.namespace)) fail(`Error from server (NotFound): namespaces "${manifest.metadata.namespace}" not found`);
  if (state.refuseCreate) fail(state.refuseCreate);
  if (state.secrets[key]) fail(`Error from server (AlreadyExists): secrets "${manifest.metadata.name}" already exists`);
  // The API server turns stringData into base64 data.
  const data = Object.fromEntries(Object.entries(manifest.stringData).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
  state.secrets[key] = { apiVersion: 'v1', kind: 'Secret', metadata: manifest.metadata, type: manifest.type, data };
  save();
  process.stdout.write(`secret/${manifest.metadata.name} created\n`);
} else if (verb === 'replace' && kind === '-f' && name === '-') {
  const manifest = JSON.parse(fs.readFileSync(0, 'utf8'));
  const key = `${manifest.metadata.namespace}/${manifest.metadata.name}`;
  if (!state.secrets[key]) fail(`Error from server (NotFound): secrets "${manifest.metadata.name}" not found`);
  const data = Object.fromEntries(Object.entries(manifest.stringData).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
  state.secrets[key] = { apiVersion: 'v1', kind: 'Secret', metadata: manifest.metadata, type: manifest.type, data };
  save();
  process.stdout.write(`secret/${manifest.metadata.name} replaced\n`);
} else if (verb === 'get' && kind === 'deployments,statefulsets,daemonsets') {
  process.stdout.write(JSON.stringify({ kind: 'List', items: (state.workloads ?? {})[flag('-n')] ?? [] }));
} else if (verb === 'get' && kind === 'pods') {
  process.stdout.write(JSON.stringify({ kind: 'List', items: (state.pods ?? {})[flag('-n')] ?? [] }));
} else if (verb === 'exec') {
  runIfPodPsql(args);
  fail(`fake kubectl: unsupported command: ${args.join(' ')}`);
} else {
  fail(`fake kubectl: unsupported command: ${args.join(' ')}`);
}

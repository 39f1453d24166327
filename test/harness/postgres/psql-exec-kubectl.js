#!/usr/bin/env node
// The real kubectl (REAL_KUBECTL) for everything, except `kubectl exec ... -- psql` into the PostgreSQL pod, which
// runs against a real PostgreSQL on loopback (pod-psql.js): the control plane's simulated nodes run no container.
'use strict';
const { spawnSync } = require('child_process');
const { runIfPodPsql } = require('./pod-psql');

let args = process.argv.slice(2);
if (args[0] === '--context') args = args.slice(2);
runIfPodPsql(args);
const result = spawnSync(process.env.REAL_KUBECTL, process.argv.slice(2), { stdio: 'inherit' });
process.exit(result.status ?? 1);

import { Command } from 'commander';
import { ConfigError, loadConfig } from './lib/config/load';
import { EXIT, exitCodeHelp, parseArguments } from './lib/exit-codes';
import { LearnflowStack } from './lib/learnflow-stack';
import { writeDistAtomically } from './lib/output/write-dist';

const program = new Command('synth')
  .description('Synthesize the LearnFlow infrastructure manifests into a directory, atomically.')
  .option('-p, --profile <name>', 'configuration profile: minikube or production', 'minikube')
  .option('-c, --config <file>', 'YAML file merged over the profile')
  // The cdk8s CLI passes its output directory in CDK8S_OUTDIR.
  .option('-o, --out <dir>', 'output directory', process.env.CDK8S_OUTDIR ?? 'dist')
  .option('-q, --quiet', 'print nothing on success')
  .addHelpText('after', `\n${exitCodeHelp('synth')}`)
  .showHelpAfterError();

function main(): number {
  const parsed = parseArguments(program);
  if (parsed !== undefined) return parsed;
  const options = program.opts<{ profile: string; config?: string; out: string; quiet?: boolean }>();
  try {
    const config = loadConfig({ profile: options.profile, overrideFile: options.config });
    const files = new LearnflowStack(config).synthesize();
    writeDistAtomically(options.out, files);
    if (!options.quiet) {
      console.log(`synthesized ${files.length} files into ${options.out}/ (profile ${config.profile})`);
    }
    return EXIT.ok;
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`error: ${error.message}\n${options.out}/ was left unchanged.`);
      return EXIT.usage;
    }
    console.error(`error: synth failed: ${(error as Error).stack ?? error}\n${options.out}/ was left unchanged.`);
    return EXIT.couldNotCheck;
  }
}

process.exitCode = main();

// `rrtrain setup`: builds the native addon of an installed rrnative (npm's install step skips it when it finds no
// LibTorch). Where no LibTorch or no build tools are found and apt-get exists, it installs Debian's (libtorch-dev
// with the threaded OpenBLAS and Gloo, as scripts/setup.sh does for a development checkout) unless --no-apt.
import { spawnSync } from 'node:child_process';
import type { CommandModule } from 'yargs';
import { buildAddon, findLibTorch, missingTools, packageRoot } from '../install/addon';

interface Args {
  apt: boolean;
  cache: boolean;
}

export const setupCommand: CommandModule<object, Args> = {
  command: 'setup',
  describe: 'build the native addon (installing LibTorch with apt where none is found)',
  builder: (y) => y
    .option('apt', { type: 'boolean', default: true, describe: 'install Debian\'s LibTorch and build tools with apt-get when missing (--no-apt: never)' })
    .option('cache', { type: 'boolean', default: true, describe: 'reuse an addon built from the same sources against the same LibTorch (--no-cache: compile)' }) as never,
  handler: async (argv) => {
    if (argv.apt) {
      const packages = debianPackagesNeeded();
      if (packages.length) aptInstall(packages);
    }
    const outcome = await buildAddon(packageRoot, { cache: argv.cache, log: (line) => console.error(line) });
    if (outcome.status === 'skipped') throw new Error(outcome.reason.replace(/^rrnative: /, ''));
    // Load it here, so a LibTorch that cannot be loaded is reported now, not at the first score().
    const { addon } = await import('../native');
    const info = addon().runtimeInfo();
    console.log(`rrnative: the native addon is ready (LibTorch ${info.torchVersion}, BLAS ${info.blas}, ` +
      `${info.cudaAvailable ? 'CUDA available' : 'CPU'}; ${outcome.status === 'cached' ? 'from the build cache' : `built in ${Math.round(outcome.seconds)} s`})`);
  },
};

function debianPackagesNeeded(): string[] {
  const packages: string[] = [];
  const tools = missingTools();
  if (tools.includes('cmake')) packages.push('cmake');
  if (tools.some((t) => t.startsWith('a C++'))) packages.push('g++');
  const torch = findLibTorch();
  if (!torch) {
    packages.push('libtorch-dev', 'libopenblas0-pthread', 'libgloo-dev');
  } else if (torch.source === 'system' && spawnSync('dpkg', ['--version']).status === 0) {
    // Debian's LibTorch falls back to the slow reference BLAS without the threaded OpenBLAS, and builds
    // data-parallel training only with the Gloo headers.
    for (const name of ['libopenblas0-pthread', 'libgloo-dev']) {
      if (spawnSync('dpkg', ['-s', name], { stdio: 'ignore' }).status !== 0) packages.push(name);
    }
  }
  return packages;
}

function aptInstall(packages: string[]): void {
  if (spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status !== 0) return;  // buildAddon then says what is missing
  const sudo = process.getuid?.() === 0 ? [] : ['sudo'];
  console.error(`rrtrain setup: ${[...sudo, 'apt-get', 'install', ...packages].join(' ')}`);
  const run = (args: string[]) => {
    const [command, ...rest] = [...sudo, ...args];
    const result = spawnSync(command, rest, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (result.status !== 0) throw new Error(`\`${[command, ...rest].join(' ')}\` failed (exit ${result.status ?? result.signal}); install ${packages.join(' ')} yourself, then run rrtrain setup --no-apt`);
  };
  run(['apt-get', 'update', '-qq']);
  run(['apt-get', 'install', '-y', '-qq', ...packages]);
}

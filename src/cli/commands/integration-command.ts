// Shared by `mxward policyd` and `mxward milter`: flags, the store location (the same precedence
// as every command), the listener, and a clean stop on SIGINT/SIGTERM.
import type { CliIo } from '../io.ts';
import { parseCommand, UsageError } from '../io.ts';
import { loadServiceSettings, parseHostPort } from './serve.ts';
import type { ListenAddress, RunningIntegration } from '../../integrations/runtime.ts';

function listenAddress(value: string | undefined): ListenAddress | undefined {
  if (value === undefined) return undefined;
  return value.startsWith('/') ? { path: value } : parseHostPort(value);
}

export async function runIntegration(name: 'policyd' | 'milter', argv: string[], io: CliIo, help: string, defaultPort: number): Promise<number> {
  const { values, positionals } = parseCommand(argv, { listen: { type: 'string' }, ...(name === 'milter' ? { 'policy-listen': { type: 'string' } } as const : {}) });
  if (values.help) { io.stdout.write(help); return 0; }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const { config, location } = loadServiceSettings(values, io);
  const listen = listenAddress(values.listen) ?? { host: '127.0.0.1', port: defaultPort };
  const policyListen = listenAddress((values as { 'policy-listen'?: string })['policy-listen']);
  const { startMilterService, startPolicyService } = await import('../../integrations/runtime.ts');
  const start = name === 'policyd' ? startPolicyService : startMilterService;
  const service = await start({ config, dataDir: location.dataDir, listen, policyListen });
  const where = (a: RunningIntegration['address']) => (typeof a === 'string' ? a : `${a.address}:${a.port}`);
  const policy = service.policyAddress ? `, policy service on ${where(service.policyAddress)}` : '';
  io.stderr.write(`mxward ${name}: listening on ${where(service.address)}${policy}, data in ${location.dataDir}\n`);
  await new Promise<void>((resolveStop) => {
    const onSignal = () => { process.off('SIGINT', onSignal); process.off('SIGTERM', onSignal); resolveStop(); };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  await service.stop();
  return 0;
}

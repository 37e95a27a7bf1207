// A service's expected failure (services/service-error.ts) as the CLI reports it: one line on
// stderr and exit 2, like every other usage error. `describe` lets a command name its own flag.
import { ServiceError } from '../../services/service-error.ts';
import { UsageError } from '../io.ts';

export async function cliCall<T>(work: () => Promise<T>, describe?: (err: ServiceError) => string | undefined): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof ServiceError) throw new UsageError(describe?.(err) ?? err.message);
    throw err;
  }
}

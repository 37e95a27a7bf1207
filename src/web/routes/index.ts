// Every API route, in one list: the server registers them and the OpenAPI document lists them.
import type { ApiRoute } from '../api-route.ts';
import { dashboardRoutes } from './dashboard-routes.ts';
import { identityRoutes } from './identity-routes.ts';
import { nodesRoutes } from './nodes-routes.ts';
import { policyRoutes } from './policy-routes.ts';
import { quarantineRoutes } from './quarantine-routes.ts';
import { queueRoutes } from './queue-routes.ts';
import { reportRoutes } from './report-routes.ts';
import { traceRoutes } from './trace-routes.ts';

export const apiRoutes: readonly ApiRoute[] = [
  ...identityRoutes, ...policyRoutes, ...traceRoutes, ...quarantineRoutes, ...queueRoutes,
  ...reportRoutes, ...dashboardRoutes, ...nodesRoutes,
];

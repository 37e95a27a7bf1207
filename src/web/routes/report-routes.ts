// Placeholder filled by its owner (issue 13); registered in routes/index.ts.
import type { ApiRoute } from '../api-route.ts';

export const reportRoutes: ApiRoute[] = [];

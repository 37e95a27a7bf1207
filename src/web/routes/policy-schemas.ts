// The shapes the policy API reads and answers (issue 13). Requests reuse the policy schema's own
// fields (config/policy-schema.ts), so the API refuses exactly what an import would refuse, with
// the same messages and field paths. Responses are described as plain data: the stored policy is
// already normalised, and plain shapes are what an OpenAPI document can state.
import { z } from 'zod';
import { acceptedDomainSchema, connectorSchema, modeSchema, policySchema } from '../../config/policy-schema.ts';
import { policyFragmentSchema } from '../../services/policy-document.ts';
import type { OrgSettings } from '../../services/policy-edits.ts';

/** A schema without its default, so a PATCH that leaves a field out does not reset it. */
function withoutDefault(schema: z.ZodType): z.ZodType {
  return schema instanceof z.ZodDefault ? (schema.unwrap() as z.ZodType) : schema;
}

// ---- requests ----------------------------------------------------------------------------------

/** Every switch of the policy (all but its two lists), optional: a switch not given stays. */
export const orgPatchSchema = z.object(Object.fromEntries(
  Object.entries(policySchema.shape)
    .filter(([key]) => key !== 'acceptedDomains' && key !== 'connectors')
    .map(([key, field]) => [key, withoutDefault(field as z.ZodType).optional()]),
)).strict() as unknown as z.ZodType<Partial<OrgSettings>>;

export const domainBodySchema = acceptedDomainSchema;

export const connectorBodySchema = connectorSchema;

/** Every connector field optional and without a default: only what is given changes. */
export const connectorPatchSchema = z.object(Object.fromEntries(
  Object.entries(connectorSchema.shape).map(([key, field]) => [key, withoutDefault(field as z.ZodType).optional()]),
)).strict() as unknown as z.ZodType<Partial<z.output<typeof connectorSchema>>>;

export const connectorProbeSchema = z.object({
  ip: z.string().min(1),
  /** A verified, currently valid certificate presenting exactly this name (implies TLS). */
  certName: z.string().min(1).optional(),
  certFingerprints: z.array(z.string().min(1)).optional(),
  /** An encrypted session without a client certificate. */
  tls: z.boolean().optional(),
  /** MAIL FROM address or domain. */
  sender: z.string().min(1).optional(),
}).strict();

export const newUserSchema = z.object({
  username: z.string().min(1).max(256),
  password: z.string(),
  addresses: z.array(z.string()).min(1),
}).strict();

export const passwordBodySchema = z.object({ password: z.string() }).strict();

/** `document` as JSON, or `yaml` as `mxward policy export` writes it (errors then name the line). */
export const importBodySchema = z.object({
  document: policySchema.optional(),
  yaml: z.string().optional(),
  replace: z.boolean().default(false),
  dryRun: z.boolean().default(false),
}).strict().refine((b) => (b.document === undefined) !== (b.yaml === undefined), { message: 'give exactly one of document and yaml' });

/** `fragment` (connectors and accepted domains to add, e.g. a report's recommendation) or `yaml`. */
export const mergeBodySchema = z.object({
  fragment: policyFragmentSchema.optional(),
  yaml: z.string().optional(),
  dryRun: z.boolean().default(false),
}).strict().refine((b) => (b.fragment === undefined) !== (b.yaml === undefined), { message: 'give exactly one of fragment and yaml' });

export const rollbackBodySchema = z.object({
  version: z.number().int().min(1),
  dryRun: z.boolean().default(false),
}).strict();

export const historyQuerySchema = z.object({ limit: z.coerce.number().int().min(1).max(1000).default(20) });

export const nameParams = z.object({ name: z.string().min(1) });
export const domainParams = z.object({ domain: z.string().min(1) });
export const usernameParams = z.object({ username: z.string().min(1) });
export const versionParams = z.object({ version: z.coerce.number().int().min(1) });

// ---- responses ---------------------------------------------------------------------------------

export const domainView = z.object({ domain: z.string(), includeSubdomains: z.boolean(), recipients: z.array(z.string()) });

export const connectorView = z.object({
  name: z.string(),
  type: z.enum(['partner', 'onPremises']),
  enabled: z.boolean(),
  senderDomains: z.array(z.string()),
  senderIPAddresses: z.array(z.string()),
  tlsSenderCertificateName: z.string().nullable(),
  certificateFingerprints: z.array(z.string()).optional(),
  restrictDomainsToIPAddresses: z.boolean(),
  restrictDomainsToCertificate: z.boolean(),
  requireTls: z.boolean(),
  treatMessagesAsInternal: z.boolean(),
  comment: z.string(),
});

/** The switches named here; later ones pass through as they are (loose), never dropped. */
const orgSettingsView = {
  rejectDirectSend: modeSchema,
  rejectDirectSendHeaderFrom: modeSchema,
  // The schema's own enum (no transform), so a new tagging mode is a valid answer at once.
  externalTagging: policySchema.shape.externalTagging.unwrap(),
  externalTagPrefix: z.string(),
  onPremisesMinPrefixLength: z.object({ ipv4: z.number().int().optional(), ipv6: z.number().int().optional() }).optional(),
};

/** Loose at run time (switches added later pass through); typed as the fields named. */
function passThrough<T extends z.ZodObject>(schema: T): T {
  return schema.loose() as unknown as T;
}

export const orgView = passThrough(z.object({ ...orgSettingsView, policyVersion: z.number().int() }));

export const policyDocumentView = passThrough(z.object({
  ...orgSettingsView,
  acceptedDomains: z.array(domainView),
  connectors: z.array(connectorView),
}));

export const policyExportView = z.object({
  version: z.number().int(),
  document: policyDocumentView,
  /** The same document as `mxward policy export` writes it. */
  yaml: z.string(),
});

export const diffView = z.object({
  domains: z.object({ added: z.array(z.string()), removed: z.array(z.string()), changed: z.array(z.string()) }),
  connectors: z.object({
    added: z.array(z.string()),
    removed: z.array(z.string()),
    changed: z.array(z.object({ name: z.string(), fields: z.array(z.string()) })),
  }),
  settings: z.array(z.string()),
});

/** A whole-policy change: written, a dry run (with why it would be refused), or nothing to do. */
export const changeResultView = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('written'), version: z.number().int(), previousVersion: z.number().int(), diff: diffView }),
  z.object({ kind: z.literal('dry-run'), version: z.number().int(), diff: diffView, refusal: z.string().nullable() }),
  z.object({ kind: z.literal('unchanged'), version: z.number().int(), diff: diffView }),
]);

const versionFields = { version: z.number().int(), time: z.string(), actor: z.string(), action: z.string() };

export const historyItemView = z.object({ ...versionFields, acceptedDomains: z.number().int(), connectors: z.number().int() });

export const versionDetailView = z.object({
  ...versionFields,
  document: policyDocumentView,
  previousVersion: z.number().int().nullable(),
  diff: diffView,
});

export const userView = z.object({ username: z.string(), addresses: z.array(z.string()) });

export const connectorTestView = z.object({
  result: z.enum(['matched', 'restricted', 'requireTls', 'none']),
  connector: z.string().nullable(),
  by: z.enum(['certificate', 'ip']).nullable(),
  reasons: z.array(z.string()),
  unusableRanges: z.array(z.object({ connector: z.string(), range: z.string(), reason: z.string() })),
  policyVersion: z.number().int(),
});

export const removedView = z.object({ removed: z.string() });
export const doneView = z.object({ ok: z.literal(true) });

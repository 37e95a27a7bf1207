// External sender tagging (issue 18) behind Postfix: the same decision and the same rewrite as the
// gateway's end of DATA, expressed as milter edits. X-Mxward-External joins mxward's stamps, the
// Subject prefix is an SMFIR_CHGHEADER (or an added Subject), and a banner is the whole new body
// for SMFIR_REPLBODY. The milter already holds the message (bounded by limits.maxMessageBytes), so
// the banner rewrite reads it from memory.
import { Readable } from 'node:stream';
import type { RuleHit } from '../../domain/types.ts';
import { EXTERNAL_HEADER, prefixSubjectField } from '../../policy/external-tag.ts';
import { rewriteWithBanner } from '../../smtp/banner-rewrite.ts';
import { bannerHit, planExternalTagFor, subjectHit } from '../../smtp/external-tag.ts';
import type { ExternalTagInput } from '../../smtp/external-tag.ts';
import type { HeaderField } from '../../smtp/header-section.ts';
import type { HeaderEdit, ReceivedHeader } from './milter-session.ts';

export interface MilterTag {
  /** Added to mxward's stamps (X-Mxward-External), or ''. */
  header: string;
  edits: HeaderEdit[];
  /** The replacement body, when a banner was added. */
  body: Buffer | null;
  hits: RuleHit[];
}

export async function milterExternalTag(input: Omit<ExternalTagInput, 'fields'>, canonical: { fields: HeaderField[]; bytes: Buffer }, received: ReceivedHeader[], leadingSpace: boolean): Promise<MilterTag> {
  const step = planExternalTagFor(input);
  if (!step.tag) return { header: '', edits: [], body: null, hits: step.hits };
  const { plan, who, notes } = step;
  if (plan.banner) {
    if (canonical.bytes.length > plan.bannerMaxBytes) {
      const reason = `message of ${canonical.bytes.length} bytes is over externalTagBannerMaxBytes (${plan.bannerMaxBytes})`;
      return { header: EXTERNAL_HEADER, edits: [], body: null, hits: [...notes, bannerHit(who, plan.banner, { kind: 'unchanged', reason })] };
    }
    const out: Buffer[] = [];
    const outcome = await rewriteWithBanner(() => Readable.from([canonical.bytes]), plan.banner, async (chunk) => { out.push(Buffer.from(chunk)); });
    const headerBytes = canonical.fields.reduce((n, f) => n + Buffer.byteLength(f.raw, 'latin1'), 0) + 2;
    const body = outcome.kind === 'rewritten' ? Buffer.concat(out).subarray(headerBytes) : null;
    return { header: EXTERNAL_HEADER, edits: [], body, hits: [...notes, bannerHit(who, plan.banner, outcome)] };
  }
  if (!plan.subjectPrefix) return { header: EXTERNAL_HEADER, edits: [], body: null, hits: [...notes, { rule: 'externalTag', detail: `${who}: X-Mxward-External stamped` }] };
  const edit = subjectEdit(canonical.fields, received, plan.subjectPrefix, leadingSpace);
  return { header: EXTERNAL_HEADER, edits: edit ? [edit] : [], body: null, hits: [...notes, subjectHit(who, edit ? plan.subjectPrefix : null)] };
}

/** The first Subject changed in place (index 1 of its name, as Postfix counts), or one appended. */
function subjectEdit(fields: HeaderField[], received: ReceivedHeader[], prefix: string, leadingSpace: boolean): HeaderEdit | null {
  const field = fields.find((f) => f.name === 'subject');
  const name = received.find((h) => h.name.trim().toLowerCase() === 'subject')?.name;
  if (!field || !name) return { op: 'append', name: 'Subject', value: leadingSpace ? ` ${prefix}` : prefix };
  const tagged = prefixSubjectField(field.raw, prefix);
  if (tagged === null) return null;
  // Milter values carry folds as LF + white space, and no line end.
  const value = tagged.slice(tagged.indexOf(':') + 1).replace(/\r\n$/, '').replace(/\r\n/g, '\n');
  return { op: 'change', index: 1, name, value: leadingSpace ? value : value.replace(/^ /, '') };
}

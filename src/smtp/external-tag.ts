// Applies the external tag (policy/external-tag.ts) to an accepted message at the end of DATA,
// after every check has read the original bytes (issue 18): DKIM was verified on what the sender
// signed. The Subject is rewritten into a new spool file: the held copy of a small message is
// sliced, a larger one is streamed from the first file, so memory stays within the spool writer's
// buffer whatever the message size.
import { createReadStream } from 'node:fs';
import type { Attribution, RuleHit } from '../domain/types.ts';
import type { PolicyDocument } from '../config/policy-schema.ts';
import { EXTERNAL_HEADER, planExternalTag, tagHeaderSection } from '../policy/external-tag.ts';
import type { Spool, SpoolWriter } from '../spool/spool.ts';
import type { HeaderField } from './header-section.ts';

export interface ExternalTagResult {
  /** The writer to commit: a new one when the Subject was rewritten. */
  writer: SpoolWriter;
  /** Prepended at delivery with mxward's other fields. */
  header: string;
  hit: RuleHit | null;
}

export async function applyExternalTag(spool: Spool, writer: SpoolWriter, doc: PolicyDocument, attribution: Attribution, fields: readonly HeaderField[]): Promise<ExternalTagResult> {
  const plan = planExternalTag(doc.externalTagging ?? 'off', attribution, doc.externalTagPrefix ?? '[EXTERNAL]');
  if (!plan) return { writer, header: '', hit: null };
  if (!plan.subjectPrefix) return { writer, header: EXTERNAL_HEADER, hit: { rule: 'externalTag', detail: 'anonymous mail: X-Mxward-External stamped' } };
  const tagged = tagHeaderSection(fields, plan.subjectPrefix);
  if (tagged === null) return { writer, header: EXTERNAL_HEADER, hit: { rule: 'externalTag', detail: 'anonymous mail: Subject already carries the prefix, not added twice' } };
  const headerBytes = fields.reduce((n, f) => n + Buffer.byteLength(f.raw, 'latin1'), 0);
  const whole = writer.peekWhole();
  const next = await spool.createWriter();
  try {
    await next.write(Buffer.from(tagged, 'latin1'));
    if (whole) await next.write(whole.subarray(headerBytes));
    else {
      await writer.flush();
      for await (const chunk of createReadStream(writer.path, { start: headerBytes })) await next.write(chunk as Buffer);
    }
  } catch (err) {
    await next.discard();
    throw err;
  }
  await writer.discard();
  return { writer: next, header: EXTERNAL_HEADER, hit: { rule: 'externalTag', detail: `anonymous mail: Subject prefixed with ${plan.subjectPrefix}` } };
}

// Stage 6 (SPEC §2.6): stream the message to the spool (only the header section is held in
// memory), run the end-of-DATA checks, then commit durably and only then answer 250.
import type { Readable } from 'node:stream';
import type { SMTPServerSession } from 'smtp-server';
import type { MessageFacts, SmtpReply } from '../../domain/types.ts';
import { decideHeaderFrom } from '../../policy/decide.ts';
import { combineCheckOutcomes } from '../../policy/end-of-data.ts';
import { malformedHeaderReply, queuedReply, replies, replyMessage } from '../../policy/replies.ts';
import { newEnvelope } from '../../spool/envelope.ts';
import type { SpoolWriter } from '../../spool/spool.ts';
import { sessionState } from '../context.ts';
import type { EndOfDataResult, GatewayContext, SessionState, Transaction } from '../context.ts';
import { extractHeaderFacts, HeaderEndScanner, readHeaderSection, stripUntrustedFields } from '../header-section.ts';
import type { HeaderEnd, HeaderField, HeaderReading } from '../header-section.ts';
import { stampHeaders } from '../stamp-headers.ts';
import { applyExternalTag } from '../external-tag.ts';
import { abandonTransaction, finishTransaction } from '../transaction-trace.ts';
import { closeSession } from '../session-control.ts';
import { SmtpError } from './smtp-error.ts';

interface ReceivedMessage {
  fields: HeaderField[];
  /** What canonicalisation changed (SPEC §10), for the trace. */
  changes: string[];
  sizeBytes: number;
  problem: SmtpReply | null;
}

/**
 * Copies the DATA stream into the spool writer. The header section is buffered (bounded by
 * maxHeaderBytes) and read once into its canonical form, untrusted fields removed, before anything
 * reaches the disk; the body goes straight through. Over a limit, or when the header section
 * cannot be read one way, writing stops but the stream is drained so the client still gets a
 * reply instead of a hung connection.
 */
async function receiveMessage(stream: Readable, writer: SpoolWriter, ctx: GatewayContext): Promise<ReceivedMessage> {
  const { maxHeaderBytes, maxMessageBytes } = ctx.config.limits;
  // The header section's chunks, until its end is seen; then null and the body streams through.
  let headerChunks: Buffer[] | null = [];
  let headerBytes = 0;
  const scanner = new HeaderEndScanner();
  let result: ReceivedMessage = { fields: [], changes: [], sizeBytes: 0, problem: null };
  const finishHeader = async (whole: Buffer, end: HeaderEnd | null) => {
    const reading = await writeCanonicalHeader(writer, end ? whole.subarray(0, end.headerEnd) : whole, ctx.authservId, end !== null);
    if (!reading.ok) { result.problem = malformedHeaderReply(reading.problem); return; }
    result = { ...result, fields: reading.fields, changes: reading.changes };
    // The body as it came, not copied: the writer holds it until it writes or commits.
    if (end && end.bodyStart < whole.length) await writer.write(whole.subarray(end.bodyStart));
  };
  // A message's first chunk usually holds the whole header section: read it in place.
  const headerBlock = (chunks: Buffer[], bytes: number) => (chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, bytes));
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    result.sizeBytes += chunk.length;
    if (result.problem) continue;
    if (result.sizeBytes > maxMessageBytes) { result.problem = replies.tooBig; continue; }
    if (headerChunks === null) { await writer.write(chunk); continue; }
    headerChunks.push(chunk);
    headerBytes += chunk.length;
    const end = scanner.push(chunk);
    if (!end) {
      if (headerBytes > maxHeaderBytes) result.problem = replies.headerTooBig;
      continue;
    }
    if (end.headerEnd > maxHeaderBytes) { result.problem = replies.headerTooBig; continue; }
    await finishHeader(headerBlock(headerChunks, headerBytes), end);
    headerChunks = null;
  }
  if (!result.problem && headerChunks !== null) {
    // The stream has ended, so a CR at the very end is a line break after all; with no empty line
    // at all, the whole message is a header section (legal, if unusual).
    await finishHeader(headerBlock(headerChunks, headerBytes), scanner.finish());
  }
  return result;
}

/** Writes the canonical header section, and the empty line after it when the message has one. */
async function writeCanonicalHeader(writer: SpoolWriter, block: Buffer, authservId: string, emptyLine: boolean): Promise<HeaderReading> {
  const reading = readHeaderSection(block);
  if (!reading.ok) return reading;
  const { kept } = stripUntrustedFields(reading.fields, authservId);
  let text = '';
  for (const f of kept) text += f.raw;
  await writer.write(Buffer.from(emptyLine ? `${text}\r\n` : text, 'latin1'));
  return { ...reading, fields: kept };
}

async function runChecks(ctx: GatewayContext, state: SessionState, tx: Transaction, message: MessageFacts, fields: HeaderField[], writer: SpoolWriter): Promise<EndOfDataResult> {
  // A small message is checked from memory (and may then be committed through the journal);
  // a larger one has gone to the file, which must hold every byte before the checks read it.
  const checking = ctx.endOfDataChecks.length > 0;
  const messageBytes = checking ? writer.peekWhole() : null;
  if (checking && !messageBytes) await writer.flush();
  const results: EndOfDataResult[] = [];
  for (const check of ctx.endOfDataChecks) {
    results.push(await check.run({ policy: state.policy, facts: state.facts, sender: tx.sender!, recipients: tx.recipients, message, headerFields: fields, messagePath: writer.path, messageBytes }));
  }
  const combined = combineCheckOutcomes(results);
  tx.hits.push(...combined.hits);
  const last = <K extends 'auth' | 'authenticationResults'>(key: K) => results.reduce<EndOfDataResult[K] | null>((acc, r) => r[key] ?? acc, null);
  return { auth: last('auth'), authenticationResults: last('authenticationResults'), verdict: combined.verdict, scl: combined.scl };
}

export async function onData(ctx: GatewayContext, stream: Readable, session: SMTPServerSession): Promise<string> {
  const state = sessionState(session);
  const tx = state.tx;
  if (!tx?.sender) throw new SmtpError(replies.internal);
  tx.lastStage = 'data';
  let writer: SpoolWriter | null = null;
  const fail = async (reply: SmtpReply, verdict: 'reject' | 'tempfail', message?: MessageFacts, result?: EndOfDataResult) => {
    await writer?.discard();
    tx.lastReply = reply;
    await finishTransaction(ctx, state, { verdict, message, auth: result?.auth ?? null });
    return new SmtpError(reply);
  };
  const deadline = setTimeout(() => {
    ctx.logger.info({ stage: 'data', event: 'deadline', sessionId: state.facts.sessionId, ip: state.facts.remoteIp }, 'message transfer exceeded maxDataMs');
    tx.lastReply = replies.dataTimeout;
    closeSession(session, replies.dataTimeout);
  }, ctx.config.limits.maxDataMs);
  try {
    // The spool may have filled since MAIL FROM; the message is read and dropped, not written.
    const admission = await ctx.admission?.();
    if (admission && !admission.ok) {
      for await (const _chunk of stream) { /* drain so the client gets the reply */ }
      throw await fail(replies.storageFull, 'tempfail');
    }
    writer = await ctx.spool.createWriter();
    const received = await receiveMessage(stream, writer, ctx);
    const facts = extractHeaderFacts(received.fields);
    const message: MessageFacts = { ...facts, sizeBytes: received.sizeBytes };
    if (received.problem) throw await fail(received.problem, 'reject', message);
    if (received.changes.length > 0) tx.hits.push({ rule: 'header.normalised', detail: received.changes.join(', ') });

    const headerFrom = decideHeaderFrom(state.policy, tx.sender, state.facts, message);
    if (!headerFrom.ok) {
      tx.hits.push(...headerFrom.verdict.hits);
      throw await fail(headerFrom.verdict.reply!, 'reject', message);
    }
    tx.hits.push(...headerFrom.hits);
    if (headerFrom.value.directSend && !tx.directSend) {
      tx.directSend = headerFrom.value.directSend;
      tx.wouldReject = headerFrom.value.wouldReject;
    }

    const result = await runChecks(ctx, state, tx, message, received.fields, writer);
    const verdict = result.verdict;
    if (verdict && (verdict.action === 'reject' || verdict.action === 'tempfail')) {
      throw await fail(verdict.reply ?? replies.internal, verdict.action, message, result);
    }
    // Issue 18: external mail is tagged only now, after every check read the original bytes.
    const tag = await applyExternalTag(ctx.spool, writer, {
      policy: state.policy, sender: tx.sender, message, auth: result.auth, directSend: tx.directSend, wouldReject: tx.wouldReject, fields: received.fields,
    });
    writer = tag.writer;
    tx.hits.push(...tag.hits);
    return await commitAccepted(ctx, state, tx, writer, message, result, tag.header);
  } catch (err) {
    if (err instanceof SmtpError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ECONNECTION') {
      // The client left (or was dropped) mid-message: nothing was acknowledged, nothing is kept.
      // Traced like any transaction left open: `abandoned`, or `tempfail` after the 421 of the
      // maxDataMs deadline.
      await writer?.discard();
      await abandonTransaction(ctx, state);
      throw new SmtpError(tx.lastReply ?? replies.internal);
    }
    // SPEC §2.7: an unexpected failure is a 451, never a silent accept and never a lost message.
    ctx.logger.error({ stage: 'data', event: 'exception', sessionId: state.facts.sessionId, err }, 'end of DATA failed');
    throw await fail(replies.internal, 'tempfail');
  } finally {
    clearTimeout(deadline);
  }
}

async function commitAccepted(ctx: GatewayContext, state: SessionState, tx: Transaction, writer: SpoolWriter, message: MessageFacts, result: EndOfDataResult, extraHeaders = ''): Promise<string> {
  const action = result.verdict?.action ?? 'accept';
  const now = ctx.now();
  const prependHeaders = stampHeaders({
    hostname: ctx.config.hostname, queueId: writer.queueId, facts: state.facts, recipients: tx.recipients,
    attribution: tx.sender!.attribution, connector: tx.sender!.connector, directSend: tx.directSend, wouldReject: tx.wouldReject,
    verdict: action, scl: result.scl, authenticationResults: result.authenticationResults, now,
  }) + extraHeaders;
  if (action === 'quarantine') {
    if (!ctx.quarantine) throw new Error('quarantine verdict without a quarantine store');
    await writer.syncAndClose(); // the quarantine takes the file over; the spool's handle must not leak
    const quarantineId = await ctx.quarantine.quarantine({
      messagePath: writer.path, prependHeaders, traceTransactionId: tx.id, recipients: tx.recipients,
      mailFrom: tx.sender!.mailFrom, verdict: result.verdict!, headerFrom: message.headerFrom,
    });
    const reply = queuedReply(writer.queueId);
    tx.lastReply = reply;
    await finishTransaction(ctx, state, { verdict: 'quarantine', message, auth: result.auth, quarantineId, deliveryStatus: 'quarantined' });
    return replyMessage(reply);
  }
  await ctx.spool.commit(writer, newEnvelope({
    queueId: writer.queueId, mailFrom: tx.sender!.mailFrom, recipients: tx.recipients, prependHeaders, transactionId: tx.id, now,
  }), { journal: true });
  const reply = queuedReply(writer.queueId);
  tx.lastReply = reply;
  // The message is durable, so the 250 does not wait for its trace record, which the store may
  // commit a few milliseconds later together with others. Delivery starts once the record is
  // written, so the delivery update always finds it (on PostgreSQL too, where the two statements
  // may run on different connections).
  const queueId = writer.queueId;
  finishTransaction(ctx, state, { verdict: action, message, auth: result.auth, queueId, deliveryStatus: 'queued' }, { background: true })
    .catch((err: unknown) => ctx.logger.error({ stage: 'trace', event: 'write-failed', queueId, err }, 'trace write failed'))
    .then(() => ctx.onQueued(queueId));
  return replyMessage(reply);
}

// The same aggregation as `mxward report` over a message trace CSV, as one DuckDB query: each row
// classified into a kind (no source IP = internal; our P1 to a foreign recipient = outbound;
// connector range = connector; our P1 = Direct Send; else external), then counts per kind and
// day, and per Direct Send source: rows, first/last seen, distinct recipients and senders.
// Received is read as text and parsed by shape, as mxward does: the generated file mixes ISO
// timestamps with en-US ones (generate.ts).
import { DuckDBInstance } from '@duckdb/node-api';

/** @returns {Promise<{ ms: number, groups: number, directSend: number }>} */
export async function duckdbAggregate(file, acceptedDomain, connectorPrefix) {
  const started = performance.now();
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  const sql = `
    WITH t AS (
      SELECT coalesce(try_cast(Received AS TIMESTAMP), try_strptime(Received, '%m/%d/%Y %I:%M:%S %p')) AS Received, SenderAddress, RecipientAddress, Subject, FromIP,
        CASE
          WHEN FromIP IS NULL OR FromIP = '' THEN 'internal'
          WHEN lower(split_part(SenderAddress, '@', 2)) = '${acceptedDomain}' AND lower(split_part(RecipientAddress, '@', 2)) <> '${acceptedDomain}' THEN 'internal'
          WHEN FromIP LIKE '${connectorPrefix}%' THEN 'connector'
          WHEN lower(split_part(SenderAddress, '@', 2)) = '${acceptedDomain}' THEN 'direct-send'
          ELSE 'external'
        END AS kind
      FROM read_csv('${file.replace(/'/g, "''")}', skip = 1, header = true, quote = '"', delim = ',',
        columns = {'Received': 'VARCHAR', 'SenderAddress': 'VARCHAR', 'RecipientAddress': 'VARCHAR', 'Subject': 'VARCHAR',
          'Status': 'VARCHAR', 'ToIP': 'VARCHAR', 'FromIP': 'VARCHAR', 'Size': 'BIGINT', 'MessageId': 'VARCHAR', 'MessageTraceId': 'VARCHAR'})
    )
    SELECT kind, CASE WHEN kind IN ('direct-send', 'connector') THEN FromIP END AS source, date_trunc('day', Received) AS day,
      count(*) AS rows, min(Received) AS first_seen, max(Received) AS last_seen,
      count(DISTINCT RecipientAddress) AS recipients, count(DISTINCT SenderAddress) AS senders, any_value(Subject) AS subject
    FROM t GROUP BY ALL`;
  const reader = await conn.runAndReadAll(sql);
  const rows = reader.getRowObjects();
  let directSend = 0;
  for (const r of rows) if (r.kind === 'direct-send') directSend += Number(r.rows);
  conn.closeSync();
  instance.closeSync();
  return { ms: performance.now() - started, groups: rows.length, directSend };
}

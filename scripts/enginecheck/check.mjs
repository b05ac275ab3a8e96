// Reads what memvec export wrote with engines nobody in memvec wrote:
// DuckDB reads the Parquet files, Apache Arrow's JavaScript reader the
// Arrow IPC files. It prints what they found as one JSON object, which
// export/engines_test.go compares with the vectors it exported.
//
//	node check.mjs VEC.parquet VEC.arrow BYTES.parquet BYTES.arrow MAP.parquet MAP.arrow
//
// VEC holds struct{ A int64; B float64; C uint32; D int32; OK bool;
// Name [16]byte `memvec:"string"` }; BYTES is a Bytes of text records;
// MAP is a Map[uint64, struct{ N int64; Tag [8]byte `memvec:"string"` }],
// columns Key, Value.N and Value.Tag. Sums are printed as decimal strings
// (they pass 2^53), the text as the MD5 of its values joined by newlines,
// in the file's order (a map's, which has none, sorted).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';
import { tableFromIPC } from 'apache-arrow';

const [vecParquet, vecArrow, bytesParquet, bytesArrow, mapParquet, mapArrow] = process.argv.slice(2);
const md5 = (s) => createHash('md5').update(s, 'utf8').digest('hex');
const quote = (p) => "'" + p.replaceAll("'", "''") + "'";

const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
async function row(sql) {
  const reader = await con.runAndReadAll(sql);
  return reader.getRowObjectsJS()[0];
}

const duckdb = {};
const v = await row(`SELECT count(*)::VARCHAR AS count, sum(A)::VARCHAR AS sumA, sum(B)::VARCHAR AS sumB,
  sum(C)::VARCHAR AS sumC, sum(D)::VARCHAR AS sumD, count(*) FILTER (WHERE OK)::VARCHAR AS countOK,
  string_agg(Name, chr(10) ORDER BY file_row_number) AS names
  FROM read_parquet(${quote(vecParquet)}, file_row_number = true)`);
duckdb.vector = { count: v.count, sumA: v.sumA, sumB: v.sumB, sumC: v.sumC, sumD: v.sumD, countOK: v.countOK, namesMD5: md5(v.names) };
const types = await con.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${quote(vecParquet)})`);
duckdb.vector.types = types.getRowObjectsJS().map((r) => `${r.column_name} ${r.column_type}`);
const b = await row(`SELECT count(*)::VARCHAR AS count, sum(strlen(record))::VARCHAR AS bytes,
  string_agg(record, chr(10) ORDER BY file_row_number) AS records, typeof(any_value(record)) AS type
  FROM read_parquet(${quote(bytesParquet)}, file_row_number = true)`);
duckdb.bytes = { count: b.count, bytes: b.bytes, recordsMD5: md5(b.records), type: b.type };
const m = await row(`SELECT count(*)::VARCHAR AS count, sum("Key")::VARCHAR AS sumKey, sum("Value.N")::VARCHAR AS sumN,
  string_agg("Value.Tag", chr(10) ORDER BY "Value.Tag") AS tags
  FROM read_parquet(${quote(mapParquet)})`);
duckdb.map = { count: m.count, sumKey: m.sumKey, sumN: m.sumN, tagsMD5: md5(m.tags) };
const mtypes = await con.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${quote(mapParquet)})`);
duckdb.map.types = mtypes.getRowObjectsJS().map((r) => `${r.column_name} ${r.column_type}`);

const arrow = {};
const t = tableFromIPC(readFileSync(vecArrow));
const col = (name) => t.getChild(name).toArray();
let sumA = 0n, sumB = 0, sumC = 0n, sumD = 0n, countOK = 0;
for (const x of col('A')) sumA += x;
for (const x of col('B')) sumB += x;
for (const x of col('C')) sumC += BigInt(x);
for (const x of col('D')) sumD += BigInt(x);
for (const x of t.getChild('OK')) if (x) countOK++;
const names = [];
for (const x of t.getChild('Name')) names.push(x);
arrow.vector = { count: String(t.numRows), sumA: String(sumA), sumB: String(sumB), sumC: String(sumC), sumD: String(sumD), countOK: String(countOK), namesMD5: md5(names.join('\n')) };
arrow.vector.types = t.schema.fields.map((f) => `${f.name} ${f.type}`);
const bt = tableFromIPC(readFileSync(bytesArrow));
const records = [];
let bytes = 0;
for (const x of bt.getChild('record')) {
  records.push(x);
  bytes += Buffer.byteLength(x, 'utf8');
}
arrow.bytes = { count: String(bt.numRows), bytes: String(bytes), recordsMD5: md5(records.join('\n')), type: String(bt.schema.fields[0].type) };
const mt = tableFromIPC(readFileSync(mapArrow));
let sumKey = 0n, sumN = 0n;
for (const x of mt.getChild('Key').toArray()) sumKey += x;
for (const x of mt.getChild('Value.N').toArray()) sumN += x;
const tags = [];
for (const x of mt.getChild('Value.Tag')) tags.push(x);
tags.sort();
arrow.map = { count: String(mt.numRows), sumKey: String(sumKey), sumN: String(sumN), tagsMD5: md5(tags.join('\n')) };
arrow.map.types = mt.schema.fields.map((f) => `${f.name} ${f.type}`);

console.log(JSON.stringify({ duckdb, arrow }));

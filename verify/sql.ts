// Just enough SQL reading for the mission checks: comments, quoted text and nesting are respected, so a
// table name inside a string or a comment does not count, and a tuple's inner parentheses do not either.

/** The SQL without -- and /* *\/ comments, string and dollar-quoted literals replaced by ''. */
export function stripCommentsAndLiterals(sql: string): string {
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const rest = sql.slice(i, i + 2);
    if (rest === '--') {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? sql.length : end;
    } else if (rest === '/*') {
      const end = sql.indexOf('*/', i + 2);
      i = end === -1 ? sql.length : end + 2;
    } else if (sql[i] === "'") {
      let j = i + 1;
      while (j < sql.length && !(sql[j] === "'" && sql[j + 1] !== "'")) j += sql[j] === "'" ? 2 : 1;
      out += "''";
      i = j + 1;
    } else if (sql[i] === '$') {
      const tag = /^\$[A-Za-z_]*\$/.exec(sql.slice(i))?.[0];
      const end = tag ? sql.indexOf(tag, i + tag.length) : -1;
      if (tag && end !== -1) {
        out += "''";
        i = end + tag.length;
      } else {
        out += sql[i++];
      }
    } else {
      out += sql[i++];
    }
  }
  return out;
}

/** Names of the tables a script creates (schema prefix and quotes dropped, lower-cased). */
export function createdTables(sql: string): string[] {
  const pattern = /\bcreate\s+(?:unlogged\s+)?table\s+(?:if\s+not\s+exists\s+)?(?:"?\w+"?\.)?"?(\w+)"?/gi;
  return [...stripCommentsAndLiterals(sql).matchAll(pattern)].map((match) => match[1].toLowerCase());
}

/** How many rows the script's INSERT ... VALUES statements put into the table. */
export function insertedRowCount(sql: string, table: string): number {
  const code = stripCommentsAndLiterals(sql);
  const insert = new RegExp(`\\binsert\\s+into\\s+(?:"?\\w+"?\\.)?"?${table}"?[\\s(]`, 'gi');
  let rows = 0;
  for (const match of code.matchAll(insert)) {
    const statementEnd = code.indexOf(';', match.index);
    const statement = code.slice(match.index, statementEnd === -1 ? code.length : statementEnd);
    const values = /\bvalues\s*\(/i.exec(statement);
    if (values) rows += countTuples(statement.slice(values.index + values[0].length - 1));
  }
  return rows;
}

/** Counts `(...), (...), ...` at the start of text, stopping at the first thing that is not a tuple. */
function countTuples(text: string): number {
  let depth = 0;
  let tuples = 0;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === '(') {
      if (depth === 0) tuples++;
      depth++;
    } else if (char === ')') {
      depth--;
      if (depth < 0) break;
    } else if (depth === 0 && !/[\s,]/.test(char)) {
      break;
    }
  }
  return tuples;
}

/** The indexes a script creates with CREATE INDEX, by name, with the table each is on (lower-cased, schema dropped). */
export function createdIndexes(sql: string): { readonly name: string; readonly table: string }[] {
  const pattern =
    /\bcreate\s+(?:unique\s+)?index\s+(?:concurrently\s+)?(?:if\s+not\s+exists\s+)?"?(\w+)"?\s+on\s+(?:only\s+)?(?:"?\w+"?\.)?"?(\w+)"?/gi;
  return [...stripCommentsAndLiterals(sql).matchAll(pattern)].map((match) => ({ name: match[1].toLowerCase(), table: match[2].toLowerCase() }));
}

"""Runs one Athena statement in DuckDB over WAF logs laid out as in S3.

The test suite's check that the SQL Gatehouse sends to Athena means what
the imported engine computes: the statement (Athena's Trino dialect, `?`
placeholders) and its execution parameters arrive as JSON on stdin; the
parameters are put in as the literals Athena would read, the statement is
qualified and typed against the WAF log table's schema and transpiled to
DuckDB with sqlglot (typed, so that integer division stays integer), and
DuckDB runs it over the gzip JSON-lines files under `logs`, partition
columns taken from the S3 key (`WAFLogs/REGION/WEBACL/yyyy/MM/dd/…`), in
UTC. The rows go to stdout as Athena returns them: every value as text,
NULL as null.

DuckDB has no IPADDRESS type: `CAST(x AS IPADDRESS)` (try or not) becomes
a function written here with Trino's rules — an address's canonical text,
an IPv4-mapped IPv6 address shown as IPv4, NULL (try) for anything else.

Input: {"statements": [{"sql", "parameters": [literal, …]}, …], "logs",
"database", "table", "date_column", "region_column" (or null)}; output: a
list of {"columns", "rows", "duckdb_sql"}, one per statement.
"""

import ipaddress
import json
import sys

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.tokens import TokenType
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify


OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IPV4 = f"^{OCTET}(\\.{OCTET}){{3}}$"


def trino_ip_text(text):
    """Trino's CAST(CAST(text AS IPADDRESS) AS VARCHAR); None if not one."""
    if text is None:
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return str(address.ipv4_mapped)
    return str(address)


def schema(request):
    columns = {
        "timestamp": "BIGINT",
        "webaclid": "VARCHAR",
        "action": "VARCHAR",
        "labels": "ARRAY<STRUCT<name VARCHAR>>",
        "httprequest": "STRUCT<clientip VARCHAR, country VARCHAR, "
        "headers ARRAY<STRUCT<name VARCHAR, value VARCHAR>>, uri VARCHAR, httpmethod VARCHAR>",
        request["date_column"]: "VARCHAR",
    }
    if request.get("region_column"):
        columns[request["region_column"]] = "VARCHAR"
    return {request["database"]: {request["table"]: columns}}


def to_duckdb(request, statement):
    sql = statement["sql"]
    literals = statement["parameters"]
    for literal in literals:
        if not isinstance(sqlglot.parse_one(literal, read="athena"), exp.Literal):
            sys.exit(f"parameter {literal} is not a literal")
    # Athena fills the placeholders in the order they appear in the text.
    dialect = sqlglot.Dialect.get_or_raise("athena")
    placeholders = [t for t in dialect.tokenize(sql) if t.token_type == TokenType.PLACEHOLDER]
    if len(placeholders) != len(literals):
        sys.exit(f"{len(placeholders)} placeholders, {len(literals)} parameters")
    for token, literal in reversed(list(zip(placeholders, literals))):
        sql = sql[: token.start] + literal + sql[token.end + 1 :]
    tree = sqlglot.parse_one(sql, read="athena")

    def address(node):
        if isinstance(node, exp.Cast) and node.to.this == exp.DataType.Type.IPADDRESS:
            # A dotted quad without leading zeros is its own canonical text:
            # decided in SQL, the Python function sees only the rest.
            text = node.this
            return exp.Case(
                ifs=[
                    exp.If(
                        this=exp.RegexpLike(this=text.copy(), expression=exp.Literal.string(IPV4)),
                        true=text.copy(),
                    )
                ],
                default=exp.Anonymous(this="trino_ip_text", expressions=[text.copy()]),
            )
        return node

    tree = tree.transform(address)
    tables = schema(request)
    tree = qualify(tree, schema=tables, dialect="athena")
    tree = annotate_types(tree, schema=tables, dialect="athena")
    return tree.sql("duckdb")


def quoted(text):
    """A DuckDB string literal."""
    return "'" + text.replace("'", "''") + "'"


def create_table(db, request):
    region = request.get("region_column")
    date = request["date_column"]
    logs = request["logs"].rstrip("/")
    db.execute(f'CREATE SCHEMA "{request["database"]}"')
    json_columns = {
        "timestamp": "BIGINT",
        "webaclId": "VARCHAR",
        "action": "VARCHAR",
        "labels": "STRUCT(name VARCHAR)[]",
        "httpRequest": 'STRUCT("clientIp" VARCHAR, country VARCHAR, '
        "headers STRUCT(name VARCHAR, value VARCHAR)[], uri VARCHAR, "
        '"httpMethod" VARCHAR)',
    }
    columns = "{" + ", ".join(f"{quoted(k)}: {quoted(v)}" for k, v in json_columns.items()) + "}"
    region_column = (
        f", regexp_extract(filename, '/WAFLogs/([^/]+)/', 1) AS \"{region}\"" if region else ""
    )
    # Read once into memory: every statement of the run reads the same files.
    db.execute(
        f"""CREATE TABLE "{request["database"]}"."{request["table"]}" AS
        SELECT "timestamp", "webaclId" AS webaclid, action, labels,
          CASE WHEN "httpRequest" IS NOT NULL THEN struct_pack(
            clientip := "httpRequest"."clientIp", country := "httpRequest".country,
            headers := "httpRequest".headers, uri := "httpRequest".uri,
            httpmethod := "httpRequest"."httpMethod") END AS httprequest,
          regexp_extract(filename, '/WAFLogs/[^/]+/[^/]+/([0-9]{{4}}/[0-9]{{2}}/[0-9]{{2}})/', 1)
            AS "{date}"{region_column}
        FROM read_json({quoted(logs + "/AWSLogs/**/*.log.gz")}, format = 'newline_delimited',
                       columns = {columns}, filename = true)"""
    )


def main():
    request = json.load(sys.stdin)
    db = duckdb.connect()
    db.execute("SET TimeZone = 'UTC'")
    db.execute("SET threads = 2")
    db.create_function("trino_ip_text", trino_ip_text, ["VARCHAR"], "VARCHAR")
    create_table(db, request)

    def text(value):
        if value is None:
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    results = []
    for statement in request["statements"]:
        sql = to_duckdb(request, statement)
        result = db.execute(sql)
        columns = [d[0] for d in result.description]
        rows = [[text(v) for v in row] for row in result.fetchall()]
        results.append({"columns": columns, "rows": rows, "duckdb_sql": sql})
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()

"""Times gatehouse and DuckDB on the same files; see bench/run.sh."""
import os, statistics, subprocess, sys, time
import duckdb

gatehouse, data = sys.argv[1], sys.argv[2]
files = f"{data}/**/*.log.gz"
RANGE = ("2026-11-22T00:00:00Z", "2026-11-23T00:00:00Z")
FROM_MS, TO_MS = 1795305600000, 1795392000000
env = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
env["RUST_LOG"] = "error"

def run(args, wrap=()):
    start = time.perf_counter()
    subprocess.run([*wrap, gatehouse, *args], env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start

con = duckdb.connect()
con.execute("SET threads = 2")
SOURCE = f"""read_json('{files}', format = 'newline_delimited', columns = {{
    'timestamp': 'BIGINT',
    'httpRequest': 'STRUCT(clientIp VARCHAR, country VARCHAR, uri VARCHAR, httpMethod VARCHAR,
                           headers STRUCT(name VARCHAR, value VARCHAR)[])'}})"""
WHERE = f"timestamp >= {FROM_MS} AND timestamp < {TO_MS}"

def duck(sql):
    start = time.perf_counter()
    con.execute(sql).fetchall()
    return time.perf_counter() - start

def fixed(key, window, extra=""):
    return f"""SELECT {key} AS k, (timestamp // {window * 1000}) * {window} AS w, count(*) AS c
               FROM {SOURCE} WHERE {WHERE} {extra} GROUP BY 1, 2 ORDER BY c DESC, w, k LIMIT 100"""

def sliding(window):
    return f"""SELECT k, s, count(*) AS c FROM (
                 SELECT httpRequest.clientIp AS k, (timestamp // 10000) * 10 - 10 * unnest(range(0, {window // 10})) AS s
                 FROM {SOURCE} WHERE {WHERE})
               GROUP BY 1, 2 ORDER BY c DESC, s, k LIMIT 100"""

FORWARDED = """list_filter(httpRequest.headers, lambda h: lower(h.name) = 'x-forwarded-for')[1].value"""
cases = [
    ("top by IP, 300 s fixed", ["--window", "300"], fixed("httpRequest.clientIp", 300)),
    ("top by IP, 60 s sliding", ["--window", "60", "--sliding"], sliding(60)),
    ("top /login POST, 300 s", ["--uri", "/login", "--method", "POST"],
     fixed("httpRequest.clientIp", 300, "AND httpRequest.uri = '/login' AND httpRequest.httpMethod = 'POST'")),
    ("top by X-Forwarded-For, 300 s", ["--by", "forwarded:X-Forwarded-For"],
     fixed(f"trim(split_part({FORWARDED}, ',', 1))", 300, f"AND {FORWARDED} IS NOT NULL")),
]
records = con.execute(f"SELECT count(*) FROM {SOURCE}").fetchone()[0]
print(f"{records:,} records in {sum(len(f) for _, _, f in os.walk(data))} files under {data}\n")

# /usr/bin/time reports the import's own peak: a child's getrusage would
# include the copy of this process (and DuckDB) it was forked from.
peak_file = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"gatehouse-bench-{os.getpid()}.peak")

def import_afresh():
    """One import into emptied tables: (seconds, peak MB)."""
    subprocess.run(["psql", "-q", os.environ["DATABASE_URL"], "-c",
                    "TRUNCATE log_imports, log_files, traffic_segments CASCADE"],
                   check=True, stdout=subprocess.DEVNULL)
    seconds = run(["logs", "import", data], wrap=["/usr/bin/time", "-f", "%M", "-o", peak_file])
    with open(peak_file) as f:
        peak = int(f.read().split()[-1]) / 1024
    os.remove(peak_file)
    return seconds, peak

# The import and DuckDB's first query take turns, three times each: this
# kind of machine drifts by a quarter between minutes, so each side's
# median is compared. The last import stays for the analyses.
imports, queries = [], []
for _ in range(3):
    imports.append(import_afresh())
    queries.append(duck(cases[0][2]))
import_time = statistics.median(t for t, _ in imports)
peak_mb = max(p for _, p in imports)
first_query = statistics.median(queries)
print("import: " + ", ".join(f"{t:.2f}" for t, _ in imports)
      + " s; DuckDB: " + ", ".join(f"{t:.2f}" for t in queries) + " s (medians below)\n")
print(f"{'':34}{'gatehouse':>12}{'DuckDB':>12}{'ratio':>9}")
print(f"{'import vs one DuckDB query':34}{import_time:>11.2f}s{first_query:>11.2f}s{import_time / first_query:>9.2f}")
for name, args, sql in cases:
    ours = min(run(["traffic", "top", "--from", RANGE[0], "--to", RANGE[1], "--format", "json", *args]) for _ in range(3))
    theirs = min(duck(sql) for _ in range(2))
    print(f"{name:34}{ours:>11.3f}s{theirs:>11.3f}s{ours / theirs:>9.3f}")
ours = min(run(["traffic", "recommend", "--from", RANGE[0], "--to", RANGE[1], "--format", "json"]) for _ in range(3))
theirs = duck(f"""SELECT quantile_disc(p, [0.5, 0.9, 0.99, 0.999, 1.0]) FROM (SELECT max(c) AS p FROM (
                 {fixed('httpRequest.clientIp', 300).replace('ORDER BY c DESC, w, k LIMIT 100', '')}) GROUP BY k)""")
print(f"{'recommend (peaks, 300 s)':34}{ours:>11.3f}s{theirs:>11.3f}s{ours / theirs:>9.3f}")
# The replay of a three-rule web ACL (bench/replay-rules.json) next to
# gatehouse's own `traffic top` over the same range, in the same run.
rules = os.path.join(os.path.dirname(os.path.abspath(__file__)), "replay-rules.json")
replay = min(run(["traffic", "replay", "--web-acl", "shop", "--rules", rules,
                  "--from", RANGE[0], "--to", RANGE[1], "--format", "json"]) for _ in range(3))
tops = {name: min(run(["traffic", "top", "--from", RANGE[0], "--to", RANGE[1], "--format", "json", *args])
                  for _ in range(3)) for name, args, _ in cases[:3:2]}
print(f"\n{'replay of 3 rate rules':34}{replay:>11.3f}s")
for name, top in tops.items():
    print(f"  vs gatehouse {name:27}{top:>8.3f}s{replay / top:>9.2f} ×  (aim ≤ 2)")
print(f"\npeak memory of the import process: {peak_mb:.0f} MB")
print("ratio = gatehouse / DuckDB: below 1 is faster; the aim is ≤ 1 for the import, ≤ 0.05 per analysis")

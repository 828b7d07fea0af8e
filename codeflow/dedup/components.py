"""Candidate pairs, connected components and keepers as SQL that duckdb and Spark SQL both run.

Why SQL, and why the same SQL on both engines: the clustering step is where near-dup pipelines hit a
single-node wall (datatrove's stage 3 is one task holding a union-find over all pairs). Expressed as joins
and group-bys, it runs out of core on one machine (duckdb spills to ``temp_directory`` once it reaches
``memory_limit``, so memory is bounded by the budget, not by the pair count) and distributed on Spark, and the
two cannot drift apart because they execute the same statements. Only the verification expression differs
by dialect (``codeflow.engines.Dialect``).

Inputs (tables or views): ``bands(band, bkey, uid)`` and ``docs(uid, id, unit, rowno, score, stars, sig)``.

1. **Candidates**: documents sharing a band key form a bucket; each member links to the bucket's smallest
   uid (a star, not all pairs: O(n) edges per bucket, as bigcode's near-dedup does).
2. **Verification** (optional): an edge survives when the two signatures agree in at least ``need``
   positions (MinHash: estimated Jaccard >= threshold) or, for semantic dedup, when the dot product of the
   quantized embeddings reaches ``need``. Integer arithmetic only, so both engines decide alike.
3. **Connected components** by alternating large-star and small-star (Kiveris et al., "Connected Components
   in MapReduce and Beyond", 2014) until the edge set stops changing; every component ends as a star around
   its smallest uid, which is the label. Components are unique, so any correct engine gives the same ones.
4. **Keepers**: per component, the first row by ``score DESC, stars DESC`` (nulls last), then ``id``,
   ``unit``, ``rowno``; every other member becomes a decision ``(unit, rowno, id, keeper_id, group_size)``.
"""

from __future__ import annotations

from codeflow.engines import Dialect

KEEPER_ORDER = "d.score DESC NULLS LAST, d.stars DESC NULLS LAST, d.id, d.unit, d.rowno"

EDGES_SQL = """
WITH buckets AS (SELECT band, bkey, min(uid) AS anchor FROM bands GROUP BY band, bkey HAVING count(*) > 1),
     candidates AS (SELECT DISTINCT k.anchor AS a, b.uid AS b
                    FROM bands b JOIN buckets k ON b.band = k.band AND b.bkey = k.bkey
                    WHERE b.uid <> k.anchor)
{select}
"""
VERIFIED = """SELECT c.b AS src, c.a AS dst
FROM candidates c JOIN docs x ON x.uid = c.a JOIN docs y ON y.uid = c.b
WHERE {score} >= {need}"""
UNVERIFIED = "SELECT b AS src, a AS dst FROM candidates"
# Edges are always stored as (src > dst). One round = large-star then small-star, one materialization.
ROUND_SQL = """
WITH nb AS (SELECT src AS x, dst AS y FROM e UNION ALL SELECT dst AS x, src AS y FROM e),
     lm AS (SELECT x, least(x, min(y)) AS mn FROM nb GROUP BY x),
     ls AS (SELECT DISTINCT nb.y AS src, lm.mn AS dst FROM nb JOIN lm ON nb.x = lm.x WHERE nb.y > nb.x),
     d AS (SELECT greatest(src, dst) AS x, least(src, dst) AS y FROM ls),
     sm AS (SELECT x, least(x, min(y)) AS mn FROM d GROUP BY x)
SELECT DISTINCT n AS src, mn AS dst FROM (
  SELECT d.y AS n, sm.mn AS mn FROM d JOIN sm ON d.x = sm.x
  UNION ALL
  SELECT x AS n, mn FROM sm
) t WHERE n <> mn
"""
# Both sides are DISTINCT sets of (src, dst), so they are equal iff the full outer join has no unmatched row.
CHANGED_SQL = """
SELECT count(*) FROM ss FULL OUTER JOIN e ON ss.src = e.src AND ss.dst = e.dst
WHERE ss.src IS NULL OR e.src IS NULL
"""
DECISIONS_SQL = f"""
WITH labels AS (
  SELECT uid, min(label) AS label FROM (
    SELECT src AS uid, dst AS label FROM e UNION ALL SELECT dst AS uid, dst AS label FROM e
  ) t GROUP BY uid
)
SELECT unit, rowno, id, keeper_id, group_size FROM (
  SELECT d.unit AS unit, d.rowno AS rowno, d.id AS id,
         first_value(d.id) OVER w AS keeper_id,
         row_number() OVER w AS rn,
         count(*) OVER (PARTITION BY l.label) AS group_size
  FROM labels l JOIN docs d ON d.uid = l.uid
  WINDOW w AS (PARTITION BY l.label ORDER BY {KEEPER_ORDER})
) t WHERE rn > 1
"""


class ComponentsDidNotConverge(RuntimeError):
    pass


def candidate_edges(db: Dialect, verify: str | None, need: int, k: int) -> int:
    """Create ``e(src, dst)``: bucket star edges, verified when ``verify`` is ``agree`` or ``dot``."""
    if verify is None:
        select = UNVERIFIED
    else:
        expr = db.agree("x.sig", "y.sig", k) if verify == "agree" else db.dot("x.sig", "y.sig", k)
        select = VERIFIED.format(score=expr, need=int(need))
    db.materialize("e", EDGES_SQL.format(select=select))
    return db.scalar("SELECT count(*) FROM e")


def connected_components(db: Dialect, max_iter: int = 100) -> int:
    """Large-star + small-star rounds over ``e`` until it is stable (then every component is a star)."""
    for it in range(1, max_iter + 1):
        db.materialize("ss", ROUND_SQL)
        changed = db.scalar(CHANGED_SQL)
        db.drop("e")
        db.rename("ss", "e")
        if changed == 0:
            return it
    raise ComponentsDidNotConverge(f"connected components did not converge in {max_iter} iterations")


def cluster(db: Dialect, verify: str | None, need: int, k: int) -> dict[str, int]:
    """Edges, components and keeper decisions (table ``decisions``); returns counters for the stats."""
    edges = candidate_edges(db, verify, need, k)
    iterations = connected_components(db) if edges else 0
    db.materialize("decisions", DECISIONS_SQL)
    dropped, clusters = db.row("SELECT count(*), count(DISTINCT keeper_id) FROM decisions")
    return {"edges": edges, "cc_iterations": iterations, "clusters": int(clusters), "dropped": int(dropped)}

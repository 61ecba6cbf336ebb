-- gb-bench's sqlite3-shell workload (program `sqlite3`): @n rows inserted
-- in one transaction, an index built on a text column, queries through it
-- (a self-join, a distinct count), GROUP BY with group_concat, string
-- functions, an UPDATE that grows a third of the rows and a DELETE of half.
-- Every result is a function of @n alone, which gb-bench computes too
-- (src/programs/expected.rs, sqlite3_expected) and compares with the output.
-- Usage: sqlite3 :memory: -cmd '.parameter set @n ROWS' '.read churn.sql'
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, payload BLOB);
BEGIN;
WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < @n)
INSERT INTO t
SELECT i, printf('k%d-%d-', (i * 7919) % 1000003, i) || substr(hex(zeroblob(32)), 1, i % 64), i % 100,
       zeroblob(i % 200)
FROM seq;
COMMIT;
CREATE INDEX t_name ON t(name);
SELECT count(*), sum(length(name)), sum(length(payload)) FROM t;
SELECT count(*) FROM t AS a JOIN t AS b INDEXED BY t_name ON b.name = a.name;
SELECT count(DISTINCT name) FROM t;
SELECT sum(c), sum(length(names)) FROM (SELECT grp, count(*) AS c, group_concat(name) AS names FROM t GROUP BY grp);
SELECT sum(length(upper(name) || lower(name))) FROM t WHERE name LIKE '%7%';
UPDATE t SET name = name || '-' || grp WHERE id % 3 = 0;
DELETE FROM t WHERE id % 2 = 0;
SELECT count(*), sum(length(name)), sum(length(payload)) FROM t;

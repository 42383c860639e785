-- synapse_compress 0.1.0 -> 0.2.0. Run by ALTER EXTENSION synapse_compress UPDATE (as a superuser).
--
-- Turns a 0.1.0 installation into exactly what CREATE EXTENSION synapse_compress gives in 0.2.0
-- (tests/upgrade.sh compares the two with pg_dump):
--   1. the extension moves from schema synapse_compress to pg_catalog, and schema synapse_compress
--      becomes one of its members (DROP EXTENSION removes it, as after a fresh install);
--   2. the history tables synapse_compress.runs and .chunks, and procedure compress_largest_rooms
--      (sql/runs.sql);
--   3. the new functions, and compress_room_state and compress_room_state_sql with their new
--      arguments (method, max_chain) and result columns (max_chain, details): a new signature is
--      a new function, so these are created anew and the 0.1.0 ones dropped;
--   4. privileges, settings and comments of every function (sql/finalize.sql);
--   5. every EXECUTE grant roles had on the 0.1.0 functions, carried over to the new ones.
-- Synapse's tables and their data are not touched.
--
-- An update script is a frozen copy: when sql/runs.sql or sql/finalize.sql change in a later
-- version, that version's update script carries the change, not this one.

-- complain if this file is sourced in psql rather than run by ALTER EXTENSION
\echo Use "ALTER EXTENSION synapse_compress UPDATE" to load this file. \quit

-- 1. The extension's own namespace.
--
-- 0.1.0's control file said `schema = synapse_compress`: CREATE EXTENSION created that schema
-- (outside the extension: not a member) and put the extension in it. 0.2.0 says
-- `schema = pg_catalog` (as pg_cron does) and creates schema synapse_compress in its script, as a
-- member. PostgreSQL 15 has no command for this move: ALTER EXTENSION ... SET SCHEMA is only for
-- relocatable extensions (and would move the member objects too), and ALTER EXTENSION ... ADD
-- SCHEMA refuses the schema that contains the extension. So the script does in the catalogs what
-- CREATE EXTENSION would have recorded, which a superuser may do (and only a superuser can run
-- this script: the control file says superuser = true):
--   a. pg_extension.extnamespace := pg_catalog. ALTER EXTENSION UPDATE has already rewritten this
--      row (extversion) before running the script and does not touch it afterwards. An UPDATE of
--      a catalog row sends the same cache invalidations as DDL does.
--   b. delete the extension's dependency on schema synapse_compress (pg_depend, deptype 'n', which
--      CREATE EXTENSION records for the extension's schema). A fresh install records none: it
--      would point at pg_catalog, which is pinned. Left in place, it and the membership added in
--      c would depend on each other.
--   c. ALTER EXTENSION synapse_compress ADD SCHEMA synapse_compress: the schema now no longer
--      contains the extension, so PostgreSQL accepts it and records the membership itself.
--   d. ADD also records the schema's current ACL as the extension's "initial privileges"
--      (pg_init_privs). A fresh install creates the schema without an ACL and records none, and
--      whatever was granted on it since 0.1.0 (USAGE to a maintenance role) is the DBA's, which
--      pg_dump must keep dumping: the row is deleted.
-- Nothing but catalog rows of this extension and of schema synapse_compress is written, and all of
-- it happens in ALTER EXTENSION's transaction: an error anywhere leaves 0.1.0 as it was.
DO $move$
DECLARE
    ext  pg_catalog.oid;
    nsp  pg_catalog.oid;
    deps pg_catalog.int8;
BEGIN
    SELECT e.oid, e.extnamespace INTO ext, nsp
      FROM pg_catalog.pg_extension AS e WHERE e.extname OPERATOR(pg_catalog.=) 'synapse_compress';
    IF nsp IS DISTINCT FROM pg_catalog.to_regnamespace('synapse_compress')::pg_catalog.oid THEN
        RAISE EXCEPTION 'synapse_compress 0.1.0 is expected in schema synapse_compress, found it in schema %',
            pg_catalog.quote_ident(nsp::pg_catalog.regnamespace::pg_catalog.text);
    END IF;
    UPDATE pg_catalog.pg_extension
       SET extnamespace = 'pg_catalog'::pg_catalog.regnamespace
     WHERE oid OPERATOR(pg_catalog.=) ext;
    DELETE FROM pg_catalog.pg_depend
     WHERE classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
       AND objid OPERATOR(pg_catalog.=) ext AND objsubid OPERATOR(pg_catalog.=) 0
       AND refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_namespace'::pg_catalog.regclass
       AND refobjid OPERATOR(pg_catalog.=) nsp AND deptype OPERATOR(pg_catalog.=) 'n';
    GET DIAGNOSTICS deps = ROW_COUNT;
    IF deps OPERATOR(pg_catalog.<>) 1 THEN
        RAISE EXCEPTION 'synapse_compress: expected one dependency of the extension on schema synapse_compress, found %', deps;
    END IF;
END
$move$;

ALTER EXTENSION synapse_compress ADD SCHEMA synapse_compress;

DELETE FROM pg_catalog.pg_init_privs
 WHERE objoid OPERATOR(pg_catalog.=) 'synapse_compress'::pg_catalog.regnamespace
   AND classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_namespace'::pg_catalog.regclass
   AND objsubid OPERATOR(pg_catalog.=) 0;

COMMENT ON SCHEMA synapse_compress IS 'synapse_compress: compresses Synapse''s state tables inside PostgreSQL';

-- 2. History tables and the procedure (sql/runs.sql of 0.2.0).
-- One row per run (of compress_largest_rooms or of the background worker).
CREATE TABLE synapse_compress.runs (
    run_id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source           text        NOT NULL,
    started_at       timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    finished_at      timestamptz,
    chunk_size       integer     NOT NULL,
    number_of_chunks integer     NOT NULL,
    levels           integer[]   NOT NULL,
    method           text        NOT NULL DEFAULT 'fork_aware',
    max_chain        integer,    -- the fork-aware method's cap; NULL for method 'levels'
    chunks           bigint      NOT NULL DEFAULT 0,
    rows_saved       bigint      NOT NULL DEFAULT 0,
    errors           bigint      NOT NULL DEFAULT 0
);
COMMENT ON TABLE synapse_compress.runs IS
    'synapse_compress: one row per run over many rooms (compress_largest_rooms, the worker); kept synapse_compress.history_days days';

-- One row per chunk: what it did or why it did nothing, or the error that stopped it.
CREATE TABLE synapse_compress.chunks (
    run_id               bigint REFERENCES synapse_compress.runs ON DELETE CASCADE,
    finished_at          timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    room_id              text        NOT NULL,
    first_group          bigint,
    last_group           bigint,
    state_groups         bigint,
    state_groups_changed bigint,
    rows_before          bigint,
    rows_after           bigint,
    outcome              text        NOT NULL,
    message              text,
    sqlstate             text,
    duration_ms          double precision,
    details              jsonb
);
CREATE INDEX chunks_run_id ON synapse_compress.chunks (run_id);
CREATE INDEX chunks_room_id ON synapse_compress.chunks (room_id, finished_at);
COMMENT ON TABLE synapse_compress.chunks IS
    'synapse_compress: one row per chunk compressed, skipped or failed (outcome: compressed, unchanged, skipped, done, busy, gone, error)';
SELECT pg_catalog.pg_extension_config_dump('synapse_compress.runs', '');
SELECT pg_catalog.pg_extension_config_dump('synapse_compress.chunks', '');

-- Compresses up to number_of_chunks chunks of chunk_size groups, the rooms with the most groups
-- not yet compressed first, committing after every chunk: a cancel or crash loses at most the
-- open chunk. An error in one room is recorded and the run goes on with the next room. method
-- and max_chain are those of compress_room_chunk (checked once, when the run starts). A
-- procedure that commits cannot pin search_path with SET, so every name and operator in it is
-- schema-qualified.
CREATE PROCEDURE synapse_compress.compress_largest_rooms(
    chunk_size       integer   DEFAULT 500,
    number_of_chunks integer   DEFAULT 100,
    levels           integer[] DEFAULT '{100,50,25}',
    method           text      DEFAULT 'fork_aware',
    max_chain        integer   DEFAULT NULL)
LANGUAGE plpgsql
AS $procedure$
DECLARE
    run           bigint;
    chunks_done   integer := 0;
    room          record;
    chunk         record;
    failed        boolean;
    error_state   text;
    error_message text;
BEGIN
    run := synapse_compress.start_run('procedure', chunk_size, number_of_chunks, levels, method, max_chain);
    COMMIT;
    <<rooms>>
    FOR room IN SELECT r.room_id FROM synapse_compress.rooms_to_compress() AS r LOOP
        LOOP
            EXIT rooms WHEN chunks_done OPERATOR(pg_catalog.>=) number_of_chunks;
            failed := false;
            BEGIN
                SELECT * INTO chunk
                  FROM synapse_compress.compress_room_chunk(room.room_id, chunk_size, levels, run, method, max_chain);
            EXCEPTION WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS error_state = RETURNED_SQLSTATE, error_message = MESSAGE_TEXT;
                failed := true;
            END;
            IF failed THEN
                PERFORM synapse_compress.record_chunk_error(run, room.room_id, error_state, error_message);
                COMMIT;
                EXIT;
            END IF;
            COMMIT;
            EXIT WHEN chunk.outcome OPERATOR(pg_catalog.<>) ALL (ARRAY['compressed', 'unchanged', 'skipped']);
            chunks_done := chunks_done OPERATOR(pg_catalog.+) 1;
        END LOOP;
    END LOOP;
    PERFORM synapse_compress.finish_run(run);
    COMMIT;
END
$procedure$;

-- 3. Functions (as cargo pgrx schema generates them for 0.2.0). compress_room_state and
-- compress_room_state_sql exist side by side with their 0.1.0 versions (other arguments)
-- until step 5 has copied the grants and dropped those.

CREATE FUNCTION synapse_compress."compress_room_state"(
	"room_id" TEXT,
	"levels" INT[] DEFAULT '{100,50,25}',
	"min_state_group" bigint DEFAULT NULL,
	"max_state_group" bigint DEFAULT NULL,
	"groups_to_compress" INT DEFAULT NULL,
	"min_saved_rows" bigint DEFAULT 0,
	"dry_run" bool DEFAULT false,
	"method" TEXT DEFAULT 'fork_aware',
	"max_chain" INT DEFAULT NULL
) RETURNS TABLE (
	"room_id" TEXT,
	"state_groups" bigint,
	"state_groups_changed" bigint,
	"rows_before" bigint,
	"rows_after" bigint,
	"resets_no_suitable_prev" bigint,
	"resets_no_suitable_prev_size" bigint,
	"max_chain_before" INT,
	"max_chain_after" INT,
	"max_chain" INT,
	"applied" bool,
	"message" TEXT,
	"details" jsonb
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'compress_room_state_wrapper';

CREATE FUNCTION synapse_compress."compress_room_state_sql"(
	"room_id" TEXT,
	"levels" INT[] DEFAULT '{100,50,25}',
	"min_state_group" bigint DEFAULT NULL,
	"max_state_group" bigint DEFAULT NULL,
	"groups_to_compress" INT DEFAULT NULL,
	"min_saved_rows" bigint DEFAULT 0,
	"dry_run" bool DEFAULT false,
	"method" TEXT DEFAULT 'fork_aware',
	"max_chain" INT DEFAULT NULL
) RETURNS SETOF TEXT
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'compress_room_state_sql_wrapper';

CREATE FUNCTION synapse_compress."compress_room_chunk"(
	"room_id" TEXT,
	"chunk_size" INT DEFAULT 500,
	"levels" INT[] DEFAULT '{100,50,25}',
	"run_id" bigint DEFAULT NULL,
	"method" TEXT DEFAULT 'fork_aware',
	"max_chain" INT DEFAULT NULL
) RETURNS TABLE (
	"room_id" TEXT,
	"first_group" bigint,
	"last_group" bigint,
	"state_groups" bigint,
	"state_groups_changed" bigint,
	"rows_before" bigint,
	"rows_after" bigint,
	"max_chain" INT,
	"outcome" TEXT,
	"applied" bool,
	"message" TEXT,
	"details" jsonb
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'compress_room_chunk_wrapper';

CREATE FUNCTION synapse_compress."rooms_to_compress"(
	"max_rooms" bigint DEFAULT NULL
) RETURNS TABLE (
	"room_id" TEXT,
	"uncompressed_groups" bigint
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'rooms_to_compress_wrapper';

CREATE FUNCTION synapse_compress."room_status"(
	"room_id" TEXT DEFAULT NULL,
	"max_rooms" bigint DEFAULT 20
) RETURNS TABLE (
	"room_id" TEXT,
	"state_groups" bigint,
	"rows" bigint,
	"uncompressed_groups" bigint,
	"last_compressed" bigint,
	"estimated_saving" bigint
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'room_status_wrapper';

CREATE FUNCTION synapse_compress."start_run"(
	"source" TEXT,
	"chunk_size" INT,
	"number_of_chunks" INT,
	"levels" INT[],
	"method" TEXT,
	"max_chain" INT
) RETURNS bigint
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'start_run_wrapper';

CREATE FUNCTION synapse_compress."finish_run"(
	"run_id" bigint
) RETURNS void
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'finish_run_wrapper';

CREATE FUNCTION synapse_compress."record_chunk_error"(
	"run_id" bigint,
	"room_id" TEXT,
	"sqlstate" TEXT,
	"message" TEXT
) RETURNS void
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'record_chunk_error_wrapper';

-- 4. Privileges, settings and comments (sql/finalize.sql of 0.2.0).

-- Not executable by PUBLIC: grant EXECUTE to the role that runs compression (see the README).
-- search_path is pinned so that no object planted in a schema of the caller's search_path can
-- run inside a call (everything the functions run is schema-qualified anyway). JIT is off: the
-- loader's one big index scan gains nothing from it, and it would load LLVM into the backend.
-- Sequential and bitmap scans are off, as in Synapse's own state reads: with a few hundred group
-- ids the planner misjudges the rows of state_group = ANY(...) and would scan all of
-- state_groups_state (hundreds of millions of rows) and sort; the ordered index scan reads only
-- the chunk's rows, already in group order.
REVOKE ALL ON FUNCTION synapse_compress.compress_room_state(text, integer[], bigint, bigint, integer, bigint, boolean, text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION synapse_compress.compress_room_state_sql(text, integer[], bigint, bigint, integer, bigint, boolean, text, integer) FROM PUBLIC;
ALTER FUNCTION synapse_compress.compress_room_state(text, integer[], bigint, bigint, integer, bigint, boolean, text, integer)
    SET search_path = pg_catalog, pg_temp SET jit = off SET enable_seqscan = off SET enable_bitmapscan = off;
ALTER FUNCTION synapse_compress.compress_room_state_sql(text, integer[], bigint, bigint, integer, bigint, boolean, text, integer)
    SET search_path = pg_catalog, pg_temp SET jit = off SET enable_seqscan = off SET enable_bitmapscan = off;

-- Unattended runs: not for PUBLIC either.
REVOKE ALL ON PROCEDURE synapse_compress.compress_largest_rooms(integer, integer, integer[], text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION synapse_compress.compress_room_chunk(text, integer, integer[], bigint, text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION synapse_compress.rooms_to_compress(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION synapse_compress.room_status(text, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION synapse_compress.start_run(text, integer, integer, integer[], text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION synapse_compress.finish_run(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION synapse_compress.record_chunk_error(bigint, text, text, text) FROM PUBLIC;
ALTER FUNCTION synapse_compress.compress_room_chunk(text, integer, integer[], bigint, text, integer)
    SET search_path = pg_catalog, pg_temp SET jit = off SET enable_seqscan = off SET enable_bitmapscan = off;
ALTER FUNCTION synapse_compress.rooms_to_compress(bigint) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION synapse_compress.room_status(text, bigint) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION synapse_compress.start_run(text, integer, integer, integer[], text, integer) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION synapse_compress.finish_run(bigint) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION synapse_compress.record_chunk_error(bigint, text, text, text) SET search_path = pg_catalog, pg_temp;

-- What \df+ and \dx+ show.
COMMENT ON FUNCTION synapse_compress.compress_room_state(text, integer[], bigint, bigint, integer, bigint, boolean, text, integer) IS
    'synapse_compress: compresses one room''s state groups in the calling transaction, verifying every group''s state first';
COMMENT ON FUNCTION synapse_compress.compress_room_state_sql(text, integer[], bigint, bigint, integer, bigint, boolean, text, integer) IS
    'synapse_compress: the statements compress_room_state would run, as a script that checks the room is unchanged when applied';
COMMENT ON FUNCTION synapse_compress.compress_room_chunk(text, integer, integer[], bigint, text, integer) IS
    'synapse_compress: compresses the next chunk of one room from its saved progress, saving the progress in the same transaction';
COMMENT ON PROCEDURE synapse_compress.compress_largest_rooms(integer, integer, integer[], text, integer) IS
    'synapse_compress: compresses the database chunk by chunk, the rooms with the most groups not yet compressed first, committing after every chunk';
COMMENT ON FUNCTION synapse_compress.rooms_to_compress(bigint) IS
    'synapse_compress: the rooms in the order compress_largest_rooms takes them, with their groups not yet compressed';
COMMENT ON FUNCTION synapse_compress.room_status(text, bigint) IS
    'synapse_compress: per room, its groups, rows, groups not yet compressed, last compressed group and estimated saving';
COMMENT ON FUNCTION synapse_compress.start_run(text, integer, integer, integer[], text, integer) IS
    'synapse_compress: internal, starts a run of compress_largest_rooms or of the worker';
COMMENT ON FUNCTION synapse_compress.finish_run(bigint) IS
    'synapse_compress: internal, ends a run of compress_largest_rooms or of the worker';
COMMENT ON FUNCTION synapse_compress.record_chunk_error(bigint, text, text, text) IS
    'synapse_compress: internal, records a chunk that failed';

-- 5. EXECUTE grants on the 0.1.0 functions, carried over to the new ones, then the 0.1.0
-- functions dropped.
--
-- Every entry of the old function's ACL but its owner's is granted again on the new function,
-- with its grant option. A grant whose grantor was the old owner is made by the role running this
-- update (the new owner); a grant made by another role (one that held the grant option) is made
-- again as that role (SET LOCAL ROLE, for that statement only), after the grant that gave it the
-- option: passes repeat until nothing is left, or raise an error when a pass makes no progress.
--
-- A GRANT inside an extension script is recorded as an "initial privilege" of the extension
-- (pg_init_privs), which pg_dump never dumps: a dump and restore would then lose these grants. A
-- fresh install records only the ACL that step 4 left (the owner's EXECUTE), and a DBA's later
-- GRANT is dumped. So the recorded initial privileges are put back to what step 4 recorded: a
-- second catalog write (superuser only, like step 1), of this extension's own pg_init_privs rows.
-- Built and tested on PostgreSQL 15. (PostgreSQL 17 also records the roles named in initial
-- privileges in pg_shdepend; there this UPDATE would leave such a row for each carried grantee.)
DO $grants$
DECLARE
    f         record;
    me        pg_catalog.text := CURRENT_USER;
    initial   pg_catalog.aclitem[];
    grantors  pg_catalog.text[];   -- NULL: the role running this update
    stmts     pg_catalog.text[];
    grantors_left pg_catalog.text[];
    stmts_left    pg_catalog.text[];
    failure   pg_catalog.text;
    i         pg_catalog.int4;
BEGIN
    FOR f IN
        SELECT o.proowner AS old_owner, o.proacl AS old_acl, n.oid::pg_catalog.regprocedure AS new_fn
          FROM (VALUES
                  ('compress_room_state', 'text, integer[], bigint, bigint, integer, bigint, boolean',
                   'text, integer[], bigint, bigint, integer, bigint, boolean, text, integer'),
                  ('compress_room_state_sql', 'text, integer[], bigint, bigint, integer, bigint, boolean',
                   'text, integer[], bigint, bigint, integer, bigint, boolean, text, integer')
               ) AS m(name, old_args, new_args)
          JOIN pg_catalog.pg_proc AS o
            ON o.oid OPERATOR(pg_catalog.=) pg_catalog.to_regprocedure(pg_catalog.format('synapse_compress.%s(%s)', m.name, m.old_args))::pg_catalog.oid
          JOIN pg_catalog.pg_proc AS n
            ON n.oid OPERATOR(pg_catalog.=) pg_catalog.to_regprocedure(pg_catalog.format('synapse_compress.%s(%s)', m.name, m.new_args))::pg_catalog.oid
    LOOP
        SELECT p.initprivs INTO initial
          FROM pg_catalog.pg_init_privs AS p
         WHERE p.objoid OPERATOR(pg_catalog.=) f.new_fn::pg_catalog.oid
           AND p.classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
           AND p.objsubid OPERATOR(pg_catalog.=) 0;

        SELECT pg_catalog.array_agg(CASE WHEN a.grantor OPERATOR(pg_catalog.=) f.old_owner THEN NULL ELSE gr.rolname::pg_catalog.text END
                                    ORDER BY a.grantor OPERATOR(pg_catalog.<>) f.old_owner, gr.rolname, ge.rolname),
               pg_catalog.array_agg(pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s%s',
                        f.new_fn,
                        CASE WHEN a.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
                             ELSE pg_catalog.quote_ident(ge.rolname) END,
                        CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
                                    ORDER BY a.grantor OPERATOR(pg_catalog.<>) f.old_owner, gr.rolname, ge.rolname)
          INTO grantors, stmts
          FROM pg_catalog.aclexplode(f.old_acl) AS a
          LEFT JOIN pg_catalog.pg_roles AS ge ON ge.oid OPERATOR(pg_catalog.=) a.grantee
          LEFT JOIN pg_catalog.pg_roles AS gr ON gr.oid OPERATOR(pg_catalog.=) a.grantor
         WHERE a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE'
           AND a.grantee OPERATOR(pg_catalog.<>) f.old_owner;

        WHILE pg_catalog.cardinality(stmts) OPERATOR(pg_catalog.>) 0 LOOP
            grantors_left := '{}';
            stmts_left := '{}';
            FOR i IN 1 .. pg_catalog.cardinality(stmts) LOOP
                IF grantors[i] IS NULL THEN
                    EXECUTE stmts[i];
                ELSE
                    BEGIN
                        PERFORM pg_catalog.set_config('role', grantors[i], true);
                        EXECUTE stmts[i];
                        PERFORM pg_catalog.set_config('role', me, true);
                    EXCEPTION WHEN OTHERS THEN   -- the role is restored with the subtransaction
                        failure := SQLERRM;
                        grantors_left := grantors_left OPERATOR(pg_catalog.||) grantors[i];
                        stmts_left := stmts_left OPERATOR(pg_catalog.||) stmts[i];
                    END;
                END IF;
            END LOOP;
            IF pg_catalog.cardinality(stmts_left) OPERATOR(pg_catalog.=) pg_catalog.cardinality(stmts) THEN
                RAISE EXCEPTION 'synapse_compress: cannot carry over "%" as role %: %',
                    stmts_left[1], grantors_left[1], failure;
            END IF;
            grantors := grantors_left;
            stmts := stmts_left;
        END LOOP;

        IF initial IS NULL THEN
            DELETE FROM pg_catalog.pg_init_privs
             WHERE objoid OPERATOR(pg_catalog.=) f.new_fn::pg_catalog.oid
               AND classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
               AND objsubid OPERATOR(pg_catalog.=) 0;
        ELSE
            UPDATE pg_catalog.pg_init_privs
               SET initprivs = initial
             WHERE objoid OPERATOR(pg_catalog.=) f.new_fn::pg_catalog.oid
               AND classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
               AND objsubid OPERATOR(pg_catalog.=) 0;
        END IF;
    END LOOP;
END
$grants$;

DROP FUNCTION synapse_compress.compress_room_state(text, integer[], bigint, bigint, integer, bigint, boolean);
DROP FUNCTION synapse_compress.compress_room_state_sql(text, integer[], bigint, bigint, integer, bigint, boolean);

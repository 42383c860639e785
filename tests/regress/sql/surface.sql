-- The SQL surface of synapse_compress as a golden file: every function and procedure with its
-- arguments and defaults, result, settings and who may execute it; the history tables; the
-- settings. A change to any of them shows up as a diff to review.
LOAD 'synapse_compress';
SELECT p.prokind AS kind, p.proname AS name,
       pg_catalog.pg_get_function_arguments(p.oid) AS arguments,
       pg_catalog.pg_get_function_result(p.oid) AS result,
       p.provolatile AS volatility, p.prosecdef AS security_definer, p.proconfig AS settings,
       EXISTS (SELECT FROM pg_catalog.aclexplode(coalesce(p.proacl, pg_catalog.acldefault('f', p.proowner))) a
               WHERE a.grantee = 0) AS public_may_execute,
       pg_catalog.obj_description(p.oid, 'pg_proc') IS NOT NULL AS commented
FROM pg_catalog.pg_proc p
WHERE p.pronamespace = 'synapse_compress'::regnamespace
ORDER BY p.proname, arguments;
SELECT c.relname AS "table", a.attname AS "column", pg_catalog.format_type(a.atttypid, a.atttypmod) AS type,
       a.attnotnull AS not_null, pg_catalog.pg_get_expr(d.adbin, d.adrelid) AS "default"
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE c.relnamespace = 'synapse_compress'::regnamespace AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY c.relname, a.attnum;
SELECT name, boot_val, unit, context, vartype, min_val, max_val, enumvals
FROM pg_catalog.pg_settings WHERE name LIKE 'synapse_compress.%' ORDER BY name;
SELECT e.extname, e.extversion, e.extnamespace::regnamespace AS schema, e.extrelocatable
FROM pg_catalog.pg_extension e WHERE e.extname = 'synapse_compress';

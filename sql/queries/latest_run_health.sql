-- Was the latest run healthy: did it succeed, how many batches failed, how long did it take?
SELECT run_id,
       status,
       CASE WHEN status = 'succeeded' THEN 'yes' ELSE 'no' END AS healthy,
       ids_read,
       fetched,
       failed_batches,
       bad_id_lines,
       failure_rate,
       duration_seconds
FROM v_run_health
WHERE run_id = (SELECT MAX(run_id) FROM v_run_health);

-- How long do batches take to become READY once processing starts (per workspace, in seconds)?
SELECT workspace_id,
       COUNT(*) AS batches_ready,
       AVG(seconds_processing) AS avg_seconds,
       MAX(seconds_processing) AS max_seconds
FROM v_batch_processing_time
WHERE final_status = 'READY'
GROUP BY workspace_id
ORDER BY workspace_id;

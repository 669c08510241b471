-- How many datapoints are in flight (in batches not yet READY or ERROR), per workspace?
SELECT workspace_id,
       COUNT(*) AS batches_in_flight,
       SUM(total_datapoint_count) AS datapoints_in_flight
FROM v_batches
WHERE status IN ('UNINITIALISED', 'PROCESSING')
GROUP BY workspace_id
ORDER BY workspace_id;

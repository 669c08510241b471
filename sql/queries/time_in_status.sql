-- How long do batches stay in each status before they move on (average seconds)?
SELECT status, COUNT(*) AS completed_stays, AVG(seconds_in_status) AS avg_seconds
FROM v_batch_status_intervals
WHERE left_at IS NOT NULL
GROUP BY status
ORDER BY status;

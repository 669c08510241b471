-- Which batches are still processing, and since when has a sync seen them so?
SELECT b.workspace_id, b.batch_id, b.name, i.entered_at AS processing_since
FROM v_batches b
JOIN v_batch_status_intervals i ON i.batch_id = b.batch_id AND i.left_at IS NULL
WHERE b.status = 'PROCESSING'
ORDER BY i.entered_at, b.batch_id;

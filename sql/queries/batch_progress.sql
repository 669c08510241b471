-- Which batches have responses, and how far along are they (tasks answered against tasks)?
SELECT batch_id, name, status, total_task_count, tasks_answered, participants, share_answered,
       last_response_at
FROM v_batch_progress
WHERE responses > 0
ORDER BY share_answered DESC, batch_id;

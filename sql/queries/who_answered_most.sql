-- Who answered most: which participants gave the most responses (still upstream), to how many tasks and batches?
SELECT participant_id,
       SUM(responses) AS responses,
       SUM(tasks) AS tasks,
       COUNT(*) AS batches,
       MIN(first_response_at) AS first_response_at,
       MAX(last_response_at) AS last_response_at
FROM v_batch_participants
GROUP BY participant_id
ORDER BY SUM(responses) DESC, participant_id
LIMIT 20;

-- How many responses arrived each day, in all and per workspace, and from how many participants?
SELECT day, workspace_id, SUM(responses) AS responses, SUM(participants) AS participant_batches
FROM v_responses_per_day
GROUP BY day, workspace_id
ORDER BY day, workspace_id;

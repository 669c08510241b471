-- How many approved labels does each batch have, per instruction (what a team can train on)?
SELECT batch_id, instruction_id, COUNT(DISTINCT response_id) AS approved_responses,
       COUNT(DISTINCT participant_id) AS participants
FROM v_approved_answers
GROUP BY batch_id, instruction_id
ORDER BY batch_id, instruction_id;

-- For each multiple-choice instruction, how often was each option chosen, and what share of the answers is that?
SELECT a.batch_id, a.instruction_id, a.value_text, a.answers,
       1.0 * a.answers / t.total AS share
FROM v_instruction_answers a
JOIN (
    SELECT batch_id, instruction_id, SUM(answers) AS total
    FROM v_instruction_answers
    WHERE response_type = 'multiple_choice'
    GROUP BY batch_id, instruction_id
) t ON t.batch_id = a.batch_id AND t.instruction_id = a.instruction_id
WHERE a.response_type = 'multiple_choice'
ORDER BY a.batch_id, a.instruction_id, a.answers DESC, a.value_text;

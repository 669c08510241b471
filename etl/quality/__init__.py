"""How good the labels are: agreement among annotators (Krippendorff's alpha, percent
agreement), consensus labels per task, and each annotator's agreement with them.

- `etl.quality.answers`: what an answer is and what each kind of answer allows.
- `etl.quality.agreement`: alpha and percent agreement of one instruction.
- `etl.quality.consensus`: consensus per task and agreement per annotator.
- `etl.quality.assess`: all of it for one instruction's answers (pure functions).
- `etl.quality.read`: the same over the stored responses, streamed per batch.
"""

from .agreement import AgreementRow
from .answers import Answer, Value
from .assess import (
    InstructionQuality,
    agreement_of,
    annotator_agreement_of,
    assess_instruction,
    consensus_of,
)
from .consensus import AnnotatorRow, ConsensusRow, annotators_overall
from .read import (
    agreement_for_batches,
    annotators_for_batches,
    consensus_for_batches,
    quality_for_batches,
)

__all__ = [
    "AgreementRow",
    "AnnotatorRow",
    "Answer",
    "ConsensusRow",
    "InstructionQuality",
    "Value",
    "agreement_for_batches",
    "agreement_of",
    "annotator_agreement_of",
    "annotators_for_batches",
    "annotators_overall",
    "assess_instruction",
    "consensus_for_batches",
    "consensus_of",
    "quality_for_batches",
]

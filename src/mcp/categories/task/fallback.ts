/** What the deterministic task reports say about the model they do not use yet. */
export const DETERMINISTIC_NOTE =
  'Deterministic report: computed from the task graph without a model (the agent pipeline that would let a configured LLM write prose on top is not built yet).';
